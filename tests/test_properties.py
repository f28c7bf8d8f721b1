"""Properties of a rewrite, on generated QEMU-style functions with allocations.

- with no rule at all (an empty rules directory), the bytes stay identical;
- a second run over the output changes nothing;
- bytes outside the edited ranges are copied verbatim, in order;
- the output has no more parse errors than the input.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codemod.cparse import iter_errors, parse_bytes
from codemod.engine import process_file
from codemod.findings import Status
from codemod.rulesdata import builtin_rules_dir
from codemod.runner import RunSpec

REPO = Path(__file__).resolve().parent.parent
RULES = builtin_rules_dir()
PROPS = settings(max_examples=int(os.environ.get("ALLOCFIX_PROPERTY_EXAMPLES", "150")), deadline=None,
                 derandomize=True, suppress_health_check=[HealthCheck.too_slow])

_CONFIGS: dict[str, object] = {}


def config(rules: str):
    if rules not in _CONFIGS:
        _CONFIGS[rules] = RunSpec((rules,), str(RULES / "qemu-macros.toml")).build()
    return _CONFIGS[rules]


def empty_rules(tmp: Path) -> str:
    d = tmp / "no-rules"
    d.mkdir(exist_ok=True)
    return str(d)


# -- generated code ------------------------------------------------------------------

NAMES = st.sampled_from(["buf", "data", "s->regs", "table", "p", "entries"])
SIZES = st.sampled_from(["len", "size * 2", "n * sizeof(uint32_t)", "16", "4096", "sizeof(*s)", "s->count",
                         "1 << 20", "blk_size + 1"])
ALLOC = st.sampled_from(["g_malloc", "g_malloc0", "g_try_malloc", "qemu_memalign", "g_realloc", "g_new",
                         "g_new0"])


@st.composite
def alloc_stmt(draw):
    name = draw(NAMES)
    fn = draw(ALLOC)
    size = draw(SIZES)
    if fn in ("g_new", "g_new0"):
        call = f"{fn}(uint8_t, {size})"
    elif fn == "qemu_memalign":
        call = f"{fn}(4096, {size})"
    elif fn == "g_realloc":
        call = f"{fn}({name}, {size})"
    else:
        call = f"{fn}({size})"
    return f"{name} = {call};"


SIMPLE = st.sampled_from([
    "memset(buf, 0, len);", "s->count++;", "trace_dev_load(s, len);", "/* keep this comment */",
    "qemu_mutex_lock(&s->lock);", "if (len > s->max) {\n        return -EINVAL;\n    }", "g_free(buf);",
    "QTAILQ_FOREACH(e, &s->list, next) {\n        e->seen = true;\n    }", "ret = dev_flush(s);",
    "if (ret < 0) {\n        goto out;\n    }",
])


@st.composite
def function(draw):
    ret = draw(st.sampled_from(["int", "void", "bool", "static int", "static void"]))
    errp = draw(st.booleans())
    params = "DevState *s, size_t len, size_t size, size_t n, size_t blk_size"
    if errp:
        params += ", Error **errp"
    body = draw(st.lists(st.one_of(alloc_stmt(), SIMPLE), min_size=1, max_size=6))
    decls = ["uint8_t *buf = NULL;", "uint8_t *data;", "uint8_t *table;", "uint8_t *p;", "uint8_t *entries;",
             "DevEntry *e;", "int ret = 0;"]
    has_out = any("goto out" in b for b in body)
    lines = [f"{ret} dev_fn{draw(st.integers(0, 99))}({params})", "{"]
    lines += ["    " + d for d in decls] + [""]
    lines += ["    " + b for b in body]
    if has_out:
        lines += ["", "out:"]
    if "void" not in ret:
        lines += ["    return " + ("ret" if "int" in ret else "true") + ";"]
    elif has_out:
        lines += ["    return;"]
    lines += ["}", ""]
    return "\n".join(lines)


@st.composite
def source_file(draw):
    head = '#include "qemu/osdep.h"\n#include "qapi/error.h"\n\n'
    text = head + "\n".join(draw(st.lists(function(), min_size=1, max_size=3)))
    data = text.encode()
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    return data


def _errors(data: bytes) -> int:
    _, tree = parse_bytes(data, config(str(RULES)).profile)
    return sum(1 for _ in iter_errors(tree.root_node))


def _edit_ranges(result) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end, _, _ in sorted(result.hunks_info):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


# -- the properties -----------------------------------------------------------------------


@PROPS
@given(source_file())
def test_no_rule_leaves_bytes_identical(tmp_path_factory, data):
    result = process_file("gen.c", "gen.c", config(empty_rules(tmp_path_factory.getbasetemp())), data)
    assert result.status is Status.OK
    assert result.rewritten is None and not result.changed


@PROPS
@given(source_file())
def test_rewrite_is_stable_local_and_parses(data):
    cfg = config(str(RULES))
    first = process_file("gen.c", "gen.c", cfg, data)
    assert first.status is Status.OK, first.message
    if not first.changed:
        return
    new = first.rewritten
    # A second run changes nothing.
    second = process_file("gen.c", "gen.c", cfg, new)
    assert second.status is Status.OK and not second.changed, second.rewritten
    # Bytes outside the edits are untouched: every stretch between edits is found
    # in the output, in order, the first at its start and the last at its end.
    ranges = _edit_ranges(first)
    assert ranges, "a change without a recorded edit"
    keep = []
    pos = 0
    for start, end in ranges:
        keep.append(data[pos:start])
        pos = max(pos, end)
    keep.append(data[pos:])
    assert new.startswith(keep[0]) and new.endswith(keep[-1])
    at = len(keep[0])
    for piece in keep[1:-1]:
        found = new.find(piece, at)
        assert found >= 0, piece
        at = found + len(piece)
    # Line endings follow the file.
    if b"\r\n" in data:
        assert new.count(b"\n") == new.count(b"\r\n")
    # No new parse errors.
    assert _errors(new) <= _errors(data)


def test_cli_with_an_empty_rules_directory_changes_nothing(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    src = (b'#include "qemu/osdep.h"\n\nint dev_load(DevState *s, size_t len, Error **errp)\n{\n'
           b"    uint8_t *buf;\n\n    buf = g_malloc(len);\n    s->buf = buf;\n    return 0;\n}\n")
    (tree / "dev.c").write_bytes(src)
    rules = tmp_path / "empty-rules"
    rules.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-m", "codemod", "--rules", str(rules), "."], cwd=tree, env=env,
                          capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (tree / "dev.c").read_bytes() == src
    dry = subprocess.run([sys.executable, "-m", "codemod", "--dry-run", "--rules", str(rules), "."], cwd=tree,
                         env=env, capture_output=True, timeout=600)
    assert dry.returncode == 0 and dry.stdout == b""


_LINES = st.lists(st.sampled_from([b"{\n", b"}\n", b"    x = 1;\n", b"    return 0;\n", b"\n", b"a\n", b"b\n"])
                  | st.builds(lambda n: b"    f(%d);\n" % n, st.integers(0, 40)), max_size=200)


@PROPS
@given(_LINES, st.lists(st.tuples(st.integers(0, 400), st.integers(0, 2), st.integers(0, 60)), max_size=8))
def test_diff_hunks_turn_the_old_text_into_the_new(old_lines, edits):
    # The patience-style opcodes must describe the change exactly: replaying
    # the hunks of a diff on the old lines gives the new ones.
    from codemod.render import diff

    new_lines = list(old_lines)
    for at, kind, n in edits:
        at = at % (len(new_lines) + 1)
        if kind == 0:
            new_lines.insert(at, b"    g(%d);\n" % n)
        elif kind == 1 and new_lines:
            del new_lines[min(at, len(new_lines) - 1)]
        elif new_lines:
            new_lines[min(at, len(new_lines) - 1)] = b"    h(%d);\n" % n
    old, new = b"".join(old_lines), b"".join(new_lines)
    small_gap = diff._SMALL_GAP
    diff._SMALL_GAP = 0  # anchor every gap, however small, so that path is what is checked
    try:
        found = diff.hunks(old, new, context=3)
    finally:
        diff._SMALL_GAP = small_gap
    replayed, pos = [], 0
    for h in found:
        start = h.old_start - 1 if h.old_count else h.old_start
        replayed += old_lines[pos:start]
        assert [l[1:] for l in h.lines if l[:1] in b" -"] == old_lines[start:start + h.old_count]
        replayed += [l[1:] for l in h.lines if l[:1] in b" +"]
        pos = start + h.old_count
    replayed += old_lines[pos:]
    assert replayed == new_lines


@PROPS
@given(_LINES, _LINES, st.integers(0, 5), st.integers(0, 5))
def test_common_head_and_tail_are_the_longest(a, b, cut_a, cut_b):
    # Binary search over list slices must find what a line-by-line walk finds.
    from codemod.render.diff import _common_head, _common_tail

    b = a[: len(a) // 2] + b + a[len(a) // 2:]
    a1, b1 = min(cut_a, len(a)), min(cut_b, len(b))
    head = 0
    while a1 + head < len(a) and b1 + head < len(b) and a[a1 + head] == b[b1 + head]:
        head += 1
    assert _common_head(a, b, a1, len(a), b1, len(b)) == head
    tail = 0
    while tail < len(a) - a1 and tail < len(b) - b1 and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    assert _common_tail(a, b, a1, len(a), b1, len(b)) == tail


@PROPS
@given(st.lists(st.sampled_from(["g_malloc", "g_malloc0", "g_new", "g_new0", "malloc", "g_try_malloc", "new",
                                 "qemu_memalign", "alloc"]), min_size=1, max_size=6),
       st.lists(st.sampled_from([b"g_malloc0(", b"x = g_new(T, 1);", b"malloc", b"/* nothing */", b"g_try_",
                                 b"qemu_memalign", b"g_ne", b"w"]), max_size=6))
def test_minimal_words_decide_like_all_words(words, pieces):
    # Dropping the words that contain another word of the group never changes
    # whether one of them occurs (the prefilter of every rule relies on it).
    from codemod.smpl.runtime import any_word_in, minimal_words

    data = b" ".join(pieces)
    assert any_word_in(minimal_words(words), data, {}) == any(w.encode() in data for w in words)


@PROPS
@given(st.lists(st.sampled_from(["g_malloc(n);", "xg_malloc(n);", "my_g_malloc(1);", "g_malloc0(n);", "f(g_new(T, 2));",
                                 "p->g_malloc(3);", "int g_malloc;", "g_malloc (4);", "(g_malloc)(5);", "x = 1;",
                                 "g_new0(T, n);", "_g_new(T, 1);"]), max_size=10))
def test_calls_named_finds_what_a_tree_walk_finds(stmts):
    from codemod.cparse import calls_named, default_profile, parse_source
    from codemod.source import SourceFile

    data = ("void f(void)\n{\n" + "".join(f"    {s}\n" for s in stmts) + "}\n").encode()
    parsed = parse_source(SourceFile("t.c", "t.c", data), default_profile())
    names = frozenset({"g_malloc", "g_new"})
    walked, stack = [], [parsed.tree.root_node]
    while stack:
        n = stack.pop()
        stack.extend(reversed(n.children))
        fn = n.child_by_field_name("function") if n.type == "call_expression" else None
        if fn is not None and fn.type == "identifier" and parsed.masked[fn.start_byte:fn.end_byte].decode() in names:
            walked.append((n.start_byte, fn.start_byte))
    assert sorted((c.start_byte, i.start_byte) for c, i in calls_named(parsed, names)) == sorted(walked)
