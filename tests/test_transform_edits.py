"""Edits: applied once in order, identical ones merged, overlaps refused; offsets map back."""

from __future__ import annotations

import pytest

from codemod.edits import Edit, EditConflict, EditSet, OffsetMap
from codemod.transform import _with_list_comma


def test_apply_in_order_and_merge_identical():
    es = EditSet()
    es.add(Edit(4, 5, b"X", "r:a"))
    es.add(Edit(0, 1, b"Y", "r:a"))
    es.add(Edit(4, 5, b"X", "r:b"))  # identical: merged
    assert len(es) == 2
    assert es.apply(b"abcdefg") == b"YbcdXfg"


def test_overlap_is_a_conflict_naming_both_rules():
    es = EditSet()
    es.add(Edit(2, 6, b"", "f:first"))
    with pytest.raises(EditConflict) as info:
        es.add(Edit(4, 8, b"zz", "f:second"))
    assert "f:first" in str(info.value) and "f:second" in str(info.value)


def test_offset_map_round_trip():
    es = EditSet()
    es.add(Edit(2, 4, b"LONGER", "r"))
    omap = OffsetMap()
    omap.push(es.shifts())
    assert omap.to_original(0) == 0
    assert omap.to_original(3) is None  # inside written text
    assert omap.to_original(8) == 4
    assert omap.to_current(4) == 8


@pytest.mark.parametrize("text,start,end,want", [
    (b"f(a, b, c)", 5, 6, b"f(a, c)"),   # middle item takes the comma after it
    (b"f(a, b)", 5, 6, b"f(a)"),          # last item takes the comma before it
    (b"f(a, b)", 2, 3, b"f(b)"),          # first item
    (b"x = a;", 4, 5, b"x = ;"),          # not a list: nothing more
])
def test_removed_list_item_takes_a_comma(text, start, end, want):
    s, e = _with_list_comma(text, start, end)
    assert text[:s] + text[e:] == want
