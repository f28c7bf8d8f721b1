"""The runner: parallel equals serial, the cache is invisible except in speed,
phases and headers are in the cache key, a dying worker costs one file."""

from __future__ import annotations

import dataclasses
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from codemod import cache as cachemod
from codemod import runner as runnermod
from codemod.discover import discover
from codemod.findings import FileResult, PhaseInfo, Status
from codemod.rulesdata import builtin_rules_dir
from codemod.runner import RunSpec, load_facts_stage, make_chunks, run, terminal_progress

RULES = builtin_rules_dir()


def _spec(facts: str = "none", rules: tuple[str, ...] = (str(RULES),)) -> RunSpec:
    return RunSpec(rules, str(RULES / "qemu-macros.toml"), facts=facts)


LARGE = """\
#include "qemu/osdep.h"
#include "qapi/error.h"

static int dev{n}_load(DevState *s, size_t len, Error **errp)
{{
    uint8_t *buf;

    buf = g_malloc(len);
    memset(buf, 0, len);
    s->buf = buf;
    return 0;
}}
"""

SMALL = """\
static void dev{n}_init(DevState *s)
{{
    s->regs = g_malloc0(16);
}}
"""

PLAIN = """\
static int dev{n}_read(DevState *s, int addr)
{{
    return s->regs[addr & {n}];
}}
"""

BROKEN = """\
static int dev{n}_broken(DevState *s
{{
    return s->x +;
"""


def make_tree(root: Path, count: int = 40) -> Path:
    kinds = [LARGE, SMALL, PLAIN, BROKEN, LARGE + SMALL]
    for n in range(count):
        sub = root / ("hw" if n % 2 else "block") / f"d{n % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        text = kinds[n % len(kinds)].format(n=n) + PLAIN.format(n=n + 100) * (n % 4)
        (sub / f"dev{n}.c").write_text(text)
    return root


def _summary(results: list[FileResult]) -> list:
    return [(r.display, r.status, r.message, r.rewritten, [f.to_json() for f in r.findings], r.parse_errors,
             r.sites, r.hunks_info, r.dropped) for r in results]


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "tree")


def test_parallel_equals_serial_and_order_is_discovery_order(tree):
    d = discover([str(tree)])
    assert len(d.files) >= runnermod.SERIAL_BELOW
    serial = run(d, _spec(), jobs=1)
    parallel = run(d, _spec(), jobs=2)
    assert [r.display for r in parallel.results] == [f.display for f in d.files]
    assert _summary(parallel.results) == _summary(serial.results)
    changed = [r for r in parallel.results if r.changed]
    assert changed, "the generated tree has large allocations to rewrite"
    assert any(r.parse_errors for r in parallel.results)


def test_results_are_lean(tree):
    d = discover([str(tree)])
    report = run(d, _spec(), jobs=2)
    for r in report.results:
        if r.changed:
            assert r.original == Path(r.path).read_bytes()
            assert b"g_try_malloc" in r.rewritten
        else:
            assert r.original == b"" and r.rewritten is None


def test_cache_cold_warm_touch_and_rule_change(tree, tmp_path):
    d = discover([str(tree)])
    cdir = tmp_path / "cache"
    plain = run(d, _spec(), jobs=2)
    cold = run(d, _spec(), jobs=2, use_cache=True, cache_dir=cdir)
    assert _summary(cold.results) == _summary(plain.results)
    assert cold.cache["hits"] == 0
    warm = run(d, _spec(), jobs=2, use_cache=True, cache_dir=cdir)
    assert warm.cache == {"hits": len(d.files), "misses": 0, "bad": 0, "write_errors": 0}
    assert _summary(warm.results) == _summary(plain.results)
    # Touch one file: exactly one miss, and its new content is what is reported.
    target = next(r for r in plain.results if r.changed)
    Path(target.path).write_text(Path(target.path).read_text().replace("g_malloc(len)", "g_malloc(len * 2)"))
    touched = run(d, _spec(), jobs=2, use_cache=True, cache_dir=cdir)
    assert touched.cache["misses"] == 1 and touched.cache["hits"] == len(d.files) - 1
    again = next(r for r in touched.results if r.path == target.path)
    assert b"g_try_malloc(len * 2)" in again.rewritten
    assert again.original == Path(target.path).read_bytes()
    # Another rule set: nothing of the old one is reused.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "noop.cocci").write_text("@r@\nexpression E;\n@@\n- no_such_function(E)\n+ other(E)\n")
    other = run(d, _spec(rules=(str(rules),)), jobs=2, use_cache=True, cache_dir=cdir)
    assert other.cache["hits"] == 0
    assert not any(r.changed for r in other.results)


def test_corrupt_cache_entries_are_recomputed(tree, tmp_path):
    d = discover([str(tree)])
    cdir = tmp_path / "cache"
    first = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    entries = sorted(p for p in (cdir / "objects").rglob("*") if p.is_file())
    # One entry per file, and the bundle of the whole scan (corrupted too).
    assert len(entries) == len(d.files) + 1 and _bundle_path(cdir, tree) in entries
    for i, p in enumerate(entries):
        raw = p.read_bytes()
        p.write_bytes(raw[: len(raw) // 2] if i % 2 else raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    second = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    assert second.cache["bad"] == len(d.files) and second.cache["hits"] == 0
    assert _summary(second.results) == _summary(first.results)
    third = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    assert third.cache["hits"] == len(d.files)


def _bundle_path(cdir: Path, root: Path) -> Path:
    cache = cachemod.Cache(cdir, cachemod.digest("results", _spec().ruleset_key()))
    key = cache.key("bundle", os.path.abspath(root))
    return cache._path(key)


def test_the_bundle_serves_a_warm_run_and_never_a_changed_file(tree, tmp_path):
    d = discover([str(tree)])
    cdir = tmp_path / "cache"
    first = run(d, _spec(), jobs=2, use_cache=True, cache_dir=cdir)
    bundle = _bundle_path(cdir, tree)
    assert bundle.is_file()
    changed = {r.path for r in first.results if r.changed}
    assert changed and len(changed) < len(d.files)
    # Without the per-file entries, the bundle alone serves every result (a
    # rewrite as line edits of the file's bytes, read again and checked).
    for p in (cdir / "objects").rglob("*"):
        if p.is_file() and p != bundle:
            p.unlink()
    warm = run(d, _spec(), jobs=2, use_cache=True, cache_dir=cdir)
    assert warm.cache["hits"] == len(d.files) and warm.cache["misses"] == 0
    assert _summary(warm.results) == _summary(first.results)
    assert [(r.original, r.rewritten) for r in warm.results if r.changed] == [
        (r.original, r.rewritten) for r in first.results if r.changed]
    # A file edited so that it has a site now: its bundle line is not used.
    plain = next(f for f in d.files if f.path not in changed and "g_malloc" not in Path(f.path).read_text())
    Path(plain.path).write_text(Path(plain.path).read_text() + LARGE.format(n=999))
    os.utime(plain.path, ns=(0, 0))  # and the stat index cannot tell (ctime still moves)
    edited = run(d, _spec(), jobs=2, use_cache=True, cache_dir=cdir)
    got = next(r for r in edited.results if r.path == plain.path)
    assert got.changed and b"g_try_malloc(len)" in got.rewritten
    assert _summary(edited.results) == _summary(run(d, _spec(), jobs=1).results)
    # A corrupted bundle is a miss: the per-file entries answer.
    raw = bytearray(bundle.read_bytes())
    raw[-3] ^= 0xFF
    bundle.write_bytes(bytes(raw))
    again = run(d, _spec(), jobs=2, use_cache=True, cache_dir=cdir)
    assert _summary(again.results) == _summary(edited.results)
    assert again.cache["hits"] + again.cache["misses"] == len(d.files)


def test_cached_changed_result_whose_file_changed_behind_the_stat_index_is_recomputed(tree, tmp_path):
    d = discover([str(tree)])
    cdir = tmp_path / "cache"
    run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    target = next(f for f in d.files if "g_malloc(len)" in Path(f.path).read_text())
    st = os.stat(target.path)
    data = Path(target.path).read_bytes().replace(b"g_malloc(len)", b"g_malloc(n__)")
    Path(target.path).write_bytes(data)
    os.utime(target.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    report = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    got = next(r for r in report.results if r.path == target.path)
    # ctime moved, so the stat index re-hashed the file: the result is the new content's.
    assert b"g_try_malloc(n__)" in got.rewritten and got.original == data


def test_progress_reports_every_file(tree):
    d = discover([str(tree)])
    events = []
    run(d, _spec(), jobs=2, progress=lambda name, done, total: events.append((name, done, total)))
    assert events[0] == ("rules", 0, len(d.files))
    assert events[-1] == ("rules", len(d.files), len(d.files))
    dones = [e[1] for e in events]
    assert dones == sorted(dones)


def test_terminal_progress_is_silent_when_piped_and_draws_on_a_terminal():
    from rich.console import Console

    with terminal_progress(Console(file=io.StringIO(), force_terminal=False)) as cb:
        assert cb is None
    with terminal_progress(None) as cb:
        assert cb is None
    out = io.StringIO()
    with terminal_progress(Console(file=out, force_terminal=True, width=80), min_files=10) as cb:
        cb("rules", 0, 500)
        cb("rules", 250, 500)
        cb("rules", 500, 500)
    assert "rules" in out.getvalue()
    quiet = io.StringIO()
    with terminal_progress(Console(file=quiet, force_terminal=True), min_files=10) as cb:
        cb("rules", 3, 5)  # a short scan shows no bar
    assert quiet.getvalue() == ""


def test_chunks_cover_every_item_once_biggest_first():
    items = [(i, f"p{i}", f"d{i}") for i in range(200)]
    sizes = {i: (i * 7919) % 1000 for i in range(200)}
    chunks = make_chunks(items, 2, sizes)
    flat = [it for c in chunks for it in c]
    assert sorted(flat) == sorted(items)
    assert sizes[chunks[0][0][0]] == max(sizes.values())
    assert all(len(c) <= runnermod.CHUNK_FILES for c in chunks)
    assert len(chunks) >= 8


_PARENT = os.getpid()


def test_a_dying_worker_costs_one_file(tree, monkeypatch):
    d = discover([str(tree)])
    victim = d.files[5].path
    real = runnermod.process_file

    def deadly(path, display, config, data=None):
        if path == victim and os.getpid() != _PARENT:
            os._exit(7)  # as a segfault in C code would
        return real(path, display, config, data)

    # Workers are forked: they inherit the patched function.
    monkeypatch.setattr(runnermod, "process_file", deadly)
    report = run(d, _spec(), jobs=2)
    bad = [r for r in report.results if r.status is Status.FAILED]
    assert [r.path for r in bad] == [victim]
    assert "worker process died" in bad[0].message and bad[0].message.startswith(d.files[5].display + ":1:1:")
    expected = run(d, _spec(), jobs=1)
    assert _summary([r for r in report.results if r.path != victim]) == _summary(
        [r for r in expected.results if r.path != victim])


# -- a phase index standing in for analysis.phase.PhaseIndex ---------------------------


@cachemod.register
@dataclass(frozen=True)
class FakeFacts:
    display: str
    functions: tuple[str, ...] = ()


@dataclass
class FakeStage(runnermod.FactsStage):
    name: str = "fake-facts"

    def extract(self, parsed):
        from codemod.cparse import function_name

        names = tuple(function_name(n, parsed.source.data) or "" for n in parsed.root.children
                      if n.type == "function_definition")
        return FakeFacts(parsed.source.display, names)


class FakeGraph:
    def __init__(self):
        self.ranges: dict[str, list[tuple[int, int, int]]] = {}
        self.names: list[str] = []


class FakeIndex:
    """The slice of PhaseIndex the engine and the runner use: phase_at, graph.ranges,
    phase_of_node, errp_functions."""

    def __init__(self, root: Path, files, startup: set[str]):
        from codemod.cparse import MacroProfile, function_name, parse_bytes

        self.graph = FakeGraph()
        self.startup = startup
        self.errp_functions = frozenset()
        profile = MacroProfile.load(RULES / "qemu-macros.toml")
        for f in files:
            data = Path(f.path).read_bytes()
            _, tree = parse_bytes(data, profile)
            key = Path(f.path).relative_to(root).as_posix()
            for n in tree.root_node.children:
                if n.type == "function_definition":
                    self.graph.names.append(function_name(n, data) or "")
                    self.graph.ranges.setdefault(key, []).append((n.start_byte, n.end_byte,
                                                                  len(self.graph.names) - 1))

    def phase_of_node(self, node):
        name = self.graph.names[node]
        if name in self.startup:
            return PhaseInfo("startup", ("realize",), (name,), "test index")
        return PhaseInfo("runtime", ("guest-io",), (name,), "test index")

    def phase_at(self, key, offset):
        for start, end, node in self.graph.ranges.get(key, ()):
            if start <= offset < end:
                return self.phase_of_node(node)
        return PhaseInfo("unknown")


def test_phase_index_reaches_the_engine_and_the_cache_key(tree, tmp_path):
    from codemod.engine import EngineConfig

    if "phase_index" not in EngineConfig.__dataclass_fields__:
        pytest.skip("this engine takes phases through phase_of, not a phase index")
    import dataclasses

    d = discover([str(tree)])
    cdir = tmp_path / "cache"
    spec = dataclasses.replace(_spec(), phase_index=FakeIndex(tree, d.files, set()), tree_root=str(tree))
    runtime = run(d, spec, jobs=2, use_cache=True, cache_dir=cdir)
    loads = [f for r in runtime.results for f in r.findings if f.function and f.function.endswith("_load")]
    assert loads and all(f.phase.cls == "runtime" and f.phase.via == ("guest-io",) for f in loads)
    assert any(r.changed for r in runtime.results)
    warm = run(d, spec, jobs=2, use_cache=True, cache_dir=cdir)
    assert warm.cache["hits"] == len(d.files)
    # dev0_load becomes startup-only: R4 leaves it alone; only its file is recomputed.
    spec2 = dataclasses.replace(spec, phase_index=FakeIndex(tree, d.files, {"dev0_load"}))
    startup = run(d, spec2, jobs=2, use_cache=True, cache_dir=cdir)
    assert startup.cache["misses"] == 1 and startup.cache["hits"] == len(d.files) - 1
    dev0 = next(r for r in startup.results if r.display.endswith("dev0.c"))
    assert not dev0.changed
    assert [f.phase.cls for f in dev0.findings if f.function == "dev0_load"] == ["startup"]
    assert _summary(run(d, spec2, jobs=1).results) == _summary(startup.results)


def test_dependency_key_follows_headers(tree):
    spec = _spec()
    before = runnermod.dependency_key(spec, str(tree))
    header = tree / "hw" / "dev.h"
    header.write_text("#define DEV_SIZE 4096\n")
    with_header = runnermod.dependency_key(spec, str(tree))
    assert with_header != before
    header.write_text("#define DEV_SIZE 8192\n")
    with_new_header = runnermod.dependency_key(spec, str(tree))
    assert with_new_header != with_header
    # Sizes of QAPI types come from the schema, outside any header.
    (tree / "qapi").mkdir()
    (tree / "qapi" / "dev.json").write_text("{ 'struct': 'DevInfo', 'data': { 'id': 'str' } }\n")
    with_schema = runnermod.dependency_key(spec, str(tree))
    assert with_schema != with_new_header
    (tree / "qapi" / "dev.json").write_text("{ 'struct': 'DevInfo', 'data': { 'id': 'str', 'n': 'int' } }\n")
    assert runnermod.dependency_key(spec, str(tree)) != with_schema


def test_facts_stage_loading():
    assert load_facts_stage("none") is None
    assert isinstance(load_facts_stage("test_runner:FakeStage"), FakeStage)
    try:
        import codemod.analysis.facts  # noqa: F401
    except ModuleNotFoundError:
        assert load_facts_stage("auto") is None
    else:
        assert load_facts_stage("auto").name == "codemod.analysis.facts:extract_facts"


def test_unreadable_and_vanished_files_are_results_not_exceptions(tree, tmp_path):
    d = discover([str(tree)])
    gone = d.files[3]
    os.unlink(gone.path)
    report = run(d, _spec(), jobs=2, use_cache=True, cache_dir=tmp_path / "cache")
    r = next(r for r in report.results if r.path == gone.path)
    assert r.status is Status.FAILED and r.message.startswith(gone.display)
    assert sum(1 for r in report.results if r.status is Status.OK) == len(d.files) - 1


def fake_extract(parsed):
    """A bare extractor for collect_facts; logs each call (from any process) to $FAKE_LOG."""
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(parsed.source.display + "\n")
    return FakeStage().extract(parsed)


def test_collect_facts_parallel_cached(tree, tmp_path, monkeypatch):
    from codemod.runner import collect_facts

    log = tmp_path / "log"
    monkeypatch.setenv("FAKE_LOG", str(log))
    d = discover([str(tree)])
    items = [(f.path, "key/" + f.display) for f in d.files]
    spec = _spec(facts="test_runner:fake_extract")
    serial = collect_facts(items, spec, jobs=1)
    parallel = collect_facts(items, spec, jobs=2)
    assert serial == parallel and len(serial) == len(items)
    assert all(fa.display == key for fa, (_, key) in zip(parallel, items))
    assert any("dev0_load" in fa.functions for fa in parallel)
    cdir = tmp_path / "cache"
    log.write_text("")
    cold = collect_facts(items, spec, jobs=2, use_cache=True, cache_dir=cdir)
    assert len(log.read_text().splitlines()) == len(items)
    log.write_text("")
    warm = collect_facts(items, spec, jobs=2, use_cache=True, cache_dir=cdir)
    assert warm == cold == serial
    assert log.read_text() == ""  # nothing parsed again
    Path(items[0][0]).write_text("int changed;\n")
    collect_facts(items, spec, jobs=2, use_cache=True, cache_dir=cdir)
    assert log.read_text().splitlines() == [items[0][1]]


def test_files_without_anything_to_match_are_parsed_once(tree, monkeypatch):
    # With the facts pass's syntax-error counts (spec.parse_errors) the engine
    # pass does not parse a file in which no allocator or rule word occurs;
    # its result is the one a parse would have given.
    import dataclasses

    from codemod import engine
    from codemod.wholetree import build_phase_index

    d = discover([str(tree)])
    full = run(d, _spec(), jobs=1)
    index = build_phase_index(tree, str(RULES / "qemu-macros.toml"), jobs=1)
    assert len(index.parse_errors) == len(d.files)
    parsed: list[str] = []
    real = engine.parse_source
    monkeypatch.setattr(engine, "parse_source", lambda src, prof: parsed.append(src.path) or real(src, prof))
    spec = dataclasses.replace(_spec(), parse_errors=index.parse_errors)
    quick = run(d, spec, jobs=1)
    assert _summary(quick.results) == _summary(full.results)
    worth = {f.path for f in d.files if b"g_malloc" in Path(f.path).read_bytes()}
    assert set(parsed) == worth and len(worth) < len(d.files)
    assert any(r.parse_errors for r in quick.results if r.path not in worth)  # BROKEN files: counts kept


def test_verification_asks_the_phase_of_the_original_function(tmp_path):
    # The idempotence check runs the rules on the rewritten text, whose
    # offsets have moved; the phase index knows the original file. A startup
    # function right after a rewritten runtime one must stay startup there too,
    # or the check sees a "new" rewrite and drops the whole file's fixes.
    import dataclasses

    root = tmp_path / "t"
    root.mkdir()
    (root / "dev.c").write_text(
        '#include "qemu/osdep.h"\n#include "qapi/error.h"\n\n'
        "static int dev_load(DevState *s, size_t len, Error **errp)\n{\n"
        "    s->buf = NULL;\n    uint8_t *buf = g_malloc(len);\n    s->buf = buf;\n    return 0;\n}\n\n"
        "static void dev_setup(DevState *s, size_t n)\n{\n    s->tab = g_malloc(n);\n}\n\n"
        "static int dev_save(DevState *s, size_t len, Error **errp)\n{\n"
        "    s->out = NULL;\n    s->ok = 1;\n    s->more = 2;\n    uint8_t *out = g_malloc(len);\n"
        "    s->out = out;\n    return 0;\n}\n")
    d = discover([str(root)])
    spec = dataclasses.replace(_spec(), phase_index=FakeIndex(root, d.files, {"dev_setup"}), tree_root=str(root))
    (result,) = run(d, spec, jobs=1).results
    assert result.dropped == []
    assert result.changed and b"s->tab = g_malloc(n);" in result.rewritten
    assert result.rewritten.count(b"g_try_malloc(len)") == 2


def test_a_changed_sibling_file_invalidates_cached_results_beside_it(tmp_path):
    # Size analysis reads callers in the other C files of a directory; a cached
    # result must not outlive a change there.
    root = tmp_path / "t"
    (root / "hw").mkdir(parents=True)
    (root / "block").mkdir()
    # dev.c's size comes from its callers: one of them is in helper.c.
    (root / "hw" / "dev.c").write_text(
        '#include "qemu/osdep.h"\n\nint dev_fill(DevState *s, size_t len)\n{\n'
        '    uint8_t *buf;\n\n    buf = g_malloc(len);\n    s->buf = buf;\n    return 0;\n}\n')
    (root / "hw" / "helper.c").write_text("void helper(DevState *s)\n{\n    dev_fill(s, 16);\n}\n")
    (root / "hw" / "unrelated.c").write_text(PLAIN.format(n=4))
    (root / "block" / "other.c").write_text(LARGE.format(n=3))
    d = discover([str(root)])
    cdir = tmp_path / "cache"
    run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    warm = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    assert warm.cache.get("misses", 0) == 0
    (root / "hw" / "helper.c").write_text("void helper(DevState *s)\n{\n    dev_fill(s, 16);\n}\nint x;\n")
    again = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    # helper.c itself, and dev.c whose analysis read it; unrelated.c and other.c stay cached.
    assert again.cache.get("misses", 0) == 2
    dev = next(r for r in again.results if r.path.endswith("dev.c"))
    assert dev.sibling_keys and dev.sibling_keys[0][0] == str(root / "hw")


def test_an_edit_beside_a_file_that_answers_none_of_its_questions_keeps_its_result(tmp_path):
    # dev.c's analysis asked the directory for callers of dev_fill: only
    # helper.c answers. Editing unrelated.c changes the directory's stat key
    # but not that answer, so dev.c's cached result stays valid.
    root = tmp_path / "t"
    (root / "hw").mkdir(parents=True)
    (root / "hw" / "dev.c").write_text(
        '#include "qemu/osdep.h"\n\nint dev_fill(DevState *s, size_t len)\n{\n'
        '    uint8_t *buf;\n\n    buf = g_malloc(len);\n    s->buf = buf;\n    return 0;\n}\n')
    (root / "hw" / "helper.c").write_text("void helper(DevState *s)\n{\n    dev_fill(s, 16);\n}\n")
    (root / "hw" / "unrelated.c").write_text(PLAIN.format(n=4))
    d = discover([str(root)])
    cdir = tmp_path / "cache"
    run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    (root / "hw" / "unrelated.c").write_text(PLAIN.format(n=5))
    again = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    assert again.cache.get("misses", 0) == 1  # unrelated.c itself
    # ... and a new caller appearing in the directory is an answer that changed.
    (root / "hw" / "unrelated.c").write_text(PLAIN.format(n=5) + "void more(DevState *s)\n{\n    dev_fill(s, 1);\n}\n")
    third = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    assert third.cache.get("misses", 0) == 2


def test_results_with_nothing_to_report_come_back_from_the_bundle_unchanged(tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    (root / "broken.c").write_text("static int f(void)\n{\n    return 1 +;\n}\n")  # syntax errors, no site
    (root / "quiet.c").write_text(PLAIN.format(n=3))
    (root / "dev.c").write_text(LARGE.format(n=1))
    d = discover([str(root)])
    cdir = tmp_path / "cache"
    cold = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    for p in (cdir / "objects").rglob("*"):
        if p.is_file() and p != _bundle_path(cdir, root):
            p.unlink()  # only the bundle can answer now
    warm = run(d, _spec(), jobs=1, use_cache=True, cache_dir=cdir)
    by_path = {r.path: r for r in cold.results}
    broken = next(r for r in warm.results if r.path.endswith("broken.c"))
    assert broken.parse_errors > 0
    for r in warm.results:
        if not r.changed:
            assert r == dataclasses.replace(by_path[r.path], original=b"")


def test_files_nothing_can_match_get_no_cache_entry_of_their_own(tmp_path):
    # A file the facts pass parsed and in which no rule can match is not
    # parsed again: redoing that costs less than storing it, so only the
    # bundle of the scan records it, and a warm run still takes it from there.
    root = tmp_path / "t"
    root.mkdir()
    for n in range(3):
        (root / f"quiet{n}.c").write_text(PLAIN.format(n=n))
    (root / "dev.c").write_text(LARGE.format(n=1))
    d = discover([str(root)])
    known = {os.path.abspath(f.path): 0 for f in d.files}
    spec = dataclasses.replace(_spec(), parse_errors=known)
    cdir = tmp_path / "cache"
    cold = run(d, spec, jobs=1, use_cache=True, cache_dir=cdir)
    entries = [p for p in (cdir / "objects").rglob("*") if p.is_file()]
    assert len(entries) == 2  # dev.c's result and the bundle
    warm = run(d, spec, jobs=1, use_cache=True, cache_dir=cdir)
    assert warm.cache["hits"] == len(d.files) and warm.cache["misses"] == 0
    assert _summary(warm.results) == _summary(cold.results)
    # Without the bundle (another scan root), the quiet files are simply redone.
    sub = discover([str(root / "quiet0.c")])
    again = run(sub, spec, jobs=1, use_cache=True, cache_dir=cdir)
    assert again.results[0].status is Status.OK and not again.results[0].findings
