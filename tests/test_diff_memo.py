"""Diffs printed by an earlier run are reused when both texts are the same."""

import pytest

from codemod.render import diff

OLD = b"int f(void)\n{\n    char *p = g_malloc(n);\n    return 0;\n}\n"
NEW = b"int f(void)\n{\n    char *p = g_try_malloc(n);\n\n    if (!p) {\n        return -ENOMEM;\n    }\n    return 0;\n}\n"


def test_a_memo_gives_the_diff_and_a_later_run_reuses_it(tmp_path, monkeypatch):
    memo = diff.DiffMemo(tmp_path)
    expected = diff.unified_diff("hw/a.c", OLD, NEW)
    assert memo.unified_diff("hw/a.c", OLD, NEW) == expected
    assert memo.unified_diff("hw/a.c", OLD, OLD) == b""
    memo.save()

    def no_diff(*args):
        raise AssertionError("computed again")
    again = diff.DiffMemo(tmp_path)
    monkeypatch.setattr(diff, "unified_diff", no_diff)
    assert again.unified_diff("hw/a.c", OLD, NEW) == expected
    # Another path shown, or other bytes: not the same diff.
    with pytest.raises(AssertionError):
        again.unified_diff("hw/b.c", OLD, NEW)
    with pytest.raises(AssertionError):
        again.unified_diff("hw/a.c", OLD, NEW + b"\xff\n")


def test_non_utf8_bytes_survive_the_memo(tmp_path):
    old, new = OLD + b"/* \xe9\xff */\n", NEW + b"/* \xe9\xff */\n"
    memo = diff.DiffMemo(tmp_path)
    first = memo.unified_diff("a.c", old, new)
    memo.save()
    assert diff.DiffMemo(tmp_path).unified_diff("a.c", old, new) == first == diff.unified_diff("a.c", old, new)


def test_a_damaged_memo_is_ignored(tmp_path):
    memo = diff.DiffMemo(tmp_path)
    memo.unified_diff("a.c", OLD, NEW)
    memo.save()
    (entry,) = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    raw = bytearray(entry.read_bytes())
    raw[-5] ^= 0xFF
    entry.write_bytes(bytes(raw))
    assert diff.DiffMemo(tmp_path).unified_diff("a.c", OLD, NEW) == diff.unified_diff("a.c", OLD, NEW)
