"""C front end: length-preserving macro masking and parsing (codemod/cparse.py).

Snippets are original code written in QEMU's style, not copied from QEMU.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codemod.analysis.sites import find_sites
from codemod.cparse import (
    MacroProfile,
    default_profile,
    mask_macros,
    parse_source,
    parser,
    registration_calls,
)
from codemod.errors import RuleError
from codemod.source import SourceFile

PROFILE = default_profile()


def parse(text: str | bytes, profile: MacroProfile = PROFILE):
    data = text.encode() if isinstance(text, str) else text
    return parse_source(SourceFile("t.c", "t.c", data), profile)


def assert_same_shape(original: bytes, masked: bytes) -> None:
    assert len(masked) == len(original)
    nl = [m.start() for m in re.finditer(rb"[\r\n]", original)]
    assert [m.start() for m in re.finditer(rb"[\r\n]", masked)] == nl


def nodes_of_type(parsed, type_: str):
    out, stack = [], [parsed.root]
    while stack:
        n = stack.pop()
        if n.type == type_:
            out.append(n)
        stack.extend(n.children)
    return sorted(out, key=lambda n: n.start_byte)


def calls_named(parsed, name: str):
    return [
        c
        for c in nodes_of_type(parsed, "call_expression")
        if parsed.text(c.child_by_field_name("function")) == name
    ]


# --- each macro class -------------------------------------------------------

ATTRIBUTES = b"""\
static void coroutine_fn blk_co_flush_queue(BlockBackend *blk)
{
    g_autofree char *name = g_strdup("disk");
    blk_drain(blk);
}

typedef struct QEMU_PACKED DiskHeader {
    uint32_t magic;
} DiskHeader;
"""


def test_attributes_are_blanked_and_functions_parse():
    parsed = parse(ATTRIBUTES)
    assert_same_shape(ATTRIBUTES, parsed.masked)
    assert not parsed.has_errors
    assert b"coroutine_fn" not in parsed.masked and b"QEMU_PACKED" not in parsed.masked
    fns = nodes_of_type(parsed, "function_definition")
    assert len(fns) == 1
    # The tree's byte ranges point at the original text.
    assert parsed.text(fns[0]).startswith("static void coroutine_fn blk_co_flush_queue(")
    [strdup] = calls_named(parsed, "g_strdup")
    assert parsed.text(strdup) == 'g_strdup("disk")'


ATTRIBUTE_CALLS = b"""\
void G_GNUC_PRINTF(2, 3) trace_report(int level, const char *fmt, ...);
static int counters[4] QEMU_ALIGNED(64);
"""


def test_attribute_calls_are_blanked():
    parsed = parse(ATTRIBUTE_CALLS)
    assert_same_shape(ATTRIBUTE_CALLS, parsed.masked)
    assert not parsed.has_errors
    assert b"G_GNUC_PRINTF" not in parsed.masked and b"(64)" not in parsed.masked


ITERATORS = b"""\
static void flush_all(DiskState *s)
{
    DiskReq *req, *next;

    QTAILQ_FOREACH_SAFE(req, &s->queue, next_req) {
        req->buf = g_malloc(req->len);
    }
    WITH_QEMU_LOCK_GUARD(&s->lock) {
        s->pending = 0;
    }
    WITH_RCU_READ_LOCK_GUARD() {
        s->gen++;
    }
    QLIST_FOREACH(req, &s->done, link)
        req->ret = 0;
}
"""


def test_iterators_become_while_loops():
    parsed = parse(ITERATORS)
    assert_same_shape(ITERATORS, parsed.masked)
    assert not parsed.has_errors
    loops = nodes_of_type(parsed, "while_statement")
    assert [parsed.text(w).split("(")[0].strip() for w in loops] == [
        "QTAILQ_FOREACH_SAFE",
        "WITH_QEMU_LOCK_GUARD",
        "WITH_RCU_READ_LOCK_GUARD",
        "QLIST_FOREACH",
    ]
    # The allocation inside the loop is a site with an error-free function.
    [site] = find_sites(parsed)
    assert parsed.text(site.call) == "g_malloc(req->len)"
    assert site.function is not None and not site.function.has_error


def test_unknown_iterators_are_inferred_from_a_following_brace():
    src = b"""\
static void disk_walk(Disk *d)
{
    if (d->ready)
        disk_for_each_slot(d, slot) {
            slot->buf = g_malloc(slot->len);
        }
    else
        disk_for_each_slot(d, slot) {
            slot->len = 0;
        }
    disk_flush(d);
    if (disk_ok(d)) {
        return;
    }
}
"""
    parsed = parse(src)
    assert_same_shape(src, parsed.masked)
    assert not parsed.has_errors
    assert parsed.masked.count(b"while") == 2 and b"disk_flush(d)" in parsed.masked
    [site] = find_sites(parsed)
    assert not site.function.has_error


def test_iterator_name_called_as_plain_function_is_left_alone():
    src = b"void f(void)\n{\n    CPU_FOREACH(cpu_reset_one, NULL);\n}\n"
    parsed = parse(src)
    assert parsed.masked == src
    assert not parsed.has_errors


TOPLEVEL = b"""\
OBJECT_DECLARE_SIMPLE_TYPE(DiskState, DISK_STATE)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DiskReq, disk_req_free);

static void disk_init(Object *obj)
{
    DiskState *s = DISK_STATE(obj);
    s->buf = g_malloc0(4096);
}
"""


def test_toplevel_declaration_macros_are_blanked():
    parsed = parse(TOPLEVEL)
    assert_same_shape(TOPLEVEL, parsed.masked)
    assert not parsed.has_errors
    assert parsed.masked.startswith(b" " * len(b"OBJECT_DECLARE_SIMPLE_TYPE(DiskState, DISK_STATE)") + b"\n")
    [site] = find_sites(parsed)
    assert parsed.text(site.name_node) == "g_malloc0"


TYPES = b"""\
typedef struct DiskState {
    QTAILQ_HEAD(, DiskReq) queue;
    QLIST_ENTRY(DiskState) link;
} DiskState;

static void disk_setup(DiskState *s, int n)
{
    g_autoptr(GString) str = g_string_new(NULL);
    struct iovec *iov = g_new0(struct iovec, n);
    const char **names = g_new(const char *, n + 1);
    DiskReq *req = container_of(s->first, struct DiskReq, node);
    s->reqs = g_renew(DiskReq *, s->reqs, n);
}
"""


def test_type_macros_wrappers_and_type_arguments():
    parsed = parse(TYPES)
    assert_same_shape(TYPES, parsed.masked)
    assert not parsed.has_errors
    fields = nodes_of_type(parsed, "field_declaration")
    assert [parsed.text(f.child_by_field_name("type")) for f in fields] == [
        "QTAILQ_HEAD(, DiskReq)",
        "QLIST_ENTRY(DiskState)",
    ]
    sites = find_sites(parsed)
    assert [parsed.text(s.name_node) for s in sites] == ["g_new0", "g_new", "g_renew"]
    # The type argument is one node whose original text is the whole type.
    firsts = [s.call.child_by_field_name("arguments").named_children[0] for s in sites]
    assert [parsed.text(a) for a in firsts] == ["struct iovec", "const char *", "DiskReq *"]
    [cof] = calls_named(parsed, "container_of")
    assert parsed.text(cof.child_by_field_name("arguments").named_children[1]) == "struct DiskReq"
    # A type that is already one identifier is not touched.
    assert b"g_autoptr" not in parsed.masked and b"g_string_new(NULL)" in parsed.masked


STRINGS_AND_OPERATORS = b"""\
static void test_disk_size(void)
{
    char *opt = g_strdup("slot=" stringify(DISK_SLOT) ".0");
    g_assert_cmpint(disk_size(opt), ==, 512);
    g_assert_cmpuint(disk_count(), >=, 1);
    g_free(opt);
}
"""


def test_string_macros_and_operator_arguments():
    parsed = parse(STRINGS_AND_OPERATORS)
    assert_same_shape(STRINGS_AND_OPERATORS, parsed.masked)
    assert not parsed.has_errors
    [cmp] = calls_named(parsed, "g_assert_cmpint")
    args = cmp.child_by_field_name("arguments").named_children
    assert [parsed.text(a) for a in args] == ["disk_size(opt)", "==", "512"]
    [strings] = nodes_of_type(parsed, "concatenated_string")
    assert parsed.text(strings) == '"slot=" stringify(DISK_SLOT) ".0"'


REGISTRATIONS = b"""\
static void disk_register_types(void)
{
    type_register_static(&disk_info);
}

type_init(disk_register_types)
REG32(DISK_CTRL, 0x10)
    FIELD(DISK_CTRL, ENABLE, 0, 1)
DO_DISK_HELPER(disk_add, uint32_t, H4)
DO_DISK_PTR(disk_ptr, uint8_t *, const struct DiskReq *)

static void disk_helper_init(void)
{
    g_free(g_malloc(16));
}
block_init(disk_block_init);
"""


def test_registrations_stay_visible_as_calls():
    parsed = parse(REGISTRATIONS)
    assert_same_shape(REGISTRATIONS, parsed.masked)
    assert not parsed.has_errors
    calls = registration_calls(parsed)
    assert [(c.name, [parsed.text(a) for a in c.args]) for c in calls] == [
        ("type_init", ["disk_register_types"]),
        ("REG32", ["DISK_CTRL", "0x10"]),
        ("FIELD", ["DISK_CTRL", "ENABLE", "0", "1"]),
        ("DO_DISK_HELPER", ["disk_add", "uint32_t", "H4"]),
        ("DO_DISK_PTR", ["disk_ptr", "uint8_t *", "const struct DiskReq *"]),
        ("block_init", ["disk_block_init"]),
    ]
    assert [parsed.text(c.name_node) for c in calls][0] == "type_init"
    only = registration_calls(parsed, PROFILE.registrations)
    assert [c.name for c in only] == ["type_init", "REG32", "FIELD", "block_init"]
    fns = nodes_of_type(parsed, "function_definition")
    assert len(fns) == 2 and not any(f.has_error for f in fns)


def test_function_header_at_column_zero_is_not_a_registration():
    src = b"static int\nDISK_HELPER(disk_op)(int a)\n{\n    return a;\n}\nFOO_LEGACY(int a)\n{\n    return a;\n}\n"
    assert mask_macros(src, PROFILE) == src


INFERRED_TYPES = b"""\
static const VMStateDescription vmstate_disk_req = {
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(sector, struct DiskReq),
        VMSTATE_UINT64_ARRAY(lba,
                             struct DiskReq, 4),
        VMSTATE_END_OF_LIST()
    },
};

static Property disk_props[] = {
    DEFINE_PROP_LINK("backend", DiskState, backend, TYPE_DISK_BACKEND,
                     DiskBackend *),
};

typedef struct DiskRing {
    DECLARE_BITMAP(used, 64);
    char name[16] __attribute__((aligned(8)));
} DiskRing;

static DECLARE_BITMAP(disk_ids, 32);

static void disk_ring_init(DiskRing *r, void *p)
{
    DiskReq *req = (DiskReq *)p;
    size_t off = offsetof(DiskRing, name[4]) + sizeof(struct DiskReq);
    req->ring = g_malloc(off * sizeof(DiskRing *));
}
"""


def test_inferred_type_arguments_declarators_and_attributes():
    parsed = parse(INFERRED_TYPES)
    assert_same_shape(INFERRED_TYPES, parsed.masked)
    assert not parsed.has_errors
    [vm] = calls_named(parsed, "VMSTATE_UINT32")
    assert [parsed.text(a) for a in vm.child_by_field_name("arguments").named_children] == [
        "sector",
        "struct DiskReq",
    ]
    [link] = calls_named(parsed, "DEFINE_PROP_LINK")
    assert parsed.text(link.child_by_field_name("arguments").named_children[-1]) == "DiskBackend *"
    # Casts and sizeof keep their own syntax.
    assert b"(DiskReq *)p" in parsed.masked and b"sizeof(struct DiskReq)" in parsed.masked
    assert b"sizeof(DiskRing *)" in parsed.masked
    # DECLARE_BITMAP(x, n) declares x, in a struct and at file scope.
    fields = nodes_of_type(parsed, "field_declaration")
    assert parsed.text(fields[0].child_by_field_name("declarator")) == "used"
    decls = [d for d in nodes_of_type(parsed, "declaration") if parsed.text(d).startswith("static DECLARE")]
    assert parsed.text(decls[0].child_by_field_name("declarator")) == "disk_ids"
    [site] = find_sites(parsed)
    assert not site.function.has_error


def test_type_shaped_argument_inference_can_be_switched_off():
    import dataclasses

    plain = dataclasses.replace(PROFILE, infer_type_args=False, infer_registrations=False)
    assert b"struct DiskReq)," in mask_macros(INFERRED_TYPES, plain)
    assert b"DO_DISK_HELPER(disk_add, uint32_t, H4)" in mask_macros(REGISTRATIONS, plain)
    assert b"DO_DISK_HELPER=disk_add| uint32_t| H4;" in mask_macros(REGISTRATIONS, PROFILE)


def test_case_ranges_and_alignof():
    src = b"int f(int c, int *p)\n{\n    switch (c) {\n    case 'a' ... 'z':\n        return __alignof__(*p);\n    }\n    return 0;\n}\n"
    parsed = parse(src)
    assert_same_shape(src, parsed.masked)
    assert not parsed.has_errors
    [case] = nodes_of_type(parsed, "case_statement")
    assert parsed.text(case).startswith("case 'a' ... 'z':")


def test_without_profile_the_same_code_has_errors():
    for src in (ITERATORS, TYPES, REGISTRATIONS, STRINGS_AND_OPERATORS):
        assert parse(src, MacroProfile.empty()).has_errors
        assert mask_macros(src, MacroProfile.empty()) == src


# --- what masking must never touch -----------------------------------------

UNTOUCHED = b"""\
#define disk_for_each(d) QTAILQ_FOREACH(d, &disks, link)
#define DISK_ATTR coroutine_fn \\
    QEMU_PACKED
  #  define DISK_HEAD QTAILQ_HEAD(, Disk)
/* QTAILQ_FOREACH(d, &disks, link) { g_new(struct iovec, 1) } coroutine_fn */
// type_init(not_a_call) coroutine_fn
static const char *msg = "coroutine_fn QTAILQ_FOREACH(a, b, c) {";
static const char c = 'q';
#define DISK_LOOP(d)                                  \\
    /* walk every disk; the comment spans lines,      \\
     * and the directive goes on after it */          \\
    QTAILQ_FOREACH(d, &disks, link) {                 \\
        d->buf = g_new(struct iovec, 1);              \\
    }
#define DISK_OPEN "/*"
#error don't stop at coroutine_fn
"""


def test_comments_strings_and_preprocessor_lines_are_untouched():
    assert mask_macros(UNTOUCHED, PROFILE) == UNTOUCHED
    crlf = UNTOUCHED.replace(b"\n", b"\r\n")
    assert mask_macros(crlf, PROFILE) == crlf


def test_line_splices_outside_directives_become_spaces():
    src = b"int f(int a, \\\n      int b);\n#define G(x) \\\n    (x)\n"
    masked = mask_macros(src, PROFILE)
    assert masked == src.replace(b"a, \\", b"a,  ")
    assert not parse(src).has_errors


def test_directive_followed_by_block_comment_is_untouched():
    src = b"#endif /* CONFIG_DISK\n   coroutine_fn QEMU_PACKED */\nint coroutine_fn x;\n"
    masked = mask_macros(src, PROFILE)
    assert masked[: src.index(b"int")] == src[: src.index(b"int")]
    assert masked.endswith(b"int              x;\n")


def test_unterminated_comment_is_left_alone():
    src = b"int coroutine_fn f(void);\n/* never closed coroutine_fn QTAILQ_FOREACH(a, b, c) {\n"
    masked = mask_macros(src, PROFILE)
    assert_same_shape(src, masked)
    assert masked.startswith(b"int              f(void);\n")
    assert masked[src.index(b"/*") :] == src[src.index(b"/*") :]


def test_unbalanced_macro_call_at_end_of_file():
    src = b"void f(void)\n{\n    QTAILQ_FOREACH(a, b, \n"
    masked = mask_macros(src, PROFILE)
    assert_same_shape(src, masked)


def test_crlf_input_keeps_offsets():
    lf = ITERATORS + REGISTRATIONS + TYPES
    crlf = lf.replace(b"\n", b"\r\n")
    parsed = parse(crlf)
    assert_same_shape(crlf, parsed.masked)
    assert not parsed.has_errors
    sites = find_sites(parsed)
    assert [parsed.text(s.call) for s in sites][:2] == ["g_malloc(req->len)", "g_malloc(16)"]
    for s in sites:
        line, col = parsed.source.line_col(s.offset)
        assert crlf.split(b"\r\n")[line - 1][col - 1 :].startswith(parsed.text(s.name_node).encode())
    assert [c.name for c in registration_calls(parsed)][:2] == ["type_init", "REG32"]


def test_masking_is_pure_and_idempotent_on_its_output_shape():
    once = mask_macros(TYPES, PROFILE)
    assert mask_macros(TYPES, PROFILE) == once
    assert_same_shape(TYPES, mask_macros(once, PROFILE))


_NAMES = sorted(PROFILE.names())
_PIECES = st.one_of(
    st.sampled_from(_NAMES),
    st.sampled_from(["(", ")", ",", ";", "{", "}", " ", "\n", "\r\n", "\t", "/*", "*/", "//", '"', "'",
                     "#", "\\", "x", "struct s *", "==", "case 1 ... 2:", "..."]),
    st.text(alphabet="abcXYZ_09 *", max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40))
def test_masking_preserves_length_and_newlines_on_any_input(pieces):
    data = "".join(pieces).encode()
    masked = mask_macros(data, PROFILE)
    assert_same_shape(data, masked)


# --- the profile file --------------------------------------------------------


def test_builtin_profile_loads():
    assert "QTAILQ_FOREACH" in PROFILE.iterators
    assert "type_init" in PROFILE.registrations
    assert dict(PROFILE.type_args)["g_new"] == (0,)
    assert dict(PROFILE.type_args)["offsetof"] == (0, 1)
    assert PROFILE.infer_registrations and PROFILE.infer_type_args


def _error(tmp_path, text: str) -> RuleError:
    path = tmp_path / "macros.toml"
    path.write_text(text)
    with pytest.raises(RuleError) as info:
        MacroProfile.load(path)
    assert info.value.position is not None and info.value.position.path == str(path)
    return info.value


def test_malformed_toml_reports_line_and_column(tmp_path):
    err = _error(tmp_path, '[attributes]\nnames = ["coroutine_fn",\n  oops]\n')
    assert (err.position.line, err.position.column) == (3, 3)
    assert str(err).startswith(f"{tmp_path / 'macros.toml'}:3:3: ")


def test_unknown_class_is_reported_at_its_header(tmp_path):
    err = _error(tmp_path, '[attributes]\nnames = ["a"]\n\n[iterator]\nnames = ["b"]\n')
    assert (err.position.line, err.position.column) == (4, 1)
    assert "unknown macro class 'iterator'" in err.message


def test_bad_names_are_reported_where_they_stand(tmp_path):
    err = _error(tmp_path, '[iterators]\nnames = [\n    "QLIST_FOREACH",\n    "NOT A NAME",\n]\n')
    assert (err.position.line, err.position.column) == (4, 5)
    err = _error(tmp_path, '[attributes]\nnames = ["x"]\n[iterators]\nnames = ["y", "x"]\n')
    assert (err.position.line, err.position.column) == (4, 15)
    assert "already in [attributes]" in err.message


def test_bad_type_arg_index_and_replacement(tmp_path):
    err = _error(tmp_path, "[type_args]\ng_new = 0\nva_arg = -1\n")
    assert (err.position.line, err.position.column) == (3, 1)
    err = _error(tmp_path, "[type_args]\ng_new = 0\n  offsetof = [0, \"x\"]\n")
    assert (err.position.line, err.position.column) == (3, 3)
    err = _error(tmp_path, "[infer]\nregistrations = 1\n")
    assert (err.position.line, err.position.column) == (2, 1)
    err = _error(tmp_path, "[infer]\nregistrations = true\nmacros = true\n")
    assert (err.position.line, err.position.column) == (3, 1)
    err = _error(tmp_path, '[replacements]\n__typeof = "sizeof_too_long"\n')
    assert err.position.line == 2


def test_unknown_key_in_class(tmp_path):
    err = _error(tmp_path, '[iterators]\nnames = []\nname = ["x"]\n')
    assert (err.position.line, err.position.column) == (3, 1)


# --- scripts/parse_stats.py ---------------------------------------------------


def _parse_stats():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "parse_stats.py"
    spec = importlib.util.spec_from_file_location("parse_stats", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_stats_counts_sites_in_functions_with_errors(tmp_path, capsys):
    import json

    (tmp_path / "sub").mkdir()
    (tmp_path / "ok.c").write_bytes(ITERATORS)
    (tmp_path / "sub" / "bad.c").write_bytes(
        b"void f(int n)\n{\n    char *p = g_malloc(n);\n    p[0] = = 1;\n}\nvoid g(void)\n{\n    g_free(g_malloc0(8));\n}\n"
    )
    (tmp_path / "sub" / "skip.c").write_bytes(b"int x = ;\n")
    stats = _parse_stats()
    assert stats.main([str(tmp_path), "--jobs", "1", "--json", "--exclude", "sub/skip.c", "--top", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["files"], out["files_with_errors"]) == (2, 1)
    assert (out["sites"], out["sites_in_error_functions"]) == (3, 1)
    assert (out["functions"], out["functions_with_errors"]) == (3, 1)
    assert out["top_contexts"]
    # Without masking, the iterator file has errors too.
    assert stats.main([str(tmp_path), "--jobs", "1", "--json", "--no-profile", "--exclude", "sub"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert (raw["files"], raw["files_with_errors"], raw["sites_in_error_functions"]) == (1, 1, 1)


def test_parse_stats_rejects_a_bad_profile(tmp_path, capsys):
    bad = tmp_path / "p.toml"
    bad.write_text("[attributes\n")
    assert _parse_stats().main([str(tmp_path), "--profile", str(bad)]) == 2
    assert f"{bad}:1:" in capsys.readouterr().err


# --- the real corpus ---------------------------------------------------------


def _sample(tree) -> list[str]:
    files = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(os.path.join(dirpath, f) for f in filenames if f.endswith(".c"))
    return sorted(files)[::30]


@pytest.mark.integration
def test_qemu_sample_sites_are_in_error_free_functions(qemu_tree):
    sample = _sample(qemu_tree)
    assert len(sample) >= 200
    sites = bad = files_with_errors = unmasked_errors = 0
    damaged = []
    for path in sample:
        data = open(path, "rb").read()
        parsed = parse_source(SourceFile(path, path, data), PROFILE)
        raw = parser().parse(data)
        files_with_errors += parsed.has_errors
        unmasked_errors += raw.root_node.has_error
        if parsed.has_errors and not raw.root_node.has_error:
            damaged.append(path)  # masking must never break a file that parsed
        for site in find_sites(parsed):
            sites += 1
            scope = site.function
            if scope is None:
                scope = site.call
                while scope.parent is not None and scope.parent.parent is not None:
                    scope = scope.parent
            bad += scope.has_error
    assert not damaged
    assert sites >= 50
    assert bad / sites <= 0.02, f"{bad} of {sites} allocation sites are in functions with parse errors"
    # The profile must pay for itself on whole files too.
    assert files_with_errors < 0.7 * unmasked_errors


def test_parameter_with_int_modifier_keeps_its_name():
    # `unsigned size` in a declarator is a type and a name, not a type argument.
    src = b"static void dev_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)\n{\n}\n"
    masked = mask_macros(src, PROFILE)
    assert b"unsigned size" in masked
    call = b"x = va_arg(ap, unsigned long);\n"
    assert b"unsigned_long" in mask_macros(call, PROFILE)


# --- Fast scanners agree with their plain definitions -------------------
# mask_macros finds comments/literals/directives, macro names, line-start
# candidates and call arguments with scanners tuned for speed. Each must
# find exactly what the plain definition below finds (the whole QEMU tree
# is compared with the previous code by scripts/check_mask_identity.py).

from codemod import cparse as _cp  # noqa: E402

_B = _cp._BLOCK_COMMENT
_D = _cp._DIRECTIVE
# Comments, literals and directives, tried at every offset.
_PLAIN_SKIP_RE = re.compile(
    rb"(?=[/\"'\#])(?:" + _B + rb"|/\*.*\Z" + rb"|//[^\n\\]*(?:\\.[^\n\\]*)*"
    + rb"""|"[^"\\\n]*(?:\\.[^"\\\n]*)*\"""" + rb"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    + rb"|(?<![^\n])" + _D + rb")|^[ \t]+" + _D,
    re.DOTALL | re.MULTILINE,
)


def _plain_call_args(data: bytes, start: int):
    """_call_args as a byte-by-byte loop."""
    i = _cp._skip_space(data, start)
    n = len(data)
    if i >= n or data[i] != 0x28:
        return None
    depth, args, arg_start = 0, [], i + 1
    while i < n:
        c = data[i]
        if c in b"([{":
            depth += 1
        elif c in b")]}":
            depth -= 1
            if depth == 0:
                if c != 0x29:
                    return None
                if args or data[arg_start:i].strip():
                    args.append((arg_start, i))
                return i + 1, args
        elif c == 0x2C and depth == 1:
            args.append((arg_start, i))
            arg_start = i + 1
        elif c in b"\"'":
            i += 1
            while i < n and data[i] != c and data[i] != 0x0A:
                i += 2 if data[i] == 0x5C else 1
        elif c == 0x2F and i + 1 < n and data[i + 1] == 0x2A:
            close = data.find(b"*/", i + 2)
            if close < 0:
                return None
            i = close + 1
        elif c == 0x2F and i + 1 < n and data[i + 1] == 0x2F:
            close = data.find(b"\n", i)
            i = n if close < 0 else close
        i += 1
    return None


_TOKENS = [b" ", b"\t", b"\n", b"\r\n", b"#", b"/*", b"*/", b"//", b"/", b"*", b'"', b"'", b"\\", b"(", b")",
           b"[", b"]", b"{", b"}", b",", b";", b"x", b"foo_bar", b"QTAILQ_FOREACH", b"xg_autoptr", b"g_autoptr",
           b"REG32", b"FOO", b"my_list_foreach", b"struct", b"const", b"unsigned", b"long", b"g_new", b"type_init",
           b"\xc3\xa9", b"define", b"case", b"..."]
_snippets = st.lists(st.sampled_from(_TOKENS), max_size=40).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(_snippets)
def test_skip_spans_match_the_plain_scan(data):
    plain = [m.span() for m in _PLAIN_SKIP_RE.finditer(data)]
    starts, ends = _cp._skip_spans(data)
    assert list(zip(starts, ends)) == plain


@pytest.mark.parametrize("data", [
    b"  #define A 1\nint a;\n",  # indented directive on the first line
    b"\t# if X\n  # endif\n",
    b"int a; #x\n#y\r\n#z \\\n more\n  // c\n",
    b"/* open",
])
def test_skip_spans_edge_cases(data):
    assert list(zip(*_cp._skip_spans(data))) == [m.span() for m in _PLAIN_SKIP_RE.finditer(data)]


@settings(max_examples=400, deadline=None)
@given(_snippets)
def test_macro_names_found_as_whole_words(data):
    found = [(s, e, name) for s, e, name in _cp._macro_matches(data, PROFILE)]
    assert found == [(m.start(), m.end(), m.group()) for m in PROFILE._regex.finditer(data)]


def test_macro_names_at_the_edges_and_inside_words():
    data = b"g_autoptr(Foo) xg_autoptr g_autoptr_x QTAILQ_FOREACH"
    assert [(s, e) for s, e, _ in _cp._macro_matches(data, PROFILE)] == [(0, 9), (38, 52)]
    assert _cp._macro_matches(b"", PROFILE) == []


@settings(max_examples=400, deadline=None)
@given(_snippets, st.integers(min_value=0, max_value=8))
def test_call_args_match_the_byte_loop(data, start):
    assert _cp._call_args(data, start) == _plain_call_args(data, start)


@pytest.mark.parametrize("data", [b'f("a\\', b"f(a // c", b"f(a /* c", b"f('\\n', \"x\\\"\", /* ) */ b) // x"])
def test_call_args_edge_cases(data):
    assert _cp._call_args(data, 0) == _plain_call_args(data, 0)


@settings(max_examples=300, deadline=None)
@given(_snippets)
def test_line_start_scans_match_the_multiline_patterns(data):
    for first, line in ((_cp._INFER_ITERATOR_RE, _cp._INFER_ITERATOR_LINE_RE),
                        (_cp._INFER_REGISTRATION_RE, _cp._INFER_REGISTRATION_LINE_RE)):
        got = [m.span(1) for m in _cp._line_matches(first, line, data)]
        assert got == [m.span(1) for m in first.finditer(data)]


def test_inferred_iterator_and_registration_on_the_first_line():
    # Offset 0 has no newline before it: the first match is looked for there.
    masked = mask_macros(b"  my_list_foreach(e, l) {\n  }\n", PROFILE)
    assert masked.startswith(b"  while          (e, l) {")
    masked = mask_macros(b"DEFINE_WIDGET(foo, bar)\nint x;\n", PROFILE)
    assert masked.startswith(b"DEFINE_WIDGET=foo| bar;\n")
