"""The phase snapshot: a warm run reuses the phases when no edit changes the call
graph, rebuilds them when one does, and never trusts a snapshot that does not
check out. Answers are compared with a fresh build without any cache."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from codemod import runner as runnermod
from codemod.analysis import snapshot as snapmod
from codemod.analysis.facts import extract_facts
from codemod.cparse import MacroProfile, parse_source
from codemod.discover import discover
from codemod.rulesdata import builtin_rules_dir
from codemod.source import SourceFile
from codemod import wholetree
from codemod.wholetree import build_phase_index
from helpers import run_cli

MINI = Path(__file__).parent / "fixtures" / "phase" / "mini"
PROFILE = str(builtin_rules_dir() / "qemu-macros.toml")
WIDGET = "hw/misc/widget.c"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "mini"
    shutil.copytree(MINI, root)
    return root


def _build(root: Path, cdir: Path, reuse: bool = True):
    stats: dict = {}
    index = build_phase_index(root, PROFILE, 1, cache_dir=str(cdir), use_cache=True, reuse=reuse, stats=stats)
    return index, stats["phase"]


def _fresh(root: Path):
    return build_phase_index(root, PROFILE, 1)


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _assert_same_answers(index, fresh, root: Path) -> None:
    """Every question a scan asks gets the answer of a full build."""
    assert index.errp_functions == fresh.errp_functions
    assert index.parse_errors == fresh.parse_errors
    for f in discover([str(root)]).files:
        key = Path(f.path).relative_to(root).as_posix()
        size = len(Path(f.path).read_bytes())
        for offset in range(0, size + 1):
            assert index.phase_at(key, offset) == fresh.phase_at(key, offset), (key, offset)
        spec = runnermod.RunSpec((), PROFILE, phase_index=index, tree_root=str(root))
        fresh_spec = dataclasses.replace(spec, phase_index=fresh)
        assert runnermod.file_phase_key(spec, f.path) == runnermod.file_phase_key(fresh_spec, f.path), key


def test_graph_signature_ignores_positions_only():
    prof = MacroProfile.load(PROFILE)

    def sig(text: str) -> str:
        return snapmod.graph_signature(extract_facts(parse_source(SourceFile("a.c", "a.c", text.encode()), prof)))

    base = "static void f(void)\n{\n    g(1);\n}\n\nstatic void g(int x)\n{\n}\n"
    assert sig(base) == sig("/* moved */\n\n" + base.replace("g(1);", "g(1 + 2 * 3);"))
    assert sig(base) != sig(base.replace("g(1);", "g(1); h();"))  # a new call
    assert sig(base) != sig(base.replace("static void g", "void g"))  # linkage
    assert sig(base) != sig(base + "\nstatic const MemoryRegionOps ops = { .read = f };\n")  # a registration
    assert snapmod.graph_signature(None) == "none"


def test_body_edit_reuses_the_phases(tree, tmp_path):
    cdir = tmp_path / "cache"
    first, how = _build(tree, cdir)
    assert how == "full"
    # Shift every offset of the file and change a function body, no call or registration.
    _edit(tree, WIDGET, "/*\n * Widget device", "/* a new first line */\n/*\n * Widget device")
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2)); /* bigger */")
    index, how = _build(tree, cdir)
    assert how == "snapshot"
    assert isinstance(index, snapmod.SnapshotPhaseIndex)
    _assert_same_answers(index, _fresh(tree), tree)
    # One changed file is within the slack: the snapshot is not rewritten, a
    # second warm run reads that file's facts again (from the fact cache).
    again, how = _build(tree, cdir)
    assert how == "snapshot" and set(again._moved) == {WIDGET}
    _assert_same_answers(again, _fresh(tree), tree)


def test_the_snapshot_is_brought_up_to_date_beyond_the_slack(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(wholetree, "SNAPSHOT_SLACK", 0)
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2)); /* bigger */")
    index, how = _build(tree, cdir)
    assert how == "snapshot" and set(index._moved) == {WIDGET}
    # Brought up to date: a second warm run has nothing changed to read.
    again, how = _build(tree, cdir)
    assert how == "snapshot" and not again._moved
    _assert_same_answers(again, _fresh(tree), tree)


def test_a_new_call_rebuilds_and_changes_the_phase(tree, tmp_path):
    cdir = tmp_path / "cache"
    before, _ = _build(tree, cdir)
    gadget_alloc = before.phase("hw/misc/gadget.c", "gadget_alloc_table")
    assert gadget_alloc.cls == "startup"
    # A runtime callback of widget.c now calls the (startup-only) table allocator of gadget.c.
    _edit(tree, "hw/misc/gadget.c", "static void gadget_alloc_table", "void gadget_alloc_table")
    _edit(tree, WIDGET, "static void widget_bh_cb(void *opaque)\n{\n",
          "static void widget_bh_cb(void *opaque)\n{\n    gadget_alloc_table(opaque);\n")
    index, how = _build(tree, cdir)
    assert how == "full"
    assert index.phase("hw/misc/gadget.c", "gadget_alloc_table").cls == "both"
    _assert_same_answers(index, _fresh(tree), tree)


def test_a_new_registration_rebuilds(tree, tmp_path):
    cdir = tmp_path / "cache"
    before, _ = _build(tree, cdir)
    assert before.phase("hw/misc/gadget.c", "gadget_alloc_table").cls == "startup"
    _edit(tree, "hw/misc/gadget.c", "static void gadget_alloc_table", "static uint64_t gadget_mmio_read")
    text = (tree / "hw/misc/gadget.c").read_text()
    (tree / "hw/misc/gadget.c").write_text(
        text + "\nstatic const MemoryRegionOps gadget_ops = {\n    .read = gadget_mmio_read,\n};\n")
    index, how = _build(tree, cdir)
    assert how == "full"
    assert index.phase("hw/misc/gadget.c", "gadget_mmio_read").cls == "runtime"
    _assert_same_answers(index, _fresh(tree), tree)


def test_added_and_removed_files_rebuild(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    (tree / "hw/misc/extra.c").write_text("static void extra(void)\n{\n}\n")
    index, how = _build(tree, cdir)
    assert how == "full"
    _assert_same_answers(index, _fresh(tree), tree)
    (tree / "hw/misc/extra.c").unlink()
    index, how = _build(tree, cdir)
    assert how == "full"
    _assert_same_answers(index, _fresh(tree), tree)


def _snapshot_files(cdir: Path, root: Path) -> list[Path]:
    cache, key = _snapshot_cache(cdir, root)
    return [cache._path(key)]


def _snapshot_cache(cdir: Path, root: Path):
    from codemod.wholetree import _facts_spec, _snapshot_cache as make

    return make(str(cdir), _facts_spec(PROFILE), root)


def test_a_corrupted_snapshot_is_recomputed(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    [path] = _snapshot_files(cdir, tree)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2));")
    index, how = _build(tree, cdir)
    assert how == "full"
    _assert_same_answers(index, _fresh(tree), tree)
    # ... and rewritten: the next run can use it again.
    assert _build(tree, cdir)[1] == "snapshot"


def test_a_snapshot_of_the_wrong_shape_is_not_used(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    cache, key = _snapshot_cache(cdir, tree)
    snap = cache.get(key)
    # A well-formed entry whose records do not fit the format (e.g. written by a bug).
    snap[3][0] = snap[3][0][:4]
    cache.put(key, snap)
    index, how = _build(tree, cdir)
    assert how == "full"
    _assert_same_answers(index, _fresh(tree), tree)


def test_a_snapshot_of_other_files_is_not_used(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    cache, key = _snapshot_cache(cdir, tree)
    snap = cache.get(key)
    snap[3][0][0] = "somewhere/else.c"
    cache.put(key, snap)
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2));")
    assert _build(tree, cdir)[1] == "full"


def test_without_reuse_the_full_index_is_built(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    index, how = _build(tree, cdir, reuse=False)
    assert how == "full"
    # explain and dump ask the call graph itself.
    assert index.slice(WIDGET, "widget_read")


def test_function_table_round_trip(tree, tmp_path):
    cdir = tmp_path / "cache"
    full, _ = _build(tree, cdir)
    cache, key = _snapshot_cache(cdir, tree)
    snap = cache.get(key)
    assert snapmod.check_snapshot(snap, str(tree))
    rec = next(r for r in snap[3] if r[0] == WIDGET)
    table = json.loads(rec[5])
    names = [fn.name for fn in next(f for f in _facts(tree) if f.path == WIDGET).functions]
    assert len(table) == len(names)
    for row, name in zip(table, names):
        assert row[2] == full.phase(WIDGET, name).cls


def _facts(root: Path):
    prof = MacroProfile.load(PROFILE)
    out = []
    for f in discover([str(root)]).files:
        key = Path(f.path).relative_to(root).as_posix()
        out.append(extract_facts(parse_source(SourceFile(f.path, key, Path(f.path).read_bytes()), prof)))
    return out


def _json_without_seconds(text: bytes) -> dict:
    doc = json.loads(text)
    doc["stats"].pop("seconds")
    return doc


def test_cli_warm_output_equals_cold_output(tree, tmp_path):
    (tree / ".git").mkdir()  # the project root
    cdir = tmp_path / "cache"
    args = ("--dry-run", "--format", "json", "--all", "-j", "2", "--cache-dir", str(cdir), ".")
    cold = run_cli(*args, cwd=tree)
    assert cold.returncode in (0, 1), cold.stderr
    _edit(tree, WIDGET, "/*\n * Widget device", "/* a new first line */\n/*\n * Widget device")
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2)); /* bigger */")
    warm = run_cli(*args, cwd=tree)
    uncached = run_cli("--dry-run", "--format", "json", "--all", "--no-cache", ".", cwd=tree)
    assert warm.returncode == uncached.returncode
    assert _json_without_seconds(warm.stdout) == _json_without_seconds(uncached.stdout)
    diff_args = ("--dry-run", "-j", "2", "--cache-dir", str(cdir), ".")
    assert run_cli(*diff_args, cwd=tree).stdout == run_cli("--dry-run", "--no-cache", ".", cwd=tree).stdout
