"""Plain unified diffs that `git apply` and `git am` accept.

Works on bytes, line by line, so CRLF endings, tabs and non-UTF-8 bytes
survive unchanged; a missing final newline gets git's marker.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Hunk:
    old_start: int  # 1-based first line in the old file
    old_count: int
    new_start: int
    new_count: int
    lines: tuple[bytes, ...]  # each begins with b" ", b"-" or b"+", newline kept


def _split(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def hunks(old: bytes, new: bytes, context: int = 3) -> list[Hunk]:
    a, b = _split(old), _split(new)
    out: list[Hunk] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2 = group[0][1], group[-1][2]
        j1, j2 = group[0][3], group[-1][4]
        lines: list[bytes] = []
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                lines += [b" " + x for x in a[a1:a2]]
                continue
            if tag in ("replace", "delete"):
                lines += [b"-" + x for x in a[a1:a2]]
            if tag in ("replace", "insert"):
                lines += [b"+" + x for x in b[b1:b2]]
        out.append(
            Hunk(
                old_start=i1 + 1 if i2 > i1 else i1,
                old_count=i2 - i1,
                new_start=j1 + 1 if j2 > j1 else j1,
                new_count=j2 - j1,
                lines=tuple(lines),
            )
        )
    return out


def _range(start: int, count: int) -> str:
    return f"{start}" if count == 1 else f"{start},{count}"


def render_hunk(h: Hunk) -> bytes:
    head = f"@@ -{_range(h.old_start, h.old_count)} +{_range(h.new_start, h.new_count)} @@\n".encode()
    body = bytearray()
    for line in h.lines:
        body += line
        if not line.endswith(b"\n"):
            body += b"\n\\ No newline at end of file\n"
    return head + bytes(body)


def unified_diff(display: str, old: bytes, new: bytes, context: int = 3) -> bytes:
    """A git-style diff of one file, or b"" when nothing changed."""
    if old == new:
        return b""
    hs = hunks(old, new, context)
    path = display.encode("utf-8", errors="surrogateescape")
    out = bytearray(b"diff --git a/" + path + b" b/" + path + b"\n")
    out += b"--- a/" + path + b"\n+++ b/" + path + b"\n"
    for h in hs:
        out += render_hunk(h)
    return bytes(out)


def diffstat_counts(old: bytes, new: bytes) -> tuple[int, int]:
    """(insertions, deletions) line counts."""
    ins = dels = 0
    for h in hunks(old, new, 0):
        for line in h.lines:
            if line.startswith(b"+"):
                ins += 1
            elif line.startswith(b"-"):
                dels += 1
    return ins, dels
