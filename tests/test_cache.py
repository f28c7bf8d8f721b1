"""The result cache: keys, round trips, corruption, concurrency, the stat index."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from codemod import cache as cachemod
from codemod.cache import Cache, StatIndex, content_hash, decode, default_cache_dir, encode, ruleset_key
from codemod.findings import Action, FileResult, Finding, PhaseInfo, SizeInfo, Status


def _result() -> FileResult:
    finding = Finding(file="hw/foo.c", offset=120, line=7, column=11, function="foo_realize",
                      allocator="g_malloc", policy="R5", rule="large-alloc",
                      size=SizeInfo("large", None, "len: parameter"),
                      phase=PhaseInfo("runtime", ("guest-io",), ("foo_write", "foo_realize"), "via MMIO"),
                      action=Action.REWRITE, reason="large and reachable after startup",
                      error_path="return -ENOMEM")
    return FileResult("/t/hw/foo.c", "hw/foo.c", Status.OK, original=b"",
                      rewritten=b"int x;\r\n\xff\x00tail", findings=[finding],
                      hunks_info=[(100, 130, "large-alloc:fix", "R5 rewrite: ...")], parse_errors=2,
                      sites_in_error_functions=1, sites=1, dropped=["why"])


def test_encode_decode_round_trip_keeps_types():
    value = _result()
    back = decode(encode(value))
    assert back == value
    assert isinstance(back.findings[0].action, Action) and isinstance(back.status, Status)
    assert back.hunks_info[0] == (100, 130, "large-alloc:fix", "R5 rewrite: ...")
    assert isinstance(back.findings[0].phase.via, tuple)
    assert decode(encode({"a": {1, 2}, ("k", 1): frozenset({"x"})})) == {"a": {1, 2}, ("k", 1): frozenset({"x"})}


def test_unknown_classes_are_refused_both_ways():
    class Foreign:
        pass

    with pytest.raises(TypeError):
        encode(Foreign())
    with pytest.raises(cachemod.BadEntry):
        decode(b'{"$c":"Popen","f":{"args":"rm -rf /"}}')
    with pytest.raises(cachemod.BadEntry):
        decode(b'{"$e":["Signals",9]}')
    with pytest.raises(cachemod.BadEntry):
        decode(b'{"$c":"FileResult","f":{"no_such_field":1}}')
    # Values are stored by position: a wrong count is a bad entry, not a shifted object.
    assert encode(PhaseInfo("runtime")).startswith(b'{"$p":"PhaseInfo","v":["runtime"')
    with pytest.raises(cachemod.BadEntry):
        decode(b'{"$p":"PhaseInfo","v":["runtime"]}')
    with pytest.raises(cachemod.BadEntry):
        decode(b'{"$p":"Popen","v":["rm -rf /"]}')


def test_put_get_and_miss(tmp_path):
    c = Cache(tmp_path / "c", "ns")
    key = c.key("a" * 64, "/t/hw/foo.c", "hw/foo.c", "")
    assert c.get(key) is None
    assert c.put(key, _result())
    assert c.get(key) == _result()
    assert c.stats["hits"] == 1 and c.stats["misses"] == 1
    # The cache keeps itself out of git and out of backups.
    assert (tmp_path / "c" / ".gitignore").read_text() == "*\n"
    assert (tmp_path / "c" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_key_depends_on_every_part(tmp_path):
    a = Cache(tmp_path, "ns1")
    b = Cache(tmp_path, "ns2")
    base = a.key("h", "p", "d", "")
    assert base != b.key("h", "p", "d", "")
    assert base != a.key("h2", "p", "d", "")
    assert base != a.key("h", "p", "d", "phase")
    assert a.key("ab", "c") != a.key("a", "bc")  # parts are length-prefixed


def _entry_path(c: Cache, key: str) -> Path:
    return c.directory / "objects" / key[:2] / key[2:]


@pytest.mark.parametrize("damage", ["truncate-header", "truncate-payload", "flip-payload-byte", "bad-magic",
                                    "other-key", "empty", "garbage", "foreign-class"])
def test_bad_entries_are_misses_and_get_recomputed(tmp_path, damage):
    c = Cache(tmp_path, "ns")
    key = c.key("k")
    other = c.key("other")
    c.put(key, _result())
    c.put(other, FileResult("/x", "x", Status.OK))
    path = _entry_path(c, key)
    raw = path.read_bytes()
    if damage == "truncate-header":
        raw = raw[:20]
    elif damage == "truncate-payload":
        raw = raw[:-5]
    elif damage == "flip-payload-byte":
        raw = raw[:-3] + bytes([raw[-3] ^ 0x01]) + raw[-2:]
    elif damage == "bad-magic":
        raw = b"XXXXXXXX" + raw[8:]
    elif damage == "other-key":
        raw = _entry_path(c, other).read_bytes()
    elif damage == "empty":
        raw = b""
    elif damage == "garbage":
        raw = os.urandom(300)
    elif damage == "foreign-class":
        # A well-formed entry (right key, right checksum) whose payload names a class
        # outside the whitelist: decoding refuses it.
        import hashlib

        payload = b'{"$c":"Popen","f":{}}'
        raw = cachemod._HEADER.pack(cachemod.MAGIC, cachemod.FORMAT, bytes.fromhex(key), len(payload),
                                    hashlib.blake2b(payload, digest_size=32).digest()) + payload
    path.write_bytes(raw)
    assert c.get(key) is None
    assert c.stats["bad"] == 1
    assert not path.exists()  # dropped, so the next run writes a good one
    assert c.put(key, _result()) and c.get(key) == _result()


def test_unwritable_cache_is_silent(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    c = Cache(blocker / "cache", "ns")
    key = c.key("k")
    assert c.put(key, _result()) is False
    assert c.get(key) is None
    assert c.stats["write_errors"] == 1


def _hammer(directory: str, key: str, rounds: int, seed: int, queue) -> None:
    c = Cache(directory, "ns")
    value = _result()
    bad = 0
    for i in range(rounds):
        if (i + seed) % 2:
            c.put(key, value)
        else:
            got = c.get(key)
            if got is not None and got != value:
                bad += 1
    queue.put((bad, c.stats["bad"]))


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path):
    c = Cache(tmp_path, "ns")
    key = c.key("shared")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), key, 300, n, queue)) for n in range(4)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    assert outcomes == [(0, 0)] * 4
    assert c.get(key) == _result()
    leftovers = [p for p in (tmp_path / "objects").rglob(".tmp-*")]
    assert leftovers == []


def test_ruleset_key_covers_rules_profile_allocators_and_options(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.cocci").write_text("@r@\nexpression E;\n@@\n- foo(E)\n+ bar(E)\n")
    profile = tmp_path / "macros.toml"
    profile.write_text("[attributes]\nnames = ['coroutine_fn']\n")
    alloc = tmp_path / "allocators.toml"
    alloc.write_text("[g_malloc]\nchecked = 'g_try_malloc'\nsize = 'arg0'\n")
    key = ruleset_key([str(rules)], str(profile), str(alloc), (4096,))
    assert key == ruleset_key([str(rules)], str(profile), str(alloc), (4096,))
    assert key != ruleset_key([str(rules)], str(profile), str(alloc), (8192,))
    (rules / "a.cocci").write_text("@r@\nexpression E;\n@@\n- foo(E)\n+ baz(E)\n")
    k2 = ruleset_key([str(rules)], str(profile), str(alloc), (4096,))
    assert k2 != key
    (rules / "b.cocci").write_text("")
    k3 = ruleset_key([str(rules)], str(profile), str(alloc), (4096,))
    assert k3 != k2
    profile.write_text("[attributes]\nnames = []\n")
    k4 = ruleset_key([str(rules)], str(profile), str(alloc), (4096,))
    assert k4 != k3
    alloc.write_text("[g_malloc]\nchecked = 'g_try_malloc'\nsize = 'arg1'\n")
    assert ruleset_key([str(rules)], str(profile), str(alloc), (4096,)) != k4


def test_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    plain = tmp_path / "plain" / "hw"
    plain.mkdir(parents=True)
    assert default_cache_dir(plain) == tmp_path / "xdg" / "allocfix"
    checkout = tmp_path / "qemu"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "hw" / "scsi").mkdir(parents=True)
    assert default_cache_dir(checkout / "hw" / "scsi") == checkout / ".allocfix" / "cache"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir(plain) == tmp_path / "home" / ".cache" / "allocfix"


def test_stat_index_trusts_only_old_unchanged_files(tmp_path):
    f = tmp_path / "a.c"
    f.write_bytes(b"int a;\n")
    old = time.time_ns() - 10 * 1_000_000_000
    os.utime(f, ns=(old, old))
    st = os.stat(f)
    idx = StatIndex(tmp_path / "cache", str(tmp_path))
    assert idx.lookup(str(f), st) is None
    idx.record(str(f), st, content_hash(b"int a;\n"), time.time_ns())
    idx.save()
    again = StatIndex(tmp_path / "cache", str(tmp_path))
    assert again.lookup(str(f), os.stat(f)) == content_hash(b"int a;\n")
    # Same size, same mtime (set back by hand), new content: ctime still moves.
    f.write_bytes(b"int b;\n")
    os.utime(f, ns=(old, old))
    assert again.lookup(str(f), os.stat(f)) is None


def test_stat_index_distrusts_racy_entries(tmp_path):
    f = tmp_path / "a.c"
    f.write_bytes(b"int a;\n")
    st = os.stat(f)
    idx = StatIndex(tmp_path / "cache", str(tmp_path))
    # Recorded in the same instant the file was written: a later write within
    # the same mtime tick would go unnoticed, so the entry is not trusted.
    idx.record(str(f), st, content_hash(b"int a;\n"), st.st_mtime_ns)
    idx.save()
    assert StatIndex(tmp_path / "cache", str(tmp_path)).lookup(str(f), st) is None


def test_stat_index_survives_a_corrupt_file(tmp_path):
    idx = StatIndex(tmp_path / "cache", str(tmp_path))
    idx.path.parent.mkdir(parents=True)
    idx.path.write_bytes(b"\x00{not json")
    again = StatIndex(tmp_path / "cache", str(tmp_path))
    f = tmp_path / "a.c"
    f.write_bytes(b"x")
    assert again.lookup(str(f), os.stat(f)) is None


def test_stat_index_is_not_rewritten_for_a_few_changed_files(tmp_path):
    old = time.time_ns() - 10 * 1_000_000_000
    files = []
    for i in range(40):
        f = tmp_path / f"f{i}.c"
        f.write_bytes(b"int a%d;\n" % i)
        os.utime(f, ns=(old, old))
        files.append(f)
    idx = StatIndex(tmp_path / "cache", str(tmp_path))
    for f in files:
        idx.record(str(f), os.stat(f), content_hash(f.read_bytes()), time.time_ns())
    idx.save()
    saved = idx.path.read_bytes()
    # One file changed: every other entry is still trusted, the changed one is
    # not (its stat moved), and the index file is left as it was.
    files[0].write_bytes(b"int changed;\n")
    os.utime(files[0], ns=(old, old))
    again = StatIndex(tmp_path / "cache", str(tmp_path))
    for f in files[1:]:
        assert again.lookup(str(f), os.stat(f)) == content_hash(f.read_bytes())
    assert again.lookup(str(files[0]), os.stat(files[0])) is None
    again.record(str(files[0]), os.stat(files[0]), content_hash(b"int changed;\n"), time.time_ns())
    again.save()
    assert idx.path.read_bytes() == saved
    assert StatIndex(tmp_path / "cache", str(tmp_path)).lookup(str(files[0]), os.stat(files[0])) is None
    # Many changed files: the index is rewritten and trusts them from then on.
    third = StatIndex(tmp_path / "cache", str(tmp_path))
    for f in files[:20]:
        f.write_bytes(f.read_bytes() + b"/* edit */\n")
        os.utime(f, ns=(old, old))
        assert third.lookup(str(f), os.stat(f)) is None
        third.record(str(f), os.stat(f), content_hash(f.read_bytes()), time.time_ns())
    for f in files[20:]:
        third.lookup(str(f), os.stat(f))
    third.save()
    assert idx.path.read_bytes() != saved
    last = StatIndex(tmp_path / "cache", str(tmp_path))
    assert all(last.lookup(str(f), os.stat(f)) == content_hash(f.read_bytes()) for f in files)
