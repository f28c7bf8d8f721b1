"""Byte-range edits, collected per file and applied once, in order.

Untouched bytes are copied verbatim. Identical edits merge; different
edits that overlap are an error naming both rules and the position.
Insertions at the same offset are kept in the order they were added.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: bytes
    rule: str  # "file.cocci:rule"
    note: str = ""  # rationale shown with the hunk

    @property
    def is_insertion(self) -> bool:
        return self.start == self.end


class EditConflict(Exception):
    def __init__(self, first: Edit, second: Edit):
        super().__init__(
            f"conflicting edits at byte {second.start}: rule {first.rule} and rule {second.rule} "
            "change overlapping text differently"
        )
        self.first, self.second = first, second


class EditSet:
    def __init__(self) -> None:
        self._edits: list[Edit] = []

    def __len__(self) -> int:
        return len(self._edits)

    def __iter__(self):
        return iter(sorted(self._edits, key=lambda e: (e.start, e.end)))

    def add(self, edit: Edit) -> None:
        for other in self._edits:
            if other.start == edit.start and other.end == edit.end and other.text == edit.text:
                return  # identical: merge
            if edit.is_insertion and other.is_insertion:
                continue
            overlap = edit.start < other.end and other.start < edit.end
            touching_insert = (edit.is_insertion and other.start < edit.start < other.end) or (
                other.is_insertion and edit.start < other.start < edit.end
            )
            if overlap or touching_insert:
                raise EditConflict(other, edit)
        self._edits.append(edit)

    def apply(self, data: bytes) -> bytes:
        if not self._edits:
            return data
        ordered = sorted(enumerate(self._edits), key=lambda ie: (ie[1].start, ie[1].end, ie[0]))
        out = bytearray()
        pos = 0
        for _, e in ordered:
            out += data[pos : e.start]
            out += e.text
            pos = max(pos, e.end)
        out += data[pos:]
        return bytes(out)

    def shifts(self) -> list[tuple[int, int, int]]:
        """(start, end, new length) of each edit, sorted: for offset maps."""
        return sorted((e.start, e.end, len(e.text)) for e in self._edits)


class OffsetMap:
    """Maps offsets of the current text back to the original file.

    Each applied EditSet adds a layer; an offset inside inserted text has
    no original offset (None).
    """

    def __init__(self) -> None:
        self._layers: list[tuple[list[int], list[tuple[int, int, int, int]]]] = []

    def push(self, shifts: list[tuple[int, int, int]]) -> None:
        # Per edit: new_start, new_end, old_start, old_end (in the layer's new text).
        entries = []
        delta = 0
        for start, end, new_len in shifts:
            new_start = start + delta
            entries.append((new_start, new_start + new_len, start, end))
            delta += new_len - (end - start)
        self._layers.append(([e[0] for e in entries], entries))

    def to_original(self, offset: int) -> int | None:
        for starts, entries in reversed(self._layers):
            i = bisect.bisect_right(starts, offset) - 1
            if i < 0:
                continue
            new_start, new_end, old_start, old_end = entries[i]
            if offset < new_end:
                return None  # inside text an edit wrote
            offset = old_end + (offset - new_end)
        return offset

    def to_current(self, offset: int) -> int:
        for _, entries in self._layers:
            shifted = offset
            for new_start, new_end, old_start, old_end in entries:
                if old_start <= offset < old_end:
                    shifted = new_start  # inside replaced text: its replacement's start
                    break
                if old_end <= offset:
                    shifted = new_end + (offset - old_end)
                else:
                    break
            offset = shifted
        return offset
