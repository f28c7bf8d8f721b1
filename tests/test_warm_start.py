"""What a warm re-run spends before any file is looked at: imports and keys.

A re-run after a small edit is mostly start-up (issue 7), so these tests
pin the start-up choices: piped output does not load rich, the code
fingerprint follows the parser's files, and the cache's per-file key parts
stay a pair compared as strings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from codemod import cache
from helpers import REPO

ALLOC = b"""\
#include <stdint.h>

void *make_table(uint32_t n)
{
    return g_malloc(n * 4096);
}
"""

_PROBE = """
import sys
from codemod.cli import main
code = main(sys.argv[1:])
print("rich loaded" if "rich" in sys.modules else "rich not loaded", file=sys.stderr)
print("pool loaded" if "multiprocessing" in sys.modules else "pool not loaded", file=sys.stderr)
sys.exit(code)
"""


def _probe(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(REPO))
    full.pop("FORCE_COLOR", None)
    full.pop("TTY_COMPATIBLE", None)
    full.update(env or {})
    return subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=tmp_path, capture_output=True, env=full,
                          timeout=300)


def _tree(tmp_path: Path) -> None:
    (tmp_path / "MAINTAINERS").write_text("")
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw" / "table.c").write_bytes(ALLOC)


def test_piped_dry_run_does_not_load_rich_or_the_pool(tmp_path):
    _tree(tmp_path)
    cdir = tmp_path / "cache"
    first = _probe(tmp_path, "--dry-run", "-j", "1", "--cache-dir", str(cdir), "hw")
    assert first.returncode == 0, first.stderr
    assert b"g_try_malloc" in first.stdout or b"g_malloc" in first.stdout
    assert b"rich not loaded" in first.stderr
    second = _probe(tmp_path, "--dry-run", "-j", "2", "--cache-dir", str(cdir), "hw")
    assert second.stdout == first.stdout
    assert b"rich not loaded" in second.stderr and b"pool not loaded" in second.stderr


def test_forced_colour_still_renders_with_rich(tmp_path):
    _tree(tmp_path)
    forced = _probe(tmp_path, "--dry-run", "--no-cache", "hw", env={"FORCE_COLOR": "1"})
    assert forced.returncode == 0, forced.stderr
    assert b"rich loaded" in forced.stderr
    always = _probe(tmp_path, "--dry-run", "--no-cache", "--color", "always", "hw")
    assert b"rich loaded" in always.stderr


def test_code_fingerprint_follows_the_parser_binaries(tmp_path, monkeypatch):
    import tree_sitter

    fake = tmp_path / "tree_sitter"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    binary = fake / "_binding.cpython-311-x86_64-linux-gnu.so"
    binary.write_bytes(b"\x7fELF one build")
    monkeypatch.setattr(tree_sitter, "__file__", str(fake / "__init__.py"))
    cache.code_fingerprint.cache_clear()
    try:
        before = cache.code_fingerprint()
        binary.write_bytes(b"\x7fELF another, longer build")
        cache.code_fingerprint.cache_clear()
        after = cache.code_fingerprint()
    finally:
        cache.code_fingerprint.cache_clear()
    assert before != after


def test_result_keys_keep_the_dependency_and_phase_parts_apart(tmp_path):
    from codemod import runner

    c = cache.Cache(tmp_path, "ns")
    a = runner._result_key(c, "h", "/t/a.c", "a.c", ("common", "phase"))
    assert a != runner._result_key(c, "h", "/t/a.c", "a.c", ("common", "other phase"))
    assert a != runner._result_key(c, "h", "/t/a.c", "a.c", ("other common", "phase"))
    # The two parts are hashed as separate parts, not concatenated.
    assert runner._result_key(c, "h", "/t/a.c", "a.c", ("ab", "c")) != runner._result_key(
        c, "h", "/t/a.c", "a.c", ("a", "bc"))


def test_a_bundle_line_of_another_dependency_key_is_not_used(tmp_path):
    from codemod import runner
    from codemod.findings import FileResult, Status

    c = cache.Cache(tmp_path, "ns")
    b = runner._Bundle(c, str(tmp_path))
    plain = FileResult("/t/a.c", "a.c", Status.OK, sites=2)
    b.note("/t/a.c", "a.c", "h", ("common", "phase"), plain)
    b.save()
    again = runner._Bundle(c, str(tmp_path))
    hit = again.lookup("/t/a.c", "a.c", "h", ("common", "phase"))
    assert hit is not None and hit.sites == 2
    assert again.lookup("/t/a.c", "a.c", "h", ("new common", "phase")) is None
    assert again.lookup("/t/a.c", "a.c", "h", ("common", "new phase")) is None


@pytest.mark.parametrize("old_line", [b'["/t/a.c","a.c","h","x",["plain",0,2,0]]', b"not json"])
def test_a_bundle_in_an_older_shape_is_a_miss(tmp_path, old_line):
    from codemod import runner

    c = cache.Cache(tmp_path, "ns")
    key = c.key("bundle", os.path.abspath(str(tmp_path)))
    c.put_raw(key, old_line)
    b = runner._Bundle(c, str(tmp_path))
    assert b.lookup("/t/a.c", "a.c", "h", ("x", "")) is None


def test_surely_not_terminal_follows_richs_overrides(monkeypatch):
    from codemod.cli import _surely_not_terminal

    piped = types.SimpleNamespace(isatty=lambda: False)
    tty = types.SimpleNamespace(isatty=lambda: True)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert _surely_not_terminal(piped, "auto")
    assert not _surely_not_terminal(tty, "auto")
    assert not _surely_not_terminal(piped, "always")
    assert _surely_not_terminal(tty, "never")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not _surely_not_terminal(piped, "auto")
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert not _surely_not_terminal(piped, "auto")


@pytest.mark.parametrize("old, new", [
    (b"a\nb\nc\n", b"a\nB\nc\n"),
    (b"a\r\nb\r\nc", b"a\r\nb2\r\nb3\r\nc"),  # CRLF, no final newline
    (b"", b"x\n"),
    (b"x\n", b""),
    (b"one\ntwo\n" * 50, (b"one\ntwo\n" * 20) + b"inserted\n" + (b"one\ntwo\n" * 30)),
    (b"\xff\xfe bytes\n\tline\n", b"\xff\xfe bytes\n\tline\nmore\n"),
])
def test_line_edits_rebuild_the_rewrite(old, new):
    from codemod.render.diff import apply_line_edits, line_edits

    edits = line_edits(old, new)
    assert apply_line_edits(old, edits) == new
    assert sum(len(r) for _, _, r in edits) <= len(new)


@pytest.mark.parametrize("edits", [
    [[2, 1, b"x"]],            # end before start
    [[0, 9, b"x"]],            # past the end
    [[1, 2, b"x"], [0, 1, b"y"]],  # out of order
    [[0, 1, "text"]],          # not bytes
    [[0, 1]],                  # wrong shape
    ["edit"],
])
def test_malformed_line_edits_are_refused(edits):
    from codemod.render.diff import apply_line_edits

    with pytest.raises(ValueError):
        apply_line_edits(b"a\nb\nc\n", edits)


def test_a_cached_rewrite_is_stored_as_edits_and_rebuilt(tmp_path):
    """The result entry of a changed file holds line edits, and a warm run
    prints the same diff as the cold one; a tampered edit list is a miss."""
    _tree(tmp_path)
    cdir = tmp_path / "cache"
    target = tmp_path / "hw" / "table.c"
    target.write_bytes(ALLOC.replace(b"uint32_t n", b"uint32_t n, Error **errp"))
    cold = _probe(tmp_path, "--dry-run", "-j", "1", "--cache-dir", str(cdir), "hw")
    assert cold.returncode == 0, cold.stderr
    warm = _probe(tmp_path, "--dry-run", "-j", "1", "--cache-dir", str(cdir), "hw")
    assert warm.stdout == cold.stdout

    from codemod import runner
    from codemod.findings import FileResult, Status

    data = target.read_bytes()
    result = FileResult(str(target), "hw/table.c", Status.OK, original=data,
                        rewritten=data.replace(b"g_malloc(", b"g_try_malloc("))
    stored = runner._storable(result, data)
    assert stored[0] == "edits" and stored[2].rewritten is None and stored[2].original == b""
    c = cache.Cache(tmp_path / "c2", "ns")
    chash = cache.content_hash(data)
    key = runner._result_key(c, chash, str(target), "hw/table.c", ("d", "p"))
    c.put(key, stored)
    back = runner._cached_result(c, str(target), "hw/table.c", chash, ("d", "p"))
    assert back is not None and back.rewritten == result.rewritten and back.original == data
    c.put(key, ["edits", [[0, 999, b"x"]], stored[2]])
    assert runner._cached_result(c, str(target), "hw/table.c", chash, ("d", "p")) is None


@pytest.mark.parametrize("included, directive", [
    ("hw/table.c.inc", b'#include "table.c.inc"'),  # a fragment: part of the header fingerprint
    ("lib/table.c", b'#include "../lib/table.c"'),  # a C file: keyed on its bytes per result
])
def test_editing_an_included_file_invalidates_the_includers_result(tmp_path, included, directive):
    (tmp_path / "MAINTAINERS").write_text("")
    (tmp_path / "hw").mkdir()
    (tmp_path / "lib").mkdir()
    source = tmp_path / included
    source.write_bytes(b"#define TABLE_ENTRIES 4\n")
    (tmp_path / "hw" / "table-user.c").write_bytes(b"#include <stdint.h>\n" + directive + b"""

typedef struct Entry {
    uint64_t addr;
    uint64_t len;
} Entry;

Entry *table_new(void)
{
    return g_new0(Entry, TABLE_ENTRIES);
}
""")
    cdir = tmp_path / "cache"
    args = ("--dry-run", "--format", "json", "--all", "-j", "1")
    small = _probe(tmp_path, *args, "--cache-dir", str(cdir), "hw/table-user.c")
    assert small.returncode == 0, small.stderr
    assert b'"small"' in small.stdout
    source.write_bytes(b"#define TABLE_ENTRIES (1024 * 1024)\n")
    warm = _probe(tmp_path, *args, "--cache-dir", str(cdir), "hw/table-user.c")
    fresh = _probe(tmp_path, *args, "--no-cache", "hw/table-user.c")
    assert b'"large"' in fresh.stdout
    strip = lambda out: [line for line in out.splitlines() if b'"seconds"' not in line]  # noqa: E731
    assert strip(warm.stdout) == strip(fresh.stdout)
    again = _probe(tmp_path, *args, "--cache-dir", str(cdir), "hw/table-user.c")
    assert strip(again.stdout) == strip(fresh.stdout)


def test_tree_files_takes_the_stats_the_run_already_has(tmp_path):
    from codemod.treestat import tree_files

    (tmp_path / "a.h").write_text("int a;\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.c.inc").write_text("int b;\n")
    (tmp_path / "sub" / "notes.txt").write_text("x\n")
    earlier = os.stat(tmp_path / "a.h")
    (tmp_path / "a.h").write_text("int a, grown;\n")
    listed = {rel: st for _, rel, st in tree_files(tmp_path, {str(tmp_path / "a.h"): earlier})}
    assert set(listed) == {"a.h", "sub/b.c.inc"}
    assert listed["a.h"] is earlier  # the run's own stat, not a second one
    assert listed["sub/b.c.inc"].st_size == len("int b;\n")
    fresh = {rel: st for _, rel, st in tree_files(tmp_path)}
    assert fresh["a.h"].st_size == len("int a, grown;\n")
