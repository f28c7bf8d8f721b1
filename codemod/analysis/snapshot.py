"""Phase snapshot: reuse the whole-tree phases when an edit changes no call or registration.

Building the phase index means decoding the facts of every file of the
project (about 12,000 for QEMU) and building its call graph: seconds,
even when all facts come from the cache. Yet most edits change a function
body without changing what it calls or registers, and then no function's
phase changes.

After a full build the snapshot records, per file of the tree (in order):
its content hash, its graph signature (a digest of its facts with byte
positions left out), its syntax-error count, the phase key the runner uses
in result-cache keys, and its function table (start, end, PhaseInfo of
each function, in facts order). A later run hashes the tree (stat index),
gets the facts of the files whose hash changed only, and, when every one
of them has its old graph signature and the file list is the same, the
call graph is the same graph: node numbering, edges, walks and so every
PhaseInfo are unchanged. The k-th function of a changed file keeps the
phase it had; only its byte span moved. Anything else (a file added,
removed or renamed, a signature that differs, a snapshot that does not
check out) falls back to the full build, which writes a new snapshot.

The snapshot is keyed by the facts namespace (parser, macro profile and
allocfix's code), the entry-point table's bytes and the project root.
"""

from __future__ import annotations

import dataclasses
import json
import os

from codemod.analysis.callgraph import span_at
from codemod.cache import digest
from codemod.findings import PhaseInfo

FORMAT = 1

# Fields that hold byte positions: left out of a graph signature (the call
# graph never reads them; the phase index reads function spans only to map an
# offset to its function, and those come from the new facts).
_POSITION_FIELDS = {"FileFacts": {"parse_errors"}, "FunctionFact": {"start", "end"}, "Ref": {"offset"}}


def _field_names(obj, cache: dict) -> tuple[str, ...]:
    cls = type(obj)
    names = cache.get(cls)
    if names is None:
        drop = _POSITION_FIELDS.get(cls.__name__, set())
        names = tuple(f.name for f in dataclasses.fields(obj) if f.name not in drop)
        cache[cls] = names
    return names


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
    names: dict = {}
    parts = []
    for name in _field_names(facts, names):
        value = getattr(facts, name)
        if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            inner = _field_names(value[0], names)
            value = [tuple(_plain(getattr(v, n)) for n in _field_names(v, names)) if type(v) is not type(value[0])
                     else tuple(_plain(getattr(v, n)) for n in inner) for v in value]
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


def _table_json(functions, infos) -> str:
    return json.dumps([[fn.start, fn.end, i.cls, list(i.via), list(i.chain), i.evidence]
                       for fn, i in zip(functions, infos)], separators=(",", ":"), ensure_ascii=False)


def _decode_table(text: str) -> list[tuple[int, int, PhaseInfo]]:
    rows = json.loads(text)
    out = []
    for start, end, cls, via, chain, evidence in rows:
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(cls, str)
                and isinstance(evidence, str)):
            raise ValueError("bad function table row")
        out.append((start, end, PhaseInfo(cls, tuple(map(str, via)), tuple(map(str, chain)), evidence)))
    return out


# -- the record ------------------------------------------------------------------------------------
#
# A snapshot is [FORMAT, root, errp_functions, files]; each file is
# [key, content hash or None, signature, errors or None, phase key, table JSON or None].
# A table is None for a file without facts or one the call graph ignores
# (its offsets are in no function); "" for one whose function spans are
# ambiguous (two functions on one span): such a file may not change on the
# fast path.


def make_snapshot(root: str, items, hashes: dict[str, str], pairs, index, file_phase_keys: dict[str, str]):
    """The snapshot of a full build.

    items: (path, key) of every tree file in order; hashes: path -> content hash
    (consistent with the facts); pairs: (facts, errors) or None per item;
    index: the PhaseIndex built from those facts.
    """
    graph = index.graph
    files = []
    for (path, key), pair in zip(items, pairs):
        pkey = file_phase_keys.get(key) or phase_key(key, [])
        if pair is None:
            files.append([key, hashes.get(path), "none", None, pkey, None])
            continue
        ff, errors = pair
        spans = graph.ranges.get(ff.path)
        table = None
        if spans:
            by_span = {(s, e): node for s, e, node in spans}
            if len(by_span) != len(spans) or len(spans) != len(ff.functions):
                table = ""
            else:
                infos = [index.phase_of_node(by_span[(fn.start, fn.end)]) for fn in ff.functions]
                table = _table_json(ff.functions, infos)
        files.append([key, hashes.get(path), graph_signature(ff), errors, pkey, table])
    errp = sorted(getattr(index, "errp_functions", ()) or ())
    return [FORMAT, root, errp, files]


def check_snapshot(value, root: str) -> bool:
    if not (isinstance(value, list) and len(value) == 4 and value[0] == FORMAT and value[1] == root
            and isinstance(value[2], list) and isinstance(value[3], list)):
        return False
    for rec in value[3]:
        if not (isinstance(rec, list) and len(rec) == 6 and isinstance(rec[0], str)
                and (rec[1] is None or isinstance(rec[1], str)) and isinstance(rec[2], str)
                and (rec[3] is None or isinstance(rec[3], int)) and isinstance(rec[4], str)
                and (rec[5] is None or isinstance(rec[5], str))):
            return False
    return all(isinstance(n, str) for n in value[2])


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
    the snapshot; other files answer from their stored table and phase key.
    """

    def __init__(self, records: dict[str, list], moved: dict[str, list], errp_functions: frozenset[str]):
        self._records = records  # key -> snapshot record
        self._moved = moved  # key -> functions (new facts) of a changed file
        self._infos: list[PhaseInfo] = []
        self.graph = _Graph(self)
        self.errp_functions = errp_functions
        self.parse_errors: dict[str, int] = {}
        self.phase_keys: dict[str, str] = {k: r[4] for k, r in records.items() if k not in moved}

    def _spans(self, key: str) -> list:
        rec = self._records.get(key)
        if rec is None or not rec[5]:
            return []
        table = _decode_table(rec[5])
        functions = self._moved.get(key)
        if functions is not None:
            table = [(fn.start, fn.end, info) for fn, (_, _, info) in zip(functions, table)]
        out = []
        for start, end, info in table:
            out.append((start, end, len(self._infos)))
            self._infos.append(info)
        out.sort()
        return out

    def phase_at(self, display_path: str, offset: int) -> PhaseInfo:
        node = self.graph.at(display_path, offset)
        if node is None:
            return PhaseInfo("unknown", evidence=f"offset {offset} of {display_path} is not inside a known function")
        return self._infos[node]

    def phase_of_node(self, node: int) -> PhaseInfo:
        return self._infos[node]


def reuse(snapshot, items, hashes: dict[str, str], changed_pairs: dict[str, tuple | None]):
    """A SnapshotPhaseIndex when `snapshot` still describes the tree, else None.

    items: (path, key) of every tree file in order; hashes: path -> content
    hash now; changed_pairs: path -> (facts, errors) or None for each file
    whose hash differs from the snapshot's (see changed_paths).
    """
    files = snapshot[3]
    if len(files) != len(items):
        return None
    records: dict[str, list] = {}
    moved: dict[str, list] = {}
    parse_errors: dict[str, int] = {}
    for (path, key), rec in zip(items, files):
        if rec[0] != key:
            return None
        records[key] = rec
        errors = rec[3]
        if path in changed_pairs:
            pair = changed_pairs[path]
            facts, errors = pair if pair is not None else (None, None)
            if graph_signature(facts) != rec[2]:
                return None
            if facts is not None and rec[5] is not None:
                if rec[5] == "" or len(facts.functions) != len(_decode_table(rec[5])):
                    return None
                moved[key] = facts.functions
        if errors is not None:
            parse_errors[os.path.abspath(path)] = errors
    index = SnapshotPhaseIndex(records, moved, frozenset(snapshot[2]))
    index.parse_errors = parse_errors
    for key in moved:
        index.phase_keys[key] = phase_key(key, [(s, e, index.phase_of_node(n))
                                                for s, e, n in index.graph.ranges.get(key, ())])
    return index


def changed_paths(snapshot, items, hashes: dict[str, str]) -> list[str] | None:
    """Paths whose content hash differs from the snapshot's (or is unknown), or
    None when the file list itself differs (then the snapshot cannot be used)."""
    files = snapshot[3]
    if len(files) != len(items):
        return None
    out = []
    for (path, key), rec in zip(items, files):
        if rec[0] != key:
            return None
        h = hashes.get(path)
        if h is None or h != rec[1]:
            out.append(path)
    return out


def updated(snapshot, items, hashes: dict[str, str], changed_pairs: dict[str, tuple | None], index):
    """The snapshot after a fast-path run: changed files get their new hash,
    error count, phase key and spans (signatures and phases are the same)."""
    files = []
    for (path, key), rec in zip(items, snapshot[3]):
        if path in changed_pairs:
            pair = changed_pairs[path]
            errors = pair[1] if pair is not None else None
            table = rec[5]
            if table:
                spans = index.graph.ranges.get(key, ())
                by_node = {n: (s, e) for s, e, n in spans}
                # Back to facts order: the k-th function got node base + k in _spans.
                base = min(by_node) if by_node else 0
                rows = json.loads(table)
                table = json.dumps([[*by_node[base + k], *row[2:]] for k, row in enumerate(rows)],
                                   separators=(",", ":"), ensure_ascii=False)
            rec = [key, hashes.get(path), rec[2], errors, index.phase_keys.get(key, rec[4]), table]
        files.append(rec)
    return [FORMAT, snapshot[1], snapshot[2], files]
