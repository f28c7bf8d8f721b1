"""The device-property index kept between runs (analysis/props.py)."""

import os
import time

from codemod.analysis import props


def _write(path, text, age_s=60):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    past = time.time_ns() - age_s * 1_000_000_000
    os.utime(path, ns=(past, past))


def _tree(tmp_path):
    root = tmp_path / "t"
    _write(root / "hw" / "a.c", 'DEFINE_PROP_UINT32("n", DevState, n, 1),\nDEFINE_PROP_BOOL("b", DevState, b, 0),\n')
    _write(root / "hw" / "b.c", 'static Property p[] = {\n    DEFINE_PROP_SIZE("sz", Other, sz, 0),\n'
                                '    DEFINE_PROP_UINT32("n", DevState, n, 2),\n};\n')
    _write(root / "hw" / "c.h", "int nothing;\n")
    _write(root / "tests" / "t.c", 'DEFINE_PROP_UINT32("skip", DevState, skip, 1),\n')
    return root


_REAL_READ = props.read_or_none


def _fresh(root, cache_dir=None, reads=None, monkeypatch=None):
    props._INDEX.clear()
    if monkeypatch is not None:
        def counting(path):
            reads.append(os.path.basename(path))
            return _REAL_READ(path)
        monkeypatch.setattr(props, "read_or_none", counting)
    return props.tree_properties(root, cache_dir=cache_dir)


def test_cached_index_equals_a_full_scan_and_reads_only_changed_files(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    full = _fresh(root)
    assert set(full) == {"DevState.n", "Other.sz"}
    assert [e[2] for e in full["DevState.n"]] == ["hw/a.c:1", "hw/b.c:3"]
    reads: list[str] = []
    assert _fresh(root, cache, reads, monkeypatch) == full
    assert sorted(reads) == ["a.c", "b.c", "c.h"]
    reads.clear()
    assert _fresh(root, cache, reads, monkeypatch) == full
    assert reads == []  # nothing changed: every file's entry is reused
    _write(root / "hw" / "a.c", '\nDEFINE_PROP_UINT64("n", DevState, n, 1),\n')
    reads.clear()
    after = _fresh(root, cache, reads, monkeypatch)
    assert reads == ["a.c"]
    # One changed file does not rewrite the index: the next run reads it again.
    reads.clear()
    assert _fresh(root, cache, reads, monkeypatch) == after
    assert reads == ["a.c"]
    monkeypatch.undo()
    assert after == _fresh(root)
    assert after["DevState.n"][0] == ("DEFINE_PROP_UINT64", '"n"', "hw/a.c:2")


def test_a_file_changed_within_the_racy_window_is_read_again(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    (root / "hw" / "a.c").write_text('DEFINE_PROP_UINT32("n", DevState, n, 1),\n')  # mtime: now
    _fresh(root, cache)
    reads: list[str] = []
    _fresh(root, cache, reads, monkeypatch)
    assert reads == ["a.c"]


def test_a_corrupt_index_file_is_rebuilt(tmp_path):
    root = _tree(tmp_path)
    cache = tmp_path / "cache"
    full = _fresh(root, cache)
    (index_file,) = (cache / "props").iterdir()
    index_file.write_text('{"files": {"hw/a.c": [[1, 2], "x", [[1]]]}')
    assert _fresh(root, cache) == full
    index_file.write_text('{"files": {"hw/a.c": [[0, 0, 0, 0], 1, [["DevState.n", "K", "n", "hw/a.c:9"], 5]]}}')
    assert _fresh(root, cache) == full
