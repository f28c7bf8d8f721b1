"""Run the engine over many files: in parallel, cached, collecting result values.

Two passes parse each file at most once each: collect_facts() (the whole
tree's facts, from which the caller builds the phase index it puts in
RunSpec.phase_index) and run() (the per-file engine). Work goes to
processes in chunks (big files first, so no worker is left with one huge
file at the end); workers load the rules themselves (compiled rules hold
code objects that do not pickle), read the file themselves (no source
bytes cross the pipe) and send back lean results: a result that changes
nothing comes back without the file's bytes.

With a cache (codemod/cache.py) the main process looks every file up
first (a stat index spares it reading unchanged files) and only misses go
to workers, which store what they compute. A result's key holds the
file's bytes, the rule set, the phases the index gives the file's
functions and the headers of the tree. The results of the last scan of a
root also sit in one bundle entry (_Bundle), so a warm run reads one file
instead of one per scanned file. One file's failure never stops
the others; a worker that dies (a crash in C code) costs the file it was
on a FAILED result, not the run.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from codemod.cache import (BadEntry, Cache, StatIndex, content_hash, decode, default_cache_dir, digest, encode,
                           register, ruleset_key)
from codemod.cparse import MacroProfile, error_count, parse_source
from codemod.discover import Discovery
from codemod.engine import EngineConfig, process_file, worth_parsing
from codemod.findings import FileResult, Status
from codemod.smpl.loader import load_rules
from codemod.source import SourceFile, read_or_none

# Below this many files to compute, starting worker processes costs more than it
# saves, unless they hold at least PARALLEL_BYTES (the few large files a warm
# re-run after an edit recomputes take a tenth of a second each).
SERIAL_BELOW = 16
PARALLEL_BYTES = 96 * 1024
# Files per chunk at most; chunks are also capped by bytes so the last ones stay small.
CHUNK_FILES = 48

Progress = Callable[[str, int, int], None]  # (pass name, files done, files in this pass)


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to rebuild the engine configuration."""

    rule_paths: tuple[str, ...]
    profile_path: str
    small_limit: int = 4096
    virtuals: tuple[str, ...] = ()
    phase_index: object = None  # whole-project PhaseIndex, sent to each worker once
    tree_root: str | None = None  # the project root the phase index names files from
    startup_exit: bool = False
    # path (absolute) -> syntax errors, for files the facts pass parsed already
    parse_errors: dict[str, int] | None = field(default=None, compare=False, repr=False)
    # The fact extractor collect_facts() runs: "none", "auto"
    # (codemod.analysis.facts:extract_facts when it exists), or "module:attribute"
    # naming an extract(parsed) function, a FactsStage or a factory of one.
    facts: str = "none"

    def build(self) -> EngineConfig:
        profile = MacroProfile.load(self.profile_path)
        rules = load_rules([Path(p) for p in self.rule_paths], profile, set(self.virtuals))
        return EngineConfig(rules, profile, self.small_limit, self.phase_index, self.tree_root,
                            startup_exit=self.startup_exit)

    def ruleset_key(self) -> str:
        return ruleset_key(self.rule_paths, self.profile_path,
                           options=(self.small_limit, tuple(sorted(self.virtuals)), self.startup_exit))


@dataclass
class RunReport:
    """Results in discovery order. `original` is filled only for results that change
    their file (printers and apply need it; nothing else does)."""

    root: str
    results: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    cache: dict[str, int] = field(default_factory=dict)  # hits / misses / bad entries
    passes: dict[str, float] = field(default_factory=dict)  # seconds per pass
    jobs: int = 1


# -- the facts stage --------------------------------------------------------------


class FactsStage:
    """What collect_facts runs in each worker: `extract(parsed) -> facts` (picklable
    values; dataclasses registered with codemod.cache.register to be cached)."""

    name = "facts"

    def extract(self, parsed):  # pragma: no cover - interface
        raise NotImplementedError


def load_facts_stage(which: str):
    """The facts stage `which` names, or None (no stage, or "auto" and none installed)."""
    if which == "none":
        return None
    if which == "auto":
        which = "codemod.analysis.facts:extract_facts"
        try:
            importlib.import_module("codemod.analysis.facts")
        except ModuleNotFoundError as exc:
            if exc.name != "codemod.analysis.facts":
                raise
            return None
    module_name, _, attr = which.partition(":")
    module = importlib.import_module(module_name)
    obj = getattr(module, attr)
    if hasattr(obj, "extract") and not isinstance(obj, type):
        return obj
    if isinstance(obj, type):
        return obj()
    return _FunctionStage(which, obj, module)


class _FunctionStage:
    """A bare extractor function `extract(parsed) -> facts` used as a stage (collect_facts)."""

    def __init__(self, name: str, fn, module):
        self.name = name
        self.extract = fn
        # Let the cache store the module's fact types (FileFacts, FunctionFact, Ref...).
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                register(value)


# -- per-process state and the work functions ----------------------------------------


@dataclass
class _Worker:
    spec: RunSpec
    config: EngineConfig
    stage: Any
    results: Cache | None
    facts: Cache | None


_STATE: _Worker | None = None


def _state_init(spec: RunSpec, cache_dir: str | None, config: EngineConfig | None = None) -> _Worker:
    global _STATE
    config = config or spec.build()
    stage = load_facts_stage(spec.facts)
    results = facts = None
    if cache_dir is not None or config.header_store is not None:
        # The engine keeps the size facts of headers in the cache too (analysis.headers).
        from codemod.analysis.headers import store_namespace

        store = Cache(cache_dir, store_namespace(spec.profile_path)) if cache_dir is not None else None
        config = dataclasses.replace(config, header_store=store)
    if cache_dir is not None:
        results = Cache(cache_dir, digest("results", spec.ruleset_key()))
        if stage is not None:
            facts = Cache(cache_dir, _facts_namespace(spec, stage))
    _STATE = _Worker(spec, config, stage, results, facts)
    return _STATE


def _facts_namespace(spec: RunSpec, stage) -> str:
    # Facts depend on the parser and its macro profile, not on the rules.
    return digest("facts", getattr(stage, "name", "facts"), ruleset_key((), spec.profile_path))


def _init_worker(spec: RunSpec, cache_dir: str | None) -> None:
    # A forked worker inherits the parent's state: the rules are compiled already.
    inherited = _STATE
    if inherited is not None and inherited.spec == spec and (
            (inherited.results.directory if inherited.results else None) == (Path(cache_dir) if cache_dir else None)):
        return
    _state_init(spec, cache_dir)


def _not_regular(path: str, display: str) -> FileResult | None:
    """A FAILED result for a FIFO, socket or device (reading one would block or never end)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # the engine reports why it cannot be read
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return FileResult(path, display, Status.FAILED,
                      message=f"{display}: not a regular file (FIFO, socket or device); not scanned")


def _result_key(cache: Cache, chash: str, path: str, display: str, extra: tuple[str, str]) -> str:
    return cache.key("result", chash, path, display, *extra)


def _lean(result: FileResult) -> FileResult:
    if not result.changed:
        result.original = b""
        result.rewritten = None
    return result


# The extras of a run without the result cache (never used in a key).
_NO_EXTRA = ("", "")


def _engine_one(item: tuple) -> FileResult:
    """Engine result for (index, path, display, extra cache key)."""
    return _engine_pair(item)[0]


def _engine_pair(item: tuple) -> tuple[FileResult, str | None, list | None]:
    """(engine result, hash of the bytes it was computed from, when cached, and
    the cache's form of a rewrite (_storable), which the scan bundle reuses)."""
    state = _STATE
    _, path, display, extra = item
    odd = _not_regular(path, display)
    if odd is not None:
        return odd, None, None
    data = read_or_none(path)
    config = state.config
    known_errors = state.spec.parse_errors.get(os.path.abspath(path)) if state.spec.parse_errors else None
    if data is not None and known_errors is not None and b"\0" not in data and not worth_parsing(data, config):
        # Parsed already by the facts pass, and nothing here can match: same
        # result as the engine's, without a second parse.
        result = FileResult(path, display, Status.OK, original=data, findings=[], parse_errors=known_errors,
                            sites=0)
        if state.results is not None:
            # Cheaper to redo than to store: no entry of its own (the bundle
            # of the scan still records it).
            return _lean(result), content_hash(data), None
    else:
        from codemod.analysis import headers, siblings

        siblings.reset_consulted()
        headers.reset_sources()
        result = process_file(path, display, config, data)
        result.sibling_keys = _sibling_keys(siblings.consulted()) + _source_keys(headers.sources())
    chash = stored = None
    if state.results is not None and data is not None and result.status is Status.OK:
        chash = content_hash(data)
        stored = _storable(result, data)
        state.results.put(_result_key(state.results, chash, path, display, extra), stored)
    return _lean(result), chash, stored if isinstance(stored, list) else None


def _storable(result: FileResult, data: bytes):
    """The cache's form of `result` computed from `data`: without the file's
    bytes (a hit re-reads them and checks their hash), and a rewrite as line
    edits of them (["edits", edits, result]) rather than a whole second copy
    of the file, which a warm run would read and check for each changed file."""
    stored = dataclasses.replace(result, original=b"")
    if result.changed:
        from codemod.render.diff import apply_line_edits, line_edits

        edits = line_edits(data, result.rewritten)
        if apply_line_edits(data, edits) == result.rewritten:
            return ["edits", [list(e) for e in edits], dataclasses.replace(stored, rewritten=None)]
    return stored


def _facts_one(item: tuple) -> tuple[str | None, Any, None]:
    """(content hash, facts, None) of (index, path, display); facts None when
    unreadable. Stored as a loose cache entry (a few files: a warm run)."""
    state = _STATE
    chash, facts = _facts_compute(item)
    if facts is not None and state.facts is not None:
        state.facts.put(state.facts.key(chash, item[1], item[2]), facts)
    return chash, facts, None


def _facts_compute(item: tuple) -> tuple[str | None, Any]:
    """(content hash, (facts, syntax errors)) of (index, path, display); None for
    the facts when the file is unreadable or binary."""
    state = _STATE
    _, path, display = item[:3]
    data = None if _not_regular(path, display) else read_or_none(path)
    if data is None or b"\0" in data:
        return None, None
    chash = content_hash(data)
    try:
        parsed = parse_source(SourceFile(path, display, data), state.config.profile)
        # The error count rides along: a scanned file nothing can match in is
        # then never parsed a second time (the engine pass takes it from here).
        facts = (state.stage.extract(parsed), error_count(parsed.tree))
    except RecursionError:
        facts = None
    except Exception:  # noqa: BLE001 - one file's facts must not stop the run
        facts = None
    return chash, facts


def _chunk_engine(items: list) -> list:
    return [(item[0], _engine_pair(item)) for item in items]


def _chunk_facts(items: list) -> list:
    """[(index, (content hash, facts, pack location or None))] of a chunk; with the
    cache, the chunk's facts are stored as one pack (Cache.put_pack) whose
    locations the main process indexes (_facts_pass)."""
    state = _STATE
    out = []
    entries = []
    for item in items:
        chash, facts = _facts_compute(item)
        if facts is not None and state.facts is not None:
            try:
                entries.append((len(out), state.facts.key(chash, item[1], item[2]), encode(facts)))
            except (TypeError, ValueError, RecursionError):
                pass  # not storable: recomputed next time
        out.append((item[0], (chash, facts, None)))
    if entries:
        locations = state.facts.put_pack([(key, payload) for _, key, payload in entries])
        for (pos, _, _), loc in zip(entries, locations or ()):
            index, (chash, facts, _) = out[pos]
            out[pos] = (index, (chash, facts, loc))
    return out


# -- scheduling ------------------------------------------------------------------------


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def make_chunks(items: list, jobs: int, sizes: dict[int, int]) -> list[list]:
    """Chunks of items, largest files first, each of about total/(jobs*8) bytes."""
    ordered = sorted(items, key=lambda it: -sizes.get(it[0], 0))
    total = sum(sizes.get(it[0], 0) for it in items) or 1
    budget = max(1, total // (jobs * 8))
    chunks: list[list] = []
    current: list = []
    weight = 0
    for it in ordered:
        current.append(it)
        weight += sizes.get(it[0], 0)
        if weight >= budget or len(current) >= CHUNK_FILES:
            chunks.append(current)
            current, weight = [], 0
    if current:
        chunks.append(current)
    return chunks


def _crashed_pair(item: tuple) -> tuple[FileResult, None, None]:
    return _crashed(item), None, None


def _crashed(item: tuple) -> FileResult:
    _, path, display = item[:3]
    return FileResult(path, display, Status.FAILED,
                      message=f"{display}:1:1: the worker process died on this file (crash in the parser?); "
                              "not scanned")


class _Pool:
    """Lazily started process pool shared by both passes of a run."""

    def __init__(self, jobs: int, spec: RunSpec, cache_dir: str | None):
        self.jobs, self.spec, self.cache_dir = jobs, spec, cache_dir
        self.pool = None

    def get(self, workers: int | None = None):
        """The executor (a concurrent.futures.ProcessPoolExecutor), started on first use."""
        if self.pool is None:
            # Imported here: a warm run rarely needs a pool (multiprocessing
            # is a tenth of its import time).
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
            self.pool = ProcessPoolExecutor(max_workers=workers or self.jobs, mp_context=ctx,
                                            initializer=_init_worker, initargs=(self.spec, self.cache_dir))
        return self.pool

    def reset(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def close(self) -> None:
        self.reset()


def _execute(items: list, chunk_fn, one_fn, on_crash, pool: _Pool, jobs: int, sizes: dict[int, int],
             tick: Callable[[int], None]) -> dict[int, Any]:
    """Run one pass over items -> {index: value}; in-process when small or jobs == 1."""
    out: dict[int, Any] = {}
    if jobs <= 1 or len(items) < 2 or (len(items) < SERIAL_BELOW
                                        and sum(sizes.get(it[0], 0) for it in items) < PARALLEL_BYTES):
        for item in items:
            out[item[0]] = one_fn(item)
            tick(1)
        return out
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    pending_items = {id(c): c for c in make_chunks(items, jobs, sizes)}
    try:
        executor = pool.get()
        futures = {executor.submit(chunk_fn, chunk): key for key, chunk in pending_items.items()}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for fut in done:
                key = futures.pop(fut)
                values = fut.result()
                for index, value in values:
                    out[index] = value
                del pending_items[key]
                tick(len(values))
    except BrokenProcessPool:
        pool.reset()
        # A worker died. Redo what is left one file at a time in a single
        # fresh worker, so the file that kills it is known and skipped.
        left = [it for chunk in pending_items.values() for it in chunk if it[0] not in out]
        for item in left:
            try:
                out[item[0]] = pool.get(1).submit(one_fn, item).result()
            except BrokenProcessPool:
                pool.reset()
                out[item[0]] = on_crash(item)
            tick(1)
        pool.reset()
    return out


# -- the run ---------------------------------------------------------------------------------


def run(discovery: Discovery, spec: RunSpec, jobs: int | None = None, progress: Progress | None = None,
        config: EngineConfig | None = None, *, cache_dir: str | os.PathLike | None = None,
        use_cache: bool = False) -> RunReport:
    """Results of every discovered file, in discovery order. Never raises for one file.

    `use_cache` turns the persistent cache on (`cache_dir` places it; default
    codemod.cache.default_cache_dir(root)). `progress(pass, done, total)` is
    called as files complete.
    """
    started = time.perf_counter()
    jobs = jobs or default_jobs()
    files = discovery.files
    state = _state_init(spec, None, config)  # also the in-process "worker"
    cdir = None
    if use_cache:
        cdir = str(Path(cache_dir) if cache_dir is not None else default_cache_dir(discovery.root))
        state = _state_init(spec, cdir, state.config)
    report = RunReport(discovery.root, jobs=jobs)
    pool = _Pool(jobs, spec, cdir)
    sizes: dict[int, int] = {}
    hashes: dict[int, str] = {}
    use_stat_index = cdir is not None

    def ticker(name: str, total: int) -> Callable[[int], None]:
        done = 0
        if progress:
            progress(name, 0, total)

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(name, done, total)
        return tick

    try:
        # Content hashes (cache only): the stat index spares reading unchanged files.
        if use_stat_index:
            t = time.perf_counter()
            # The phase index hashed the project's files moments ago (same stat index rules).
            known = getattr(spec.phase_index, "content_hashes", None) or {}
            rest = []
            for i, f in enumerate(files):
                h = known.get(f.path)
                if h is None:
                    rest.append(i)
                else:
                    hashes[i] = h
            if rest:
                sub_sizes: dict[int, int] = {}
                sub_hashes: dict[int, str] = {}
                _hash_files([files[i] for i in rest], StatIndex(cdir, discovery.root), sub_sizes, sub_hashes)
                sizes.update((rest[j], v) for j, v in sub_sizes.items())
                hashes.update((rest[j], v) for j, v in sub_hashes.items())
            report.passes["hash"] = time.perf_counter() - t
        else:
            sizes = {i: _size(f.path) for i, f in enumerate(files)}
        # The phase index (spec.phase_index) is built before the run from the whole
        # tree's facts (collect_facts below does that pass, cached); the engine
        # asks it per site, and the cache key holds what it answers for this file.
        # What else a file's result depends on: the headers and other inputs
        # shared by every file, and the phases of the file's own functions. Kept
        # as a pair, not hashed into one key per file (a warm run compares them
        # for every file of the tree).
        extras: dict[int, tuple[str, str]] = {}
        if state.results is not None:
            t = time.perf_counter()
            common = dependency_key(spec, discovery.root, cdir)
            for i, f in enumerate(files):
                extras[i] = (common, file_phase_key(spec, f.path))
            report.passes["deps"] = time.perf_counter() - t

        # Pass 2: the engine, for what the cache does not have.
        t = time.perf_counter()
        results: list[FileResult | None] = [None] * len(files)
        todo: list[tuple] = []
        bundle = _Bundle(state.results, discovery.root) if state.results is not None else None
        sibling_memo: dict[str, Any] = {}
        for i, f in enumerate(files):
            item = (i, f.path, f.display, extras.get(i, _NO_EXTRA))
            if state.results is not None and i in hashes:
                hit = bundle.lookup(f.path, f.display, hashes[i], extras[i])
                if hit is None:
                    hit = _cached_result(state.results, f.path, f.display, hashes[i], extras[i])
                    if hit is not None:
                        bundle.note(f.path, f.display, hashes[i], extras[i], hit)
                if hit is not None and not _siblings_unchanged(hit.sibling_keys, sibling_memo):
                    # A file its analysis read beside it has changed: stale.
                    state.results.stats["hits"] = state.results.stats.get("hits", 0) - 1
                    state.results.stats["misses"] = state.results.stats.get("misses", 0) + 1
                    hit = None
                if hit is not None:
                    results[i] = hit
                    continue
            todo.append(item)
        for item in todo:
            if item[0] not in sizes:
                sizes[item[0]] = _size(item[1])
        tick = ticker("rules", len(files))
        tick(len(files) - len(todo))
        computed = _execute(todo, _chunk_engine, _engine_pair, _crashed_pair, pool, jobs, sizes, tick)
        for i, (value, chash, stored) in computed.items():
            results[i] = value
            if bundle is not None and chash is not None:
                bundle.note(files[i].path, files[i].display, chash, extras.get(i, _NO_EXTRA), value, stored)
        if bundle is not None:
            bundle.save()
        report.passes["rules"] = time.perf_counter() - t
    finally:
        pool.close()
    report.results = results  # type: ignore[assignment]
    if state.results is not None:
        report.cache = dict(state.results.stats)
    report.seconds = time.perf_counter() - started
    return report


def collect_facts(items: list[tuple[str, str]], spec: RunSpec, jobs: int | None = None, *,
                  cache_dir: str | os.PathLike | None = None, use_cache: bool = False,
                  progress: Progress | None = None, parse_errors: dict[str, int] | None = None) -> list:
    """Facts of each (path, key) in `items`, in order (None where unreadable or binary).

    `parse_errors`, when given, receives path -> number of syntax errors of
    each file parsed (RunSpec.parse_errors hands them to the engine pass).

    `spec.facts` names the extractor ("codemod.analysis.facts:extract_facts"),
    `key` is the name the facts carry (e.g. the path below the project root).
    Parsed in parallel chunks like the engine pass; with the cache, a file
    whose bytes did not change is not parsed again.
    """
    pairs, _ = facts_pairs(items, spec, jobs, cache_dir=cache_dir, use_cache=use_cache, progress=progress)
    out = []
    for (path, _), pair in zip(items, pairs):
        if pair is None:
            out.append(None)
            continue
        facts, errors = pair
        if parse_errors is not None:
            parse_errors[os.path.abspath(path)] = errors
        out.append(facts)
    return out


def facts_cache_dir(items: list[tuple[str, str]], cache_dir: str | os.PathLike | None) -> str:
    """Where collect_facts keeps the cache of `items` (cache_dir, else the default for their tree)."""
    if cache_dir is not None:
        return str(Path(cache_dir))
    root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p, _ in items]) if items else "."
    return str(default_cache_dir(root))


def hash_items(items: list[tuple[str, str]], cdir: str, root: str | None = None,
               stats: dict[str, os.stat_result] | None = None) -> dict[str, str]:
    """path -> content hash of each regular, readable file of `items`, through the
    stat index collect_facts keeps for them (unchanged files are not read).
    `root`: the common path of the items' paths when the caller knows it.
    `stats`, when given, receives path -> stat of each file (treestat.tree_files
    takes them instead of a stat of its own later in the run)."""
    if root is None:
        root = os.path.commonpath([p for p, _ in items]) if items else "."
    stat_index = StatIndex(cdir, root)
    hashes: dict[str, str] = {}
    for path, _ in items:  # once per file of the tree on a warm run: no per-file objects
        st, chash = _stat_hash(path, stat_index)
        if chash is not None:
            hashes[path] = chash
        if stats is not None and st is not None:
            stats[path] = st
    stat_index.save()
    return hashes


def facts_pairs(items: list[tuple[str, str]], spec: RunSpec, jobs: int | None = None, *,
                cache_dir: str | os.PathLike | None = None, use_cache: bool = False,
                progress: Progress | None = None,
                known_hashes: dict[str, str] | None = None) -> tuple[list, dict[str, str]]:
    """(facts, syntax errors) or None per item, and path -> content hash of the
    files whose facts came from exactly those bytes (cache only).

    `known_hashes` (path -> content hash, from hash_items) spares hashing again.
    """
    from codemod.discover import DiscoveredFile

    jobs = jobs or default_jobs()
    files = [DiscoveredFile(path, key) for path, key in items]
    state = _state_init(spec, None)
    cdir = None
    if use_cache:
        cdir = facts_cache_dir(items, cache_dir)
        state = _state_init(spec, cdir, state.config)
    if state.stage is None:
        raise ValueError(f"RunSpec.facts names no facts extractor: {spec.facts!r}")
    sizes: dict[int, int] = {}
    hashes: dict[int, str] = {}
    if cdir is not None and known_hashes is not None:
        hashes = {i: known_hashes[f.path] for i, f in enumerate(files) if f.path in known_hashes}
        sizes = {i: _size(f.path) for i, f in enumerate(files)}
    elif cdir is not None:
        _hash_files(files, StatIndex(cdir, os.path.commonpath([p for p, _ in items]) if items else "."),
                    sizes, hashes)
    else:
        sizes = {i: _size(f.path) for i, f in enumerate(files)}
    pool = _Pool(jobs, spec, cdir)
    total = len(files)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress("facts", done, total)
    try:
        pairs = _facts_pass(files, state, hashes, pool, jobs, sizes, tick)
    finally:
        pool.close()
    # _facts_pass dropped the hash of a file that changed while it was parsed.
    return pairs, {files[i].path: h for i, h in hashes.items()}


def _hash_files(files, stat_index: StatIndex, sizes: dict[int, int], hashes: dict[int, str]) -> None:
    for i, f in enumerate(files):
        st, chash = _stat_hash(f.path, stat_index)
        if st is None:
            continue
        sizes[i] = st.st_size
        if chash is not None:
            hashes[i] = chash
    stat_index.save()


def _stat_hash(path: str, stat_index: StatIndex) -> tuple[os.stat_result | None, str | None]:
    """(stat, content hash) of `path`: the hash only for a regular, readable
    file, from the stat index when it still vouches for it, else read (and
    recorded)."""
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    if not stat.S_ISREG(st.st_mode):
        return st, None
    chash = stat_index.lookup(path, st)
    if chash is None:
        data = read_or_none(path)
        if data is None:
            return st, None
        chash = content_hash(data)
        stat_index.record(path, st, chash, time.time_ns())
    return st, chash


# -- what a cached result depends on besides its file ------------------------------------------


def _tree_root(spec: RunSpec, scan_root: str) -> Path:
    if spec.tree_root:
        return Path(spec.tree_root)
    from codemod.discover import find_tree_root

    try:
        return Path(find_tree_root([Path(scan_root)]))
    except (OSError, RuntimeError):  # e.g. a symlink loop on the way up
        return Path(scan_root)


def headers_fingerprint(root: Path, files: list | None = None) -> str:
    """(path, size, mtime, inode) of every header (.h) and included fragment
    (.inc, `foo.c.inc`) below `root`.

    The engine reads the files a file includes (size facts); which ones is
    its business, so any header change invalidates every result: coarse,
    but never stale, and a header edit is rarer than a .c edit. `files`:
    treestat.tree_files(root) when the caller has walked the tree already.
    """
    from codemod.treestat import tree_files

    return digest(*(f"{full}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}"
                    for full, _, st in (files if files is not None else tree_files(root))
                    if full.endswith((".h", ".inc"))))


def _sibling_keys(consulted) -> tuple:
    """What the size analysis read beside the file, for checking a cached result:
    per directory its stat key (a quick "nothing changed here") and, per
    question asked there (a pattern), the names and bytes of the files that
    answer it, so an edit elsewhere in the directory does not make it stale."""
    from codemod.analysis import siblings

    by_dir: dict[str, list[tuple[bytes, bytes]]] = {}
    for directory, pattern, needle in consulted:
        by_dir.setdefault(directory, []).append((pattern, needle))
    memo: dict[str, str] = {}
    return tuple((d, _siblings_key(d, memo),
                  tuple((p, n, _answer_key(siblings.matching_files(d, p, n))) for p, n in questions))
                 for d, questions in sorted(by_dir.items()))


# A sibling_keys entry for a non-header file the analysis read through an
# #include: (_SOURCE, path, content hash or "" when unreadable).
_SOURCE = "\0source"


def _source_keys(paths: tuple[str, ...]) -> tuple:
    return tuple((_SOURCE, p, _source_hash(p)) for p in paths)


def _source_hash(path: str) -> str:
    data = read_or_none(path)
    return content_hash(data) if data is not None else ""


def _answer_key(files: list[tuple[str, bytes]]) -> str:
    return digest(*(part for path, data in files for part in (os.path.basename(path), data)))


def _siblings_unchanged(keys: tuple, memo: dict) -> bool:
    if not keys:
        return True  # most files (asked once per file of the tree on a warm run)
    from codemod.analysis import siblings

    for entry in keys:
        if not (isinstance(entry, tuple) and len(entry) == 3):
            return False
        directory, stat_key, answers = entry
        if directory == _SOURCE:
            # stat_key: the included file's path, answers: its content hash then.
            source_key = f"source\0{stat_key}"
            if source_key not in memo:
                memo[source_key] = _source_hash(stat_key) if isinstance(stat_key, str) else None
            if memo[source_key] != answers:
                return False
            continue
        if _siblings_key(directory, memo) == stat_key:
            continue
        texts_key = f"texts\0{directory}"
        if texts_key not in memo:
            memo[texts_key] = siblings.read_dir(directory)
        if not (isinstance(answers, tuple) and all(isinstance(a, tuple) and len(a) == 3 for a in answers)):
            return False
        for pattern, needle, key in answers:
            answer_key = f"answer\0{directory}\0{pattern!r}"
            if answer_key not in memo:
                memo[answer_key] = _answer_key(siblings.matching_files(directory, pattern, needle, memo[texts_key]))
            if memo[answer_key] != key:
                return False
    return True


def _siblings_key(directory: str, memo: dict[str, str]) -> str:
    """(name, size, mtime, inode) of the C files of `directory`: size analysis
    looks for callers and field writes there (analysis/siblings.py)."""
    key = memo.get(directory)
    if key is None:
        parts = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name.endswith(".c"):
                        try:
                            st = entry.stat()
                        except OSError:
                            continue
                        parts.append(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}")
        except OSError:
            pass
        key = memo[directory] = digest(*sorted(parts))
    return key


def dependency_key(spec: RunSpec, scan_root: str, cache_dir: str | None = None) -> str:
    """The part of every file's key that comes from outside the file."""
    from codemod.analysis import props
    from codemod.analysis.headers import outside_inputs_fingerprint
    from codemod.treestat import tree_files

    index = spec.phase_index
    errp = getattr(index, "errp_functions", None)
    root = _tree_root(spec, scan_root)
    # One walk for the header fingerprint and the property index, with the
    # stats the phase index took of the same files moments ago.
    files = tree_files(root, getattr(index, "file_stats", None))
    if cache_dir is not None:
        # The tree's device properties, from the files changed since the last
        # run and the cache (the fingerprint below and the engine use them).
        props.tree_properties(root, cache_dir=cache_dir, files=files)
    # Sizes also come from the QAPI schema and device properties in other files.
    return digest(headers_fingerprint(root, files), outside_inputs_fingerprint(root), str(spec.tree_root),
                  "phase" if index is not None else "no-phase",
                  "\0".join(sorted(errp)) if errp else "")


def file_phase_key(spec: RunSpec, path: str) -> str:
    """Phases of the functions defined in `path`, as the phase index classifies them.

    The engine asks the index for the phase at each site (phase_at: the
    function whose definition holds the offset), so the ranges and their
    PhaseInfo values are all of the index a file's result can see.
    """
    index = spec.phase_index
    if index is None:
        return ""
    key = _tree_key(path, spec.tree_root) if spec.tree_root else path
    known = getattr(index, "phase_keys", None)
    if known is not None:
        # Computed with the index (wholetree / analysis.snapshot), same formula as below.
        stored = known.get(key)
        if stored is not None:
            return stored
    graph = getattr(index, "graph", None)
    ranges = getattr(graph, "ranges", None)
    if ranges is None or not hasattr(index, "phase_of_node"):
        # An index we cannot slice: key on all of it (correct, only less reusable).
        return digest(repr(id(index)), str(time.time_ns()))
    from codemod.analysis.snapshot import phase_key

    return phase_key(key, [(start, end, index.phase_of_node(node)) for start, end, node in ranges.get(key, ())])


def _tree_key(path: str, root: str) -> str:
    """wholetree.tree_key with strings only (it runs once per file of a warm run)."""
    # Discovered paths are absolute and normal already: abspath (a normpath)
    # only for the others.
    absolute = path if _is_normal_absolute(path) else os.path.abspath(path)
    root = root.rstrip("/") or "/"
    if absolute.startswith(root + "/"):
        return absolute[len(root) + 1:]
    return absolute


def _is_normal_absolute(path: str) -> bool:
    return path.startswith("/") and "//" not in path and "/./" not in path and "/../" not in path \
        and not path.endswith(("/.", "/..", "/"))


class _Bundle:
    """The results of a whole scan in one cache entry, so a warm run reads one
    file instead of one per scanned file.

    One JSON line per file: [path, display, content hash, dependency key,
    phase key, result] (the two keys: the run's `extras` pair),
    the result (FileResult, decoded through the cache's whitelist); a result
    with a rewrite in the form its own entry has (["edits", line edits,
    result], see _storable), rebuilt from the file's bytes. A line is
    used only when its display, content hash and both keys equal the file's
    now: the same key the file's own entry has. Lines of files this run did
    not look up are kept as they are. Most files of a tree have nothing to
    report: their result is stored as ["plain", parse errors, sites, sites in
    functions with errors] and decodes without a typed object per field.
    """

    def __init__(self, cache: Cache, root: str):
        self.cache = cache
        self.key = cache.key("bundle", os.path.abspath(root))
        self.lines: dict[str, bytes] = {}
        self.records: dict[str, list] = {}
        self.dirty = False
        payload = cache.get_raw(self.key)
        if payload:
            lines = payload.split(b"\n")
            try:
                records = decode(b"[" + b",".join(lines) + b"]")
            except BadEntry:
                records = None
            if isinstance(records, list) and len(records) == len(lines):
                for line, rec in zip(lines, records):
                    if isinstance(rec, list) and len(rec) == 6 and isinstance(rec[0], str):
                        self.lines[rec[0]] = line
                        self.records[rec[0]] = rec
        self.dirty = not self.records

    def lookup(self, path: str, display: str, chash: str, extra: tuple[str, str]) -> FileResult | None:
        rec = self.records.get(path)
        if rec is None or rec[1] != display or rec[2] != chash or rec[3] != extra[0] or rec[4] != extra[1]:
            return None
        value = rec[5]
        if isinstance(value, list) and len(value) == 4 and value[0] == "plain" and all(
                type(n) is int for n in value[1:]):
            self.cache.stats["hits"] += 1
            return FileResult(path, display, Status.OK, parse_errors=value[1], sites=value[2],
                              sites_in_error_functions=value[3])
        if isinstance(value, list):
            value = _with_edits_applied(value, path, chash)
            if value is None:
                return None
        elif not isinstance(value, FileResult) or value.rewritten is not None:
            return None
        if value.status is not Status.OK:
            return None
        self.cache.stats["hits"] += 1
        value.path, value.display = path, display
        return value

    def note(self, path: str, display: str, chash: str, extra: tuple[str, str], result: FileResult,
             stored: list | None = None) -> None:
        """Record the result of `path` computed from (or cached for) bytes hashing
        to `chash`; `stored`: its _storable form when the worker made it already."""
        if result.status is not Status.OK:
            return
        if result.rewritten is not None:
            if stored is None:
                stored = _storable(result, result.original) if result.changed else None
            if not isinstance(stored, list):
                stored = None  # not as edits: its own entry has it
        elif _plain(result):
            stored = ["plain", result.parse_errors, result.sites, result.sites_in_error_functions]
        else:
            stored = dataclasses.replace(result, original=b"")
        try:
            line = encode([path, display, chash, *extra, stored])
        except (TypeError, ValueError, RecursionError):
            return
        if self.lines.get(path) != line:
            self.lines[path] = line
            self.dirty = True

    def save(self) -> None:
        if self.dirty and self.lines:
            self.cache.put_raw(self.key, b"\n".join(self.lines.values()))


def _plain(result: FileResult) -> bool:
    """Nothing in the result but counts (what _Bundle stores compactly)."""
    return (result.status is Status.OK and result.rewritten is None and not result.findings
            and not result.hunks_info and not result.message and not result.dropped and not result.sibling_keys)


def _with_edits_applied(value: list, path: str, chash: str) -> FileResult | None:
    """The result an ["edits", line edits, result] record stands for, its texts
    rebuilt from the file's bytes now (which must hash to `chash`); None when
    the record or the bytes do not check out."""
    if not (len(value) == 3 and value[0] == "edits" and isinstance(value[1], list)
            and isinstance(value[2], FileResult) and value[2].rewritten is None):
        return None
    data = read_or_none(path)
    if data is None or content_hash(data) != chash:
        return None
    from codemod.render.diff import apply_line_edits

    try:
        rewritten = apply_line_edits(data, value[1])
    except ValueError:
        return None
    return dataclasses.replace(value[2], original=data, rewritten=rewritten)


def _cached_result(cache: Cache, path: str, display: str, chash: str, extra: tuple[str, str]) -> FileResult | None:
    value = cache.get(_result_key(cache, chash, path, display, extra))
    if isinstance(value, list):
        rebuilt = _with_edits_applied(value, path, chash)
        return _lean(rebuilt) if rebuilt is not None else None
    if not isinstance(value, FileResult):
        return None
    if value.rewritten is not None:
        # Diffs and apply need the original bytes: read them, and they must be
        # the bytes the entry was computed from.
        data = read_or_none(path)
        if data is None or content_hash(data) != chash:
            return None
        value.original = data
    return _lean(value)


def _facts_pass(files, state: _Worker, hashes: dict[int, str], pool: _Pool, jobs: int,
                sizes: dict[int, int], tick) -> list:
    facts: list = [None] * len(files)
    todo = []
    for i, f in enumerate(files):
        if state.facts is not None and i in hashes:
            value = state.facts.get(state.facts.key(hashes[i], f.path, f.display))
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
                facts[i] = value
                continue
        todo.append((i, f.path, f.display))
    tick(len(files) - len(todo))
    if state.facts is not None and jobs <= 1 and len(todo) >= SERIAL_BELOW:
        # In this process, but in chunks all the same: one pack per chunk.
        computed = {}
        for start in range(0, len(todo), CHUNK_FILES):
            values = _chunk_facts(todo[start:start + CHUNK_FILES])
            computed.update(values)
            tick(len(values))
    else:
        computed = _execute(todo, _chunk_facts, _facts_one, lambda item: (None, None, None), pool, jobs, sizes,
                            tick)
    packed = []
    for i, (chash, value, loc) in computed.items():
        facts[i] = value
        if loc is not None:
            packed.append(loc)
        if chash is not None and i in hashes and hashes[i] != chash:
            # The file changed between hashing and parsing: its results must not
            # be looked up under the old hash.
            hashes.pop(i, None)
    if packed and state.facts is not None:
        state.facts.record_packed(packed)
    return facts


# -- progress on a terminal ---------------------------------------------------------------


@contextmanager
def terminal_progress(console, min_files: int = 200) -> Iterator[Progress | None]:
    """A rich progress bar callback when `console` is a terminal, else None (silent when piped).

    Scans of fewer than `min_files` files show no bar (it would only flicker).
    """
    if console is None or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
        TimeElapsedColumn

    bar = RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=console, transient=True)
    tasks: dict[str, int] = {}
    started = False

    def update(name: str, done: int, total: int) -> None:
        nonlocal started
        if total < min_files:
            return
        if not started:
            bar.start()
            started = True
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=total)
        bar.update(tasks[name], completed=done)

    try:
        yield update
    finally:
        if started:
            bar.stop()
