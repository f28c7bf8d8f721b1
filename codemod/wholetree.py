"""Whole-tree facts for the phase analysis (R4/R5/R6).

Whether a site runs after startup depends on callers anywhere in the
project, not only in the scanned paths, so every C file under the project
root (the directory with MAINTAINERS or .git) contributes its facts. Each
file is parsed once, in parallel worker processes; facts are plain values.
"""

from __future__ import annotations

import json
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
    if files is None:
        files = discover([str(root)]).files
    return [(f.path, tree_key(f.path, root)) for f in files]


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

    items = _items(root, files)
    spec = _facts_spec(profile_path)
    stats = stats if stats is not None else {}
    snap_cache = None
    if use_cache:
        cdir = runner.facts_cache_dir(items, cache_dir)
        snap_cache, snap_key = _snapshot_cache(cdir, spec, root)
        hashes = runner.hash_items(items, cdir)
        if reuse:
            index = _from_snapshot(snap_cache, snap_key, root, items, hashes, spec, jobs, cdir, progress)
            if index is not None:
                stats["phase"] = "snapshot"
                index.content_hashes = hashes
                return index
        pairs, hashes = runner.facts_pairs(items, spec, jobs, cache_dir=cdir, use_cache=True, progress=progress,
                                           known_hashes=hashes)
    else:
        pairs, hashes = runner.facts_pairs(items, spec, jobs, progress=progress)
    stats["phase"] = "full"
    parse_errors = {os.path.abspath(path): pair[1] for (path, _), pair in zip(items, pairs) if pair is not None}
    facts = [pair[0] for pair in pairs if pair is not None]
    index = PhaseIndex.build(facts)
    index.parse_errors = parse_errors
    # path -> content hash of the files whose facts are these (the scan reuses them).
    index.content_hashes = hashes
    # R6 asks whether the functions on a monitor chain can carry an error.
    index.errp_functions = frozenset(fn.name for f in facts for fn in f.functions if fn.has_errp)
    if snap_cache is not None:
        # The phase key of every file, computed once here (the runner asks for them).
        index.phase_keys = _phase_keys(index)
        _put_snapshot(snap_cache, snap_key, snapshot.make_snapshot(str(root), items, hashes, pairs, index, index.phase_keys))
    return index


def _snapshot_cache(cdir: str, spec, root: Path):
    from codemod import runner
    from codemod.analysis.callgraph import EntryProfile  # noqa: F401 - the table the phases come from
    from codemod.cache import Cache, digest
    from codemod.rulesdata import builtin_rules_dir

    stage = runner.load_facts_stage(spec.facts)
    try:
        entry_points = (builtin_rules_dir() / "entry-points.toml").read_bytes()
    except OSError:
        entry_points = b"\0unreadable\0"
    cache = Cache(cdir, digest("phase-snapshot", runner._facts_namespace(spec, stage), entry_points))
    return cache, cache.key("snapshot", str(root))


def _from_snapshot(cache, key, root: Path, items, hashes, spec, jobs, cdir, progress):
    from codemod import runner

    snap = _get_snapshot(cache, key)
    if snap is None or not snapshot.check_snapshot(snap, str(root)):
        return None
    changed = snapshot.changed_paths(snap, items, hashes)
    if changed is None:
        return None
    changed_pairs: dict = {}
    if changed:
        keys = dict(items)
        sub = [(p, keys[p]) for p in changed]
        pairs, sub_hashes = runner.facts_pairs(sub, spec, jobs, cache_dir=cdir, use_cache=True, progress=progress,
                                               known_hashes={p: hashes[p] for p in changed if p in hashes})
        for (path, _), pair in zip(sub, pairs):
            if path in hashes and path not in sub_hashes:
                return None  # changed again while parsed: take the full path
            changed_pairs[path] = pair
    index = snapshot.reuse(snap, items, hashes, changed_pairs)
    if index is not None and len(changed) > SNAPSHOT_SLACK:
        _put_snapshot(cache, key, snapshot.updated(snap, items, hashes, changed_pairs, index))
    return index


def _put_snapshot(cache, key: str, snap) -> None:
    # Plain JSON (lists, strings, numbers): no need for the cache's typed
    # encoding, which costs a Python call per value of its 70,000.
    cache.put_raw(key, json.dumps(snap, separators=(",", ":"), ensure_ascii=False).encode())


def _get_snapshot(cache, key: str):
    payload = cache.get_raw(key)
    if payload is None:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _phase_keys(index: PhaseIndex) -> dict[str, str]:
    return {key: snapshot.phase_key(key, [(s, e, index.phase_of_node(n)) for s, e, n in spans])
            for key, spans in index.graph.ranges.items()}
