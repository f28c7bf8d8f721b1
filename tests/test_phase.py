"""Phase classification over small QEMU-style trees (tests/fixtures/phase)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.analysis.callgraph import EntryProfile
from codemod.analysis.facts import extract_facts
from codemod.analysis.phase import PhaseIndex
from codemod.cparse import MacroProfile, parse_source
from codemod.errors import RuleError
from codemod.rulesdata import builtin_rules_dir
from codemod.source import SourceFile

MINI = Path(__file__).parent / "fixtures" / "phase" / "mini"


def tree_facts(root: Path, subdirs: tuple[str, ...] = ("",)):
    prof = MacroProfile.load(builtin_rules_dir() / "qemu-macros.toml")
    out = []
    for sub in subdirs:
        for path in sorted((root / sub).rglob("*.[ch]")):
            rel = path.relative_to(root).as_posix()
            out.append(extract_facts(parse_source(SourceFile(str(path), rel, path.read_bytes()), prof)))
    return out


@pytest.fixture(scope="module")
def index() -> PhaseIndex:
    return PhaseIndex.build(tree_facts(MINI))


def test_memory_region_ops_read_is_guest_io(index):
    info = index.phase("hw/misc/widget.c", "widget_read")
    assert info.cls == "runtime"
    assert info.via == ("guest-io",)
    assert info.chain == ("widget_read",)
    assert "MemoryRegionOps.read" in info.evidence


def test_chain_from_entry_to_callee(index):
    info = index.phase("hw/misc/widget.c", "common_reset")
    assert info.cls == "runtime"
    assert info.chain == ("widget_read", "common_reset")


def test_static_name_collision_stays_apart(index):
    # common_reset in widget.c is reached from an MMIO read; the one in
    # gadget.c only from a realize of a class that is not user creatable.
    assert index.phase("hw/misc/widget.c", "common_reset").cls == "runtime"
    gadget = index.phase("hw/misc/gadget.c", "common_reset")
    assert gadget.cls == "startup"
    assert gadget.chain == ("gadget_realize", "common_reset")


def test_not_hotpluggable_realize_is_startup(index):
    assert index.phase("hw/misc/gadget.c", "gadget_realize").cls == "startup"
    assert index.phase("hw/misc/gadget.c", "gadget_alloc_table").cls == "startup"
    # vqdev sets hotpluggable = false on a VirtioDeviceClass realize.
    assert index.phase("hw/block/vqdev.c", "vqdev_device_realize").cls == "startup"


def test_hotpluggable_realize_is_both(index):
    info = index.phase("hw/misc/widget.c", "widget_realize")
    assert info.cls == "both"
    assert info.via == ("hotplug", "startup")
    assert "also a startup entry itself" in info.evidence


def test_instance_init_follows_the_class_realize(index):
    assert index.phase("hw/misc/widget.c", "widget_instance_init").cls == "both"


def test_monitor_chain(index):
    info = index.phase("hw/misc/widget.c", "widget_stats_collect")
    assert info.cls == "runtime"
    assert info.via == ("monitor",)
    # qmp_query_widget is the shortest entry (hmp_info_widget is one call further).
    assert info.chain == ("qmp_query_widget", "stats_fill", "widget_stats_collect")


def test_chains_per_kind(index):
    chains = index.chains("softmmu/vl.c", "shared_helper")
    assert chains == {"guest-io": ("widget_write", "shared_helper"), "startup": ("qemu_init", "shared_helper")}
    assert index.chains("hw/misc/widget.c", "widget_stats_collect")["monitor"][0] == "qmp_query_widget"
    assert index.chains("softmmu/vl.c", "init_later_cb") == {}
    assert index.chains("softmmu/vl.c", "nope") == {}


def test_static_qmp_helper_is_not_an_entry_by_name(index):
    assert index.phase("monitor/widget-cmds.c", "stats_fill").chain[0] == "qmp_query_widget"


def test_hmp_table_command_is_monitor(index):
    info = index.phase("monitor/widget-cmds.c", "hmp_widget_poke")
    assert (info.cls, info.via) == ("runtime", ("monitor",))


@pytest.mark.parametrize(
    "path,func,kind",
    [
        ("hw/misc/widget.c", "widget_timer_cb", "event-loop"),
        ("hw/misc/widget.c", "widget_bh_cb", "event-loop"),
        ("hw/misc/widget.c", "widget_fd_read", "event-loop"),
        ("hw/misc/widget.c", "widget_receive", "guest-io"),
        ("hw/misc/widget.c", "widget_can_receive", "guest-io"),
        ("hw/misc/widget.c", "widget_write", "guest-io"),
        ("hw/block/vqdev.c", "vqdev_handle_output", "guest-io"),
        ("hw/block/vqdev.c", "vqdev_post_load", "migration"),
        ("block/drv.c", "drv_co_preadv", "block"),
        ("block/drv.c", "drv_co_entry", "block"),
        ("block/drv.c", "drv_job_run", "block"),
    ],
)
def test_runtime_registrations(index, path, func, kind):
    info = index.phase(path, func)
    assert info.cls == "runtime", info
    assert info.via[0] == kind


@pytest.mark.parametrize(
    "path,func",
    [
        ("hw/misc/widget.c", "widget_register_types"),
        ("hw/misc/widget.c", "widget_class_init"),
        ("hw/misc/gadget.c", "gadget_register_types"),
        ("block/drv.c", "bdrv_drv_init"),
        ("softmmu/vl.c", "parse_args"),
        ("softmmu/vl.c", "main"),
    ],
)
def test_startup_registrations(index, path, func):
    assert index.phase(path, func).cls == "startup"


@pytest.mark.parametrize("func", ["vqdev_handle_ctrl", "vqdev_handle_event"])
def test_callback_handed_on_by_wrappers(index, func):
    # vqdev_device_realize -> vqdev_common_realize(ctrl, event) -> [vqdev_add_queues(ctrl) ->]
    # virtio_add_queue(..., handler): a guest-io entry, not just "runs after realize".
    info = index.phase("hw/block/vqdev.c", func)
    assert (info.cls, info.via) == ("runtime", ("guest-io",))
    assert "vqdev_common_realize()" in info.evidence and "virtio_add_queue()" in info.evidence


def test_call_through_a_class_method_field(index):
    # dispatch_mmio_read calls dk->process(s); DispatchClass.process holds
    # dispatch_process. OtherClass.process is another field: no edge.
    info = index.phase("hw/misc/dispatch.c", "dispatch_process")
    assert info.cls == "runtime"
    assert info.chain == ("dispatch_mmio_read", "dispatch_process")
    assert index.phase("hw/misc/dispatch.c", "other_process").cls == "unknown"


def test_block_open_is_both(index):
    assert index.phase("block/drv.c", "drv_open").cls == "both"
    assert index.phase("block/drv.c", "drv_read_cluster").chain == ("drv_co_preadv", "drv_read_cluster")


def test_reset_is_both(index):
    info = index.phase("hw/block/vqdev.c", "vqdev_reset")
    assert info.cls == "both" and "reset" in info.via


def test_startup_vs_both(index):
    # shared_helper: qemu_init calls it at startup, widget_write at runtime.
    both = index.phase("softmmu/vl.c", "shared_helper")
    assert both.cls == "both"
    assert both.via == ("guest-io", "startup")
    assert both.chain == ("widget_write", "shared_helper")
    assert "startup" in both.evidence
    startup = index.phase("softmmu/vl.c", "parse_args")
    assert startup.chain == ("qemu_init", "parse_args")  # qemu_init is itself a root


def test_startup_walk_stops_at_main_loop(index):
    # main calls qemu_main_loop, but what the loop runs is not startup.
    assert index.phase("softmmu/vl.c", "after_start_work").cls == "runtime"


def test_sync_callback_is_a_call(index):
    info = index.phase("softmmu/vl.c", "cmp_names")
    assert info.cls == "startup"
    assert info.chain == ("qemu_init", "parse_args", "cmp_names")


def test_unknown_stays_unknown(index):
    # In a file-scope table of a type no rule names: nothing says when it runs.
    hook = index.phase("hw/misc/widget.c", "widget_hook")
    assert hook.cls == "unknown" and hook.via == () and hook.chain == ()
    assert "WidgetHooks.frobnicate" in hook.evidence
    # Stored in an unknown field by realize: it runs after realize, and
    # realize runs at hot plug, so it can run at runtime.
    orphan = index.phase("hw/misc/widget.c", "widget_orphan")
    assert orphan.cls == "runtime"
    assert orphan.chain == ("widget_realize", "widget_orphan")
    # Handed to an unknown call at startup: may run later, so unknown.
    later = index.phase("softmmu/vl.c", "init_later_cb")
    assert later.cls == "unknown" and later.via == () and later.chain == ()
    assert "deferred_setup" in later.evidence
    # A test program's main is not an entry.
    assert index.phase("tests/test-widget.c", "only_tests_call").cls == "unknown"
    # A function after a macro that nothing registers.
    assert index.phase("hw/misc/widget.c", "widget_after_macro").cls == "unknown"
    assert index.phase("hw/misc/widget.c", "no_such_function").cls == "unknown"


def test_deferred_callback_of_runtime_function_is_runtime(index):
    info = index.phase("hw/misc/widget.c", "widget_done_cb")
    assert info.cls == "runtime"
    assert info.chain == ("widget_read", "widget_done_cb")


def test_header_static_inline_resolves(index):
    assert index.phase("include/hw/widget.h", "widget_inline_helper").cls == "startup"


def test_slice_dump(index):
    text = index.slice("hw/misc/widget.c", "common_reset")
    assert text.splitlines()[0] == "common_reset (hw/misc/widget.c): runtime via guest-io"
    assert "widget_read (hw/misc/widget.c) calls it [runtime]" in text
    assert "guest-io (runtime): widget_read (hw/misc/widget.c) -> common_reset (hw/misc/widget.c)" in text
    assert "not in the call graph" in index.slice("hw/misc/widget.c", "nope")


def test_counts_cover_every_function(index):
    counts = index.counts()
    assert sum(counts.values()) == len(index.graph)
    assert set(counts) <= {"runtime", "startup", "both", "unknown"}


def test_partial_tree_leaves_unreached_unknown():
    # Without softmmu/ no startup root reaches parse_args' callees.
    idx = PhaseIndex.build(tree_facts(MINI, ("hw", "monitor")))
    assert idx.phase("hw/misc/widget.c", "widget_read").cls == "runtime"
    assert idx.phase("softmmu/vl.c", "parse_args").cls == "unknown"


def test_entry_table_is_data(tmp_path):
    rules = tmp_path / "entry.toml"
    rules.write_text(
        '[kinds]\nstartup = "startup"\nguest-io = "runtime"\n'
        '[[fields]]\nfields = ["write"]\ntypes = ["MemoryRegionOps"]\nkinds = ["guest-io"]\n'
    )
    idx = PhaseIndex.build(tree_facts(MINI, ("hw/misc",)), EntryProfile.load(rules))
    assert idx.phase("hw/misc/widget.c", "widget_write").cls == "runtime"
    assert idx.phase("hw/misc/widget.c", "widget_read").cls == "unknown"


def test_entry_table_errors_name_the_line(tmp_path):
    rules = tmp_path / "bad.toml"
    rules.write_text('[kinds]\nstartup = "startup"\n\n[[fields]]\nfields = ["read"]\nkinds = ["guest-io"]\n')
    with pytest.raises(RuleError) as exc:
        EntryProfile.load(rules)
    assert "unknown entry kind 'guest-io'" in str(exc.value)
    rules.write_text('[kinds]\nstartup = "later"\n')
    with pytest.raises(RuleError):
        EntryProfile.load(rules)


def test_builtin_table_loads():
    prof = EntryProfile.load()
    assert prof.phase_of("hotplug") == "runtime"
    assert prof.call_kinds("timer_new_ns", 1, False) == ("event-loop",)
    assert prof.call_kinds("timer_new_ns", 0, False) is None
    assert prof.field_kinds("read", "MemoryRegionOps", False) == ("guest-io",)
    assert prof.field_kinds("read", "SomethingElse", False) is None
    assert prof.field_kinds("realize", "DeviceClass", True) == ("startup",)
    assert prof.name_kinds("qmp_query_foo") == ("monitor",)
    assert prof.name_kinds("qmp_helper", static=True) == ()


@pytest.mark.integration
def test_qemu_scsi_and_block(qemu_tree):
    facts = tree_facts(qemu_tree, ("hw/scsi", "block"))
    index = PhaseIndex.build(facts)
    # lsi_mmio_ops = { .read = lsi_mmio_read } (hw/scsi/lsi53c895a.c)
    info = index.phase("hw/scsi/lsi53c895a.c", "lsi_mmio_read")
    assert (info.cls, info.via) == ("runtime", ("guest-io",))
    # block/create.c defines the QMP command blockdev-create.
    assert index.phase("block/create.c", "qmp_blockdev_create").via[0] == "monitor"
    # lsi_info = { .class_init = lsi_class_init } (TypeInfo)
    assert index.phase("hw/scsi/lsi53c895a.c", "lsi_class_init").cls == "startup"
    # bdrv_qcow2 = { .bdrv_co_preadv_part = qcow2_co_preadv_part }
    assert index.phase("block/qcow2.c", "qcow2_co_preadv_part").via[0] == "block"
    # scsi_req_new is called from SCSI HBA request paths (lsi_do_command, ...).
    req = index.phase("hw/scsi/scsi-bus.c", "scsi_req_new")
    assert req.cls in ("runtime", "both") and "guest-io" in req.via
    assert req.chain[-1] == "scsi_req_new"
    # lsi_scsi_realize: PCIDeviceClass realize of a hot-pluggable PCI HBA.
    assert index.phase("hw/scsi/lsi53c895a.c", "lsi_scsi_realize").cls == "both"
    # virtio_scsi_device_realize hands virtio_scsi_handle_cmd to
    # virtio_scsi_common_realize(..., VirtIOHandleOutput cmd, ...), which
    # passes `cmd` to virtio_add_queue: a guest-io entry through a wrapper.
    cmd = index.phase("hw/scsi/virtio-scsi.c", "virtio_scsi_handle_cmd")
    assert (cmd.cls, cmd.via[0]) == ("runtime", "guest-io")
    assert "virtio_scsi_common_realize() -> virtio_add_queue()" in cmd.evidence
    counts = index.counts()
    assert counts["runtime"] > counts["startup"] > 0


@pytest.mark.integration
def test_qemu_pc_machine_setup_is_startup(qemu_tree):
    index = PhaseIndex.build(tree_facts(qemu_tree, ("hw/i386",)))
    # pc_init1 is called from pc_init_<suffix>, which DEFINE_I440FX_MACHINE
    # generates (hw/i386/pc_piix.c); pc_init1 calls pc_memory_init.
    mem = index.phase("hw/i386/pc.c", "pc_memory_init")
    assert mem.cls == "startup"
    assert mem.chain[-2:] in (("pc_init1", "pc_memory_init"), ("pc_q35_init", "pc_memory_init"))
    # DEFINE_I440FX_MACHINE(v7_2, "pc-i440fx-7.2", NULL,
    #                       pc_i440fx_7_2_machine_options);   (over two lines)
    assert index.phase("hw/i386/pc_piix.c", "pc_i440fx_7_2_machine_options").cls == "startup"


def test_builtin_table_preconfig_exit_is_not_a_monitor_entry():
    prof = EntryProfile.load()
    assert prof.name_kinds("qmp_x_exit_preconfig") == ()
    assert prof.name_kinds("hmp_exit_preconfig") == ()
    assert prof.name_kinds("hmp_info_status") == ("monitor",)


def test_phase_at_offset_and_tcg_helpers(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "op_helper.c").write_text(
        "static void fill(CPUArchState *env)\n{\n    env->buf = g_malloc(env->n);\n}\n\n"
        "void HELPER(load_table)(CPUArchState *env)\n{\n    fill(env);\n}\n"
    )
    idx = PhaseIndex.build(tree_facts(tmp_path))
    text = (tmp_path / "target" / "op_helper.c").read_bytes()
    info = idx.phase_at("target/op_helper.c", text.index(b"g_malloc"))
    assert (info.cls, info.via, info.chain) == ("runtime", ("guest-exec",), ("helper_load_table", "fill"))
    # The name cparse.function_name() gives a HELPER definition is "HELPER";
    # by offset the definition is found all the same.
    assert idx.phase_at("target/op_helper.c", text.index(b"fill(env);")).chain == ("helper_load_table",)
    assert idx.phase_at("target/op_helper.c", 0).chain == ("helper_load_table", "fill")
    assert idx.phase_at("target/op_helper.c", text.index(b"void HELPER") - 1).cls == "unknown"
    assert idx.phase_at("nowhere.c", 0).cls == "unknown"


def test_user_mode_cpu_loop_is_guest_execution(tmp_path):
    (tmp_path / "linux-user").mkdir()
    (tmp_path / "linux-user" / "main.c").write_text(
        "int main(int argc, char **argv)\n{\n    load_program(argv[1]);\n    cpu_loop(env);\n    return 0;\n}\n"
        "static void load_program(const char *name)\n{\n    image = g_malloc(image_size(name));\n}\n")
    (tmp_path / "linux-user" / "cpu_loop.c").write_text(
        "void cpu_loop(CPUArchState *env)\n{\n    for (;;) {\n        do_syscall(env, next_syscall(env));\n"
        "    }\n}\n"
        "abi_long do_syscall(CPUArchState *env, int num)\n{\n    void *buf = g_malloc(guest_len(env));\n"
        "    g_free(buf);\n    return 0;\n}\n")
    idx = PhaseIndex.build(tree_facts(tmp_path))
    syscall = idx.phase("linux-user/cpu_loop.c", "do_syscall")
    assert syscall.cls == "runtime" and syscall.via == ("guest-exec",)
    assert syscall.chain == ("cpu_loop", "do_syscall")
    assert idx.phase("linux-user/main.c", "load_program").cls == "startup"
