"""Size values from what functions return, from counters capped by their
loop's condition and from GNU `x ?: y` (codemod.analysis.size).

Snippets and fixtures are original C written for these tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from codemod.analysis import headers
from codemod.analysis.sites import find_sites
from codemod.analysis.size import classify_size
from codemod.cparse import MacroProfile, parse_source
from codemod.source import SourceFile

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "size"
PROFILE = MacroProfile.load(REPO / "rules" / "qemu-macros.toml")


def sizes(src: str):
    parsed = parse_source(SourceFile("t.c", "t.c", src.encode()), PROFILE)
    assert not parsed.has_errors, "test snippet must parse cleanly"
    return [classify_size(s, parsed) for s in find_sites(parsed)]


# ---------------------------------------------------------------------------
# GNU ?:


def test_gnu_elvis_yields_its_condition_or_the_alternative():
    src = ("static void f(unsigned v)\n{\n    unsigned n = (v & 3) ?: 4;\n\n"
           "    g_free(g_malloc(n * 512));\n}\n")
    (s,) = sizes(src)
    assert s.cls == "small" and s.max_bytes == 2048


# ---------------------------------------------------------------------------
# Counters bounded by their loop's condition

RING = """
typedef struct Desc { uint64_t addr; uint32_t len; uint32_t flags; } Desc;
typedef struct Ring { void *as; uint64_t head; } Ring;

static int chain_length(Ring *r)
{
    Desc d;
    uint64_t at = r->head;
    int count = 0;

    do {
        if (dma_memory_read(r->as, at, &d, sizeof(d), 0) != 0) {
            return -1;
        }
        count++;
        at += sizeof(d);
        if (!(d.flags & 1)) {
            return count;
        }
    } while (count < LIMIT);
    return -1;
}

static void kick(Ring *r)
{
    int n = chain_length(r);

    if (n <= 0) {
        return;
    }
    g_free(g_new(Desc, n));
}
"""


def test_counter_in_a_loop_capped_by_its_condition_reaches_the_cap():
    (s,) = sizes("#define LIMIT 8192\n" + RING)
    # the guest's descriptor chain decides how many trips run, up to the check
    assert s.cls == "large" and s.max_bytes == 16 * 8192
    assert "count < LIMIT" in s.evidence and "chain_length() returns at most 8192" in s.evidence


def test_counter_capped_low_keeps_the_allocation_small():
    (s,) = sizes("#define LIMIT 64\n" + RING)
    assert s.cls == "small" and s.max_bytes == 16 * 64


def test_counter_reset_in_the_loop_is_not_capped_by_the_condition():
    src = "#define LIMIT 64\n" + RING.replace("at += sizeof(d);", "at += sizeof(d);\n        count = d.len;")
    (s,) = sizes(src)
    # count = d.len (guest data) on some trip: the condition no longer bounds what is returned
    assert s.cls != "small"


def test_loop_whose_limit_changes_inside_gives_no_cap():
    src = ("static int scan(const uint8_t *p, int limit)\n{\n    int i = 0;\n\n"
           "    while (i < limit) {\n        i++;\n        limit += p[i];\n    }\n    return i;\n}\n\n"
           "static void f(const uint8_t *p)\n{\n    g_free(g_malloc(scan(p, 16)));\n}\n")
    (s,) = sizes(src)
    assert s.cls == "unknown"


# ---------------------------------------------------------------------------
# Results of functions of the file


def test_result_is_the_union_of_every_return():
    src = ("static int pick(int mode)\n{\n    if (mode > 2) {\n        return 16;\n    }\n    return 64;\n}\n\n"
           "static void f(int mode)\n{\n    g_free(g_malloc(pick(mode) * 8));\n}\n")
    (s,) = sizes(src)
    assert s.cls == "small" and s.max_bytes == 512 and "pick() returns at most 64" in s.evidence


def test_result_binds_unassigned_parameters_to_the_arguments():
    src = ("static int scaled(int k)\n{\n    int r = k * 4;\n\n    return r;\n}\n\n"
           "static void f(void)\n{\n    g_free(g_malloc(scaled(100)));\n    g_free(g_malloc(scaled(2000)));\n}\n")
    small, large = sizes(src)
    assert small.cls == "small" and small.max_bytes == 400
    assert large.cls == "large" and large.max_bytes == 8000


def test_result_read_from_the_guest_is_tainted():
    src = ("typedef struct Dev { void *as; uint64_t addr; } Dev;\n\n"
           "static uint32_t hdr_len(Dev *d)\n{\n    uint32_t v = 0;\n\n"
           "    if (dma_memory_read(d->as, d->addr, &v, sizeof(v), 0)) {\n        return 0;\n    }\n"
           "    return v;\n}\n\n"
           "static void f(Dev *d)\n{\n    g_free(g_malloc(hdr_len(d)));\n}\n")
    (s,) = sizes(src)
    assert s.cls == "large" and "hdr_len() returns v" in s.evidence


def test_a_pointer_result_is_no_size():
    src = ("static int *slot(int *t, int i)\n{\n    if (i > 3) {\n        return t;\n    }\n    return t + i;\n}\n\n"
           "static void f(int *t)\n{\n    g_free(g_malloc(*slot(t, 1)));\n}\n")
    (s,) = sizes(src)
    assert s.cls == "unknown"


# ---------------------------------------------------------------------------
# Getters defined in another C file of the directory


def _pool(tmp_path):
    for p in (FIXTURES / "getters").iterdir():
        shutil.copy(p, tmp_path / p.name)
    path = tmp_path / "pool.c"
    data = path.read_bytes()
    parsed = parse_source(SourceFile(str(path), "util/pool.c", data), PROFILE)
    assert not parsed.has_errors
    facts = headers.header_facts(str(path), data, tmp_path, PROFILE)
    return [classify_size(s, parsed, facts=facts) for s in find_sites(parsed)]


def test_getter_in_a_sibling_file_bounds_by_the_field_type(tmp_path):
    workers, slots, banks = _pool(tmp_path)
    # the getter returns a uint8_t field: at most 255 workers of 8 bytes
    assert workers.cls == "small" and workers.max_bytes == 255 * 8
    assert "util/tuning.c" in workers.evidence and "tuning_workers() returns at most 255" in workers.evidence
    # a uint32_t field gives no useful bound
    assert slots.cls == "unknown"
    # defined in two files of the directory (one per build): neither is taken
    assert banks.cls == "unknown"


def test_without_the_sibling_file_a_getter_stays_unknown(tmp_path):
    shutil.copy(FIXTURES / "getters" / "tuning.h", tmp_path / "tuning.h")
    shutil.copy(FIXTURES / "getters" / "pool.c", tmp_path / "pool.c")
    path = tmp_path / "pool.c"
    data = path.read_bytes()
    parsed = parse_source(SourceFile(str(path), "util/pool.c", data), PROFILE)
    facts = headers.header_facts(str(path), data, tmp_path, PROFILE)
    workers = classify_size(find_sites(parsed)[0], parsed, facts=facts)
    assert workers.cls == "unknown" and "tuning_workers(): result not bounded" in workers.evidence


# ---------------------------------------------------------------------------
# System functions storing a bounded count (rules/system-types.toml [outputs])

WIN = ("static char *f(DEVINST inst)\n{\n    ULONG n = 0;\n\n    if (FN(&n, inst, 0) != 0) {\n"
       "        return NULL;\n    }\n    n++;\n    return g_malloc(n);\n}\n")


def test_system_output_bounds_the_count_it_stores():
    (s,) = sizes(WIN.replace("FN", "CM_Get_Device_ID_Size"))
    assert s.cls == "small" and s.max_bytes == 201 and "MAX_DEVICE_ID_LEN" in s.evidence


def test_unlisted_system_output_stays_unknown():
    (s,) = sizes(WIN.replace("FN", "CM_Get_Device_ID_List_Size"))
    assert s.cls == "unknown"


# ---------------------------------------------------------------------------
# Counters grown once per vCPU, in a file that defines a machine type

VCPUS = """
typedef struct MachineClass { int max_cpus; } MachineClass;
typedef struct CPUState { int index; } CPUState;

static void list_cpus(void)
{
    CPUState **all = NULL;
    CPUState *cs;
    int n = 0;

    CPU_FOREACH(cs) {
        all = g_renew(CPUState *, all, n + 1);
        all[n++] = cs;
    }
    g_free(all);
}
"""

MACHINE = "\nstatic void board_class_init(MachineClass *mc)\n{\n    mc->max_cpus = LIMIT;\n}\n"


def test_per_vcpu_counter_reaches_the_machine_limit():
    (s,) = sizes("#define LIMIT 1024\n" + VCPUS + MACHINE)
    assert s.cls == "large" and s.max_bytes == 8 * 1025
    assert "per vCPU" in s.evidence and "1024 vCPUs" in s.evidence


def test_per_vcpu_counter_under_a_low_machine_limit_is_small():
    (s,) = sizes("#define LIMIT 8\n" + VCPUS + MACHINE)
    assert s.cls == "small" and s.max_bytes == 8 * 9


def test_per_vcpu_counter_without_a_machine_in_the_file_stays_unknown():
    (s,) = sizes(VCPUS)
    assert s.cls == "unknown"


# ---------------------------------------------------------------------------
# Counters grown at most once per trip of a counted loop

COUNTED = """
typedef struct Port { int id; } Port;

static void f(Port **ports)
{
    int count = 0;
    int i;

    for (i = 0; i < TRIPS; i++) {
        BODY
    }
    g_free(g_new(uint64_t, count));
}
"""


def _counted(trips: int, body: str):
    (s,) = sizes(COUNTED.replace("TRIPS", str(trips)).replace("BODY", body))
    return s


def test_counter_bounded_by_the_trips_of_a_counted_loop():
    s = _counted(32, "if (!ports[i]) {\n            continue;\n        }\n        count++;")
    assert s.cls == "small" and s.max_bytes == 8 * 32 and "at most 32 times" in s.evidence


def test_counter_grown_on_every_trip_reaches_the_trip_count():
    s = _counted(1024, "count++;")
    assert s.cls == "large" and s.max_bytes == 8 * 1024


def test_counter_grown_on_some_trips_only_is_not_shown_to_reach_it():
    s = _counted(1024, "if (ports[i]) {\n            count++;\n        }")
    # at most 8192 bytes, but only if every port is present: not shown either way
    assert s.cls == "unknown" and s.max_bytes == 8 * 1024


def test_induction_variable_changed_in_the_body_gives_no_trip_count():
    s = _counted(32, "count++;\n        i += ports[i]->id;")
    assert s.cls == "unknown" and s.max_bytes is None


# ---------------------------------------------------------------------------
# Function-like macros

MACROS = """
#define SLOT_REGS(d) (0x10 + (d)->nslots * 8)
#define CELLS(n, w) ((n) * (w))
#define NAME_OF(x) #x
typedef struct Dev { uint8_t nslots; } Dev;

static void f(Dev *dev, int k)
{
    g_free(g_malloc(SLOT_REGS(dev)));
    g_free(g_malloc(CELLS(4, 2048)));
    g_free(g_malloc(CELLS(k, 2)));
    g_free(g_malloc(NAME_OF(k)));
}
"""


def test_function_like_macros_expand_with_the_argument_texts():
    slots, const, unbounded, stringified = sizes(MACROS)
    # (dev)->nslots is the caller's uint8_t field: 16 + 255 * 8
    assert slots.cls == "small" and slots.max_bytes == 16 + 255 * 8 and "SLOT_REGS() is" in slots.evidence
    assert const.cls == "large" and const.max_bytes == 8192
    assert unbounded.cls == "unknown" and "k: parameter of f" in unbounded.evidence
    # a body using # or ## is not expanded
    assert stringified.cls == "unknown" and "NAME_OF(): result not bounded" in stringified.evidence


def test_outside_inputs_fingerprint_follows_system_types(tmp_path, monkeypatch):
    import codemod.rulesdata as rulesdata

    rules = tmp_path / "rules"
    rules.mkdir()
    data = (REPO / "rules" / "system-types.toml").read_text()
    (rules / "system-types.toml").write_text(data)
    monkeypatch.setattr(rulesdata, "builtin_rules_dir", lambda: rules)
    tree = tmp_path / "tree"
    tree.mkdir()
    first = headers.outside_inputs_fingerprint(tree)
    assert headers.outside_inputs_fingerprint(tree) == first
    (rules / "system-types.toml").write_text(data.replace("max = 200", "max = 250"))
    assert headers.outside_inputs_fingerprint(tree) != first


def test_per_vcpu_counter_grown_for_some_vcpus_only_is_not_shown_to_reach_the_limit():
    src = "#define LIMIT 1024\n" + VCPUS.replace("all[n++] = cs;", "if (cs->index) {\n            n++;\n        }") + MACHINE
    (s,) = sizes(src)
    assert s.cls == "unknown" and s.max_bytes == 8 * 1025
