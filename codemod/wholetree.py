"""Whole-tree facts for the phase analysis (R4/R5/R6).

Whether a site runs after startup depends on callers anywhere in the
project, not only in the scanned paths, so every C file under the project
root (the directory with MAINTAINERS or .git) contributes its facts. Each
file is parsed once, in parallel worker processes; facts are plain values.
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
from pathlib import Path

from codemod.analysis.facts import FileFacts
from codemod.analysis.phase import PhaseIndex
from codemod.analysis import snapshot
from codemod.cache import LAZY_RECORDS
from codemod.discover import discover

def tree_key(path: str | Path, root: Path) -> str:
    """How the phase index names a file: its path below the project root."""
    absolute = os.path.abspath(path)
    base = str(root)
    if absolute.startswith(base + "/") and os.sep == "/":
        return absolute[len(base) + 1:]  # the common case, without pathlib (once per file of the tree)
    absolute = Path(absolute)
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.as_posix()


# Files changed since the snapshot whose facts a run reads (from the fact
# cache) rather than rewrite the snapshot, megabytes for QEMU, for them:
# the same trade as the stat index's (codemod.cache.worth_rewriting).
SNAPSHOT_SLACK = LAZY_RECORDS


def _items(root: Path, files=None) -> list[tuple[str, str]]:
    return _tree_items(root, files)[0]


def _tree_items(root: Path, files=None) -> tuple[list[tuple[str, str]], list[str]]:
    """(path, tree key) of every file of the tree, and each one's absolute path."""
    if files is None:
        files = discover([str(root)]).files
    paths = [f.path for f in files]
    base = str(root)
    if os.sep == "/" and os.path.abspath(base) == base:
        # Discovery below an absolute root gives absolute, normal paths: then
        # abspath would return each as is, and the key is what follows the root
        # (checked on all paths at once, 12,000 of them for QEMU).
        prefix = base.rstrip("/") + "/"
        joined = "\0".join(paths) + "\0"
        if (all(map(str.startswith, paths, itertools.repeat(prefix)))
                and not any(bad in joined for bad in ("//", "/./", "/../", "/\0", "/.\0", "/..\0"))):
            cut = len(prefix)
            return list(zip(paths, [p[cut:] for p in paths])), paths
    return [(p, tree_key(p, root)) for p in paths], [os.path.abspath(p) for p in paths]


def _facts_spec(profile_path: str):
    from codemod import runner

    return runner.RunSpec((), profile_path, facts="codemod.analysis.facts:extract_facts")


def collect_facts(root: Path, profile_path: str, jobs: int = 1, *, cache_dir: str | None = None,
                  use_cache: bool = False, progress=None,
                  parse_errors: dict[str, int] | None = None) -> list[FileFacts]:
    from codemod import runner

    results = runner.collect_facts(_items(root), _facts_spec(profile_path), jobs, cache_dir=cache_dir,
                                   use_cache=use_cache, progress=progress, parse_errors=parse_errors)
    return [r for r in results if r is not None]


def build_phase_index(root: Path, profile_path: str, jobs: int = 1, *, cache_dir: str | None = None,
                      use_cache: bool = False, progress=None, reuse: bool = False,
                      stats: dict | None = None, files=None):
    """The phase index of the project at `root`; its `parse_errors` (absolute
    path -> syntax errors) lets the engine pass skip re-parsing files it has
    nothing to look for in.

    With the cache and `reuse`, a phase snapshot (codemod.analysis.snapshot)
    may answer instead of a full PhaseIndex when no changed file changes the
    call graph: only the changed files' facts are then read. That index
    answers what a scan asks (phase_at, phase keys, errp_functions), not the
    call-graph queries of `explain` and `dump`. `stats["phase"]` says which
    way was taken ("snapshot", "full"). `files`: discover([root]).files when
    the caller has them already.
    """
    from codemod import runner

    items, abspaths = _tree_items(root, files)
    spec = _facts_spec(profile_path)
    stats = stats if stats is not None else {}
    store = None
    if use_cache:
        # min and max of the paths have the common directory of them all (the
        # runner would split 12,000 paths to find it).
        ends = [(min(abspaths), ""), (max(abspaths), "")] if abspaths else []
        cdir = runner.facts_cache_dir(ends, cache_dir) if cache_dir is None else str(Path(cache_dir))
        store = _SnapshotStore(cdir, spec, root)
        paths = [path for path, _ in items]
        file_stats: dict[str, os.stat_result] = {}
        hashes = runner.hash_items(items, cdir, os.path.commonpath([min(paths), max(paths)]) if paths else ".",
                                   file_stats)
        if reuse:
            index = _from_snapshot(store, root, profile_path, items, abspaths, hashes, spec, jobs, cdir, progress)
            if index is not None:
                stats["phase"] = "snapshot"
                index.content_hashes = hashes
                index.file_stats = file_stats
                return index
        pairs, hashes = runner.facts_pairs(items, spec, jobs, cache_dir=cdir, use_cache=True, progress=progress,
                                           known_hashes=hashes)
    else:
        pairs, hashes = runner.facts_pairs(items, spec, jobs, progress=progress)
    stats["phase"] = "full"
    parse_errors = {a: pair[1] for a, pair in zip(abspaths, pairs) if pair is not None}
    facts = [pair[0] for pair in pairs if pair is not None]
    index = PhaseIndex.build(facts)
    index.parse_errors = parse_errors
    # path -> content hash of the files whose facts are these (the scan reuses them).
    index.content_hashes = hashes
    # path -> stat taken by hash_items (the runner's tree walk reuses them).
    index.file_stats = file_stats if use_cache else {}
    # R6 asks whether the functions on a monitor chain can carry an error.
    index.errp_functions = frozenset(fn.name for f in facts for fn in f.functions if fn.has_errp)
    if store is not None:
        # Classifying every function and writing the tables allocates ~10^5
        # small containers and frees few, among the millions the facts hold:
        # the cyclic garbage collector would rescan them all several times
        # (two thirds of this step's time).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            # The phase key of every file, computed once here (the runner asks for them).
            index.phase_keys = _phase_keys(index)
            store.put(*snapshot.make_snapshot(str(root), items, hashes, pairs, index, index.phase_keys))
        finally:
            if was_enabled:
                gc.enable()
    return index


class _SnapshotStore:
    """The cache entries of the phase snapshot of `root`: a head and its parts.

    Keyed by the facts namespace (parser, macro profile, allocfix's code),
    the entry-point table's bytes and the root; the parts by their number
    (the head holds their digests)."""

    def __init__(self, cdir: str, spec, root: Path):
        from codemod import runner
        from codemod.cache import Cache, digest
        from codemod.rulesdata import builtin_rules_dir

        stage = runner.load_facts_stage(spec.facts)
        try:
            entry_points = (builtin_rules_dir() / "entry-points.toml").read_bytes()
        except OSError:
            entry_points = b"\0unreadable\0"
        self.root = str(root)
        namespace = runner._facts_namespace(spec, stage)
        self.cache = Cache(cdir, digest("phase-snapshot", namespace, entry_points))
        self.facts = Cache(cdir, namespace)  # the fact cache (runner.facts_pairs)
        self.head_key = self.cache.key("snapshot", self.root)

    def part_key(self, b: int) -> str:
        return self.cache.key("snapshot-part", self.root, str(b))

    def head(self):
        payload = self.cache.get_raw(self.head_key)
        return snapshot.decode_head(payload, self.root) if payload is not None else None

    def part(self, b: int) -> bytes | None:
        return self.cache.get_raw(self.part_key(b))

    def old_facts(self, head, items):
        """i -> the facts of file i when the snapshot was taken, from the fact
        cache (same key as runner.facts_pairs: content hash, path, display)."""
        def load(i: int):
            chash = head.hashes[i]
            if not chash:
                return None
            path, key = items[i]
            value = self.facts.get(self.facts.key(chash, path, key))
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
                return value[0]
            return None
        return load

    def put(self, head: bytes, parts) -> None:
        """Parts first: a head is never written before the parts it names (a
        reader that still finds other bytes under a part's key sees a digest
        that does not match, and does not use it)."""
        for b, payload in (parts.items() if isinstance(parts, dict) else enumerate(parts)):
            self.cache.put_raw(self.part_key(b), payload)
        self.cache.put_raw(self.head_key, head)


def _from_snapshot(store: _SnapshotStore, root: Path, profile_path: str, items, abspaths, hashes, spec, jobs,
                   cdir, progress):
    from codemod import runner

    head = store.head()
    if head is None:
        return None
    changed = snapshot.changed_positions(head, items, hashes)
    if changed is None:
        return None
    pairs: list = []
    if changed:
        sub = [items[i] for i in changed]
        pairs, sub_hashes = runner.facts_pairs(sub, spec, jobs, cache_dir=cdir, use_cache=True, progress=progress,
                                               known_hashes={p: hashes[p] for p, _ in sub if p in hashes})
        for path, _ in sub:
            if path in hashes and path not in sub_hashes:
                return None  # changed again while parsed: take the full path
    index = snapshot.reuse(head, items, abspaths, changed, pairs, store.part, store.old_facts(head, items),
                           functools.partial(_rebuild, root, profile_path, cdir))
    if index is not None and len(changed) > SNAPSHOT_SLACK:
        store.put(*snapshot.updated(index, items, hashes))
    return index


def _rebuild(root: Path, profile_path: str, cdir: str):
    """A full PhaseIndex, for a snapshot index whose part for a file the engine
    asks about did not check out. It may run inside an engine worker: serial,
    and the runner's per-process state is put back afterwards."""
    from codemod import runner

    saved = runner._STATE
    try:
        return build_phase_index(root, profile_path, 1, cache_dir=cdir, use_cache=True)
    finally:
        runner._STATE = saved


def _phase_keys(index: PhaseIndex) -> dict[str, str]:
    return {key: snapshot.phase_key(key, [(s, e, index.phase_of_node(n)) for s, e, n in spans])
            for key, spans in index.graph.ranges.items()}
