"""Run the engine over many files: in parallel, collecting result values.

Workers load the rules themselves (compiled rules hold code objects that do
not pickle) and return FileResult values; the runner never lets one file's
failure stop the others.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from codemod.cparse import MacroProfile
from codemod.discover import Discovery
from codemod.engine import EngineConfig, process_file
from codemod.findings import FileResult
from codemod.smpl.loader import load_rules


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to rebuild the engine configuration."""

    rule_paths: tuple[str, ...]
    profile_path: str
    small_limit: int = 4096
    virtuals: tuple[str, ...] = ()
    phase_index: object = None  # sent to each worker once
    tree_root: str | None = None
    startup_exit: bool = False

    def build(self) -> EngineConfig:
        profile = MacroProfile.load(self.profile_path)
        rules = load_rules([Path(p) for p in self.rule_paths], profile, set(self.virtuals))
        return EngineConfig(rules, profile, self.small_limit, self.phase_index, self.tree_root,
                            startup_exit=self.startup_exit)


@dataclass
class RunReport:
    root: str
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0


_WORKER_CONFIG: EngineConfig | None = None


def _init_worker(spec: RunSpec) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = spec.build()


def _work(item: tuple[str, str]) -> FileResult:
    path, display = item
    return process_file(path, display, _WORKER_CONFIG)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run(discovery: Discovery, spec: RunSpec, jobs: int | None = None, progress=None,
        config: EngineConfig | None = None) -> RunReport:
    started = time.perf_counter()
    items = [(f.path, f.display) for f in discovery.files]
    jobs = jobs or default_jobs()
    results: list[FileResult] = []
    if jobs <= 1 or len(items) < 8:
        cfg = config or spec.build()
        for item in items:
            results.append(process_file(item[0], item[1], cfg))
            if progress:
                progress(1)
    else:
        chunk = max(1, min(32, len(items) // (jobs * 8) or 1))
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(spec,)) as pool:
            for result in pool.map(_work, items, chunksize=chunk):
                results.append(result)
                if progress:
                    progress(1)
    return RunReport(discovery.root, results, time.perf_counter() - started)
