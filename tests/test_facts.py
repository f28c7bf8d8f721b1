"""Facts extracted from one parse: functions, calls, callback references."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from codemod.analysis.facts import FileFacts, extract_facts
from codemod.cparse import MacroProfile, parse_source
from codemod.rulesdata import builtin_rules_dir
from codemod.source import SourceFile

MINI = Path(__file__).parent / "fixtures" / "phase" / "mini"


def profile() -> MacroProfile:
    return MacroProfile.load(builtin_rules_dir() / "qemu-macros.toml")


def facts_of(text: str, display: str = "hw/test.c") -> FileFacts:
    return extract_facts(parse_source(SourceFile(display, display, text.encode()), profile()))


def facts_file(rel: str) -> FileFacts:
    path = MINI / rel
    return extract_facts(parse_source(SourceFile(str(path), rel, path.read_bytes()), profile()))


def refs(ff: FileFacts, **want):
    return [r for r in ff.refs if all(getattr(r, k) == v for k, v in want.items())]


def test_functions_signature_facts():
    ff = facts_file("hw/misc/widget.c")
    assert ff.path == "hw/misc/widget.c"
    names = [f.name for f in ff.functions]
    assert names[:3] == ["common_reset", "widget_stats_collect", "widget_done_cb"]
    collect = ff.function("widget_stats_collect")
    assert not collect.static and collect.has_errp
    assert collect.params == ("WidgetState *s", "Error **errp")
    assert collect.param_types == ("WidgetState *", "Error **")
    assert collect.return_type == "void"
    read = ff.function("widget_read")
    assert read.static and not read.has_errp
    assert read.return_type == "uint64_t"
    assert read.calls == ("common_reset", "widget_async_start")
    src = (MINI / "hw/misc/widget.c").read_bytes()
    assert src[read.start : read.end].startswith(b"static uint64_t widget_read(")
    assert src[read.start : read.end].endswith(b"}")


def test_pointer_return_type_and_void_params():
    ff = facts_of("static QEMUBH *make_bh(void)\n{\n    return NULL;\n}\n")
    fn = ff.function("make_bh")
    assert fn.return_type == "QEMUBH *"
    assert fn.params == () and fn.param_types == ()


def test_struct_initialiser_registrations():
    ff = facts_file("hw/misc/widget.c")
    (read,) = refs(ff, target="widget_read")
    assert (read.how, read.site, read.struct_type, read.var, read.function) == (
        "init", "read", "MemoryRegionOps", "widget_ops", None)
    (ci,) = refs(ff, target="widget_class_init")
    assert (ci.how, ci.site, ci.struct_type, ci.var) == ("init", "class_init", "TypeInfo", "widget_info")


def test_nested_initialiser_gets_a_type_path():
    ff = facts_file("block/drv.c")
    (run,) = refs(ff, target="drv_job_run")
    assert (run.how, run.site, run.struct_type, run.var) == (
        "init", "run", "BlockJobDriver.job_driver", "drv_job_driver")


def test_field_store_with_object_type():
    ff = facts_file("hw/block/vqdev.c")
    (realize,) = refs(ff, target="vqdev_device_realize")
    assert (realize.how, realize.site, realize.struct_type, realize.function) == (
        "store", "realize", "VirtioDeviceClass", "vqdev_class_init")
    (vmsd,) = refs(ff, target="vmstate_vqdev")
    assert vmsd.how == "store" and vmsd.address and vmsd.struct_type == "DeviceClass"
    assert "hotpluggable=false" in ff.function("vqdev_class_init").flags


def test_qom_cast_as_object_type():
    ff = facts_of(
        "static void k_init(ObjectClass *oc, void *data)\n{\n"
        "    DEVICE_CLASS(oc)->realize = k_realize;\n}\n"
    )
    (r,) = refs(ff, target="k_realize")
    assert r.struct_type == "DEVICE_CLASS()"


def test_callbacks_passed_to_calls_with_positions():
    ff = facts_file("hw/misc/widget.c")
    (timer,) = refs(ff, target="widget_timer_cb")
    assert (timer.how, timer.site, timer.index, timer.function) == (
        "arg", "timer_new_ns", 1, "widget_realize")
    (ops,) = refs(ff, target="widget_ops", how="arg")
    assert ops.site == "memory_region_init_io" and ops.index == 2 and ops.address
    assert [(r.site, r.index) for r in refs(ff, how="arg", site="qemu_chr_fe_set_handlers")] == [
        ("qemu_chr_fe_set_handlers", 1), ("qemu_chr_fe_set_handlers", 2)]
    (bh,) = refs(ff, target="widget_bh_cb")
    assert (bh.site, bh.index) == ("qemu_bh_new", 0)


def test_parameters_locals_and_constants_are_not_callbacks():
    ff = facts_of(
        "static void f(void *opaque, int n)\n{\n"
        "    int entry;\n    void (*fn)(void) = pick();\n"
        "    use(opaque, n, &entry, QEMU_CLOCK_VIRTUAL, real_cb);\n    fn();\n}\n"
    )
    assert [r.target for r in ff.refs] == ["real_cb"]
    assert ff.function("f").calls == ("pick", "use")


def test_parameters_handed_on_are_forward_facts():
    ff = facts_file("hw/block/vqdev.c")
    fwd = [(r.target, r.site, r.index, r.param, r.function) for r in refs(ff, how="forward")]
    assert fwd == [
        ("ctrl", "virtio_add_queue", 2, 1, "vqdev_add_queues"),
        ("ctrl", "vqdev_add_queues", 1, 1, "vqdev_common_realize"),
        ("event", "virtio_add_queue", 2, 2, "vqdev_common_realize"),
    ]


def test_indirect_calls_through_typed_fields():
    ff = facts_file("hw/misc/dispatch.c")
    assert ff.function("dispatch_mmio_read").indirect_calls == (("DispatchClass", "process"),)
    (st,) = refs(ff, target="dispatch_process")
    assert (st.how, st.site, st.struct_type) == ("store", "process", "DispatchClass")


def test_value_uses_inside_functions():
    ff = facts_of("static void g(S *s)\n{\n    cb_t c = cb_one;\n    run(c);\n    return;\n}\n"
                  "static cb_t h(void)\n{\n    return cb_two;\n}\n")
    assert [(r.target, r.how, r.function) for r in ff.refs] == [
        ("cb_one", "value", "g"), ("cb_two", "value", "h")]


@pytest.mark.parametrize("tail", ["", ";"])
def test_type_init_macro_in_either_parse_shape(tail):
    # Without a semicolon tree-sitter glues the macro onto the next
    # definition as its type; with one it is an expression statement.
    ff = facts_of(
        "static void reg(void)\n{\n}\n\n"
        f"type_init(reg){tail}\n\n"
        "static void after(void)\n{\n}\n"
    )
    (m,) = refs(ff, how="macro")
    assert (m.target, m.site, m.index, m.function) == ("reg", "type_init", 0, None)
    after = ff.function("after")
    assert after is not None and after.static and after.return_type == "void"


def test_define_machine_second_argument():
    ff = facts_of('static void none_init(MachineClass *mc)\n{\n}\n\nDEFINE_MACHINE("none", none_init)\n')
    (m,) = refs(ff, how="macro")
    assert (m.target, m.site, m.index) == ("none_init", "DEFINE_MACHINE", 1)


def test_macro_arguments_over_several_lines():
    ff = facts_of('DEFINE_I440FX_MACHINE(v7_2, "pc-i440fx-7.2", NULL,\n'
                  '                      pc_i440fx_7_2_machine_options);\n')
    assert [(r.target, r.index) for r in refs(ff, how="macro")] == [
        ("v7_2", 0), ("pc_i440fx_7_2_machine_options", 3)]


def test_knr_style_header_is_not_a_macro():
    ff = facts_of("static void\nfoo_bar(int x)\n{\n}\n\nstatic int\nbaz(void)\n{\n    return 0;\n}\n")
    assert refs(ff, how="macro") == []
    assert [f.name for f in ff.functions] == ["foo_bar", "baz"]


def test_hmp_table_rows():
    ff = facts_file("monitor/widget-cmds.c")
    (cmd,) = refs(ff, target="hmp_widget_poke")
    assert (cmd.how, cmd.site, cmd.struct_type, cmd.var) == ("init", "cmd", "HMPCommand", "widget_cmds")


def test_facts_pickle_round_trip():
    ff = facts_file("hw/misc/widget.c")
    back = pickle.loads(pickle.dumps(ff))
    assert back == ff


@pytest.mark.integration
def test_real_facts_from_qemu(qemu_tree):
    def real(rel: str) -> FileFacts:
        path = qemu_tree / rel
        return extract_facts(parse_source(SourceFile(str(path), rel, path.read_bytes()), profile()))

    lsi = real("hw/scsi/lsi53c895a.c")
    # lsi_mmio_ops = { .read = lsi_mmio_read, ... } and type_init(lsi53c895a_register_types)
    (r,) = refs(lsi, target="lsi_mmio_read", how="init")
    assert (r.site, r.struct_type, r.var) == ("read", "MemoryRegionOps", "lsi_mmio_ops")
    assert refs(lsi, how="macro", site="type_init", target="lsi53c895a_register_types")
    (realize,) = refs(lsi, target="lsi_scsi_realize")
    assert (realize.how, realize.site, realize.struct_type) == ("store", "realize", "PCIDeviceClass")
    qcow2 = real("block/qcow2.c")
    (pre,) = refs(qcow2, target="qcow2_co_preadv_part", how="init")
    assert (pre.site, pre.struct_type, pre.var) == ("bdrv_co_preadv_part", "BlockDriver", "bdrv_qcow2")
    assert refs(qcow2, how="macro", site="block_init", target="bdrv_qcow2_init")


def test_extraction_failure_is_a_value(monkeypatch):
    import codemod.analysis.facts as facts_mod

    def boom(parsed):
        raise ValueError("bad tree")

    monkeypatch.setattr(facts_mod, "_extract", boom)
    ff = facts_of("int x;\n", "hw/broken.c")
    assert ff.functions == [] and ff.error.startswith("hw/broken.c:1:1: fact extraction failed: ValueError")


def test_facts_for_files_reads_and_reports(tmp_path):
    from codemod.analysis.facts import facts_for_files
    from codemod.discover import DiscoveredFile

    good = tmp_path / "a.c"
    good.write_text("void f(void)\n{\n    g();\n}\n")
    out = facts_for_files(
        [DiscoveredFile(str(good), "a.c"), DiscoveredFile(str(tmp_path / "missing.c"), "missing.c")], profile()
    )
    assert out[0].function("f").calls == ("g",)
    assert out[1].error.startswith("missing.c:1:1: unreadable")


def test_helper_macro_names_definitions_and_calls():
    ff = facts_of(
        "uint32_t HELPER(get_flags)(CPUArchState *env)\n{\n"
        "    return HELPER(other)(env) + helper_direct(env);\n}\n"
        "void QEMU_NORETURN HELPER(raise)(CPUArchState *env, uint32_t excp)\n{\n}\n"
        "void VEC_HELPER(x)(void *d)\n{\n}\n"
    )
    assert [f.name for f in ff.functions] == ["helper_get_flags", "helper_raise", "VEC_HELPER(x)"]
    fn = ff.function("helper_get_flags")
    assert fn.calls == ("helper_other", "helper_direct")
    assert fn.params == ("CPUArchState *env",)
    assert ff.refs == []


QOM = Path(__file__).parent / "fixtures" / "phase" / "qom"


def qom_file(rel: str) -> FileFacts:
    path = QOM / rel
    return extract_facts(parse_source(SourceFile(str(path), rel, path.read_bytes()), profile()))


def test_qom_types_and_type_name_macros():
    ff = qom_file("hw/misc/panel.c")
    assert ff.qom_types == [
        ("TYPE_PANEL_BASE", "TYPE_SYS_BUS_DEVICE", "panel_base_class_init", None, True),
        ("TYPE_PANEL_LCD", "TYPE_PANEL_BASE", "panel_lcd_class_init", "panel_lcd_instance_init", False),
        ("TYPE_FIXED_BASE", "TYPE_SYS_BUS_DEVICE", "fixed_base_class_init", None, True),
        ('"fixed-child"', "TYPE_FIXED_BASE", None, None, False),
    ]
    hdr = qom_file("include/hw/qdev-core.h")
    assert hdr.type_names["TYPE_PANEL_LCD"] == 'TYPE_PANEL_BASE "-lcd"'
    assert hdr.type_names["TYPE_DEVICE"] == '"device"'


def test_flags_record_true_and_false_assignments():
    fn = qom_file("hw/core/qdev.c").function("device_class_init")
    assert set(fn.flags) == {"hotpluggable=true", "user_creatable=true"}
    assert qom_file("hw/core/sysbus.c").function("sys_bus_device_class_init").flags == ("user_creatable=false",)


def test_top_level_macro_names():
    assert qom_file("hw/display/modgpu.c").macros == ("module_obj", "type_init")


def test_function_table_and_its_users():
    ff = qom_file("hw/9p/reqs.c")
    table = refs(ff, how="table")
    assert [(r.target, r.var, r.struct_type) for r in table] == [
        ("req_read", "req_handlers", "CoroutineEntry"), ("req_write", "req_handlers", "CoroutineEntry")]
    assert [(r.target, r.function) for r in refs(ff, how="tableuse")] == [("req_handlers", "req_submit")]


def test_indirect_call_through_file_scope_pointer():
    fn = qom_file("softmmu/cpus.c").function("qemu_init_vcpu")
    assert fn.indirect_calls == (("AccelOpsClass", "create_vcpu_thread"),)


def test_missing_identifier_does_not_abort_extraction():
    # An empty macro argument, `CASE(NONE, none, )`, parses with a
    # zero-width (MISSING) identifier in the argument list.
    ff = facts_of("void f(int t)\n{\n    switch (t) {\n        CASE(NONE, none, );\n"
                  "        CASE(WAV, wav, );\n    }\n    g(t);\n}\n")
    assert ff.error == ""
    assert ff.function("f").calls[-1] == "g"


# --- Fast scanners agree with their plain definitions -------------------
# (the whole QEMU tree is compared with the previous code by
# scripts/check_mask_identity.py)

import gc  # noqa: E402
import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from codemod.analysis import facts as _facts  # noqa: E402
from codemod.cparse import _line_matches  # noqa: E402

_TOKENS = ["s", "dev", "x", " ", "\n", "\t", "*", "struct", "Foo", "=", ";", ",", ")", "(", "[", "{", "}", "/", "é",
           "_", "1", "type_init", "#", "define", "TYPE_FOO", '"foo"']
_texts = st.lists(st.sampled_from(_TOKENS), max_size=60).map(lambda t: "".join(t).encode())


@settings(max_examples=400, deadline=None)
@given(_texts, st.sampled_from(["s", "dev", "Foo", "x1", "é"]))
def test_whole_word_offsets_match_the_regex(data, word):
    want = [m.start() for m in re.finditer(rb"\b" + re.escape(word.encode()) + rb"\b", data)]
    assert _facts._word_offsets(data, word) == want


@settings(max_examples=400, deadline=None)
@given(_texts, st.sampled_from(["s", "dev", "Foo", "x"]))
def test_declaration_search_matches_a_search_from_the_start(data, name):
    ptr, plain, _ = _facts._decl_patterns(name)
    want = ptr.search(data) or plain.search(data)
    got = _facts._find_declaration(name, data)
    assert (got and (got.span(), got.group(1))) == (want and (want.span(), want.group(1)))


def test_declaration_search_after_a_long_run_of_words():
    # More than 512 bytes of words before the name: searched from the start.
    data = b"x " * 400 + b"Foo *s = 0;"
    assert _facts._find_declaration("s", data).group(1) == b"Foo"


@settings(max_examples=300, deadline=None)
@given(_texts)
def test_line_start_scans_match_the_multiline_patterns(data):
    for first, line in ((_facts._MACRO_RE, _facts._MACRO_LINE_RE),
                        (_facts._TYPE_DEFINE_RE, _facts._TYPE_DEFINE_LINE_RE)):
        got = [(m.span(1), m.span(2), m.group(2)) for m in _line_matches(first, line, data)]
        assert got == [(m.span(1), m.span(2), m.group(2)) for m in first.finditer(data)]


def test_registration_on_the_first_line_and_collector_state():
    ff = facts_of("type_init(foo_register)\nstatic void foo_register(void) {}\n")
    assert "type_init" in ff.macros
    assert refs(ff, how="macro", target="foo_register", offset=10)
    # The cyclic collector is paused during extraction only.
    assert gc.isenabled()
    gc.disable()
    try:
        facts_of("int f(void) { return 0; }\n")
        assert not gc.isenabled()
    finally:
        gc.enable()
