"""Where size facts come from beyond the file: QAPI schema types, system
types (rules/system-types.toml), transitive includes, device properties,
and provenance across the functions of a file (callers, field writes,
one-line helpers, growth in endless loops).

Snippets and fixtures are original C and QAPI written for these tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codemod.analysis import headers, props, qapi
from codemod.analysis.sites import find_sites
from codemod.analysis.size import SizeFacts, classify_size, system_types
from codemod.cparse import MacroProfile, parse_source
from codemod.source import SourceFile

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "size"
PROFILE = MacroProfile.load(REPO / "rules" / "qemu-macros.toml")


def parse(src: str, name: str = "t.c"):
    return parse_source(SourceFile(name, name, src.encode()), PROFILE)


def sizes(src: str, facts: SizeFacts | None = None):
    parsed = parse(src)
    assert not parsed.has_errors, "test snippet must parse cleanly"
    return [classify_size(s, parsed, facts=facts) for s in find_sites(parsed)]


def one(src: str, facts: SizeFacts | None = None):
    out = sizes(src, facts)
    assert len(out) == 1, out
    return out[0]


# ---------------------------------------------------------------------------
# QAPI


@pytest.fixture
def qapi_tree(tmp_path):
    shutil.copytree(FIXTURES / "qapi", tmp_path / "qapi")
    qapi._CACHE.clear()
    yield tmp_path
    qapi._CACHE.clear()


def _alloc(type_name: str) -> str:
    return f"static void *f(void)\n{{\n    return g_new0({type_name}, 1);\n}}\n"


@pytest.mark.parametrize("type_name,size", [
    ("WidgetBase", 16),   # char *id; bool has_weight; uint16_t weight
    ("Widget", 56),       # base members, enum, uint64_t, strList *, bool has_parent, Widget *, bool
    ("Empty", 1),         # char qapi_dummy_for_empty_struct
    ("RoundInfo", 4),
    ("Shape", 32),        # int kind; bool has_name; char *name; union { RoundInfo; SquareInfo } u
    ("SizeOrName", 16),   # QType type; union { int64_t n; char *name; } u
    ("Point", 32),        # from the included common.json
    ("WidgetList", 16),   # WidgetList *next; Widget *value
    ("strList", 16),
    ("WidgetKind", 4),
])
def test_qapi_struct_layouts(qapi_tree, type_name, size):
    facts = qapi.schema_facts(qapi_tree)
    info = one(_alloc(type_name), facts)
    assert (info.cls, info.max_bytes) == ("small", size), info.evidence


def test_qapi_enum_constants_and_optional_members(qapi_tree):
    facts = qapi.schema_facts(qapi_tree)
    assert facts.constants["WIDGET_KIND_SQUARE"] == ["1"]
    assert facts.constants["WIDGET_KIND__MAX"] == ["3"]  # members under 'if' count: the largest layout
    assert facts.constants["GIZMO_MODE_X_ON_DEMAND"] == ["1"]
    assert facts.constants["GIZMO_MODE_X__MAX"] == ["2"]
    fields = [f[0] for f in facts.records["struct Widget"][1]]
    assert fields == ["id", "has_weight", "weight", "kind", "size", "tags", "has_parent", "parent", "enabled"]
    info = one("static void *f(void)\n{\n    return g_new0(Widget *, WIDGET_KIND__MAX);\n}\n", facts)
    assert (info.cls, info.max_bytes) == ("small", 24)


def test_qapi_names_and_schema_syntax():
    assert qapi.camel_to_upper("BlockdevDriver") == "BLOCKDEV_DRIVER"
    assert qapi.camel_to_upper("QCryptoHashAlgorithm") == "Q_CRYPTO_HASH_ALGORITHM"  # why QEMU gives a prefix
    assert qapi.camel_to_upper("Virtio9PTransport") == "VIRTIO9_P_TRANSPORT"
    assert qapi.camel_to_upper("ALREADY_UPPER") == "ALREADY_UPPER"
    assert qapi.c_name("if") == "q_if" and qapi.c_name("keep-alive") == "keep_alive"
    exprs = qapi.parse_schema_text("# c\n{ 'a': [ 'x', { 'b': true } ], 'c': {} }\n{'d': false}")
    assert exprs == [{"a": ["x", {"b": True}], "c": {}}, {"d": False}]
    with pytest.raises(qapi.SchemaError):
        qapi.parse_schema_text("{ 'a' 'b' }")


def test_qapi_member_of_undefined_type_leaves_the_record_unknown(tmp_path):
    (tmp_path / "qapi").mkdir()
    (tmp_path / "qapi" / "x.json").write_text("{ 'struct': 'Odd', 'data': { 'm': 'NoSuchType' } }\n")
    facts = qapi.facts_from_definitions(qapi._load([tmp_path / "qapi" / "x.json"]))
    assert "struct Odd" not in facts.records
    assert one(_alloc("Odd"), facts).cls == "unknown"


# ---------------------------------------------------------------------------
# System types (data in rules/system-types.toml)


def test_system_types_come_from_the_data_file():
    layouts, offsets = system_types()
    assert layouts["z_stream"] == (112, 8) and layouts["wchar_t"] == (4, 4)
    assert offsets["struct iovec"] == {"iov_base": 0, "iov_len": 8}
    src = ("struct Codec {\n    z_stream zs;\n    wchar_t name[16];\n    uint8_t palette[256 * 24];\n};\n"
           "static void *f(void)\n{\n    return g_new0(struct Codec, 1);\n}\n")
    info = one(src)
    # 112 + 64 + 6144 = 6320: above the limit, and only the data file knows z_stream
    assert (info.cls, info.max_bytes) == ("large", 6320)


def test_typedef_declared_by_a_macro_falls_back_to_the_struct():
    # OBJECT_DECLARE_SIMPLE_TYPE(FooState, FOO) declares `typedef struct FooState FooState;`
    src = ("struct FooState {\n    uint32_t regs[8];\n};\n"
           "static void *f(void)\n{\n    return g_new0(FooState, 2);\n}\n")
    assert one(src).max_bytes == 64


# ---------------------------------------------------------------------------
# Headers: transitive, linux-headers/, Windows branches skipped


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_includes_are_followed_transitively(tmp_path):
    root = _tree(tmp_path, {
        "include/a.h": '#include "b.h"\n',
        "include/b.h": '#include "c.h"\n',
        "include/c.h": '#include "d.h"\n',
        "include/d.h": "typedef struct Deep {\n    char buf[64];\n} Deep;\n",
        "hw/dev.c": '#include "a.h"\nstatic void *f(void)\n{\n    return g_new0(Deep, 1);\n}\n',
    })
    data = (root / "hw/dev.c").read_bytes()
    closure = headers.include_closure(str(root / "hw/dev.c"), data, root, PROFILE)
    assert [Path(p).name for p in closure] == ["a.h", "b.h", "c.h", "d.h"]
    facts = headers.header_facts(str(root / "hw/dev.c"), data, root, PROFILE)
    assert headers.header_facts(str(root / "hw/dev.c"), data, root, PROFILE) is facts  # cached per run
    limited = headers.header_facts(str(root / "hw/dev.c"), data, root, PROFILE, depth=3)
    parsed = parse_source(SourceFile(str(root / "hw/dev.c"), "hw/dev.c", data), PROFILE)
    site = find_sites(parsed)[0]
    assert classify_size(site, parsed, facts=facts).max_bytes == 64
    assert classify_size(site, parsed, facts=limited).cls == "unknown"


def test_linux_headers_and_windows_branches(tmp_path):
    root = _tree(tmp_path, {
        "linux-headers/linux/kvm.h": "struct kvm_thing {\n    __u64 id;\n    __u32 flags;\n};\n",
        "include/lock.h": ('#ifdef _WIN32\n#include "lock-win32.h"\n#else\n#include "lock-posix.h"\n#endif\n'
                           '#if !defined(_WIN32)\n#include "extra.h"\n#endif\n'),
        "include/lock-win32.h": "struct Lock {\n    char c;\n};\n",
        "include/lock-posix.h": "struct Lock {\n    pthread_mutex_t m;\n    bool init;\n};\n",
        "include/extra.h": "#define EXTRA 3\n",
        "dev.c": ('#include <linux/kvm.h>\n#include <stdio.h>\n#include "lock.h"\n'
                  "static void *f(void)\n{\n    return g_malloc(sizeof(struct kvm_thing) + sizeof(struct Lock) * EXTRA);\n}\n"),
    })
    data = (root / "dev.c").read_bytes()
    names = [Path(p).name for p in headers.include_closure(str(root / "dev.c"), data, root, PROFILE)]
    assert names == ["kvm.h", "lock.h", "lock-posix.h", "extra.h"]
    facts = headers.header_facts(str(root / "dev.c"), data, root, PROFILE)
    parsed = parse_source(SourceFile(str(root / "dev.c"), "dev.c", data), PROFILE)
    info = classify_size(find_sites(parsed)[0], parsed, facts=facts)
    assert (info.cls, info.max_bytes) == ("small", 16 + 48 * 3)


# ---------------------------------------------------------------------------
# Device properties


def test_property_scan():
    text = (b'static Property p[] = {\n    DEFINE_PROP_UINT32("nr-lines", GpioState, nr_lines, 8),\n'
            b'    DEFINE_PROP_BOOL("x", GpioState, flag, false),\n'
            b'    DEFINE_PROP_ARRAY("cells", GpioState, ncells, cells, qdev_prop_uint32, uint32_t),\n};\n')
    found = props.scan_properties(text, "hw/gpio/g.c")
    assert found == {"GpioState.nr_lines": [("DEFINE_PROP_UINT32", '"nr-lines"', "hw/gpio/g.c:2")],
                     "GpioState.ncells": [("DEFINE_PROP_ARRAY", '"len-cells"', "hw/gpio/g.c:4")]}


def test_property_field_is_user_controlled(tmp_path):
    root = _tree(tmp_path, {"hw/gpio/g.c": 'DEFINE_PROP_UINT32("nr-lines", GpioState, nr_lines, 8),\n'
                                           'DEFINE_PROP_UINT8("nr-banks", GpioState, nr_banks, 1),\n'})
    facts = SizeFacts(properties=props.tree_properties(root))
    src = ("typedef struct GpioState {\n    uint32_t nr_lines;\n    uint8_t nr_banks;\n    void **lines;\n} GpioState;\n"
           "static void gpio_realize(GpioState *s)\n{\n    s->lines = g_new0(void *, s->nr_lines);\n"
           "    s->lines = g_new0(void *, s->nr_banks);\n}\n")
    lines, banks = sizes(src, facts)
    assert lines.cls == "large"
    assert '"nr-lines"' in lines.evidence and "DEFINE_PROP_UINT32 at hw/gpio/g.c:1" in lines.evidence
    # a uint8_t property holds at most 255: 255 pointers are 2040 bytes
    assert (banks.cls, banks.max_bytes) == ("small", 2040)
    # a check in front bounds the property like any value
    checked = one("typedef struct GpioState {\n    uint32_t nr_lines;\n} GpioState;\n"
                  "static void *f(GpioState *s)\n{\n    if (s->nr_lines > 32) {\n        return NULL;\n    }\n"
                  "    return g_new0(uint64_t, s->nr_lines);\n}\n", facts)
    assert (checked.cls, checked.max_bytes) == ("small", 256)


def test_a_property_on_a_member_of_a_member(tmp_path):
    # Properties often name a field of an embedded config struct (virtio's
    # `conf.num_queues`); the key is the path from the device's state.
    text = b'DEFINE_PROP_UINT32("num-queues", VirtIOWidget, conf . num_queues, 1),\n'
    assert props.scan_properties(text, "hw/w.c") == {
        "VirtIOWidget.conf.num_queues": [("DEFINE_PROP_UINT32", '"num-queues"', "hw/w.c:1")]}
    root = _tree(tmp_path, {"hw/w.c": text.decode()})
    facts = SizeFacts(properties=props.tree_properties(root))
    src = ("typedef struct WidgetConf {\n    uint32_t num_queues;\n    uint32_t fixed;\n} WidgetConf;\n"
           "typedef struct VirtIOWidget {\n    int id;\n    WidgetConf conf;\n    void **vqs;\n} VirtIOWidget;\n"
           "static void widget_realize(VirtIOWidget *s)\n{\n    s->vqs = g_new0(void *, s->conf.num_queues);\n"
           "    s->vqs = g_new0(void *, s->conf.fixed);\n}\n")
    queues, fixed = sizes(src, facts)
    assert queues.cls == "large" and '"num-queues"' in queues.evidence
    # the same member name under another path is not the property
    assert "num-queues" not in fixed.evidence


# ---------------------------------------------------------------------------
# Provenance across the functions of a file


def test_parameter_takes_guest_data_from_a_caller():
    src = ("static void *make_buf(uint32_t len)\n{\n    return g_malloc(len);\n}\n"
           "static void handle(const uint8_t *desc)\n{\n    g_free(make_buf(4));\n"
           "    g_free(make_buf(ldl_le_p(desc)));\n}\n")
    info = one(src)
    assert info.cls == "large"
    assert "len: parameter of make_buf, given ldl_le_p(desc) at line 8" in info.evidence
    assert "guest data decoded by ldl_le_p" in info.evidence


def test_static_function_bounded_by_every_caller():
    callee = "static void *make_buf(uint32_t len)\n{\n    return g_malloc(len);\n}\n"
    callers = "static void a(void)\n{\n    g_free(make_buf(16));\n}\nstatic void b(void)\n{\n    g_free(make_buf(64));\n}\n"
    info = one(callee + callers)
    assert (info.cls, info.max_bytes) == ("small", 64)
    assert "from every call" in info.evidence
    # not static: callers elsewhere may pass anything
    assert one(callee.replace("static ", "") + callers).cls == "unknown"
    # its address is taken: called through a pointer too
    assert one(callee + callers + "static void *(*hook)(uint32_t) = make_buf;\n").cls == "unknown"
    # used in a macro body: calls the walk cannot see
    assert one(callee + callers + "#define MAKE_BIG() make_buf(1 << 20)\n").cls == "unknown"


def test_field_set_from_guest_data_in_another_function():
    src = ("typedef struct Ring {\n    uint32_t num;\n    void *slots;\n} Ring;\n"
           "static void ring_write(Ring *r, const uint8_t *regs)\n{\n    r->num = ldl_le_p(regs);\n}\n"
           "static void ring_start(Ring *r)\n{\n    r->slots = g_malloc(r->num * 16);\n}\n")
    info = one(src)
    assert info.cls == "large"
    assert "r->num: field num is set from ldl_le_p(regs) at line 7" in info.evidence


def test_field_of_a_struct_read_from_an_image():
    src = ("typedef struct Hdr {\n    uint32_t table_len;\n} Hdr;\n"
           "typedef struct State {\n    Hdr hdr;\n} State;\n"
           "static int open_image(BdrvChild *file, State *s)\n{\n"
           "    return bdrv_pread(file, 0, sizeof(s->hdr), &s->hdr, 0);\n}\n"
           "static void *load_table(State *s)\n{\n    return g_malloc(s->hdr.table_len);\n}\n")
    info = one(src)
    assert info.cls == "large"
    assert "field of a Hdr read from the disk image by bdrv_pread at line 9" in info.evidence


def test_local_struct_is_not_tainted_by_other_functions():
    src = ("typedef struct Hdr {\n    uint32_t n;\n} Hdr;\n"
           "static int rd(BdrvChild *file, Hdr *h)\n{\n    return bdrv_pread(file, 0, sizeof(*h), h, 0);\n}\n"
           "static void *mk(BdrvChild *file, uint32_t n)\n{\n    Hdr h;\n\n    memset(&h, 0, sizeof(h));\n"
           "    h.n = n;\n    blk_write_header(file, &h);\n    return g_malloc(h.n);\n}\n")
    assert one(src).cls == "unknown"


def test_dominating_field_assignment_is_the_value():
    src = ("typedef struct Buf {\n    uint32_t size;\n    void *data;\n} Buf;\n"
           "static void buf_init(Buf *b)\n{\n    g_free(b->data);\n    b->size = 512;\n    b->data = g_malloc(b->size);\n}\n"
           "static void buf_reinit(Buf *b)\n{\n    b->size = 512;\n    buf_reset(b);\n    b->data = g_malloc(b->size);\n}\n")
    first, second = sizes(src)
    assert (first.cls, first.max_bytes) == ("small", 512)
    assert second.cls == "unknown"  # buf_reset(b) may change b->size


def test_one_line_helpers_are_evaluated_with_their_arguments():
    src = ("static inline size_t blocks_to_bytes(Ns *ns, uint64_t n)\n{\n    return n << ns->shift;\n}\n"
           "static inline size_t hdr_bytes(void)\n{\n    return 16 * sizeof(uint64_t);\n}\n"
           "static void io(Ns *ns, Cmd *cmd)\n{\n    uint32_t nlb = le16_to_cpu(cmd->nlb) + 1;\n"
           "    g_free(g_malloc(blocks_to_bytes(ns, nlb)));\n    g_free(g_malloc(hdr_bytes()));\n}\n")
    guest, fixed = sizes(src)
    assert guest.cls == "large" and "blocks_to_bytes() returns n << ns->shift" in guest.evidence
    assert (fixed.cls, fixed.max_bytes) == ("small", 128)


def test_sequential_compound_assignments():
    src = ("static void *f(uint8_t n)\n{\n    size_t size = sizeof(uint64_t);\n\n    size += n * 4;\n"
           "    return g_malloc(size);\n}\n")
    info = one(src)
    assert (info.cls, info.max_bytes) == ("small", 8 + 255 * 4)


def test_growth_in_an_endless_loop_is_large():
    src = ("static void *slurp(int fd)\n{\n    uint8_t *blob = NULL;\n    size_t len = 0;\n\n    for (;;) {\n"
           "        uint8_t chunk[512];\n        ssize_t r = read(fd, chunk, sizeof(chunk));\n\n"
           "        if (r == 0) {\n            break;\n        } else if (r > 0) {\n"
           "            blob = g_realloc(blob, len + r);\n            memcpy(blob + len, chunk, r);\n            len += r;\n"
           "        }\n    }\n    return blob;\n}\n")
    info = one(src)
    assert info.cls == "large"
    assert "len grows by r" in info.evidence and "endless loop at line 6" in info.evidence
    # a loop with a condition is not endless: the count stays unknown
    bounded = src.replace("for (;;) {", "for (int i = 0; i < n_chunks(fd); i++) {")
    assert one(bounded).cls == "unknown"


def test_qmp_command_arguments_come_from_the_client():
    src = ("char *qmp_log_read(int64_t count, Error **errp)\n{\n    return g_malloc(count + 1);\n}\n")
    info = one(src)
    assert info.cls == "large" and "argument of the QMP command handler qmp_log_read" in info.evidence
    # a static helper named qmp_* is no handler; a check bounds the argument as usual
    assert one(src.replace("char *qmp_log_read", "static char *qmp_log_read")).cls == "unknown"
    checked = src.replace("    return", "    if (count > 512) {\n        return NULL;\n    }\n    return")
    assert (one(checked).cls, one(checked).max_bytes) == ("small", 513)


def test_hmp_arguments_from_the_qdict():
    src = ("void hmp_dump_mem(Monitor *mon, const QDict *qdict)\n{\n"
           "    int64_t len = qdict_get_int(qdict, \"len\");\n    g_free(g_malloc(len));\n}\n")
    info = one(src)
    assert info.cls == "large" and "qdict_get_int" in info.evidence


def test_evidence_names_where_an_outside_layout_comes_from(qapi_tree):
    facts = qapi.schema_facts(qapi_tree)
    info = one(_alloc("Widget"), facts)
    assert "Widget: QAPI struct from qapi/widgets.json" in info.evidence
    info = one("static void *f(void)\n{\n    return g_new0(z_stream, 1);\n}\n")
    assert "z_stream: rules/system-types.toml" in info.evidence


def test_reset_inside_the_endless_loop_bounds_nothing_but_proves_no_growth():
    src = ("static void *walk(Ring *r)\n{\n    size_t off = 0;\n    void *p = NULL;\n\n    for (;;) {\n"
           "        g_free(p);\n        p = g_malloc(off + 1);\n        if (ring_wrapped(r)) {\n            off = 0;\n"
           "        } else {\n            off += 16;\n        }\n        if (ring_done(r)) {\n            break;\n        }\n"
           "    }\n    return p;\n}\n")
    info = one(src)
    assert info.cls == "unknown" and "endless loop" not in info.evidence


def test_field_grown_by_guest_data_has_no_bound():
    src = ("typedef struct Tx {\n    uint32_t len;\n    uint8_t *buf;\n} Tx;\n"
           "static void tx_add(Tx *t, const uint8_t *desc)\n{\n    t->len += lduw_le_p(desc);\n}\n"
           "static void tx_pad(Tx *t, uint32_t min_len)\n{\n    int add = min_len - t->len;\n\n"
           "    if (add > 0) {\n        t->buf = g_realloc(t->buf, t->len + add);\n    }\n}\n")
    info = one(src)
    # what is added is bounded (a uint16_t), the field it is added to is not
    assert info.cls == "large" and info.max_bytes is None
    assert "field len grows by lduw_le_p(desc) at line 7" in info.evidence


def test_outside_inputs_fingerprint_follows_schema_and_properties(tmp_path):
    root = _tree(tmp_path, {"qapi/a.json": "{ 'struct': 'A', 'data': { 'x': 'int' } }\n",
                            "hw/d.c": 'DEFINE_PROP_UINT32("n", DevState, n, 1),\n'})
    first = headers.outside_inputs_fingerprint(root)
    props._INDEX.clear()
    assert headers.outside_inputs_fingerprint(root) == first
    (root / "hw/d.c").write_text('DEFINE_PROP_UINT32("n", DevState, n, 1),\nDEFINE_PROP_UINT32("m", DevState, m, 1),\n')
    props._INDEX.clear()
    second = headers.outside_inputs_fingerprint(root)
    assert second != first
    (root / "qapi/a.json").write_text("{ 'struct': 'A', 'data': { 'x': 'int', 'y': 'str' } }\n")
    props._INDEX.clear()
    assert headers.outside_inputs_fingerprint(root) != second


# -- where values come from: files, options, the guest, the network, the kernel --------------


def test_size_of_a_file_the_user_names_is_large():
    src = ("static void load(const char *kernel)\n{\n    int64_t n = get_file_size(kernel);\n\n"
           "    if (n < 0) {\n        return;\n    }\n    g_free(g_malloc(n));\n}\n")
    info = one(src)
    assert info.cls == "large" and "get_file_size" in info.evidence and "file the user names" in info.evidence


def test_user_option_through_a_handed_out_local_struct():
    # the option parser is called through a function pointer with &io; it sets io->blk
    src = ("typedef struct Io {\n    int blk;\n    void *buf;\n} Io;\n"
           "static int io_blk(const char *arg, Io *io)\n{\n    int64_t res = cvtnum_full(\"bs\", arg, 1, INT_MAX);\n\n"
           "    if (res < 0) {\n        return 1;\n    }\n    io->blk = res;\n    return 0;\n}\n"
           "static void run(int (*parse)(const char *, Io *), const char *a)\n{\n    Io io = { .blk = 512 };\n\n"
           "    parse(a, &io);\n    io.buf = g_malloc(io.blk);\n}\n")
    info = one(src)
    assert info.cls == "large" and "cvtnum_full" in info.evidence and "io->blk" not in info.evidence.split(";")[0][:2]


def test_local_struct_not_handed_out_ignores_field_writes_elsewhere():
    src = ("typedef struct Io {\n    int blk;\n} Io;\n"
           "static void set(Io *io, const char *arg)\n{\n    io->blk = cvtnum(\"bs\", arg);\n}\n"
           "static void *run(int n)\n{\n    Io io;\n\n    io.blk = n;\n    return g_malloc(io.blk);\n}\n")
    assert one(src).cls == "unknown"


def test_number_parsed_into_an_out_parameter_is_large_unless_checked():
    src = ("static void *a(const char *s)\n{\n    unsigned long n;\n\n"
           "    if (qemu_strtoul(s, NULL, 0, &n) < 0) {\n        return NULL;\n    }\n    return g_malloc(n);\n}\n"
           "static void *b(const char *s)\n{\n    unsigned long n;\n\n"
           "    if (qemu_strtoul(s, NULL, 0, &n) < 0 || n > 64) {\n        return NULL;\n    }\n    return g_malloc(n);\n}\n")
    big, checked = sizes(src)
    assert big.cls == "large" and "qemu_strtoul" in big.evidence
    assert (checked.cls, checked.max_bytes) == ("small", 64)


def test_value_stored_through_an_out_parameter_by_a_file_helper():
    src = ("static int rd32(BdrvChild *f, int64_t off, uint32_t *out)\n{\n    uint32_t raw;\n    int ret;\n\n"
           "    ret = bdrv_pread(f, off, 4, &raw, 0);\n    if (ret < 0) {\n        return ret;\n    }\n"
           "    *out = be32_to_cpu(raw);\n    return 0;\n}\n"
           "static int fixed(uint32_t *out)\n{\n    *out = 16;\n    return 0;\n}\n"
           "static void f(BdrvChild *c)\n{\n    uint32_t count, k;\n\n    rd32(c, 8, &count);\n"
           "    g_free(g_malloc(count));\n    fixed(&k);\n    g_free(g_malloc(k));\n}\n")
    image, other = sizes(src)
    assert image.cls == "large" and "stored by rd32()" in image.evidence and "be32_to_cpu" in image.evidence
    # only guest/image/user data is taken from a helper: it may leave the variable alone
    assert other.cls == "unknown"


def test_kernel_answers_are_large():
    src = ("struct region_info {\n    uint32_t argsz;\n    uint64_t size;\n};\n"
           "static void *f(int fd)\n{\n    struct region_info info = { .argsz = sizeof(info) };\n\n"
           "    if (ioctl(fd, 42, &info)) {\n        return NULL;\n    }\n    return g_malloc(info.size);\n}\n"
           "static void *g(int fd)\n{\n    uint32_t n;\n\n    if (read(fd, &n, sizeof(n)) != sizeof(n)) {\n"
           "        return NULL;\n    }\n    return g_malloc(n);\n}\n")
    a, b = sizes(src)
    assert a.cls == "large" and "ioctl" in a.evidence
    assert b.cls == "large" and "read" in b.evidence


def test_snapshot_count_of_an_image_is_large():
    src = ("static void f(BlockDriverState *bs)\n{\n    QEMUSnapshotInfo *sn;\n    int n = bdrv_snapshot_list(bs, &sn);\n\n"
           "    if (n <= 0) {\n        return;\n    }\n    g_free(g_new0(int, n));\n}\n")
    info = one(src)
    assert info.cls == "large" and "snapshots in the disk image" in info.evidence


def test_linux_user_syscall_arguments_are_guest_values():
    src = ("static abi_long do_write(int fd, abi_long arg2, abi_long arg3)\n{\n    void *p = g_malloc(arg3);\n\n"
           "    g_free(p);\n    return 0;\n}\n"
           "static abi_long do_small(abi_ulong len)\n{\n    g_free(g_malloc(len));\n    return 0;\n}\n"
           "abi_long do_syscall(int num, abi_long arg1, abi_long arg2, abi_long arg3)\n{\n"
           "    do_small(16);\n    return do_write(arg1, arg2, arg3);\n}\n")
    guest, bounded = sizes(src)
    assert guest.cls == "large" and "guest syscall argument" in guest.evidence
    # every caller of a static function passing a constant bounds it first
    assert (bounded.cls, bounded.max_bytes) == ("small", 16)


def test_network_packet_lengths_are_large():
    src = ("static ssize_t nic_receive(NetClientState *nc, const uint8_t *buf, size_t size)\n{\n"
           "    uint8_t *copy = g_malloc(size);\n\n    g_free(copy);\n    return size;\n}\n"
           "static void *append(const struct iovec *iov, int iovcnt)\n{\n    size_t len = 0;\n    int i;\n\n"
           "    for (i = 0; i < iovcnt; i++) {\n        len += iov[i].iov_len;\n    }\n    return g_malloc(len);\n}\n")
    recv, acc = sizes(src)
    assert recv.cls == "large" and "network packet" in recv.evidence
    assert acc.cls == "large" and "I/O vector" in acc.evidence


def test_accumulation_of_unbounded_terms_stays_unknown():
    src = ("static void *f(Item **items, int n)\n{\n    size_t len = 0;\n    int i;\n\n"
           "    for (i = 0; i < n; i++) {\n        len += items[i]->len;\n    }\n    return g_malloc(len);\n}\n")
    assert one(src).cls == "unknown"


def test_global_assigned_just_before_the_allocation():
    src = ("static size_t tbl_len;\nstatic uint8_t *tbl;\n"
           "static void add(size_t n)\n{\n    if (!tbl_len) {\n        tbl_len = sizeof(uint16_t);\n"
           "        tbl = g_malloc0(tbl_len);\n    }\n    tbl_len += n;\n}\n"
           "static void reset(size_t n)\n{\n    tbl_len = 8;\n    grow_table(n);\n    tbl = g_malloc0(tbl_len);\n}\n")
    first, second = sizes(src)
    assert (first.cls, first.max_bytes) == ("small", 2)
    assert second.cls == "unknown"  # grow_table() may change the global


def test_system_header_constant():
    src = "static void *page(void)\n{\n    return g_malloc(XC_PAGE_SIZE);\n}\n"
    info = one(src)
    assert (info.cls, info.max_bytes) == ("small", 4096) and "xenctrl.h" in info.evidence


def test_struct_whose_known_members_exceed_the_limit_is_large():
    src = ("typedef struct Dev {\n    OpaqueThing *thing;\n    SomeUndefinedType state;\n    uint8_t buf[0x8000];\n} Dev;\n"
           "typedef struct Small {\n    SomeUndefinedType state;\n    uint8_t buf[16];\n} Small;\n"
           "static void f(void)\n{\n    g_free(g_new0(Dev, 1));\n    g_free(g_malloc(sizeof(Small)));\n}\n")
    big, small = sizes(src)
    assert big.cls == "large" and "known members" in big.evidence
    assert small.cls == "unknown"


def test_local_struct_handed_out_only_after_the_read_keeps_its_local_value():
    src = ("typedef struct Hdr {\n    uint32_t n;\n} Hdr;\n"
           "static void decode(Hdr *h, const Hdr *le)\n{\n    h->n = le32_to_cpu(le->n);\n}\n"
           "static void *mk(uint32_t n, Hdr *le)\n{\n    Hdr h = { .n = 0 };\n    size_t len = h.n;\n\n"
           "    decode(&h, le);\n    return g_malloc(len);\n}\n")
    assert one(src).cls != "large"


def test_callers_in_sibling_files_taint_a_parameter(tmp_path):
    src_dir = FIXTURES / "siblings"
    for name in ("agent-file.c", "agent-cmds.c"):
        shutil.copy(src_dir / name, tmp_path / name)
    path = tmp_path / "agent-file.c"
    parsed = parse_source(SourceFile(str(path), "qga/agent-file.c", path.read_bytes()), PROFILE)
    assert not parsed.has_errors
    client, scratch = [classify_size(s, parsed) for s in find_sites(parsed)]
    assert client.cls == "large"
    assert "qga/agent-cmds.c:" in client.evidence and "qmp_agent_file_read" in client.evidence
    # a constant from a sibling caller is no bound: callers elsewhere in the tree are not seen
    assert scratch.cls == "unknown"


def test_without_sibling_callers_a_parameter_stays_unknown(tmp_path):
    shutil.copy(FIXTURES / "siblings" / "agent-file.c", tmp_path / "agent-file.c")
    path = tmp_path / "agent-file.c"
    parsed = parse_source(SourceFile(str(path), "agent-file.c", path.read_bytes()), PROFILE)
    client, _scratch = [classify_size(s, parsed) for s in find_sites(parsed)]
    assert client.cls == "unknown"


def test_field_set_above_the_limit_in_a_sibling_file(tmp_path):
    for name in ("session.h", "session-setup.c", "session-queue.c"):
        shutil.copy(FIXTURES / "siblings" / name, tmp_path / name)
    path = tmp_path / "session-queue.c"
    data = path.read_bytes()
    parsed = parse_source(SourceFile(str(path), "tools/session-queue.c", data), PROFILE)
    facts = headers.header_facts(str(path), data, tmp_path, PROFILE)
    big, small = [classify_size(s, parsed, facts=facts) for s in find_sites(parsed)]
    # 256 pages of at least 4096 bytes plus the header
    assert big.cls == "large" and "tools/session-setup.c:" in big.evidence and "bufsize" in big.evidence
    # a small value set elsewhere is no bound: other writers are not all seen
    assert small.cls == "unknown"


def test_host_page_size_is_a_lower_bound_only():
    src = ("static void f(void)\n{\n    g_free(g_malloc(qemu_real_host_page_size()));\n"
           "    g_free(g_malloc(2 * getpagesize()));\n}\n")
    one_page, two = sizes(src)
    assert one_page.cls == "unknown"
    assert two.cls == "large" and "at least 4096" in two.evidence


def test_qapi_facts_are_kept_in_the_store_and_follow_the_schema(qapi_tree, monkeypatch):
    from codemod.cache import Cache
    from codemod.analysis.headers import store_namespace

    store = Cache(qapi_tree / "cache", store_namespace("profile.toml"))
    first = qapi.schema_facts(qapi_tree, store)
    loads = []
    real_load = qapi._load
    monkeypatch.setattr(qapi, "_load", lambda paths: loads.append(paths) or real_load(paths))
    qapi._CACHE.clear()
    again = qapi.schema_facts(qapi_tree, store)
    assert loads == [] and again == first  # from the store, not parsed
    schema = sorted((qapi_tree / "qapi").glob("*.json"))[0]
    schema.write_text(schema.read_text() + "\n{ 'struct': 'AddedLater', 'data': { 'x': 'uint64' } }\n")
    qapi._CACHE.clear()
    changed = qapi.schema_facts(qapi_tree, store)
    assert len(loads) == 1 and "struct AddedLater" in changed.records
