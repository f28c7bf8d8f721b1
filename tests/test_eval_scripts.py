"""The evaluation scripts: revert_try (ground truth), recall scoring, precision comparison."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "eval"
sys.path.insert(0, str(REPO))


def _load(name: str):
    # Registered in sys.modules before running: dataclasses look their module up there.
    spec = importlib.util.spec_from_file_location(f"scripts.{name}", REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


revert_try = _load("revert_try")
recall = _load("recall")
precision = _load("precision")
site_table = _load("site_table")


@pytest.fixture()
def reverted(tmp_path):
    dst = tmp_path / "tree"
    manifest = revert_try.revert_tree(FIXTURES / "tree", dst)
    return dst, manifest


# --- revert_try ---------------------------------------------------------------


def test_revert_output_is_byte_exact(reverted):
    dst, _ = reverted
    # The expected file was written by hand: only the allocator names and the checks differ.
    assert (dst / "dev" / "ring.c").read_bytes() == (FIXTURES / "expected" / "dev" / "ring.c").read_bytes()
    assert (dst / "dev" / "plain.c").read_bytes() == (FIXTURES / "tree" / "dev" / "plain.c").read_bytes()


def test_manifest_sites_and_failure_paths(reverted):
    dst, manifest = reverted
    by_fn = {}
    for r in manifest["reverted"]:
        by_fn.setdefault(r["function"], []).append(r)
    assert sorted(by_fn) == ["ring_index_new", "ring_load", "ring_open", "ring_reset_bh"]
    op = by_fn["ring_open"][0]
    assert (op["allocator"], op["checked"], op["target"]) == ("g_malloc", "g_try_malloc", "r->data")
    assert op["failure"]["kind"] == "return" and op["failure"]["value"] == "-ENOMEM"
    assert op["failure"]["errp_used"] and op["function_errp"] == "errp"
    load = by_fn["ring_load"][0]
    assert load["failure"]["kind"] == "goto" and load["failure"]["label"] == "out"
    assert load["failure"]["status_var"] == "ret" and load["failure"]["value"] == "-ENOMEM"
    assert not load["failure"]["errp_used"]
    assert load["condition"] == "(n && !tmp)"
    # One check for two allocations: both reverted, both carry its path.
    assert [r["allocator"] for r in by_fn["ring_index_new"]] == ["g_new", "g_new0"]
    assert all(r["failure"]["value"] == "NULL" for r in by_fn["ring_index_new"])
    bh = by_fn["ring_reset_bh"][0]
    assert bh["failure"]["kind"] == "return" and bh["failure"]["value"] == ""
    # Lines point at the allocator in DST.
    lines = (dst / "dev" / "ring.c").read_text().splitlines()
    for r in manifest["reverted"]:
        assert lines[r["line"] - 1][r["column"] - 1:].startswith(r["allocator"] + "(")


def test_unclean_sites_are_listed_with_reasons(reverted):
    _, manifest = reverted
    reasons = {s["function"]: s["reason"] for s in manifest["skipped"]}
    assert reasons == {
        "ring_grow": "the NULL check has an else branch",
        "ring_peek_buffer": "result returned to the caller (the caller checks it)",
        "ring_pair": "shared NULL check covers allocations that are not reverted",
    }


def test_skipped_sites_keep_their_text(reverted):
    dst, _ = reverted
    text = (dst / "dev" / "ring.c").read_text()
    assert "g_try_realloc(r->data, n)" in text and "return g_try_malloc0(n);" in text
    assert "x = g_try_malloc(n);\n    y = malloc(n);\n    if (!x || !y) {" in text


def test_revert_refuses_existing_destination(tmp_path):
    with pytest.raises(SystemExit):
        revert_try.revert_tree(FIXTURES / "tree", tmp_path)


@pytest.mark.parametrize(
    "body, kind, value, label, errp",
    [
        ("return -ENOMEM;", "return", "-ENOMEM", None, False),
        ('error_setg(errp, "no memory");\nret = -ENOMEM;\ngoto fail;', "goto", "-ENOMEM", "fail", True),
        ("goto out;", "goto", None, "out", False),
        ("return;", "return", "", None, False),
        ("/* return 1; */\nbreak;", "break", None, None, False),
        ("ret = -ENOMEM;\nbreak;", "break", "-ENOMEM", None, False),
        ("continue;", "other", None, None, False),
        ("error_propagate(errp, local_err);\nreturn false;", "return", "false", None, True),
    ],
)
def test_classify_failure(body, kind, value, label, errp):
    f = revert_try.classify_failure(body)
    assert (f.kind, f.value, f.label, f.errp_used) == (kind, value, label, errp)


def test_null_check_forms():
    data = b"void f(void) { if (!p) {} if (NULL == q->x) {} if (n && !p) {} if (!a || b == NULL) {} if (p) {} }"
    from codemod.cparse import default_profile, parse_source
    from codemod.source import SourceFile

    parsed = parse_source(SourceFile("t.c", "t.c", data), default_profile())
    conds = []
    stack = [parsed.root]
    while stack:
        n = stack.pop()
        if n.type == "if_statement":
            conds.append(n.child_by_field_name("condition"))
        stack.extend(n.children)
    conds.sort(key=lambda c: c.start_byte)
    got = [revert_try.null_checked(c, data) for c in conds]
    assert got == [["p"], ["q->x"], ["p"], ["a", "b"], None]


# --- recall scoring -------------------------------------------------------------


def _finding(file, line, allocator, action, size="large", phase="runtime", error_path=None, function="f"):
    f = {"file": file, "line": line, "allocator": allocator, "function": function, "action": action,
         "size": {"class": size, "max_bytes": None, "evidence": "e"},
         "phase": {"class": phase, "via": [], "chain": []}, "reason": "r", "policy": "R5"}
    if error_path:
        f["error_path"] = error_path
    return f


def test_recall_scoring_on_fixture(reverted):
    _, manifest = reverted
    recs = {(r["function"], r["allocator"]): r for r in manifest["reverted"]}
    op, load = recs[("ring_open", "g_malloc")], recs[("ring_load", "qemu_blockalign")]
    k1, k2 = recs[("ring_index_new", "g_new")], recs[("ring_index_new", "g_new0")]
    bh = recs[("ring_reset_bh", "bitmap_new")]
    doc = {"findings": [
        _finding(op["file"], op["line"], "g_malloc", "rewrite", error_path="error_setg(errp); return -ENOMEM;"),
        # Same label, no errp: agrees.
        _finding(load["file"], load["line"], "qemu_blockalign", "rewrite", error_path="ret = -ENOMEM; goto out"),
        # Original returns NULL; a goto disagrees.
        _finding(k1["file"], k1["line"], "g_new", "rewrite", error_path="ret = -ENOMEM; goto fail"),
        _finding(k2["file"], k2["line"], "g_new0", "none", size="small"),
        _finding(bh["file"], bh["line"], "bitmap_new", "stub", error_path="return (stub)"),
        # An unrelated site in the same file does not count.
        _finding(op["file"], 3, "g_malloc", "rewrite", error_path="return -1;"),
    ]}
    res = recall.score(manifest, doc)
    assert res["sites"] == 5 and res["flagged"] == 4
    assert res["recall"] == pytest.approx(0.8)
    assert res["misses_by_cause"] == {"size classified small": 1}
    assert res["rewrites"] == 3 and res["path_agree"] == 2
    assert res["path_disagreements_by_kind"] == {"original return, allocfix goto": 1}
    assert res["stubs"] == 1 and res["skipped_reverts"] == 3


def test_recall_unmatched_site_is_a_miss(reverted):
    _, manifest = reverted
    res = recall.score(manifest, {"findings": []})
    assert res["flagged"] == 0
    assert list(res["misses_by_cause"]) == ["not found as an allocation site (form not matched or parse error)"]


@pytest.mark.parametrize(
    "summary, expect",
    [
        ("error_setg(errp); ret = -ENOMEM; goto fail", {"kind": "goto", "label": "fail", "errp_used": True}),
        ("return -ENOMEM;", {"kind": "return", "value": "-ENOMEM", "errp_used": False}),
        ("goto out (stub)", {"kind": "goto", "label": "out", "stub": True}),
        ("return (stub)", {"kind": "return", "value": "", "stub": True}),
    ],
)
def test_parse_error_path(summary, expect):
    got = recall.parse_error_path(summary)
    for k, v in expect.items():
        assert got[k] == v


def test_compare_paths_kinds():
    orig = {"kind": "return", "value": "-1", "label": None, "errp_used": True}
    assert recall.compare_paths(orig, recall.parse_error_path("error_setg(errp); return -1;")) == (True, [])
    agree, kinds = recall.compare_paths(orig, recall.parse_error_path("return -ENOMEM;"))
    assert not agree and kinds == ["different return value", "errp used by the original only"]
    goto = {"kind": "goto", "value": "-EIO", "label": "err", "errp_used": False}
    assert recall.compare_paths(goto, recall.parse_error_path("ret = -ENOMEM; goto err"))[0]
    assert recall.compare_paths(goto, recall.parse_error_path("ret = -ENOMEM; goto out"))[1] == ["different goto label"]


# --- precision comparison -------------------------------------------------------


def test_precision_compare():
    labels = [
        {"file": "a.c", "line": 3, "allocator": "g_malloc", "function": "f", "size": "large", "phase": "runtime"},
        {"file": "a.c", "line": 9, "allocator": "g_new0", "function": "g", "size": "small", "phase": "startup"},
        {"file": "b.c", "line": 1, "allocator": "g_malloc", "function": "h", "size": "small", "phase": "both"},
    ]
    findings = [
        _finding("a.c", 3, "g_malloc", "rewrite", size="large", phase="both"),
        _finding("a.c", 9, "g_new0", "none", size="small", phase="startup"),
        _finding("a.c", 9, "g_malloc", "none", size="large", phase="runtime"),  # other allocator, same line
    ]
    res = precision.compare(labels, findings)
    assert res["found"] == 2
    assert (res["size_agree"], res["phase_agree"]) == (2, 1)
    assert res["size_agreement"] == pytest.approx(2 / 3)
    assert res["phase_confusion_label_to_allocfix"] == {"runtime->both": 1, "startup->startup": 1}
    # Unknown is not small: the action agrees for a large label; the first-made label is reported too.
    assert res["small_vs_not_agree"] == 2
    labels[0]["phase_before_comparison"] = "both"
    assert precision.compare(labels, findings)["phase_agree_first_labels"] == 2
    missing = [r for r in res["rows"] if not r["found"]]
    assert [r["file"] for r in missing] == ["b.c"]


def test_precision_sample_is_reproducible(tmp_path):
    tree = tmp_path / "t"
    shutil.copytree(FIXTURES / "tree", tree)
    (tree / "tests").mkdir()
    (tree / "tests" / "x.c").write_text("void t(void) { g_malloc(1); }\n")
    sites = precision.enumerate_sites(tree)
    # Comments are not sites; tests/ is excluded.
    assert [(s["file"], s["line"], s["allocator"]) for s in sites] == [
        ("dev/plain.c", 6, "g_malloc"), ("dev/ring.c", 38, "g_new0")]
    assert precision.sample(tree, 1, 2) == precision.sample(tree, 1, 2)


def test_labels_file_is_well_formed():
    doc = json.loads((REPO / "data" / "labels" / "qemu-7.2-sites.json").read_text())
    sites = doc["sites"]
    assert len(sites) >= 50 and doc["seed"] is not None
    for s in sites:
        assert s["size"] in ("small", "large", "unknown")
        assert s["phase"] in ("startup", "runtime", "both", "unknown")
        assert s["size_reason"] and s["phase_reason"] and s["function"]
    assert len({(s["file"], s["line"], s["allocator"]) for s in sites}) == len(sites)


# --- site table -----------------------------------------------------------------


def test_site_table_counts():
    findings = [_finding("a.c", 1, "g_malloc", "rewrite"), _finding("a.c", 2, "g_malloc", "rewrite"),
                _finding("a.c", 3, "g_new", "none", size="small", phase="startup")]
    t = site_table.table(findings)
    assert t["cells"] == {"large/runtime/rewrite": 2, "small/startup/none": 1}
    assert t["by_action"] == {"rewrite": 2, "none": 1} and t["sites"] == 3


# --- QEMU smoke test --------------------------------------------------------------


@pytest.mark.integration
def test_revert_real_qemu_files(qemu_tree, tmp_path):
    src = tmp_path / "src"
    for rel in ("block/cloop.c", "block/bochs.c"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(qemu_tree / rel, src / rel)
    manifest = revert_try.revert_tree(src, tmp_path / "dst")
    assert not manifest["skipped"]
    files = {r["file"] for r in manifest["reverted"]}
    assert files == {"block/cloop.c", "block/bochs.c"}
    for rel in files:
        text = (tmp_path / "dst" / rel).read_text()
        assert "g_try_" not in text
        for r in (r for r in manifest["reverted"] if r["file"] == rel):
            assert r["failure"]["kind"] in ("return", "goto")
            assert text.splitlines()[r["line"] - 1][r["column"] - 1:].startswith(r["allocator"])


def test_recall_end_to_end_on_fixture(tmp_path, capsys):
    # Reverts into a temp dir, runs allocfix on it, scores: every reverted site is seen as a site.
    out = tmp_path / "recall.json"
    assert recall.main([str(FIXTURES / "tree"), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["sites"] == 5 and res["skipped_reverts"] == 3
    assert all(s["finding"] is not None for s in res["details"])
    assert "recall" in capsys.readouterr().out
