"""Phase snapshot: reuse the whole-tree phases when an edit changes no call or registration.

Building the phase index means decoding the facts of every file of the
project (about 12,000 for QEMU) and building its call graph: seconds,
even when all facts come from the cache. Yet most edits change a function
body without changing what it calls or registers, and then no function's
phase changes.

After a full build the snapshot records, per file of the tree (in order):
its content hash, its syntax-error count, the phase key the runner uses in
result-cache keys, and its function table (start, end, PhaseInfo of each
function, in facts order). A later run hashes the tree (stat index), gets
the facts of the files whose hash changed only, and compares each one's
graph signature (a digest of its facts with byte positions left out) with
that of its facts as the snapshot saw them (the fact cache holds them under
the old content hash). When every one is the same and the file list is the
same, the call graph is the same graph: node numbering, edges, walks and so
every PhaseInfo are unchanged. The k-th function of a changed file keeps
the phase it had; only its byte span moved. Anything else (a file added,
removed or renamed, a signature that differs, old facts no longer cached,
a snapshot that does not check out) falls back to the full build, which
writes a new snapshot.

The snapshot is keyed by the facts namespace (parser, macro profile and
allocfix's code), the entry-point table's bytes and the project root.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import operator

from codemod.analysis.callgraph import span_at
from codemod.cache import digest
from codemod.findings import PhaseInfo

FORMAT = 2  # 2: a head and parts

# Fields that hold byte positions: left out of a graph signature (the call
# graph never reads them; the phase index reads function spans only to map an
# offset to its function, and those come from the new facts).
_POSITION_FIELDS = {"FileFacts": {"parse_errors"}, "FunctionFact": {"start", "end"}, "Ref": {"offset"}}


_PLANS: dict[type, tuple] = {}


def _plan(cls: type) -> tuple[tuple[str, ...], object]:
    """The fields of `cls` a signature reads, and a C getter of them all when
    no field may hold a set (per the annotations: a set's repr order varies
    between processes, so such rows take the slow way through _plain)."""
    plan = _PLANS.get(cls)
    if plan is None:
        drop = _POSITION_FIELDS.get(cls.__name__, set())
        fields = [f for f in dataclasses.fields(cls) if f.name not in drop]
        names = tuple(f.name for f in fields)
        exact = len(names) > 1 and not any(_may_hold_set(f.type) for f in fields)
        plan = _PLANS[cls] = (names, operator.attrgetter(*names) if exact else None)
    return plan


def _may_hold_set(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return any(word in text for word in ("set", "Set", "Any", "object"))


def _plain(value):
    """A repr-stable form: sets sorted (their order varies between processes)."""
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted(map(repr, value))))
    return value


def graph_signature(facts) -> str:
    """Digest of a file's facts without byte positions (or of None: no facts).

    Every field takes part except the positions above and the syntax-error
    count, so a field added to the facts later is covered by default. Two
    files with equal signatures contribute the same functions, calls,
    references and types to the call graph, in the same order.
    """
    if facts is None:
        return "none"
    parts = []
    for name in _plan(type(facts))[0]:
        value = getattr(facts, name)
        if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            cls = type(value[0])
            getter = _plan(cls)[1]
            if getter is not None and set(map(type, value)) == {cls}:
                value = list(map(getter, value))  # the same tuples as below, built in C
            else:
                value = [tuple(_plain(getattr(v, n)) for n in _plan(type(v))[0]) for v in value]
        elif dataclasses.is_dataclass(value):
            value = repr(value)  # unexpected nesting: all of it (only less reusable)
        parts.append((name, _plain(value)))
    return digest(type(facts).__name__, repr(parts))


def phase_key(key: str, spans) -> str:
    """The phase key of a file (runner.file_phase_key): its functions' spans and phases.

    `spans` are (start, end, PhaseInfo) in the index's order (sorted by span).
    PhaseInfo is a frozen dataclass of strings and tuples: its repr is a faithful key.
    """
    return digest(key, repr(list(spans)))


# -- the record ------------------------------------------------------------------------------------
#
# A snapshot is one head and a few parts, each a cache entry of its own.
#
# The head is all a warm run reads in full: a JSON line
#   [FORMAT, root, file count, digest of the file keys, position of each
#    part's first file, digest of each part, errp functions, syntax errors
#    per file (or None)]
# then one line per file with its content hash ("" for none), then one line
# per file with its phase key. Lines, not JSON strings: 12,000 of each
# split in C, not decoded one by one.
#
# Part b holds the files from its first on, one row each:
#   [key, whether it has facts, kind, table]
# kind NO_SPANS: the file contributes no function span (no facts, or the call
# graph ignores it); MOVABLE: table rows (start, end, cls, via, chain,
# evidence) follow the facts' function order, so a changed file's k-th
# function takes the k-th phase; FIXED: two functions share a span, the rows
# are the graph's sorted ranges and the file may not change on the fast path.
# A part is read only for the files changed since the snapshot (whether they
# had facts, their tables) and for the files the engine processes (their
# tables, lazily): the head records each part's digest, so a part of another
# snapshot (a concurrent run, a stale write) is never taken for this one's.

NO_SPANS, MOVABLE, FIXED = 0, 1, 2
# A part holds up to PART_FILES files and, unless it is one file, up to
# PART_BYTES of JSON (function tables vary a lot in size between directories):
# about 120 parts for QEMU, each read and decoded in a millisecond or two.
PART_FILES = 200
PART_BYTES = 128 * 1024


def keys_digest(keys) -> str:
    # NUL never occurs in a path: the join is unambiguous.
    return digest("\0".join(keys))


@dataclasses.dataclass
class Head:
    root: str
    keys_digest: str
    part_starts: list[int]  # position of each part's first file
    part_digests: list[str]
    errp: list[str]
    errors: list  # int or None per file
    hashes: list[str]  # "" for a file without a content hash
    phase_keys: list[str]

    @property
    def count(self) -> int:
        return len(self.errors)


def encode_head(head: Head) -> bytes:
    line = json.dumps([FORMAT, head.root, head.count, head.keys_digest, head.part_starts, head.part_digests,
                       head.errp, head.errors], separators=(",", ":"), ensure_ascii=True)
    lines = [line, *head.hashes, *head.phase_keys]
    return "\n".join(lines).encode("ascii")


def decode_head(payload: bytes, root: str) -> Head | None:
    """The head in `payload`, or None when it is not a well-formed head of `root`."""
    try:
        lines = payload.decode("ascii").split("\n")
        first = json.loads(lines[0])
    except (UnicodeDecodeError, ValueError):
        return None
    if not (isinstance(first, list) and len(first) == 8 and first[0] == FORMAT and first[1] == root):
        return None
    _, _, count, kdigest, part_starts, part_digests, errp, errors = first
    if not (type(count) is int and isinstance(kdigest, str) and isinstance(part_starts, list)
            and isinstance(part_digests, list) and isinstance(errp, list) and isinstance(errors, list)):
        return None
    if (len(lines) != 1 + 2 * count or len(errors) != count
            or len(part_digests) != len(part_starts) or not set(map(type, part_starts)) <= {int}
            or part_starts != sorted(set(part_starts)) or (part_starts[:1] != [0] if count else part_starts)
            or (part_starts and part_starts[-1] >= count)
            or not set(map(type, part_digests)) <= {str} or not set(map(type, errp)) <= {str}
            or not set(map(type, errors)) <= {int, type(None)}):
        return None
    hashes, phase_keys = lines[1:count + 1], lines[count + 1:]
    if "" in phase_keys:
        return None
    return Head(root, kdigest, part_starts, part_digests, errp, errors, hashes, phase_keys)


def encode_part(rows: list) -> bytes:
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False).encode()


def decode_part(payload: bytes | None, expect_digest: str, keys: list[str]) -> list | None:
    """The rows of a part whose payload has the digest the head recorded and
    whose files are `keys`, else None."""
    if payload is None or digest(payload) != expect_digest:
        return None
    try:
        rows = json.loads(payload)
    except ValueError:
        return None
    if not (isinstance(rows, list) and len(rows) == len(keys)):
        return None
    for row, key in zip(rows, keys):
        if not (isinstance(row, list) and len(row) == 4 and row[0] == key and isinstance(row[1], bool)
                and row[2] in (NO_SPANS, MOVABLE, FIXED) and (row[3] is None) == (row[2] == NO_SPANS)
                and (row[3] is None or isinstance(row[3], list))):
            return None
    return rows


def _table_rows(spans) -> list:
    return [[s, e, i.cls, list(i.via), list(i.chain), i.evidence] for s, e, i in spans]


def _decode_table(rows) -> list[tuple[int, int, PhaseInfo]]:
    out = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 6):
            raise ValueError("bad function table row")
        start, end, cls, via, chain, evidence = row
        if not (type(start) is int and type(end) is int and isinstance(cls, str) and isinstance(evidence, str)
                and isinstance(via, list) and isinstance(chain, list)):
            raise ValueError("bad function table row")
        out.append((start, end, PhaseInfo(cls, tuple(map(str, via)), tuple(map(str, chain)), evidence)))
    return out


def make_snapshot(root: str, items, hashes: dict[str, str], pairs, index,
                  file_phase_keys: dict[str, str]) -> tuple[bytes, list[bytes]]:
    """The head and parts of a full build.

    items: (path, key) of every tree file in order; hashes: path -> content hash
    (consistent with the facts); pairs: (facts, errors) or None per item;
    index: the PhaseIndex built from those facts.
    """
    graph = index.graph
    rows = []
    errors = []
    for (path, key), pair in zip(items, pairs):
        if pair is None:
            rows.append([key, False, NO_SPANS, None])
            errors.append(None)
            continue
        ff, errs = pair
        errors.append(errs)
        spans = graph.ranges.get(ff.path)
        if not spans:
            rows.append([key, True, NO_SPANS, None])
            continue
        by_span = {(s, e): node for s, e, node in spans}
        if len(by_span) != len(spans) or len(spans) != len(ff.functions):
            kind, table = FIXED, _table_rows((s, e, index.phase_of_node(n)) for s, e, n in spans)
        else:
            kind, table = MOVABLE, _table_rows((fn.start, fn.end, index.phase_of_node(by_span[(fn.start, fn.end)]))
                                               for fn in ff.functions)
        rows.append([key, True, kind, table])
    starts, parts = _parts(rows)
    keys = [key for _, key in items]
    head = Head(root, keys_digest(keys), starts, [digest(p) for p in parts],
                sorted(getattr(index, "errp_functions", ()) or ()), errors,
                [hashes.get(path) or "" for path, _ in items],
                [file_phase_keys.get(key) or phase_key(key, []) for key in keys])
    return encode_head(head), parts


def _parts(rows: list) -> tuple[list[int], list[bytes]]:
    """Rows cut into parts of at most PART_FILES files and PART_BYTES (unless
    one file is more): (position of each part's first file, payloads).
    Each row is encoded once; a part is its rows' JSON joined."""
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    starts: list[int] = []
    parts: list[bytes] = []
    current: list[str] = []
    size = 0
    for i, row in enumerate(rows):
        text = encode(row)
        if current and (len(current) == PART_FILES or size + len(text) > PART_BYTES):
            parts.append(("[" + ",".join(current) + "]").encode())
            current, size = [], 0
        if not current:
            starts.append(i)
        current.append(text)
        size += len(text) + 1
    if current:
        parts.append(("[" + ",".join(current) + "]").encode())
    return starts, parts


def changed_positions(head: Head, items, hashes: dict[str, str]) -> list[int] | None:
    """Positions of the files whose content hash differs from the snapshot's (or
    is unknown), or None when the file list itself differs (then the snapshot
    cannot be used)."""
    if head.count != len(items) or keys_digest([key for _, key in items]) != head.keys_digest:
        return None
    now = [hashes.get(path) for path, _ in items]
    return [i for i, (h, old) in enumerate(zip(now, head.hashes)) if h is None or h != old]


# -- the light index -------------------------------------------------------------------------------


class _Ranges:
    """key -> sorted (start, end, node) like CallGraph.ranges, decoded on first use."""

    def __init__(self, owner: "SnapshotPhaseIndex"):
        self._owner = owner
        self._done: dict[str, list] = {}

    def get(self, key: str, default=None):
        spans = self._done.get(key)
        if spans is None:
            spans = self._owner._spans(key)
            self._done[key] = spans
        return spans if spans else default

    def __getitem__(self, key: str):
        spans = self.get(key)
        if spans is None:
            raise KeyError(key)
        return spans

    def __contains__(self, key: str) -> bool:
        return bool(self.get(key))


class _Graph:
    def __init__(self, owner: "SnapshotPhaseIndex"):
        self.ranges = _Ranges(owner)

    def at(self, path: str, offset: int) -> int | None:
        return span_at(self.ranges.get(path), offset)


class SnapshotPhaseIndex:
    """What the engine and the runner ask of a PhaseIndex (phase_at, the ranges
    and phases behind file_phase_key, errp_functions, parse_errors), answered
    from a snapshot whose call graph is known to be unchanged.

    Changed files map their k-th function (new span) to the k-th PhaseInfo of
    the snapshot; other files answer from their stored table (its part read on
    first use) and phase key. `load_part(b)`: the payload of part b or None;
    `rebuild()`: a full PhaseIndex of the tree, the answer when a part needed
    later does not check out (the graph is the same, so are its phases).
    """

    def __init__(self, keys: list[str], head: Head, parts: dict[int, list], moved: dict[str, list],
                 load_part=None, rebuild=None):
        self._keys = keys
        self._head = head
        self._parts = parts  # part number -> rows (checked)
        self._moved = moved  # key -> functions (new facts) of a changed file
        self._load_part = load_part
        self._rebuild = rebuild
        self._full = None
        self._positions: dict[str, int] | None = None
        self._infos: list[PhaseInfo] = []
        self.graph = _Graph(self)
        self.errp_functions = frozenset(head.errp)
        self.parse_errors: dict[str, int] = {}
        self.phase_keys: dict[str, str] = dict(zip(keys, head.phase_keys))
        self._changed: list[int] = []  # positions of the files changed since the snapshot
        self._errors: list = head.errors  # syntax errors per file, now

    def _position(self, key: str) -> int | None:
        if self._positions is None:
            self._positions = dict(zip(self._keys, range(len(self._keys))))
        return self._positions.get(key)

    def _bounds(self, b: int) -> tuple[int, int]:
        starts = self._head.part_starts
        return starts[b], starts[b + 1] if b + 1 < len(starts) else self._head.count

    def _part_of(self, i: int) -> int:
        return bisect.bisect_right(self._head.part_starts, i) - 1

    def _part(self, b: int) -> list | None:
        if b not in self._parts:
            lo, hi = self._bounds(b)
            payload = self._load_part(b) if self._load_part is not None else None
            self._parts[b] = decode_part(payload, self._head.part_digests[b], self._keys[lo:hi])
        return self._parts[b]

    def row(self, key: str) -> list | None:
        """The part row of `key` ([key, has facts, kind, table]), None when its part does not check out."""
        i = self._position(key)
        if i is None:
            return None
        b = self._part_of(i)
        rows = self._part(b)
        return rows[i - self._bounds(b)[0]] if rows is not None else None

    def _number(self, spans) -> list:
        out = []
        for start, end, info in spans:
            out.append((start, end, len(self._infos)))
            self._infos.append(info)
        out.sort()
        return out

    def _spans(self, key: str) -> list:
        if self._position(key) is None:
            return []
        row = self.row(key)
        table = None
        if row is not None:
            try:
                table = _decode_table(row[3] or ())
            except ValueError:
                table = None
        if table is None:
            return self._number(self._rebuilt_spans(key))
        functions = self._moved.get(key)
        if functions is not None:
            table = [(fn.start, fn.end, info) for fn, (_, _, info) in zip(functions, table)]
        return self._number(table)

    def _rebuilt_spans(self, key: str) -> list:
        if self._full is None:
            if self._rebuild is None:
                raise RuntimeError(f"phase snapshot: the table of {key} does not check out")
            self._full = self._rebuild()
        full = self._full
        return [(s, e, full.phase_of_node(n)) for s, e, n in full.graph.ranges.get(key, ())]

    def phase_at(self, display_path: str, offset: int) -> PhaseInfo:
        node = self.graph.at(display_path, offset)
        if node is None:
            return PhaseInfo("unknown", evidence=f"offset {offset} of {display_path} is not inside a known function")
        return self._infos[node]

    def phase_of_node(self, node: int) -> PhaseInfo:
        return self._infos[node]


def reuse(head: Head, items, abspaths: list[str], changed: list[int], changed_pairs: list, load_part,
          old_facts, rebuild=None):
    """A SnapshotPhaseIndex when the snapshot still describes the tree, else None.

    items: (path, key) of every tree file in order; abspaths: their absolute
    paths; changed: positions whose content hash differs from the snapshot's
    (changed_positions); changed_pairs: (facts, errors) or None for each of
    them; load_part(b): the payload of part b or None; old_facts(i): the facts
    of file i as the snapshot saw it (its content then), or None.
    """
    keys = [key for _, key in items]
    index = SnapshotPhaseIndex(keys, head, {}, {}, load_part, rebuild)
    errors = list(head.errors)
    for i, pair in zip(changed, changed_pairs):
        key = keys[i]
        facts, errors[i] = pair if pair is not None else (None, None)
        row = index.row(key)
        if row is None or (facts is None) != (not row[1]):
            return None
        if facts is not None:
            before = old_facts(i)
            if before is None or graph_signature(before) != graph_signature(facts):
                return None
        if row[2] == NO_SPANS:
            continue
        if facts is None or row[2] != MOVABLE:
            return None
        try:
            table = _decode_table(row[3])
        except ValueError:
            return None
        if len(facts.functions) != len(table):
            return None
        index._moved[key] = facts.functions
    index.parse_errors = {a: e for a, e in zip(abspaths, errors) if e is not None}
    for i in changed:
        key = keys[i]
        index.phase_keys[key] = phase_key(key, [(s, e, index.phase_of_node(n))
                                                for s, e, n in index.graph.ranges.get(key, ())])
    index._changed = changed
    index._errors = errors
    return index


def updated(index: SnapshotPhaseIndex, items, hashes: dict[str, str]) -> tuple[bytes, dict[int, bytes]]:
    """The head and the rewritten parts after a fast-path run: changed files get
    their new hash, error count, phase key and spans (signatures and phases
    are the same)."""
    head = index._head
    new_hashes = list(head.hashes)
    new_keys = list(head.phase_keys)
    touched: dict[int, list] = {}
    for i in index._changed:
        path, key = items[i]
        new_hashes[i] = hashes.get(path) or ""
        new_keys[i] = index.phase_keys[key]
        functions = index._moved.get(key)
        if functions is None:
            continue
        b = index._part_of(i)
        rows = touched.get(b)
        if rows is None:
            rows = touched[b] = [list(r) for r in index._part(b)]
        row = rows[i - index._bounds(b)[0]]
        row[3] = [[fn.start, fn.end, *old[2:]] for fn, old in zip(functions, row[3])]
    parts = {b: encode_part(rows) for b, rows in touched.items()}
    digests = list(head.part_digests)
    for b, payload in parts.items():
        digests[b] = digest(payload)
    new = Head(head.root, head.keys_digest, head.part_starts, digests, head.errp, index._errors, new_hashes, new_keys)
    return encode_head(new), parts
