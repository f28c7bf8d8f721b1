"""Source bytes and the mapping between byte offsets and 1-based line:col.

Everything inside allocfix works on byte offsets; line and column are
computed only when something is printed (GUIDE §6, habit 2). Columns are
1-based byte columns, as GCC prints them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineIndex:
    """Start offsets of every line of a byte string."""

    starts: tuple[int, ...]

    @classmethod
    def of(cls, data: bytes) -> "LineIndex":
        starts = [0]
        find = data.find
        pos = find(b"\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find(b"\n", pos + 1)
        return cls(tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a byte offset."""
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def line_start(self, line: int) -> int:
        """Byte offset of the start of 1-based `line`."""
        return self.starts[line - 1]

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1


@dataclass
class SourceFile:
    """One input file: where it is, how it is shown, and its bytes."""

    path: str  # filesystem path used to read and write
    display: str  # path as printed in diffs and findings
    data: bytes
    _index: LineIndex | None = field(default=None, repr=False, compare=False)

    @property
    def lines(self) -> LineIndex:
        if self._index is None:
            self._index = LineIndex.of(self.data)
        return self._index

    def line_col(self, offset: int) -> tuple[int, int]:
        return self.lines.line_col(offset)

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", errors="surrogateescape")


def line_indent(data: bytes, offset: int) -> bytes:
    """The leading whitespace of the line holding `offset`."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = start
    while end < len(data) and data[end] in b" \t":
        end += 1
    return data[start:end]


def line_bounds(data: bytes, offset: int) -> tuple[int, int]:
    """(start, end) of the line holding `offset`; end excludes the newline."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return start, len(data) if end == -1 else end


def read_or_none(path: str) -> bytes | None:
    """The bytes of the file at `path`, or None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
