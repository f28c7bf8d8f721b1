"""Size classification of allocation sites (codemod.analysis.size).

Every snippet is original C written for these tests, parsed for real with
the QEMU macro profile; each test asserts class, bound and the evidence
words a reader needs.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest

from codemod.analysis.sites import find_sites
from codemod.analysis.size import SizeFacts, classify_size, file_facts, parse_char_literal, parse_int_literal
from codemod.cparse import MacroProfile, parse_source
from codemod.source import SourceFile

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "size"
PROFILE = MacroProfile.load(REPO / "rules" / "qemu-macros.toml")


def parse(src: str, name: str = "t.c"):
    return parse_source(SourceFile(name, name, src.encode()), PROFILE)


def sizes(src: str, *, limit: int = 4096, facts: SizeFacts | None = None, name: str = "t.c", strict: bool = True):
    parsed = parse(src, name)
    # g_new(char *, n) is not C to tree-sitter: the type argument is read from text
    assert not (strict and parsed.has_errors), "test snippet must parse cleanly"
    return [classify_size(s, parsed, limit=limit, facts=facts) for s in find_sites(parsed)]


def one(src: str, **kw):
    out = sizes(src, **kw)
    assert len(out) == 1, out
    return out[0]


def in_fn(body: str, params: str = "void", pre: str = "") -> str:
    return f"{pre}\nstatic void *fn_under_test({params})\n{{\n    void *p;\n{body}\n    return p;\n}}\n"


# ---------------------------------------------------------------------------
# Stage 1: constant folding


@pytest.mark.parametrize(
    "text,value",
    [("16", 16), ("0x10", 16), ("0X1f", 31), ("010", 8), ("0b101", 5), ("4096UL", 4096),
     ("0x1000ULL", 4096), ("7u", 7), ("0", 0), ("-1", -1), ("1.5", None), ("08", None)],
)
def test_int_literals(text, value):
    assert parse_int_literal(text) == value


@pytest.mark.parametrize("text,value", [("'a'", 97), ("'\\n'", 10), ("'\\x41'", 65), ("'\\0'", 0), ("'\\''", 39)])
def test_char_literals(text, value):
    assert parse_char_literal(text) == value


@pytest.mark.parametrize(
    "expr,value",
    [("0x100", 256), ("64UL", 64), ("'A'", 65), ("16 * 4 + 2", 66), ("(100 - 36) / 2", 32),
     ("1 << 10", 1024), ("4096 >> 2", 1024), ("0xff & 0x3c", 60), ("0x10 | 0x3", 19), ("0x0f ^ 0x01", 14),
     ("100 % 7", 2), ("(size_t)48", 48), ("(1 + 2) * (3 + 4)", 21), ("1 ? 10 : 20", 10), ("0 ? 10 : 20", 20)],
)
def test_fold_operators(expr, value):
    info = one(in_fn(f"    p = g_malloc({expr});"))
    assert (info.cls, info.max_bytes) == ("small", value)
    assert info.evidence.startswith("constant:") and f"= {value} bytes" in info.evidence


@pytest.mark.parametrize(
    "ctype,size",
    [("char", 1), ("short", 2), ("int", 4), ("long", 8), ("long long", 8), ("unsigned long", 8),
     ("float", 4), ("double", 8), ("uint8_t", 1), ("uint16_t", 2), ("uint32_t", 4), ("uint64_t", 8),
     ("int8_t", 1), ("int64_t", 8), ("size_t", 8), ("ssize_t", 8), ("hwaddr", 8), ("ram_addr_t", 8),
     ("bool", 1), ("gsize", 8), ("char *", 8), ("void *", 8), ("struct Opaque *", 8), ("unsigned int", 4)],
)
def test_sizeof_scalars_and_pointers(ctype, size):
    info = one(in_fn(f"    p = g_malloc(sizeof({ctype}) * 3);"))
    assert (info.cls, info.max_bytes) == ("small", 3 * size)


def test_evidence_names_the_expression():
    info = one(in_fn("    p = g_malloc(16 * sizeof(uint32_t));"))
    assert info.evidence == "constant: 16 * sizeof(uint32_t) = 64 bytes"


def test_large_constant_and_configurable_limit():
    src = in_fn("    p = g_malloc0(8192);")
    big = one(src)
    assert (big.cls, big.max_bytes) == ("large", 8192)
    assert one(src, limit=16384).cls == "small"
    assert one(in_fn("    p = g_malloc(4096);")).cls == "small"  # the limit itself is small
    assert one(in_fn("    p = g_malloc(4097);")).cls == "large"


def test_ternary_takes_the_larger_branch():
    info = one(in_fn("    p = g_malloc(wide ? 512 : 64);", "bool wide"))
    assert (info.cls, info.max_bytes) == ("small", 512)
    info = one(in_fn("    p = g_malloc(wide ? 8192 : 64);", "bool wide"))
    assert (info.cls, info.max_bytes) == ("large", 8192)


def test_min_max_macros():
    assert one(in_fn("    p = g_malloc(MAX(16, 40));")).max_bytes == 40
    assert one(in_fn("    p = g_malloc(MIN(16, 40));")).max_bytes == 16


@pytest.mark.parametrize(
    "call,value",
    [("g_malloc_n(4, 8)", 32), ("g_malloc0_n(3, sizeof(uint16_t))", 6), ("g_new(char *, 4)", 32),
     ("g_new0(uint32_t, 10)", 40), ("g_renew(uint64_t, p, 5)", 40), ("g_realloc(p, 100)", 100),
     ("g_realloc_n(p, 3, 5)", 15), ("qemu_memalign(4096, 64)", 64), ("qemu_blockalign(bs, 512)", 512),
     ("blk_blockalign(blk, 1024)", 1024), ("bitmap_new(100)", 16), ("bitmap_new(64)", 8),
     ("g_memdup2(p, 12)", 12)],
)
def test_allocator_size_forms(call, value):
    info = one(in_fn(f"    p = {call};", "void *bs, void *blk"), strict="*" not in call)
    assert (info.cls, info.max_bytes) == ("small", value), info


def test_type_arguments_tree_sitter_misreads():
    body = ("    Ctx *c = NULL;\n    p = g_new(const char *, n + 1);\n    p = g_new0(typeof(*c), 2);"
            "\n    p = g_renew(uint16_t, p, ++n);")
    out = sizes(in_fn(body, "uint8_t n", "typedef struct Ctx { uint32_t a[6]; } Ctx;\n"), strict=False)
    assert [(i.cls, i.max_bytes) for i in out] == [("small", 8 * 256), ("small", 48), ("small", 2 * 256)]
    # arguments re-read from text still see the function's assignments and checks
    body = "    size_t k = 12;\n\n    if (m > 10) {\n        return NULL;\n    }\n    p = g_new(Ctx *, k);\n    p = g_new(Ctx *, m);"
    out = sizes(in_fn(body, "size_t m", "typedef struct Ctx Ctx;\n"), strict=False)
    assert [(i.cls, i.max_bytes) for i in out] == [("small", 96), ("small", 80)]


def test_g_new_of_struct_keyword_type():
    src = "struct Pair { int a; int b; };\n" + in_fn("    p = g_new(struct Pair, 3);")
    parsed = parse(src)  # tree-sitter sees `struct Pair` as an odd argument: handled from text
    [site] = find_sites(parsed)
    info = classify_size(site, parsed)
    assert (info.cls, info.max_bytes) == ("small", 24)


# ---------------------------------------------------------------------------
# Stage 2: constants, records, typedefs, facts from headers


def test_enum_and_define_constants():
    pre = """
#define QUEUE_LEN   64
#define ENTRY_SIZE  (QUEUE_LEN / 4 + 0x10)
enum { MODE_A, MODE_B, MODE_C = 20, MODE_D };
"""
    out = sizes(in_fn("    p = g_malloc(QUEUE_LEN * ENTRY_SIZE);\n    p = g_new(uint32_t, MODE_D);"
                      "\n    p = g_new(uint32_t, MODE_B);", pre=pre))
    assert [(i.cls, i.max_bytes) for i in out] == [("small", 2048), ("small", 84), ("small", 4)]


def test_long_enums_count_on():
    names = ",\n".join(f"    REG_{i}" for i in range(600))
    pre = f"enum {{\n{names},\n    REG_COUNT\n}};\nenum {{ BASE = 1 << 4, NEXT, AFTER }};\n"
    out = sizes(in_fn("    p = g_malloc(REG_COUNT);\n    p = g_malloc(AFTER);", pre=pre))
    assert [i.max_bytes for i in out] == [600, 18]


def test_conditional_defines_are_unioned():
    pre = "#ifdef CONFIG_BIG\n#define POOL 65536\n#else\n#define POOL 16\n#endif\n"
    info = one(in_fn("    p = g_malloc(POOL);", pre=pre))
    assert (info.cls, info.max_bytes) == ("large", 65536)


def test_struct_layout_with_padding_nesting_and_arrays():
    pre = """
#define NAME_LEN 10
typedef struct Inner { uint8_t tag; uint32_t val; } Inner;   /* 8 */
struct Outer {
    char c;             /* 0, pad to 8 */
    uint64_t big;       /* 8 */
    Inner in[3];        /* 16..40 */
    char name[NAME_LEN];/* 40..50, pad to 56 */
    struct Outer *next; /* 56 */
};                      /* 64 */
typedef struct Outer Outer;
"""
    out = sizes(in_fn("    p = g_new(Inner, 1);\n    p = g_new0(struct Outer, 1);\n    p = g_malloc(sizeof(Outer) * 2);", pre=pre),
                strict=False)
    assert [i.max_bytes for i in out] == [8, 64, 128]


def test_union_packed_bitfields_flexible_and_anonymous():
    pre = """
typedef union Word { uint8_t b[6]; uint32_t w; } Word;          /* 8 */
typedef struct QEMU_PACKED Hdr { uint8_t kind; uint32_t len; uint16_t id; } Hdr;   /* 7 */
typedef struct Flags { unsigned a:1; unsigned b:3; unsigned c:30; uint8_t d; } Flags; /* 12 */
typedef struct Msg { uint32_t len; uint8_t data[]; } Msg;       /* 4 */
typedef struct { uint16_t x; union { uint64_t u; void *ptr; }; } Anon;  /* 16 */
"""
    out = sizes(in_fn("    p = g_new(Word, 1);\n    p = g_new(Hdr, 1);\n    p = g_new(Flags, 1);"
                      "\n    p = g_malloc(sizeof(Msg) + 12);\n    p = g_new(Anon, 1);", pre=pre))
    assert [i.max_bytes for i in out] == [8, 7, 12, 16, 16]


def test_sizeof_of_expressions_through_declarations():
    pre = "typedef struct Dev { uint32_t regs[16]; struct Dev *peer; char tag[5]; } Dev;\nstatic uint16_t table[40];\n"
    body = ("    Dev *d = NULL;\n    p = g_malloc(sizeof(*d));\n    p = g_malloc(sizeof(d->regs));\n"
            "    p = g_malloc(sizeof(d->regs[0]) * ARRAY_SIZE(table));\n    p = g_malloc(sizeof(table));\n"
            "    p = g_malloc(sizeof d->peer);")
    out = sizes(in_fn(body, pre=pre))
    assert [i.max_bytes for i in out] == [80, 64, 160, 80, 8]


def test_offsetof_queue_heads_and_system_types():
    pre = """
typedef struct Node Node;
typedef struct Pkt {
    uint16_t kind;
    QTAILQ_ENTRY(Pkt) link;     /* 8 */
    union { uint32_t raw; struct { uint16_t lo, hi; }; };   /* 24 */
    struct iovec iov;           /* 32 */
    QemuLockCnt *cnt;           /* 48 */
    uint8_t payload[];          /* 56 */
} Pkt;
typedef struct Owner { QLIST_HEAD(, Node) nodes; QSIMPLEQ_HEAD(, Pkt) q; pthread_mutex_t lock; } Owner;
"""
    out = sizes(in_fn("    p = g_malloc(offsetof(Pkt, payload) + n);\n    p = g_malloc(offsetof(Pkt, hi));"
                      "\n    p = g_new(Owner, 1);\n    p = g_malloc(offsetof(Pkt, iov.iov_len));", "uint8_t n", pre),
                strict=False)  # `QLIST_HEAD(, Node)` and `iov.iov_len` in offsetof are ERRORs to tree-sitter
    assert [(i.cls, i.max_bytes) for i in out] == [("small", 56 + 255), ("small", 26), ("small", 64), ("small", 40)]


def test_open_arrays_take_their_bound_from_the_initializer():
    pre = ("static const uint32_t regs[] = { 1, 2, 3, 4, 5 };\nstatic const char banner[] = \"hello\";\n"
           "static const int sparse[] = { [40] = 1 };\nstatic const int count = 24;\n")
    body = ("    p = g_new(uint64_t, ARRAY_SIZE(regs));\n    p = g_malloc(sizeof(banner));\n"
            "    p = g_malloc(sizeof(sparse));\n    p = g_new(uint32_t, count);")
    out = sizes(in_fn(body, pre=pre))
    assert [(i.cls, i.max_bytes) for i in out] == [("small", 40), ("small", 6), ("unknown", None), ("small", 96)]


def test_unknown_type_is_unknown_and_says_so():
    info = one(in_fn("    p = g_new0(ForeignState, 1);"))
    assert info.cls == "unknown" and info.max_bytes is None
    assert "ForeignState" in info.evidence and "not known" in info.evidence
    pre = "typedef struct Wrap { ForeignLock lock; int n; } Wrap;\n"
    info = one(in_fn("    p = g_new0(Wrap, 1);", pre=pre))
    assert info.cls == "unknown" and "ForeignLock not defined" in info.evidence


def _fixture(name: str):
    path = FIXTURES / name
    return parse_source(SourceFile(str(path), name, path.read_bytes()), PROFILE)


def test_facts_from_a_header():
    header, source = _fixture("ring.h"), _fixture("ring.c")
    sites = find_sites(source)
    without = [classify_size(s, source) for s in sites]
    assert [i.cls for i in without] == ["unknown", "unknown"]
    facts = SizeFacts.from_parsed([header])
    with_header = [classify_size(s, source, facts=facts) for s in sites]
    # RingSlot 16 bytes; RingState = 32 slots + 16 name + mode (pad to 8) + pointer = 544
    assert [(i.cls, i.max_bytes) for i in with_header] == [("small", 544), ("small", 144)]


def test_facts_are_plain_picklable_and_merge():
    facts = SizeFacts.from_parsed([_fixture("ring.h")])
    clone = pickle.loads(pickle.dumps(facts))
    assert clone == facts
    assert facts.constants["RING_SLOTS"] == ["32"]
    assert facts.typedefs["RingSlot"] == ("struct RingSlot", 0, ())
    other = SizeFacts.from_parsed([parse("#define RING_SLOTS 64\n#define EXTRA 3\n")])
    merged = facts.merge(other)
    assert merged.constants["RING_SLOTS"] == ["32", "64"] and merged.constants["EXTRA"] == ["3"]
    assert "EXTRA" not in facts.constants  # merge returns a new value
    source = _fixture("ring.c")
    info = classify_size(find_sites(source)[0], source, facts=merged)
    # 64 slots (1024) + name of 64/2 + mode, padded (1064) + pointer: the larger variant counts
    assert (info.cls, info.max_bytes) == ("small", 1072)


def test_file_facts_are_collected_once_per_file():
    parsed = parse("#define N 4\n")
    assert file_facts(parsed) is file_facts(parsed)


# ---------------------------------------------------------------------------
# Stage 3: bounds


def test_early_return_check_bounds_the_size():
    info = one(in_fn("    if (len > 512) {\n        return NULL;\n    }\n    p = g_malloc(len);", "size_t len"))
    assert (info.cls, info.max_bytes) == ("small", 512)
    assert "len <= 512" in info.evidence and "check at line 5" in info.evidence


def test_goto_check_with_greater_equal_and_constant():
    pre = "#define MAX_ENTRIES 64\n"
    body = "    if (n >= MAX_ENTRIES) goto fail;\n    p = g_new(uint32_t, n);\n    return p;\nfail:\n    p = NULL;"
    info = one(in_fn(body, "unsigned n", pre))
    assert (info.cls, info.max_bytes) == ("small", 252)


def test_check_in_enclosing_block_counts():
    body = ("    if (n > 100) {\n        error_report(\"too many\");\n        return NULL;\n    }\n"
            "    if (flag) {\n        p = g_malloc(n * 8);\n    }")
    info = one(in_fn(body, "int n, bool flag"))
    assert (info.cls, info.max_bytes) == ("small", 800)


def test_check_not_on_every_path_does_not_count():
    body = "    if (flag) {\n        if (n > 100) {\n            return NULL;\n        }\n    }\n    p = g_malloc(n);"
    info = one(in_fn(body, "size_t n, bool flag"))
    assert info.cls == "unknown"
    assert "n: parameter of fn_under_test, not bounded" == info.evidence


def test_check_after_the_call_or_without_exit_does_not_count():
    after = one(in_fn("    p = g_malloc(n);\n    if (n > 100) {\n        return NULL;\n    }", "size_t n"))
    assert after.cls == "unknown"
    no_exit = one(in_fn("    if (n > 100) {\n        warn_report(\"big\");\n    }\n    p = g_malloc(n);", "size_t n"))
    assert no_exit.cls == "unknown"


def test_reassignment_between_check_and_call_cancels_the_check():
    body = "    if (n > 100) {\n        return NULL;\n    }\n    n = strlen(s);\n    p = g_malloc(n);"
    assert one(in_fn(body, "size_t n, const char *s")).cls == "unknown"


def test_label_between_check_and_call_cancels_the_check():
    body = "    if (n > 100) {\n        return NULL;\n    }\nagain:\n    p = g_malloc(n);\n    if (!p) goto again;"
    assert one(in_fn(body, "size_t n")).cls == "unknown"


def test_assert_bounds():
    info = one(in_fn("    assert(len <= 64);\n    p = g_malloc(len);", "size_t len"))
    assert (info.cls, info.max_bytes) == ("small", 64)
    info = one(in_fn("    g_assert(len < 64 && len != 0);\n    p = g_malloc(len * 2);", "size_t len"))
    assert (info.cls, info.max_bytes) == ("small", 126)


def test_min_caps_an_unbounded_value():
    info = one(in_fn("    p = g_malloc(MIN(len, 256));", "size_t len"))
    assert (info.cls, info.max_bytes) == ("small", 256)
    assert "MIN" in info.evidence


def test_variable_assigned_a_constant_once():
    info = one(in_fn("    size_t sz = 48;\n\n    p = g_malloc(sz);"))
    assert (info.cls, info.max_bytes) == ("small", 48)
    assert "sz = 48 at line 5" in info.evidence


def test_unconditional_assignment_hides_the_parameter_value():
    body = "    n = 32;\n    p = g_malloc(n);\n    if (flag) {\n        n = 64;\n    }\n    p = g_malloc(n);"
    first, second = sizes(in_fn(body, "size_t n, bool flag"))
    assert (first.cls, first.max_bytes) == ("small", 32)
    assert (second.cls, second.max_bytes) == ("small", 64)
    # an assignment under a condition hides nothing
    body = "    if (flag) {\n        n = 32;\n    }\n    p = g_malloc(n);"
    assert one(in_fn(body, "size_t n, bool flag")).cls == "unknown"
    body = "    flag && (n = 32);\n    p = g_malloc(n);"
    assert one(in_fn(body, "size_t n, bool flag")).cls == "unknown"


def test_self_referencing_updates_use_the_earlier_value():
    body = "    size_t sz = 100;\n\n    sz = (sz + 15) & ~15;\n    sz = sz * 2;\n    p = g_malloc(sz);"
    info = one(in_fn(body))
    assert (info.cls, info.max_bytes) == ("small", 224)


def test_anonymous_struct_types_of_globals_and_locals():
    pre = "static struct {\n    uint64_t a[8];\n    int n;\n} *state;\n"
    body = "    struct { uint16_t x, y; } *pt = NULL;\n\n    p = g_malloc0(sizeof(*state));\n    p = g_malloc(sizeof(*pt));"
    out = sizes(in_fn(body, pre=pre))
    assert [(i.cls, i.max_bytes) for i in out] == [("small", 72), ("small", 4)]


def test_variable_with_several_assignments_takes_the_largest():
    body = "    size_t sz;\n    if (wide) {\n        sz = 8192;\n    } else {\n        sz = 16;\n    }\n    p = g_malloc(sz);"
    info = one(in_fn(body, "bool wide"))
    assert (info.cls, info.max_bytes) == ("large", 8192)


def test_enclosing_condition_and_else_branch():
    body = "    if (len <= 100) {\n        p = g_malloc(len);\n    } else {\n        p = g_malloc(len);\n    }"
    inside, other = sizes(in_fn(body, "size_t len"))
    assert (inside.cls, inside.max_bytes) == ("small", 100)
    assert other.cls == "unknown"  # len > 100 says nothing about an upper bound


def test_clamp_assignment():
    info = one(in_fn("    if (len > 256) {\n        len = 256;\n    }\n    p = g_malloc(len);", "size_t len"))
    assert (info.cls, info.max_bytes) == ("small", 256)


def test_disjunction_in_check():
    info = one(in_fn("    if (len == 0 || len > 128) {\n        return NULL;\n    }\n    p = g_malloc(len);", "size_t len"))
    assert (info.cls, info.max_bytes) == ("small", 128)


def test_lower_bound_proves_large():
    info = one(in_fn("    if (len < 8192) {\n        return NULL;\n    }\n    p = g_malloc(len);", "size_t len"))
    assert info.cls == "large"
    assert ">= 8192" in info.evidence


def test_admitted_bound_above_limit_is_large():
    info = one(in_fn("    if (n > 1024) {\n        return NULL;\n    }\n    p = g_new(uint64_t, n);", "size_t n"))
    assert (info.cls, info.max_bytes) == ("large", 8192)
    assert "can reach 8192" in info.evidence


def test_update_in_loop_makes_the_value_unknown():
    body = "    size_t n = 16;\n    for (int i = 0; i < 10; i++) {\n        p = g_malloc(n);\n        n = n * 2;\n    }"
    assert one(in_fn(body)).cls == "unknown"


def test_check_before_a_loop_that_changes_the_value_does_not_count():
    body = ("    if (n > 64) {\n        return NULL;\n    }\n    for (int i = 0; i < 4; i++) {\n"
            "        p = g_malloc(n);\n        n += 100;\n    }")
    assert one(in_fn(body, "size_t n")).cls == "unknown"
    # the same check inside the loop, before the call, holds on every trip
    body = ("    for (int i = 0; i < 4; i++) {\n        if (n > 64) {\n            break;\n        }\n"
            "        p = g_malloc(n);\n        n += 100;\n    }")
    assert one(in_fn(body, "size_t n")).max_bytes == 64


def test_narrow_type_bounds_but_does_not_prove_large():
    small = one(in_fn("    p = g_malloc(n);", "uint8_t n"))
    assert (small.cls, small.max_bytes) == ("small", 255)
    wide = one(in_fn("    p = g_new(uint64_t, n);", "uint16_t n"))
    assert (wide.cls, wide.max_bytes) == ("unknown", 65535 * 8)


# ---------------------------------------------------------------------------
# Stage 4: provenance


def test_mmio_write_handler_value_is_guest_data():
    src = ("static void dev_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)\n{\n"
           "    void *buf = g_malloc(val);\n    g_free(buf);\n}\n")
    info = one(src)
    assert info.cls == "large" and info.max_bytes is None
    assert "val" in info.evidence and "guest" in info.evidence and "dev_write" in info.evidence


def test_mmio_access_size_is_small_not_guest_data():
    src = ("static void dev_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)\n{\n"
           "    void *buf = g_malloc(size);\n    g_free(buf);\n}\n"
           "static uint64_t dev_read(void *opaque, hwaddr addr, unsigned size)\n{\n"
           "    void *buf = g_malloc(size * 4);\n    g_free(buf);\n    return 0;\n}\n")
    w, r = sizes(src)
    assert (w.cls, w.max_bytes, r.cls, r.max_bytes) == ("small", 8, "small", 32)
    assert "access size" in w.evidence
    # the same names outside a handler signature are just parameters
    info = one("static void other(void *opaque, uint64_t val, unsigned size)\n{\n    g_free(g_malloc(size));\n}\n")
    assert info.cls == "unknown"


def test_value_loaded_from_guest_buffer():
    body = "    uint32_t len;\n\n    len = ldl_le_p(desc + 4);\n    p = g_malloc(len);"
    info = one(in_fn(body, "const uint8_t *desc"))
    assert info.cls == "large"
    assert "len:" in info.evidence and "ldl_le_p at line 7" in info.evidence


def test_struct_filled_by_dma_read():
    pre = "typedef struct Desc { uint64_t addr; uint32_t len; uint32_t flags; } Desc;\n"
    body = ("    Desc d;\n\n    dma_memory_read(as, pa, &d, sizeof(d), MEMTXATTRS_UNSPECIFIED);\n"
            "    p = g_malloc(d.len);")
    info = one(in_fn(body, "AddressSpace *as, dma_addr_t pa", pre))
    assert info.cls == "large"
    assert "d.len: read from guest memory by dma_memory_read at line 8" == info.evidence


def test_buffer_filled_by_pci_dma_read_then_copied_to_a_local():
    pre = "typedef struct Cmd { uint16_t op; uint16_t count; } Cmd;\n"
    body = "    Cmd *c = buf;\n    size_t n;\n\n    pci_dma_read(dev, pa, c, sizeof(*c));\n    n = c->count;\n    p = g_new(uint64_t, n);"
    info = one(in_fn(body, "PCIDevice *dev, dma_addr_t pa, void *buf", pre))
    assert info.cls == "large" and "pci_dma_read" in info.evidence
    assert info.max_bytes == 65535 * 8  # the field's type still bounds it


def test_migration_stream_value():
    body = "    uint32_t count = qemu_get_be32(f);\n\n    p = g_malloc(count);"
    info = one(in_fn(body, "QEMUFile *f"))
    assert info.cls == "large" and "migration stream" in info.evidence and "qemu_get_be32" in info.evidence


def test_block_driver_header_field():
    pre = "typedef struct ImgHeader { uint32_t magic; uint32_t table_size; } ImgHeader;\n"
    body = ("    ImgHeader header;\n    int ret = bdrv_pread(bs->file, 0, sizeof(header), &header, 0);\n"
            "    if (ret < 0) {\n        return NULL;\n    }\n"
            "    p = g_malloc(be32_to_cpu(header.table_size) * 8);")
    info = one(in_fn(body, "BlockDriverState *bs", pre), name="block/imgfmt.c")
    assert info.cls == "large" and "be32_to_cpu" in info.evidence


def test_header_filled_by_bdrv_pread_without_byteswap():
    pre = "typedef struct ImgHeader { uint32_t magic; uint32_t table_size; } ImgHeader;\n"
    body = "    ImgHeader header;\n    bdrv_pread(bs->file, 0, sizeof(header), &header, 0);\n    p = g_malloc(header.table_size);"
    info = one(in_fn(body, "BlockDriverState *bs", pre))
    assert info.cls == "large" and "disk image by bdrv_pread" in info.evidence


def test_guest_value_bounded_by_a_check_is_small():
    body = "    uint32_t len = virtio_lduw_phys(vdev, pa);\n\n    if (len > 1024) {\n        return NULL;\n    }\n    p = g_malloc(len);"
    info = one(in_fn(body, "VirtIODevice *vdev, hwaddr pa"))
    assert (info.cls, info.max_bytes) == ("small", 1024)


def test_guest_value_capped_by_min_is_small():
    body = "    uint32_t len = ldl_be_p(buf);\n\n    p = g_malloc(MIN(len, 64));"
    info = one(in_fn(body, "const void *buf"))
    assert (info.cls, info.max_bytes) == ("small", 64)


def test_guest_value_with_admitted_large_bound_stays_large():
    body = "    uint32_t len = ldl_le_p(buf);\n\n    if (len > 65536) {\n        return NULL;\n    }\n    p = g_malloc(len);"
    info = one(in_fn(body, "const void *buf"))
    assert (info.cls, info.max_bytes) == ("large", 65536)


def test_other_call_results_are_unknown_not_large():
    info = one(in_fn("    p = g_malloc(strlen(s) + 1);", "const char *s"))
    assert info.cls == "unknown" and "strlen" in info.evidence


def test_odd_input_never_raises():
    src = in_fn("    p = g_malloc(sizeof(struct Missing) * ((n << 70) >> -1) / 0 + \"x\"[0]);", "int n")
    info = one(src)
    assert info.cls in ("unknown", "large")


# ---------------------------------------------------------------------------
# Integration: real QEMU files


@pytest.mark.integration
def test_every_site_in_a_qemu_sample_is_classified(qemu_tree):
    candidates = sorted(p for p in qemu_tree.rglob("*.c") if b"g_malloc" in p.read_bytes() or b"g_new" in p.read_bytes())
    sample = random.Random(7).sample(candidates, 150)
    counts = {"small": 0, "large": 0, "unknown": 0}
    for path in sample:
        parsed = parse_source(SourceFile(str(path), str(path.relative_to(qemu_tree)), path.read_bytes()), PROFILE)
        for site in find_sites(parsed):
            info = classify_size(site, parsed)
            counts[info.cls] += 1
            assert info.evidence and not info.evidence.startswith("internal error"), info.evidence
            if info.cls == "small":
                assert info.max_bytes is not None and 0 <= info.max_bytes <= 4096
    assert counts["small"] > 0 and counts["large"] > 0 and counts["unknown"] > 0


@pytest.mark.integration
def test_known_qemu_sites(qemu_tree):
    # block/vmdk.c allocates its descriptor buffer of DESC_SIZE (10 KiB) bytes.
    path = qemu_tree / "block" / "vmdk.c"
    parsed = parse_source(SourceFile(str(path), "block/vmdk.c", path.read_bytes()), PROFILE)
    infos = [classify_size(s, parsed) for s in find_sites(parsed)]
    assert any(i.cls == "large" and i.max_bytes == 10240 and "DESC_SIZE" in i.evidence for i in infos)


def test_negative_constant_cast_to_unsigned_wraps():
    # SIZE_MAX as glib/QEMU spell it: a check against it bounds nothing.
    src = ("#define MY_SIZE_MAX ((size_t)-1)\n"
           "static int grow(State *s, uint64_t new_bytes)\n{\n"
           "    if (new_bytes > MY_SIZE_MAX) {\n        return -EFBIG;\n    }\n"
           "    s->table = g_malloc(new_bytes);\n    return 0;\n}\n")
    info = one(src)
    assert info.cls != "small" and (info.max_bytes is None or info.max_bytes > 4096)
