"""Report-only policy checks (R1, R2, R3, R6) on small original snippets."""

from __future__ import annotations

from pathlib import Path

from codemod.analysis import checks
from codemod.analysis.plan import plan_site
from codemod.analysis.sites import find_sites
from codemod.cparse import MacroProfile, parse_source
from codemod.findings import PhaseInfo
from codemod.source import SourceFile

PROFILE = MacroProfile.load(Path(__file__).resolve().parent.parent / "rules" / "qemu-macros.toml")


def parse(code: str):
    return parse_source(SourceFile("t.c", "t.c", code.encode()), PROFILE)


def test_r1_dereference_before_check():
    p = parse("""
static int f(State *s, size_t n)
{
    uint8_t *buf = g_try_malloc(n);

    buf[0] = 1;
    if (!buf) {
        return -ENOMEM;
    }
    return 0;
}
""")
    [f] = checks.r1_use_before_check(p)
    assert f.policy == "R1" and f.allocator == "g_try_malloc" and "dereferenced" in f.reason and f.function == "f"


def test_r1_passed_on_unchecked_and_nested():
    p = parse("""
static void g(State *s, size_t n)
{
    s->p = qemu_try_blockalign(s->bs, n);
    memset(s->p, 0, n);
    consume(g_try_malloc0(n));
}
""")
    found = checks.r1_use_before_check(p)
    assert [x.allocator for x in found] == ["qemu_try_blockalign", "g_try_malloc0"]
    assert "passed to memset()" in found[0].reason


def test_r1_checked_first_is_fine():
    p = parse("""
static int h(State *s, size_t n)
{
    s->p = g_try_malloc(n);
    if (s->p == NULL) {
        return -ENOMEM;
    }
    memset(s->p, 0, n);
    char *q = malloc(n);
    g_free(q);
    return 0;
}
""")
    assert checks.r1_use_before_check(p) == []


def test_r2_abort_on_allocation_failure():
    p = parse("""
static void init(size_t n)
{
    void *image = g_try_malloc(n);
    if (!image) {
        fprintf(stderr, "out of memory\\n");
        abort();
    }
    uint8_t *x = g_try_malloc0(n);
    assert(x);
    char *y = g_try_malloc(n);
    if (!y) {
        error_report("no memory");
        exit(EXIT_FAILURE);
    }
}
""")
    found = checks.r2_abort_on_failure(p)
    assert [f.allocator for f in found] == ["abort", "assert"]
    assert "error_report() and exit(EXIT_FAILURE)" in found[0].reason


def plans_of(p, phase=None):
    sites = find_sites(p)
    return [plan_site(s, p, phase) for s in sites], {s.offset: s.call for s in sites}


def test_r3_small_allocations_in_unbounded_loops():
    p = parse("""
static void f(State *s)
{
    int i;

    for (i = 0; i < s->nr_reqs; i++) {
        s->reqs[i] = g_malloc0(32);
    }
    for (i = 0; i < 16; i++) {
        s->fixed[i] = g_malloc0(32);
    }
    while (more(s)) {
        s->item = g_new(uint64_t, 2);
    }
}
""")
    plans, nodes = plans_of(p, PhaseInfo("runtime", ("guest-io",), ("f",)))
    found = checks.r3_small_in_loops(p, plans, nodes)
    assert [f.allocator for f in found] == ["g_malloc0", "g_new"]
    assert "s->nr_reqs" in found[0].reason or "i < s->nr_reqs" in found[0].reason
    # at startup many small allocations may exit (R4): nothing to report
    plans, nodes = plans_of(p, PhaseInfo("startup", ("startup",), ("main", "f")))
    assert checks.r3_small_in_loops(p, plans, nodes) == []


def test_r6_monitor_site_without_errp():
    p = parse("""
static void fill(State *s, size_t n)
{
    s->buf = g_malloc(n);
}

void qmp_x_fill(size_t n, Error **errp)
{
    fill(global_state, n);
}
""")
    plans, _ = plans_of(p, PhaseInfo("runtime", ("monitor",), ("qmp_x_fill", "fill")))
    [f] = checks.r6_monitor_without_errp(plans, frozenset({"qmp_x_fill"}))
    assert f.policy == "R6" and "errp stops at qmp_x_fill()" in f.reason
