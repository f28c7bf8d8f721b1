"""Phase rules that need more than one registration: the QOM type hierarchy,
loadable modules, function tables, calls through BlockDriver fields, tool
sub-commands, file-scope ops pointers (tests/fixtures/phase/qom)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.analysis.callgraph import EntryProfile
from codemod.analysis.phase import PhaseIndex
from codemod.errors import RuleError
from tests.test_phase import tree_facts

QOM = Path(__file__).parent / "fixtures" / "phase" / "qom"


@pytest.fixture(scope="module")
def index() -> PhaseIndex:
    return PhaseIndex.build(tree_facts(QOM))


def test_sysbus_device_realize_is_startup_only(index):
    # board-timer sets nothing itself: sys_bus_device_class_init's
    # user_creatable = false is the nearest setting on its .parent chain.
    info = index.phase("hw/misc/board-timer.c", "board_timer_realize")
    assert info.cls == "startup"
    assert index.phase("hw/misc/board-timer.c", "board_timer_setup").cls == "startup"


def test_user_creatable_sysbus_device_is_hotpluggable(index):
    info = index.phase("hw/misc/dyn-timer.c", "dyn_timer_realize")
    assert info.cls == "both"
    assert "hotplug" in info.via


def test_inherited_realize_follows_the_user_creatable_subtype(index):
    # panel-base is abstract; its realize runs for panel-base-lcd (named
    # through a macro concatenation), which sets user_creatable = true.
    assert "hotplug" in index.phase("hw/misc/panel.c", "panel_base_realize").via
    # fixed-base's only concrete subtype inherits sysbus' user_creatable = false.
    assert index.phase("hw/misc/panel.c", "fixed_base_realize").cls == "startup"


def test_not_hotpluggable_class_inits_come_from_the_hierarchy(index):
    g = index.graph
    names = {g.names[n] for n in g.not_hotpluggable}
    assert {"board_timer_class_init", "fixed_base_class_init"} <= names
    assert not {"dyn_timer_class_init", "panel_base_class_init", "panel_lcd_class_init"} & names


def test_instance_init_runs_for_qom_introspection(index):
    info = index.phase("hw/misc/panel.c", "panel_lcd_instance_init")
    assert info.cls == "both"
    assert {"qom", "startup"} <= set(info.via)
    # A sysbus type's instance_init too: qom-list-properties creates it.
    assert index.phase("hw/misc/panel.c", "panel_lcd_instance_init").chain == ("panel_lcd_instance_init",)


def test_module_class_init_runs_at_runtime_but_stores_are_not_calls(index):
    assert index.phase("hw/display/modgpu.c", "modgpu_class_init").via == ("qom", "startup")
    helper = index.phase("hw/display/modgpu.c", "modgpu_props_add")
    assert helper.cls == "both"
    assert helper.chain == ("modgpu_class_init", "modgpu_props_add")
    # mc->flush = modgpu_flush registers it; the qom walk does not cross that.
    assert index.phase("hw/display/modgpu.c", "modgpu_flush").cls == "unknown"


def test_class_init_outside_modules_stays_startup(index):
    assert index.phase("hw/misc/dyn-timer.c", "dyn_timer_class_init").cls == "startup"


def test_function_table_used_by_a_runtime_function(index):
    info = index.phase("hw/9p/reqs.c", "req_read")
    assert info.cls == "runtime"
    assert info.chain == ("req_mmio_write", "req_submit", "req_read")


def test_block_driver_field_called_through_the_driver(index):
    info = index.phase("block/fmt.c", "fmt_get_info")
    assert info.cls == "both"
    assert info.via == ("block", "startup")
    chains = index.chains("block/fmt.c", "fmt_get_info")
    assert chains["startup"] == ("img_info", "bdrv_get_info", "fmt_get_info")


def test_tool_sub_commands_are_startup(index):
    info = index.phase("qemu-img.c", "img_info")
    assert info.cls == "startup"
    assert "name matches" in info.evidence


def test_ops_pointer_declared_at_file_scope(index):
    info = index.phase("accel/fake-ops.c", "fake_start_vcpu_thread")
    assert info.cls == "both"
    assert info.chain == ("fake_cpu_realize", "qemu_init_vcpu", "fake_start_vcpu_thread")


def test_stats_callbacks_thread_pools_and_xen_backends(index):
    assert index.phase("accel/fake-ops.c", "widget_stats_cb").via == ("monitor",)
    assert index.phase("tools/pool.c", "pool_worker").via == ("thread",)
    assert index.phase("hw/xen/xen-fake.c", "fake_event").via == ("guest-io",)
    assert index.phase("hw/xen/xen-fake.c", "fake_init").cls == "both"


def test_names_rule_limited_to_files(tmp_path):
    toml = tmp_path / "e.toml"
    toml.write_text('[kinds]\nstartup = "startup"\n\n[[names]]\npattern = "^img_"\n'
                    'files = ["qemu-img.c"]\nkinds = ["startup"]\n')
    p = EntryProfile.load(toml)
    assert p.name_kinds("img_info", True, "qemu-img.c") == ("startup",)
    assert p.name_kinds("img_info", True, "hw/display/img.c") == ()


def test_walk_calls_only_must_name_known_kinds(tmp_path):
    toml = tmp_path / "e.toml"
    toml.write_text('[kinds]\nstartup = "startup"\n\n[walk]\ncalls_only = ["nope"]\n')
    with pytest.raises(RuleError, match="unknown entry kind 'nope'"):
        EntryProfile.load(toml)


def test_evidence_names_the_class_init_that_rules_out_hot_plug(index):
    info = index.phase("hw/misc/board-timer.c", "board_timer_setup")
    assert info.chain == ("board_timer_realize", "board_timer_setup")
    assert ("not hot-pluggable: type board-timer: user_creatable = false in sys_bus_device_class_init"
            in info.evidence)


def test_explain_shows_the_chain_and_why_not_hot_pluggable():
    from tests.helpers import run_cli

    proc = run_cli("explain", "--tree", ".", "hw/misc/board-timer.c:6", cwd=QOM)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "phase:  startup via startup" in out
    assert "chain: board_timer_realize -> board_timer_setup" in out
    assert "user_creatable = false in sys_bus_device_class_init" in out
