"""Whole-tree facts for the phase analysis (R4/R5/R6).

Whether a site runs after startup depends on callers anywhere in the
project, not only in the scanned paths, so every C file under the project
root (the directory with MAINTAINERS or .git) contributes its facts. Each
file is parsed once, in parallel worker processes; facts are plain values.
"""

from __future__ import annotations

import os
from pathlib import Path

from codemod.analysis.facts import FileFacts
from codemod.analysis.phase import PhaseIndex
from codemod.discover import discover

def tree_key(path: str | Path, root: Path) -> str:
    """How the phase index names a file: its path below the project root."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return absolute.as_posix()


def collect_facts(root: Path, profile_path: str, jobs: int = 1, *, cache_dir: str | None = None,
                  use_cache: bool = False, progress=None,
                  parse_errors: dict[str, int] | None = None) -> list[FileFacts]:
    from codemod import runner

    files = discover([str(root)]).files
    items = [(f.path, tree_key(f.path, root)) for f in files]
    spec = runner.RunSpec((), profile_path, facts="codemod.analysis.facts:extract_facts")
    results = runner.collect_facts(items, spec, jobs, cache_dir=cache_dir, use_cache=use_cache, progress=progress,
                                   parse_errors=parse_errors)
    return [r for r in results if r is not None]


def build_phase_index(root: Path, profile_path: str, jobs: int = 1, *, cache_dir: str | None = None,
                      use_cache: bool = False, progress=None) -> PhaseIndex:
    """The phase index of the project at `root`; its `parse_errors` (absolute
    path -> syntax errors) lets the engine pass skip re-parsing files it has
    nothing to look for in."""
    parse_errors: dict[str, int] = {}
    facts = collect_facts(root, profile_path, jobs, cache_dir=cache_dir, use_cache=use_cache, progress=progress,
                          parse_errors=parse_errors)
    index = PhaseIndex.build(facts)
    index.parse_errors = parse_errors
    # R6 asks whether the functions on a monitor chain can carry an error.
    index.errp_functions = frozenset(fn.name for f in facts for fn in f.functions if fn.has_errp)
    return index
