"""The phase snapshot: a warm run reuses the phases when no edit changes the call
graph, rebuilds them when one does, and never trusts a snapshot that does not
check out. Answers are compared with a fresh build without any cache."""

from __future__ import annotations

import dataclasses
import json
import os
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


def _store(cdir: Path, root: Path):
    return wholetree._SnapshotStore(str(cdir), wholetree._facts_spec(PROFILE), root)


def _entry(store, key: str) -> Path:
    return store.cache._path(key)


def _flip_last_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_a_corrupted_snapshot_is_recomputed(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    _flip_last_byte(_entry(_store(cdir, tree), _store(cdir, tree).head_key))
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2));")
    index, how = _build(tree, cdir)
    assert how == "full"
    _assert_same_answers(index, _fresh(tree), tree)
    # ... and rewritten: the next run can use it again.
    assert _build(tree, cdir)[1] == "snapshot"


def _put_head(store, **changes) -> None:
    head = store.head()
    assert head is not None
    store.cache.put_raw(store.head_key, snapmod.encode_head(dataclasses.replace(head, **changes)))


def test_a_snapshot_of_the_wrong_shape_is_not_used(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    store = _store(cdir, tree)
    # Well-formed entries whose head does not fit the format (e.g. written by a bug).
    good = store.cache.get_raw(store.head_key)
    for bad in (good.rsplit(b"\n", 1)[0],  # a phase key short
                good.replace(b",[", b",[\"x\",", 1),  # a part digest too many
                b"\xff" + good):
        store.cache.put_raw(store.head_key, bad)
        assert store.head() is None
        index, how = _build(tree, cdir)
        assert how == "full"
    _assert_same_answers(index, _fresh(tree), tree)


def test_a_snapshot_of_other_files_is_not_used(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    store = _store(cdir, tree)
    _put_head(store, keys_digest=snapmod.keys_digest(["somewhere/else.c"]))
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2));")
    assert _build(tree, cdir)[1] == "full"


def test_without_reuse_the_full_index_is_built(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    index, how = _build(tree, cdir, reuse=False)
    assert how == "full"
    # explain and dump ask the call graph itself.
    assert index.slice(WIDGET, "widget_read")


def _keys(root: Path) -> list[str]:
    return [Path(f.path).relative_to(root).as_posix() for f in discover([str(root)]).files]


def _part_of(root: Path, rel: str) -> int:
    # Parts of PART_FILES files each (the mini tree's tables are far below PART_BYTES).
    return _keys(root).index(rel) // snapmod.PART_FILES


@pytest.fixture
def small_parts(monkeypatch):
    # Parts of two files: the mini tree then has several, as QEMU has about 100.
    monkeypatch.setattr(snapmod, "PART_FILES", 2)


def test_function_table_round_trip(tree, tmp_path, small_parts):
    cdir = tmp_path / "cache"
    full, _ = _build(tree, cdir)
    store = _store(cdir, tree)
    head = store.head()
    keys = _keys(tree)
    assert head.count == len(keys) and head.part_starts == list(range(0, len(keys), 2))
    b = _part_of(tree, WIDGET)
    rows = snapmod.decode_part(store.part(b), head.part_digests[b], keys[2 * b:2 * b + 2])
    key, _, kind, table = next(r for r in rows if r[0] == WIDGET)
    assert kind == snapmod.MOVABLE
    names = [fn.name for fn in next(f for f in _facts(tree) if f.path == WIDGET).functions]
    assert len(table) == len(names)
    for row, name in zip(table, names):
        assert row[2] == full.phase(WIDGET, name).cls
    # A part is only taken for the files the head names, with the digest it recorded.
    assert snapmod.decode_part(store.part(b), head.part_digests[b - 1 if b else b + 1], keys[2 * b:2 * b + 2]) is None
    assert snapmod.decode_part(store.part(b), head.part_digests[b], keys[:2] if b else keys[2:4]) is None


def test_big_parts_are_split(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(snapmod, "PART_BYTES", 1)  # every part over the limit: one file each
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    store = _store(cdir, tree)
    head = store.head()
    assert head.part_starts == list(range(len(_keys(tree))))
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2));")
    index, how = _build(tree, cdir)
    assert how == "snapshot"
    _assert_same_answers(index, _fresh(tree), tree)
    # Part boundaries that do not fit the file count are not a head.
    for starts in ([], [1, *head.part_starts[1:]], [0, 0, *head.part_starts[2:]],
                   [*head.part_starts[:-1], head.count]):
        bad = dataclasses.replace(head, part_starts=starts)
        assert snapmod.decode_head(snapmod.encode_head(bad), str(tree)) is None, starts
    assert snapmod.decode_head(snapmod.encode_head(head), str(tree)) == head


def test_a_bad_part_of_a_changed_file_means_the_full_build(tree, tmp_path, small_parts):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    store = _store(cdir, tree)
    b = _part_of(tree, WIDGET)
    edits = iter(range(100))

    def edit_body():
        # A new body each time (no call added): a content no snapshot has seen.
        _edit(tree, WIDGET, "g_free(g_malloc(", f"g_free(g_malloc({next(edits)} + ")

    for spoil in ("missing", "corrupt", "other snapshot's"):
        path = _entry(store, store.part_key(b))
        if spoil == "missing":
            path.unlink()
        elif spoil == "corrupt":
            _flip_last_byte(path)
        else:
            # A sound entry of another snapshot (e.g. a concurrent run's).
            payload = store.part(b)
            assert b'"startup"' in payload
            store.cache.put_raw(store.part_key(b), payload.replace(b'"startup"', b'"runtime"'))
        edit_body()
        index, how = _build(tree, cdir)
        assert how == "full", spoil
        _assert_same_answers(index, _fresh(tree), tree)
        # The full build wrote the snapshot again.
        edit_body()
        assert _build(tree, cdir)[1] == "snapshot", spoil


def test_a_bad_part_of_an_unchanged_file_is_recomputed_when_asked(tree, tmp_path, small_parts):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    store = _store(cdir, tree)
    other = "hw/misc/gadget.c"
    assert _part_of(tree, other) != _part_of(tree, WIDGET)
    _flip_last_byte(_entry(store, store.part_key(_part_of(tree, other))))
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2));")
    index, how = _build(tree, cdir)
    assert how == "snapshot"  # only the changed file's part is read up front
    assert index._full is None
    _assert_same_answers(index, _fresh(tree), tree)
    assert index._full is not None  # gadget.c's phases came from a full build


def test_old_facts_no_longer_cached_mean_the_full_build(tree, tmp_path):
    # The signature a changed file is compared with comes from its facts as
    # the snapshot saw them: without them nothing vouches for its calls.
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    store = _store(cdir, tree)
    head = store.head()
    i = _keys(tree).index(WIDGET)
    path = str(tree / WIDGET)
    entry = store.facts._path(store.facts.key(head.hashes[i], path, WIDGET))
    assert entry.is_file()
    entry.unlink()
    _edit(tree, WIDGET, "g_free(g_malloc(8192));", "g_free(g_malloc(8192 * 2));")
    index, how = _build(tree, cdir)
    assert how == "full"
    _assert_same_answers(index, _fresh(tree), tree)


def test_the_rebuild_leaves_the_runner_state_alone(tree, tmp_path):
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    saved = runnermod._STATE
    marker = object()
    runnermod._STATE = marker
    try:
        full = wholetree._rebuild(tree, PROFILE, str(cdir))
        assert runnermod._STATE is marker
    finally:
        runnermod._STATE = saved
    _assert_same_answers(full, _fresh(tree), tree)


def test_many_changes_rewrite_only_the_parts_that_changed(tree, tmp_path, monkeypatch, small_parts):
    monkeypatch.setattr(wholetree, "SNAPSHOT_SLACK", 0)
    cdir = tmp_path / "cache"
    _build(tree, cdir)
    store = _store(cdir, tree)
    before = {b: store.part(b) for b in range(len(store.head().part_digests))}
    _edit(tree, WIDGET, "/*\n * Widget device", "/* a new first line */\n/*\n * Widget device")
    assert _build(tree, cdir)[1] == "snapshot"
    after = {b: store.part(b) for b in before}
    assert {b for b in before if before[b] != after[b]} == {_part_of(tree, WIDGET)}
    again, how = _build(tree, cdir)
    assert how == "snapshot" and not again._moved
    _assert_same_answers(again, _fresh(tree), tree)


def test_tree_items_take_the_slow_way_for_paths_that_are_not_normal(tmp_path):
    from types import SimpleNamespace

    root = tmp_path / "t"
    plain = [SimpleNamespace(path=str(root / "a" / "b.c")), SimpleNamespace(path=str(root / "c.c"))]
    assert wholetree._tree_items(root, plain) == (
        [(str(root / "a/b.c"), "a/b.c"), (str(root / "c.c"), "c.c")], [str(root / "a/b.c"), str(root / "c.c")])
    for odd in (f"{root}/a/../c.c", f"{root}//c.c", f"{root}/./c.c", "c.c", f"{tmp_path}/elsewhere.c"):
        files = [*plain, SimpleNamespace(path=odd)]
        items, abspaths = wholetree._tree_items(root, files)
        assert items == [(f.path, wholetree.tree_key(f.path, root)) for f in files], odd
        assert abspaths == [os.path.abspath(f.path) for f in files], odd


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


@pytest.mark.integration
def test_qemu_subset_answers_like_a_full_build(qemu_tree, tmp_path, monkeypatch):
    """A real tree on disk: the SCSI and virtio device code plus the startup and
    monitor files the entry points name. A body edit is answered from the
    snapshot exactly as a fresh build answers; a new call falls back."""
    monkeypatch.setattr(snapmod, "PART_FILES", 16)  # several parts, as for the whole tree
    root = tmp_path / "q"
    for sub in ("hw/scsi", "hw/virtio", "softmmu", "monitor"):
        shutil.copytree(qemu_tree / sub, root / sub, ignore=shutil.ignore_patterns("*.h", "meson.build", "Kconfig"))
    (root / ".git").mkdir()
    cdir = tmp_path / "cache"
    first, how = _build(root, cdir)
    assert how == "full" and len(discover([str(root)]).files) > 3 * snapmod.PART_FILES
    rel = "hw/scsi/scsi-bus.c"
    text = (root / rel).read_text()
    # Every offset moves, one body changes, no call or registration does.
    (root / rel).write_text("/* moved */\n" + text.replace("\n{\n", "\n{\n    /* edited */\n", 1))
    index, how = _build(root, cdir)
    assert how == "snapshot"
    fresh = _fresh(root)
    assert index.errp_functions == fresh.errp_functions and index.parse_errors == fresh.parse_errors
    facts = {f.path: f for f in _facts(root)}
    for f in discover([str(root)]).files:
        key = Path(f.path).relative_to(root).as_posix()
        for fn in facts[key].functions:
            for offset in (fn.start, (fn.start + fn.end) // 2, fn.end - 1, fn.end):
                assert index.phase_at(key, offset) == fresh.phase_at(key, offset), (key, fn.name, offset)
        spec = runnermod.RunSpec((), PROFILE, phase_index=index, tree_root=str(root))
        assert runnermod.file_phase_key(spec, f.path) == runnermod.file_phase_key(
            dataclasses.replace(spec, phase_index=fresh), f.path), key
    # A call added to a body: the graph may change, so the full build answers.
    text = (root / rel).read_text()
    (root / rel).write_text(text.replace("    /* edited */\n", "    qemu_system_reset_request(0);\n", 1))
    assert _build(root, cdir)[1] == "full"


def test_the_cache_directory_comes_from_the_first_and_last_paths(tmp_path):
    # build_phase_index hands runner.facts_cache_dir the least and greatest
    # path only: their common directory is that of all the paths.
    for layout in (["a/x.c", "b/y.c", "b/c/z.c"], ["sub/x.c", "sub/y.c"], ["sub/d/x.c", "sub/d-e/y.c", "sub/d/e/z.c"]):
        root = tmp_path / str(len(layout)) / layout[0].split("/")[0]
        items = [(str(root / p), p) for p in layout]
        paths = sorted(p for p, _ in items)
        ends = [(paths[0], ""), (paths[-1], "")]
        assert runnermod.facts_cache_dir(ends, None) == runnermod.facts_cache_dir(items, None), layout
        assert os.path.commonpath([paths[0], paths[-1]]) == os.path.commonpath(paths), layout
