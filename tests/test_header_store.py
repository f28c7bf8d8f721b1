"""Header size facts kept in the result cache between runs (analysis/headers.py).

Real files, real parses. A "new process" is simulated by dropping the
per-process memos of the size analysis; parses are counted by wrapping the
parse_source the headers module calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod import runner as runnermod
from codemod.analysis import headers, props, qapi
from codemod.analysis.sites import find_sites
from codemod.analysis.size import classify_size
from codemod.cache import Cache, content_hash
from codemod.cparse import MacroProfile, parse_source
from codemod.discover import discover
from codemod.rulesdata import builtin_rules_dir
from codemod.runner import RunSpec, run
from codemod.source import SourceFile

RULES = builtin_rules_dir()
PROFILE_PATH = str(RULES / "qemu-macros.toml")
PROFILE = MacroProfile.load(PROFILE_PATH)

DEV_C = '#include "a.h"\nstatic void *f(void)\n{\n    return g_new0(Deep, 1);\n}\n'


def _deep(size: str) -> str:
    return f"typedef struct Deep {{\n    char buf[{size}];\n}} Deep;\n"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def _new_process() -> None:
    """Forget what this process learnt (as a new run's process would not know it)."""
    headers._CACHE.clear()
    headers._CLOSURES.clear()
    qapi._CACHE.clear()
    props._INDEX.clear()


@pytest.fixture
def parses(monkeypatch):
    """Paths of the headers parsed through analysis.headers (counting wrapper)."""
    seen: list[str] = []

    def counting(source, profile):
        seen.append(source.path)
        return parse_source(source, profile)

    monkeypatch.setattr(headers, "parse_source", counting)
    _new_process()
    yield seen
    _new_process()


def _store(cdir: Path) -> Cache:
    return Cache(cdir, headers.store_namespace(PROFILE_PATH))


def _max_bytes(root: Path, store) -> int | None:
    path = root / "hw/dev.c"
    data = path.read_bytes()
    facts = headers.header_facts(str(path), data, root, PROFILE, store=store)
    parsed = parse_source(SourceFile(str(path), "hw/dev.c", data), PROFILE)
    return classify_size(find_sites(parsed)[0], parsed, facts=facts).max_bytes


def test_unchanged_headers_are_not_parsed_again(tmp_path, parses):
    root = _tree(tmp_path / "t", {"include/a.h": '#include "b.h"\n', "include/b.h": _deep("64"),
                                  "hw/dev.c": DEV_C})
    store = _store(tmp_path / "cache")
    assert _max_bytes(root, store) == 64
    assert sorted(Path(p).name for p in parses) == ["a.h", "b.h"]
    parses.clear()
    _new_process()
    assert _max_bytes(root, store) == 64
    assert parses == []
    assert store.stats["hits"] == 2
    # Without the store: parsed as before.
    _new_process()
    assert _max_bytes(root, None) == 64
    assert len(parses) == 2


def test_an_edited_header_gives_new_facts(tmp_path, parses):
    root = _tree(tmp_path / "t", {"include/a.h": '#include "b.h"\n', "include/b.h": _deep("64"),
                                  "hw/dev.c": DEV_C})
    store = _store(tmp_path / "cache")
    assert _max_bytes(root, store) == 64
    (root / "include/b.h").write_text(_deep("300"))
    _new_process()
    parses.clear()
    assert _max_bytes(root, store) == 300
    assert [Path(p).name for p in parses] == ["b.h"]  # a.h is unchanged: from the store


def test_a_new_header_an_include_now_resolves_to_changes_the_closure(tmp_path, parses):
    # a.h's `#include "b.h"` resolves to the top directory's b.h until a b.h
    # appears next to a.h (searched first); a.h itself does not change.
    root = _tree(tmp_path / "t", {"include/a.h": '#include "b.h"\n', "b.h": _deep("64"), "hw/dev.c": DEV_C})
    store = _store(tmp_path / "cache")
    dev = str(root / "hw/dev.c")
    assert _max_bytes(root, store) == 64
    (root / "include/b.h").write_text(_deep("4000"))
    _new_process()
    parses.clear()
    closure = headers.include_closure(dev, (root / "hw/dev.c").read_bytes(), root, PROFILE, store)
    assert closure == [str(root / "include/a.h"), str(root / "include/b.h")]
    assert _max_bytes(root, store) == 4000
    assert parses == [str(root / "include/b.h")]
    # And removed again: back to the top directory's b.h, nothing parsed.
    (root / "include/b.h").unlink()
    _new_process()
    parses.clear()
    assert _max_bytes(root, store) == 64
    assert parses == []


def test_corrupt_or_foreign_entries_are_recomputed(tmp_path, parses):
    root = _tree(tmp_path / "t", {"include/a.h": '#include "b.h"\n', "include/b.h": _deep("64"),
                                  "hw/dev.c": DEV_C})
    cdir = tmp_path / "cache"
    store = _store(cdir)
    assert _max_bytes(root, store) == 64
    entries = [p for p in (cdir / "objects").rglob("*") if p.is_file()]
    assert len(entries) == 2
    for p in entries:  # flip the last payload byte: the checksum no longer matches
        raw = bytearray(p.read_bytes())
        raw[-1] ^= 0xFF
        p.write_bytes(bytes(raw))
    _new_process()
    parses.clear()
    store = _store(cdir)
    assert _max_bytes(root, store) == 64
    assert len(parses) == 2 and store.stats["bad"] == 2
    # Rewritten: the next process reads them.
    _new_process()
    parses.clear()
    assert _max_bytes(root, _store(cdir)) == 64 and parses == []
    # An entry that checks out but is not what _own stores (another shape): recomputed too.
    key = store.key("header", str(root / "include/b.h"), content_hash(_deep("64").encode()))
    assert store.put(key, ("not facts", [["x", 1]]))
    _new_process()
    parses.clear()
    assert _max_bytes(root, _store(cdir)) == 64
    assert parses == [str(root / "include/b.h")]


def test_runner_passes_the_store_to_the_engine(tmp_path, parses):
    """Through runner.run: an edited .c file is analysed again without parsing
    its (unchanged) headers; the results equal a run without cache."""
    root = _tree(tmp_path / "t", {
        "MAINTAINERS": "",  # marks the tree's top, where include/ is searched
        "include/a.h": '#include "b.h"\n',
        "include/b.h": "typedef struct Deep {\n    char buf[64];\n    char big[1 << 20];\n} Deep;\n",
        "hw/dev.c": ('#include "a.h"\nstatic int load(Deep **out, size_t n)\n{\n'
                     "    *out = g_malloc(sizeof(Deep) * 4);\n    return 0;\n}\n"),
    })
    spec = RunSpec((str(RULES),), PROFILE_PATH)
    cdir = tmp_path / "cache"
    cold = run(discover([str(root)]), spec, jobs=1, use_cache=True, cache_dir=cdir)
    assert runnermod._STATE.config.header_store is not None
    assert sorted(Path(p).name for p in parses) == ["a.h", "b.h"]
    with open(root / "hw/dev.c", "a") as f:
        f.write("/* edited */\n")
    _new_process()
    parses.clear()
    warm = run(discover([str(root)]), spec, jobs=1, use_cache=True, cache_dir=cdir)
    assert warm.cache["misses"] >= 1  # dev.c was analysed again ...
    assert parses == []  # ... from the stored header facts
    _new_process()
    plain = run(discover([str(root)]), spec, jobs=1)
    assert runnermod._STATE.config.header_store is None
    assert len(parses) == 2
    w, p, c = ([r for r in report.results if r.path.endswith("dev.c")][0] for report in (warm, plain, cold))
    assert w.findings == p.findings and w.rewritten == p.rewritten
    assert [f.size for f in c.findings] == [f.size for f in p.findings]
    assert [f.size.max_bytes for f in p.findings] == [4 * (64 + (1 << 20))]  # from the header facts
