"""The facts cache: the column-wise facts encoding and packs of entries."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from codemod import cache as cachemod
from codemod.analysis.facts import FileFacts, FunctionFact, Ref, extract_facts
from codemod.cache import FACTS_TAG, BadEntry, Cache, decode, decode_facts, encode
from codemod.cparse import MacroProfile, error_count, parse_source
from codemod.rulesdata import builtin_rules_dir
from codemod.source import SourceFile

HERE = Path(__file__).parent
FIXTURE_DIRS = [HERE / "fixtures" / "phase", HERE / "fixtures" / "size", HERE.parent / "rules" / "tests"]


def _real_pairs() -> list[tuple[FileFacts, int]]:
    profile = MacroProfile.load(builtin_rules_dir() / "qemu-macros.toml")
    out = []
    for d in FIXTURE_DIRS:
        for path in sorted(d.rglob("*.[ch]")):
            parsed = parse_source(SourceFile(str(path), path.relative_to(HERE.parent).as_posix(),
                                             path.read_bytes()), profile)
            out.append((extract_facts(parsed), error_count(parsed.tree)))
    return out


@pytest.fixture(scope="module")
def pairs():
    return _real_pairs()


def test_real_facts_round_trip(pairs):
    # Every field kind occurs somewhere in the fixtures (else this test proves less).
    assert any(f.qom_types for f, _ in pairs) and any(f.type_names for f, _ in pairs)
    assert any(fn.indirect_calls for f, _ in pairs for fn in f.functions)
    assert any(fn.flags for f, _ in pairs for fn in f.functions) and any(f.macros for f, _ in pairs)
    assert any(r.how == "forward" for f, _ in pairs for r in f.refs)
    assert any(e for _, e in pairs) and any(not f.functions and not f.refs for f, _ in pairs) is not None
    for pair in pairs:
        payload = encode(pair)
        assert payload.startswith(FACTS_TAG)
        back = decode(payload)
        assert back == pair and repr(back) == repr(pair)
        facts = back[0]
        assert all(type(fn) is FunctionFact and type(fn.params) is tuple and type(fn.calls) is tuple
                   and all(type(p) is tuple for p in fn.indirect_calls) for fn in facts.functions)
        assert all(type(r) is Ref for r in facts.refs) and all(type(q) is tuple for q in facts.qom_types)
        assert type(facts.macros) is tuple


def test_empty_facts_and_odd_strings_round_trip():
    for facts in (FileFacts("a.c"), FileFacts("b.c", error="b.c:1:1: fact extraction failed: X"),
                  FileFacts("c\udcff.c", type_names={"TYPE_X": '"x\udce9"'}, macros=("type_init",),
                            qom_types=[("TYPE_X", "TYPE_DEVICE", None, "x_init", True)])):
        assert decode(encode((facts, 3))) == (facts, 3)


def test_values_the_codec_does_not_know_use_the_typed_encoding():
    class MyRef(Ref):
        pass

    for cls in (FileFacts, FunctionFact, Ref, MyRef):
        cachemod.register(cls)  # what the runner's facts stage does
    facts = FileFacts("a.c", refs=[MyRef("f", "arg", "g")])
    assert cachemod.encode_facts((facts, 0)) is None
    payload = encode((facts, 0))
    assert not payload.startswith(FACTS_TAG) and decode(payload) == (facts, 0)
    assert cachemod.encode_facts((facts, True)) is None  # errors must be an int


def _body(pair) -> list:
    return json.loads(encode(pair)[len(FACTS_TAG):])


def _payload(body) -> bytes:
    return FACTS_TAG + json.dumps(body).encode()


def _malformed(pair):
    """(what, payload) for every way a facts payload can be wrong."""
    body = _body(pair)
    fn_cols, ref_cols = body[2], body[3]
    assert fn_cols[0] and ref_cols[0], "the sample needs functions and refs"

    def with_(i, value):
        b = json.loads(json.dumps(body))
        b[i] = value
        return b

    def col(which, c, value):
        b = json.loads(json.dumps(body))
        b[which][c] = value
        return b

    good = _payload(body)
    yield "truncated", good[:-7]
    yield "not json", FACTS_TAG + b"\xff\xfe{"
    yield "another tag", b"\x01facts/0\n" + good[len(FACTS_TAG):]
    yield "not a list", _payload({"path": "x"})
    yield "short list", _payload(body[:8])
    yield "long list", _payload(body + [1])
    yield "errors a string", _payload(with_(0, "2"))
    yield "errors a bool", _payload(with_(0, True))
    yield "path null", _payload(with_(1, None))
    yield "parse_errors a float", _payload(with_(4, 1.5))
    yield "error not a string", _payload(with_(5, 0))
    yield "functions not columns", _payload(with_(2, "abc"))
    yield "a column missing", _payload(with_(2, fn_cols[:-1]))
    yield "ragged columns", _payload(col(2, 0, fn_cols[0] + ["extra"]))
    yield "a column not a list", _payload(col(2, 0, "x" * len(fn_cols[0])))
    yield "name an int", _payload(col(2, 0, [1] * len(fn_cols[0])))
    yield "static an int", _payload(col(2, 1, [0] * len(fn_cols[1])))
    yield "start a bool", _payload(col(2, 2, [True] * len(fn_cols[2])))
    yield "start a string", _payload(col(2, 2, ["0"] * len(fn_cols[2])))
    yield "params a string", _payload(col(2, 5, ["int a"] * len(fn_cols[5])))
    yield "params holding an int", _payload(col(2, 5, [[1]] * len(fn_cols[5])))
    yield "calls holding null", _payload(col(2, 8, [[None]] * len(fn_cols[8])))
    yield "indirect call of 3", _payload(col(2, 10, [[["T", "f", "x"]]] * len(fn_cols[10])))
    yield "indirect call a string", _payload(col(2, 10, [["Tf"]] * len(fn_cols[10])))
    yield "indirect call of ints", _payload(col(2, 10, [[[1, 2]]] * len(fn_cols[10])))
    yield "ref target null", _payload(col(3, 0, [None] * len(ref_cols[0])))
    yield "ref site an int", _payload(col(3, 2, [3] * len(ref_cols[2])))
    yield "ref index null", _payload(col(3, 3, [None] * len(ref_cols[3])))
    yield "ref address an int", _payload(col(3, 7, [1] * len(ref_cols[7])))
    yield "ref columns short", _payload(with_(3, ref_cols[:9]))
    yield "qom not a list", _payload(with_(6, {"a": 1}))
    yield "qom row short", _payload(with_(6, [["TYPE_X", "TYPE_Y", None, None]]))
    yield "qom row a string", _payload(with_(6, ["TYPE_X_TYPE"]))
    yield "qom abstract an int", _payload(with_(6, [["TYPE_X", "TYPE_Y", None, None, 1]]))
    yield "qom parent null", _payload(with_(6, [["TYPE_X", None, None, None, False]]))
    yield "type_names a list", _payload(with_(7, [["TYPE_X", "x"]]))
    yield "type_names value an int", _payload(with_(7, {"TYPE_X": 1}))
    yield "macros a string", _payload(with_(8, "type_init"))
    yield "macros holding null", _payload(with_(8, [None]))


def test_every_malformed_payload_is_a_bad_entry(pairs, tmp_path):
    sample = max(pairs, key=lambda p: len(p[0].functions) * len(p[0].refs))
    c = Cache(tmp_path / "c", "facts")
    for i, (what, payload) in enumerate(_malformed(sample)):
        with pytest.raises(BadEntry):
            decode(payload)
        # Through the cache (a loose entry and a packed one, checksums in order): a miss.
        key = c.key("loose", str(i))
        assert c.put_raw(key, payload)
        assert c.get(key) is None, what
        pkey = c.key("packed", str(i))
        c.record_packed(c.put_pack([(pkey, payload)]))
        fresh = Cache(tmp_path / "c", "facts")
        assert fresh.get(pkey) is None and fresh.stats["bad"] == 1, what
    assert c.stats["bad"] == i + 1 == c.stats["misses"]
    with pytest.raises(BadEntry):
        decode_facts(b'[1,2]')
    # Without its tag a body is some JSON list to the typed decoder, never facts
    # (the facts pass takes only a (facts, int) tuple).
    untagged = encode(sample)[len(FACTS_TAG):]
    assert type(decode(untagged)) is list
    with pytest.raises(BadEntry):
        decode_facts(untagged)


def test_packs_round_trip_and_are_indexed_for_other_processes(pairs, tmp_path):
    c = Cache(tmp_path / "c", "facts")
    entries = [(c.key("f", str(i)), encode(p)) for i, p in enumerate(pairs)]
    locations = c.put_pack(entries)
    assert [loc[0] for loc in locations] == [k for k, _ in entries]
    assert c.get(entries[0][0]) is None  # not indexed yet
    c.record_packed(locations)
    fresh = Cache(tmp_path / "c", "facts")
    assert [fresh.get(k) for k, _ in entries] == pairs
    assert fresh.stats["hits"] == len(pairs)
    # One pack file for all of them, and no loose entry.
    assert len(list((tmp_path / "c" / "packs").rglob("*.pack"))) == 1
    assert not (tmp_path / "c" / "objects").exists()
    # A second pack adds to the shards; the first one's entries stay indexed.
    more = [(c.key("g", str(i)), encode(p)) for i, p in enumerate(pairs[:3])]
    Cache(tmp_path / "c", "facts").record_packed(c.put_pack(more))
    fresh = Cache(tmp_path / "c", "facts")
    assert fresh.get(entries[-1][0]) == pairs[-1] and fresh.get(more[2][0]) == pairs[2]
    # Another namespace does not see them.
    assert Cache(tmp_path / "c", "other").get(entries[0][0]) is None


def _packed_cache(tmp_path, pairs):
    c = Cache(tmp_path / "c", "facts")
    entries = [(c.key("f", str(i)), encode(p)) for i, p in enumerate(pairs[:4])]
    c.record_packed(c.put_pack(entries))
    pack = next((tmp_path / "c" / "packs").rglob("*.pack"))
    return entries, pack


def test_broken_packs_and_indexes_are_misses(pairs, tmp_path):
    entries, pack = _packed_cache(tmp_path, pairs)
    data = pack.read_bytes()
    pack.write_bytes(data[: len(data) - 10])  # truncated: the last entry is bad, the others good
    c = Cache(tmp_path / "c", "facts")
    assert c.get(entries[-1][0]) is None and c.stats["bad"] == 1
    assert c.get(entries[-1][0]) is None and c.stats["bad"] == 1  # forgotten: not read again
    assert c.get(entries[0][0]) == pairs[0]
    flipped = bytearray(data)
    flipped[-3] ^= 1
    pack.write_bytes(bytes(flipped))
    assert Cache(tmp_path / "c", "facts").get(entries[-1][0]) is None
    pack.unlink()  # a pack deleted under the index
    assert all(Cache(tmp_path / "c", "facts").get(k) is None for k, _ in entries)


@pytest.mark.parametrize("tamper", ["offset", "swap", "name", "traversal", "shape", "garbage", "not a dict"])
def test_tampered_index_is_a_miss(pairs, tmp_path, tamper):
    entries, pack = _packed_cache(tmp_path, pairs)
    shard_path = pack.parent / f"index-{entries[1][0][:2]}.json"
    shard = json.loads(shard_path.read_text())
    loc = shard[entries[1][0]]
    if tamper == "offset":
        loc[1] += 1
    elif tamper == "swap":  # the bytes of another, sound entry: its key is not this one
        other = Cache(tmp_path / "c", "facts")._shard(entries[0][0][:2])[entries[0][0]]
        loc[1], loc[2] = other[1], other[2]
    elif tamper == "name":
        loc[0] = "0" * 32 + ".pack"
    elif tamper == "traversal":  # only files of the pack directory are read, even sound ones
        (tmp_path / "elsewhere.pack").write_bytes(pack.read_bytes())
        loc[0] = os.path.relpath(tmp_path / "elsewhere.pack", pack.parent)
    elif tamper == "shape":
        shard[entries[1][0]] = [loc[0], -5, "x"]
    text = json.dumps(shard)
    if tamper == "garbage":
        text = text[:-3]
    elif tamper == "not a dict":
        text = json.dumps(list(shard.items()))
    shard_path.write_text(text)
    c = Cache(tmp_path / "c", "facts")
    assert c.get(entries[1][0]) is None
    assert c.stats["misses"] == 1


def test_loose_entries_win_over_packed_ones(pairs, tmp_path):
    entries, _ = _packed_cache(tmp_path, pairs)
    c = Cache(tmp_path / "c", "facts")
    c.put(entries[0][0], pairs[3])
    assert Cache(tmp_path / "c", "facts").get(entries[0][0]) == pairs[3]


def test_unwritable_pack_directory_is_a_dropped_write(pairs, tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "packs").write_text("a file where a directory should be")
    c = Cache(tmp_path / "c", "facts")
    assert c.put_pack([(c.key("x"), encode(pairs[0]))]) is None
    assert c.stats["write_errors"] == 1
    c.record_packed([[c.key("x"), "0" * 32 + ".pack", 0, 10]])  # never raises
    assert c.get(c.key("x")) is None


def _pack_writer(directory: str, payloads: list[bytes], rounds: int) -> None:
    c = Cache(directory, "facts")
    for _ in range(rounds):
        entries = [(c.key("k", str(i)), p) for i, p in enumerate(payloads)]
        locations = c.put_pack(entries)
        c.record_packed(locations)


def test_concurrent_packs_are_hits_or_misses_never_wrong(pairs, tmp_path):
    # Two processes store the same keys (same values: keys name their inputs)
    # in packs of their own and merge the index shards at the same time.
    payloads = [encode(p) for p in pairs[:20]]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_pack_writer, args=(str(tmp_path / "c"), payloads, 15)) for _ in range(2)]
    for p in procs:
        p.start()
    reader = Cache(tmp_path / "c", "facts")
    while any(p.is_alive() for p in procs):
        c = Cache(tmp_path / "c", "facts")
        for i in range(len(payloads)):
            v = c.get(c.key("k", str(i)))
            assert v is None or v == pairs[i]
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert [reader.get(reader.key("k", str(i))) for i in range(len(payloads))] == pairs[:20]
    assert not [n for n in os.listdir(next((tmp_path / "c" / "packs").iterdir())) if n.startswith(".tmp-")]


def test_facts_pass_packs_chunks_in_process_and_workers(tmp_path):
    from codemod import runner, wholetree

    src = HERE / "fixtures" / "phase" / "mini"
    items = [(str(p), p.relative_to(src).as_posix()) for p in sorted(src.rglob("*.c"))]
    assert len(items) >= 4
    # Enough files for the chunked paths (SERIAL_BELOW), copies under other names.
    tree = tmp_path / "tree"
    many = []
    for n in range(runner.SERIAL_BELOW // len(items) + 2):
        for path, key in items:
            dest = tree / str(n) / key
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(Path(path).read_bytes())
            many.append((str(dest), f"{n}/{key}"))
    spec = wholetree._facts_spec(str(builtin_rules_dir() / "qemu-macros.toml"))
    plain, _ = runner.facts_pairs(many, spec, 1)
    for jobs in (1, 2):
        cdir = tmp_path / f"cache{jobs}"
        cold, _ = runner.facts_pairs(many, spec, jobs, cache_dir=cdir, use_cache=True)
        assert cold == plain
        assert list(cdir.rglob("*.pack")) and not list(cdir.rglob("objects/*/*"))
        warm, _ = runner.facts_pairs(many, spec, jobs, cache_dir=cdir, use_cache=True)
        assert warm == plain
        assert runner._STATE.facts.stats["hits"] == len(many) and runner._STATE.facts.stats["misses"] == 0


def test_write_atomically_makes_directories_and_steps_around_a_taken_name(tmp_path, monkeypatch):
    import itertools

    target = tmp_path / "a" / "b" / "entry"
    cachemod.write_atomically(target, b"one")  # directories made on demand
    assert target.read_bytes() == b"one"
    monkeypatch.setattr(cachemod, "_TEMP_NAMES", itertools.count(7))
    squatter = target.parent / f".tmp-{os.getpid()}-7"
    squatter.write_bytes(b"someone else's")
    cachemod.write_atomically(str(target), b"two")
    assert target.read_bytes() == b"two" and squatter.read_bytes() == b"someone else's"
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["entry", squatter.name])
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
