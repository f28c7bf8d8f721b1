"""The CLI contract (GUIDE §2) on the bundled example, run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import REPO, git, run_cli

EXAMPLE = REPO / "examples" / "qemu-mini"


@pytest.fixture
def tree(tmp_path) -> Path:
    dst = tmp_path / "qemu-mini"
    shutil.copytree(EXAMPLE, dst)
    return dst


def snapshot(root: Path) -> dict[str, bytes]:
    """The tree's files, without git's and allocfix's own state (.git, .allocfix/cache)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).parts[0] in (".git", ".allocfix")}


def test_dry_run_json_has_rewrite_and_stub_and_writes_nothing(tree):
    before = snapshot(tree)
    proc = run_cli("--dry-run", "--format", "json", ".", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["tool"] == "allocfix" and doc["version"]
    actions = {f["action"] for f in doc["findings"]}
    assert {"rewrite", "stub"} <= actions
    for f in doc["findings"]:
        assert set(f) >= {"file", "line", "column", "function", "allocator", "policy", "rule", "size",
                          "phase", "action", "reason"}
        assert set(f["size"]) == {"class", "max_bytes", "evidence"}
        assert set(f["phase"]) == {"class", "via", "chain"}
        assert f["reason"]
        # line/column point at the allocator's name
        line = (tree / f["file"]).read_text(encoding="utf-8", errors="replace").splitlines()[f["line"] - 1]
        assert line[f["column"] - 1 :].startswith(f["allocator"])
    assert all(f["action"] != "none" for f in doc["findings"])
    assert set(doc["stats"]) >= {"files", "files_with_parse_errors", "sites", "seconds"}
    assert snapshot(tree) == before


def test_json_all_lists_sites_that_need_nothing(tree):
    doc = json.loads(run_cli("--dry-run", "--format", "json", "--all", ".", cwd=tree).stdout)
    none = [f for f in doc["findings"] if f["action"] == "none"]
    assert none and all(f["size"]["class"] == "small" or f["phase"]["class"] == "startup" for f in none)
    from codemod.rulesdata import load_allocators

    sites = [f for f in doc["findings"] if f["allocator"] in load_allocators()]
    assert len(sites) == doc["stats"]["sites"]
    # The example plants one R1 and one R2 bug: both are reported.
    assert {"R1", "R2"} <= {f["policy"] for f in doc["findings"]}


def test_piped_dry_run_is_a_git_applicable_diff(tree):
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "base")
    proc = run_cli("--dry-run", "hw", "block", cwd=tree)
    assert proc.returncode == 0
    diff = proc.stdout
    assert diff.startswith(b"diff --git a/hw/") and b"\x1b[" not in diff
    (tree.parent / "p.diff").write_bytes(diff)
    subprocess.run(["git", "apply", "--check", str(tree.parent / "p.diff")], cwd=tree, check=True)


def test_paths_relative_to_scanned_root_when_outside_cwd(tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    doc = json.loads(run_cli("--dry-run", "--format", "json", str(tree), cwd=elsewhere).stdout)
    assert doc["findings"] and all(not f["file"].startswith("/") for f in doc["findings"])
    assert any(f["file"].startswith("hw/") for f in doc["findings"])


def test_apply_then_rerun_changes_nothing(tree):
    proc = run_cli(".", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    after_first = snapshot(tree)
    changed = [k for k, v in after_first.items() if v != (EXAMPLE / k).read_bytes()]
    assert changed
    again = run_cli("--dry-run", ".", cwd=tree)
    assert again.returncode == 0 and again.stdout == b""
    run_cli(".", cwd=tree)
    assert snapshot(tree) == after_first


def test_check_exit_codes(tree):
    assert run_cli("--check", ".", cwd=tree).returncode == 1
    assert run_cli("--check", "util/mini-buf.c", cwd=tree).returncode in (0, 1)
    (tree / "clean.c").write_text('#include "qemu/osdep.h"\n\nvoid f(void)\n{\n    char *p = g_malloc(8);\n    g_free(p);\n}\n')
    assert run_cli("--check", "clean.c", cwd=tree).returncode == 0


def test_missing_path_is_an_input_error(tree):
    proc = run_cli("--dry-run", "no/such/dir", cwd=tree)
    assert proc.returncode == 3
    assert b"no/such/dir" in proc.stderr and b"no such file" in proc.stderr


def test_bad_rule_file_names_position_and_exits_2(tree, tmp_path):
    bad = tmp_path / "bad.cocci"
    bad.write_text("@r@\nexpresion E;\n@@\n- foo(E);\n")
    proc = run_cli("--dry-run", "--rules", str(bad), ".", cwd=tree)
    assert proc.returncode == 2
    assert f"{bad}:2:1:".encode() in proc.stderr


def test_unparseable_pattern_names_position(tree, tmp_path):
    bad = tmp_path / "bad.cocci"
    bad.write_text("@r@\nexpression E;\n@@\n- foo(E;\n")
    proc = run_cli("--dry-run", "--rules", str(bad), ".", cwd=tree)
    assert proc.returncode == 2 and f"{bad}:4:".encode() in proc.stderr


def test_stats_json(tree):
    proc = run_cli("--stats", "--format", "json", ".", cwd=tree)
    stats = json.loads(proc.stdout)
    assert set(stats) == {"files", "files_with_parse_errors", "sites", "sites_in_functions_with_parse_errors"}
    assert stats["files"] > 10 and stats["sites"] >= 20


def test_sarif(tree):
    doc = json.loads(run_cli("--dry-run", "--format", "sarif", ".", cwd=tree).stdout)
    assert doc["version"] == "2.1.0"
    results = doc["runs"][0]["results"]
    assert results and all(r["ruleId"].startswith("R") for r in results)
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 0 for r in results)


def test_binary_file_named_explicitly_is_an_input_error(tree):
    (tree / "blob.c").write_bytes(b"\x00\x01\x02ELF")
    proc = run_cli("--dry-run", "blob.c", cwd=tree)
    assert proc.returncode == 3 and b"blob.c:1:1: binary file" in proc.stderr


def test_series_applies_with_git_am(tree, tmp_path):
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "base")
    out = tmp_path / "series"
    proc = run_cli("--series", str(out), "--signoff", "A Developer <dev@example.org>", ".", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    patches = sorted(out.glob("*.patch"))
    assert patches[0].name == "0000-cover-letter.patch" and len(patches) >= 3
    text = patches[1].read_text()
    assert "Signed-off-by: A Developer <dev@example.org>" in text and "Subject: [PATCH 1/" in text
    git(tree, "am", *[str(p) for p in patches[1:]])
    # The series leaves the tree exactly as applying allocfix does.
    applied = snapshot(tree)
    run_cli(".", cwd=tree)
    assert snapshot(tree) == applied


def test_rich_output_on_a_terminal(tree):
    proc = run_cli("--dry-run", "--color", "always", "hw/misc", cwd=tree,
                   env={"COLUMNS": "120"})
    out = proc.stdout.decode()
    assert "\x1b[" in out and "R5 stub" in out and "g_try_malloc" in out


def test_explain_gives_size_phase_and_error_path(tree):
    proc = run_cli("explain", "hw/misc/mini-dma.c:107", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "g_malloc() in mini_dma_write" in out
    assert "action: stub" in out and "phase:  runtime via guest-io" in out
    assert "MemoryRegionOps.write" in out and "+        s->bounce = g_try_malloc(s->len);" in out
    doc = json.loads(run_cli("explain", "--format", "json", "monitor/mini-cmds.c:44", cwd=tree).stdout)
    assert doc[0]["policy"] == "R6" and doc[0]["phase"]["via"] == ["monitor"]
    assert doc[0]["error_convention"]["errp"] == "errp"


def test_explain_startup_site_is_left_alone(tree):
    doc = json.loads(run_cli("explain", "--format", "json", "softmmu/mini-vl.c:92", cwd=tree).stdout)
    assert doc[0]["action"] == "none" and doc[0]["phase"]["class"] == "startup"
    assert doc[0]["phase"]["chain"][0] == "main"


def test_explain_errors(tree):
    assert run_cli("explain", "hw/misc/mini-dma.c:1", cwd=tree).returncode == 3
    assert run_cli("explain", "nope.c:3", cwd=tree).returncode == 3
    assert run_cli("explain", "hw/misc/mini-dma.c", cwd=tree).returncode == 2


def test_dump_commands(tree):
    out = run_cli("dump", "pattern", str(REPO / "rules" / "large-alloc.cocci"), cwd=tree).stdout.decode()
    assert "meta identifier 'alloc' @p" in out
    out = run_cli("dump", "parse", "block/mini-fmt.c", cwd=tree).stdout.decode()
    assert "function_definition" in out and " ERROR" not in out
    out = run_cli("dump", "callgraph", "hw/misc/mini-dma.c:mini_dma_write", cwd=tree).stdout.decode()
    assert "guest-io" in out


def test_startup_exit_opt_in(tree):
    plain = run_cli("--dry-run", "softmmu", cwd=tree)
    assert plain.returncode == 0 and plain.stdout == b""  # startup sites may exit (R4)
    opted = run_cli("--dry-run", "--startup-exit", "softmmu", cwd=tree).stdout.decode()
    assert "+    ram_shadow = qemu_try_memalign(" in opted
    assert "exit(EXIT_FAILURE);" in opted and "error_report(" in opted


def test_explicit_symlink_loop_is_an_input_error(tmp_path):
    (tmp_path / "a.c").symlink_to("b.c")
    (tmp_path / "b.c").symlink_to("a.c")
    proc = run_cli("--dry-run", "a.c", cwd=tmp_path)
    assert proc.returncode == 3 and b"a.c: broken symbolic link or symbolic link loop" in proc.stderr


def test_finalize_block_sees_every_file(tree, tmp_path):
    rule = tmp_path / "count.cocci"
    rule.write_text(
        "@initialize:python@\n@@\nseen = []\n\n"
        "@r@\nidentifier fn = {g_malloc};\nposition p;\n@@\nfn@p(...)\n\n"
        "@script:python@\np << r.p;\n@@\nseen.append(p[0].file)\n\n"
        "@finalize:python@\n@@\nprint('files with g_malloc:', len(set(seen)))\n")
    proc = run_cli("--dry-run", "--no-phase", "--rules", str(rule), ".", cwd=tree)
    assert proc.returncode == 0, proc.stderr
    expected = sum(1 for p in tree.rglob("*.c") if b"g_malloc(" in p.read_bytes())
    assert f"files with g_malloc: {expected}".encode() in proc.stderr


def test_site_in_unparseable_code_is_not_rewritten(tmp_path):
    (tmp_path / "uc.c").write_text("static int f(size_t n)\n{\n    /* never closed\n    p = g_malloc(n);\n")
    proc = run_cli("--dry-run", "--no-phase", "uc.c", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == b""
    doc = json.loads(run_cli("--dry-run", "--no-phase", "--format", "json", "uc.c", cwd=tmp_path).stdout)
    assert [f["action"] for f in doc["findings"]] == ["report"]


def test_rewrite_verified_at_the_files_own_path_when_run_elsewhere(tmp_path):
    # The idempotence check re-runs the rules on the result; it must read the
    # file's headers from the file's own directory, not from the current one,
    # or a header-sized allocation looks unknown the second time and the
    # whole rewrite is dropped as "not idempotent".
    src = tmp_path / "src"
    (src / "include" / "hw").mkdir(parents=True)
    (src / "MAINTAINERS").write_text("")
    (src / "include" / "hw" / "pair.h").write_text("typedef struct Pair {\n    int a;\n    int b;\n} Pair;\n")
    (src / "dev.c").write_text(
        '#include "qemu/osdep.h"\n#include "hw/pair.h"\n\n'
        "Pair *pair_new(void)\n{\n    return g_new0(Pair, 1);\n}\n\n"
        "int dev_load(size_t n, Error **errp)\n{\n"
        "    char *many = g_malloc(n);\n\n    g_free(many);\n    return 0;\n}\n")
    elsewhere = tmp_path / "elsewhere"  # another project: its own root, no such header
    elsewhere.mkdir()
    (elsewhere / "MAINTAINERS").write_text("")
    proc = run_cli("--dry-run", "--no-phase", str(src / "dev.c"), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert b"not idempotent" not in proc.stderr
    assert b"+    char *many = g_try_malloc(n);" in proc.stdout
    assert b"g_try_new0(Pair, 1)" not in proc.stdout


def test_error_code_choice_is_stable_and_prefers_the_out_of_memory_code(tmp_path):
    # A function with its own error-code family: its out-of-memory code is the
    # failure value, whatever order a set of candidates iterates in.
    (tmp_path / "MAINTAINERS").write_text("")
    (tmp_path / "nic.c").write_text(
        '#include "qemu/osdep.h"\n\n'
        "int nic_post(size_t n, int kind)\n{\n    char *buf;\n\n"
        "    if (kind == 1) {\n        return NIC_ERR_BAD_KIND;\n    }\n"
        "    if (kind == 2) {\n        return NIC_ERR_BAD_KIND;\n    }\n"
        "    if (kind == 3) {\n        return NIC_ERR_BAD_LEN;\n    }\n"
        "    if (!nic_ready()) {\n        return NIC_ERR_NOMEM;\n    }\n"
        "    buf = g_malloc(n);\n    nic_fill(buf, n);\n    g_free(buf);\n    return 0;\n}\n")
    outputs = {run_cli("--dry-run", "--no-phase", "nic.c", cwd=tmp_path,
                       env={"PYTHONHASHSEED": str(seed)}).stdout for seed in range(1, 7)}
    assert len(outputs) == 1
    assert b"+        return NIC_ERR_NOMEM;" in outputs.pop()
