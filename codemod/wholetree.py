"""Whole-tree facts for the phase analysis (R4/R5/R6).

Whether a site runs after startup depends on callers anywhere in the
project, not only in the scanned paths, so every C file under the project
root (the directory with MAINTAINERS or .git) contributes its facts. Each
file is parsed once, in parallel worker processes; facts are plain values.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from codemod.analysis.facts import FileFacts, extract_facts
from codemod.analysis.phase import PhaseIndex
from codemod.cparse import MacroProfile, parse_source
from codemod.discover import discover
from codemod.source import SourceFile

_PROFILES: dict[str, MacroProfile] = {}


def tree_key(path: str | Path, root: Path) -> str:
    """How the phase index names a file: its path below the project root."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.as_posix()


def _facts_of(item: tuple[str, str, str]) -> FileFacts | None:
    path, key, profile_path = item
    profile = _PROFILES.get(profile_path)
    if profile is None:
        profile = _PROFILES[profile_path] = MacroProfile.load(profile_path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"\0" in data:
        return None
    return extract_facts(parse_source(SourceFile(path, key, data), profile))


def collect_facts(root: Path, profile_path: str, jobs: int = 1) -> list[FileFacts]:
    files = discover([str(root)]).files
    items = [(f.path, tree_key(f.path, root), profile_path) for f in files]
    if jobs <= 1 or len(items) < 16:
        results = [_facts_of(i) for i in items]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_facts_of, items, chunksize=32))
    return [r for r in results if r is not None]


def build_phase_index(root: Path, profile_path: str, jobs: int = 1) -> PhaseIndex:
    facts = collect_facts(root, profile_path, jobs)
    index = PhaseIndex.build(facts)
    # R6 asks whether the functions on a monitor chain can carry an error.
    index.errp_functions = frozenset(fn.name for f in facts for fn in f.functions if fn.has_errp)
    return index
