"""Plain unified diffs that `git apply` and `git am` accept.

Works on bytes, line by line, so CRLF endings, tabs and non-UTF-8 bytes
survive unchanged; a missing final newline gets git's marker.
"""

from __future__ import annotations

import bisect
import difflib
import json
from collections import Counter
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


# Gaps between anchors at most this big (lines x lines) go to difflib as they are.
_SMALL_GAP = 4096


def _opcodes(a: list[bytes], b: list[bytes]) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes, computed patience-style.

    difflib's SequenceMatcher alone is quadratic-ish on a large file with
    scattered edits (seconds per file on QEMU's biggest). Lines occurring
    once on each side anchor the alignment (as git's patience diff does);
    only the small gaps between anchors are left to difflib.
    """
    ops: list[tuple[str, int, int, int, int]] = []
    _diff_range(a, b, 0, len(a), 0, len(b), ops)
    merged: list[tuple[str, int, int, int, int]] = []
    for op in ops:
        if op[1] == op[2] and op[3] == op[4]:
            continue
        if merged and merged[-1][0] == op[0] == "equal":
            prev = merged.pop()
            op = ("equal", prev[1], op[2], prev[3], op[4])
        elif merged and op[0] != "equal" and merged[-1][0] != "equal":
            prev = merged.pop()
            a1, a2, b1, b2 = prev[1], op[2], prev[3], op[4]
            op = ("replace" if a2 > a1 and b2 > b1 else "delete" if a2 > a1 else "insert", a1, a2, b1, b2)
        merged.append(op)
    return merged


def line_edits(old: bytes, new: bytes) -> list[tuple[int, int, bytes]]:
    """`new` as edits of `old`'s lines, in order: (first line, end line,
    replacement bytes), 0-based, end exclusive. A rewrite changes a few
    statements of a file: its edits are a small fraction of the file, which
    is what the result cache stores (apply_line_edits rebuilds `new`)."""
    a, b = _split(old), _split(new)
    return [(a1, a2, b"".join(b[b1:b2])) for tag, a1, a2, b1, b2 in _opcodes(a, b) if tag != "equal"]


def apply_line_edits(old: bytes, edits) -> bytes:
    """The text line_edits(old, new) describes. ValueError when the edits do
    not fit `old` (out of order, out of range, not bytes)."""
    a = _split(old)
    out: list[bytes] = []
    pos = 0
    for edit in edits:
        if not (isinstance(edit, (list, tuple)) and len(edit) == 3):
            raise ValueError("malformed line edit")
        a1, a2, repl = edit
        if not (type(a1) is int and type(a2) is int and isinstance(repl, bytes) and pos <= a1 <= a2 <= len(a)):
            raise ValueError("line edit out of order or out of range")
        out.extend(a[pos:a1])
        out.append(repl)
        pos = a2
    out.extend(a[pos:])
    return b"".join(out)


def _common_head(a, b, a1: int, a2: int, b1: int, b2: int) -> int:
    """Length of the common head of a[a1:a2] and b[b1:b2] (list compares run in C)."""
    lo, hi = 0, min(a2 - a1, b2 - b1)
    if hi == 0 or a[a1] != b[b1]:
        return 0
    lo = 1
    while lo < hi:  # invariant: the first lo lines are equal
        mid = (lo + hi + 1) // 2
        if a[a1 + lo:a1 + mid] == b[b1 + lo:b1 + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_tail(a, b, a1: int, a2: int, b1: int, b2: int) -> int:
    lo, hi = 0, min(a2 - a1, b2 - b1)
    if hi == 0 or a[a2 - 1] != b[b2 - 1]:
        return 0
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[a2 - mid:a2 - lo] == b[b2 - mid:b2 - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _diff_range(a, b, a1: int, a2: int, b1: int, b2: int, ops: list) -> None:
    # Common head and tail.
    head = _common_head(a, b, a1, a2, b1, b2)
    ops.append(("equal", a1, a1 + head, b1, b1 + head))
    a1 += head
    b1 += head
    tail = _common_tail(a, b, a1, a2, b1, b2)
    a2 -= tail
    b2 -= tail
    tail_op = ("equal", a2, a2 + tail, b2, b2 + tail)
    if a1 == a2 or b1 == b2:
        if a1 < a2:
            ops.append(("delete", a1, a2, b1, b1))
        elif b1 < b2:
            ops.append(("insert", a1, a1, b1, b2))
        ops.append(tail_op)
        return
    anchors = _unique_anchors(a, b, a1, a2, b1, b2) if (a2 - a1) * (b2 - b1) > _SMALL_GAP else []
    if not anchors:
        matcher = difflib.SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            ops.append((tag, a1 + i1, a1 + i2, b1 + j1, b1 + j2))
        ops.append(tail_op)
        return
    pa, pb = a1, b1
    for i, j in anchors:
        if i != pa or j != pb:  # adjacent anchors leave nothing to diff between them
            _diff_range(a, b, pa, i, pb, j, ops)
        ops.append(("equal", i, i + 1, j, j + 1))
        pa, pb = i + 1, j + 1
    _diff_range(a, b, pa, a2, pb, b2, ops)
    ops.append(tail_op)


def _unique_anchors(a, b, a1: int, a2: int, b1: int, b2: int) -> list[tuple[int, int]]:
    """Pairs (i, j) of lines unique on both sides, longest increasing in both."""
    # Counting and indexing in C (Counter, dict of zip); the last index wins in where_*.
    count_a = Counter(a[a1:a2])
    where_a = dict(zip(a[a1:a2], range(a1, a2)))
    count_b = Counter(b[b1:b2])
    where_b = dict(zip(b[b1:b2], range(b1, b2)))
    pairs = sorted((where_a[line], where_b[line]) for line, n in count_a.items()
                   if n == 1 and count_b.get(line) == 1)
    # Longest increasing subsequence of j (patience sorting with back links).
    tops: list[int] = []  # j of the last pair of each pile
    top_index: list[int] = []
    back: list[int] = []
    for k, (_, j) in enumerate(pairs):
        pile = bisect.bisect_left(tops, j)
        back.append(top_index[pile - 1] if pile else -1)
        if pile == len(tops):
            tops.append(j)
            top_index.append(k)
        else:
            tops[pile] = j
            top_index[pile] = k
    out = []
    k = top_index[-1] if top_index else -1
    while k != -1:
        out.append(pairs[k])
        k = back[k]
    out.reverse()
    return out


def hunks(old: bytes, new: bytes, context: int = 3) -> list[Hunk]:
    a, b = _split(old), _split(new)
    out: list[Hunk] = []
    matcher = difflib.SequenceMatcher(None, (), ())
    matcher.opcodes = _opcodes(a, b)  # get_grouped_opcodes groups these with context
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


class DiffMemo:
    """Diffs printed by an earlier run, kept in the cache directory.

    A warm re-run prints the same hundreds of diffs again, and computing
    them costs more than the rest of the printing. An entry is found by the
    path shown and the hashes of both texts, so it is the diff of exactly
    those bytes; it lives in one checksummed cache entry (a damaged one is
    ignored). Diffs not printed by a run are dropped when it saves.
    """

    def __init__(self, cache_dir):
        from codemod.cache import Cache, code_fingerprint, digest

        self._cache = Cache(cache_dir, digest("diffs", code_fingerprint()))
        self._key = self._cache.key("diff-memo")
        self._old: dict[str, str] = {}
        self._new: dict[str, str] = {}
        self._computed = 0
        payload = self._cache.get_raw(self._key)
        if payload:
            try:
                data = json.loads(payload)
            except ValueError:
                data = None
            if isinstance(data, dict):
                self._old = {k: v for k, v in data.items() if isinstance(v, str)}

    def unified_diff(self, display: str, old: bytes, new: bytes) -> bytes:
        if old == new:
            return b""
        from codemod.cache import content_hash, digest

        key = digest(display, content_hash(old), content_hash(new))
        text = self._old.get(key)
        if text is None:
            out = unified_diff(display, old, new)
            text = out.decode("latin-1")  # bytes as they are, whatever the encoding
            self._computed += 1
        else:
            out = text.encode("latin-1")
        self._new[key] = text
        return out

    def save(self) -> None:
        if not self._computed and len(self._new) == len(self._old):
            return
        self._cache.put_raw(self._key, json.dumps(self._new, separators=(",", ":")).encode())


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
