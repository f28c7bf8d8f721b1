"""Site plans: forms, zero-size guard, frees, stubs, --startup-exit (plan)."""

from __future__ import annotations

import pytest

from pathlib import Path

from codemod.analysis.plan import plan_site
from codemod.analysis.sites import find_sites
from codemod.cparse import MacroProfile, parse_source
from codemod.findings import Action, PhaseInfo
from codemod.source import SourceFile

PROFILE = MacroProfile.load(Path(__file__).resolve().parent.parent / "rules" / "qemu-macros.toml")


def _plans(code: str, **kw):
    parsed = parse_source(SourceFile("t.c", "t.c", code.encode()), PROFILE)
    return [plan_site(s, parsed, **kw) for s in find_sites(parsed)]


def _one(code: str, **kw):
    [plan] = _plans(code, **kw)
    return plan


ERRNO_FN = "int f(Foo *s, size_t n)\n{{\n    if (!s) {{\n        return -EINVAL;\n    }}\n{body}    return 0;\n}}\n"


def test_assignment_with_zero_guard_on_the_count():
    p = _one(ERRNO_FN.format(body="    s->t = g_new0(FooEnt, s->nr);\n"))
    assert (p.action, p.form, p.checked, p.cond) == (Action.REWRITE, "assign", "g_try_new0", "s->nr && !s->t")
    assert p.failure_block == "{\n    return -ENOMEM;\n}"


def test_positive_sizes_and_aligned_allocators_need_no_guard():
    body = ("    s->a = g_malloc(FOO_SIZE * 2);\n    s->b = g_malloc0(sizeof(Foo) + n);\n"
            "    s->c = qemu_memalign(4096, n);\n    s->d = g_malloc(n << 9);\n")
    conds = [p.cond for p in _plans(ERRNO_FN.format(body=body))]
    assert conds == ["!s->a", "!s->b", "!s->c", "n && !s->d"]


def test_size_with_side_effects_is_reported():
    p = _one(ERRNO_FN.format(body="    s->a = g_malloc(next_len(s));\n"))
    assert p.action is Action.REPORT and "side effects" in p.reason


def test_realloc_goes_through_a_temporary():
    p = _one(ERRNO_FN.format(body="    s->buf = g_realloc(s->buf, n);\n"))
    assert (p.form, p.temp, p.temp_decl, p.cond) == ("realloc", "new_buf", "void *new_buf;", "n && !new_buf")
    renew = _one(ERRNO_FN.format(body="    s->ents = g_renew(FooEnt, s->ents, n);\n"))
    assert renew.temp_decl == "FooEnt *new_ents;"


def test_realloc_of_another_block_is_reported():
    p = _one(ERRNO_FN.format(body="    s->buf = g_realloc(t->buf, n);\n"))
    assert p.action is Action.REPORT


def test_temporary_name_does_not_clash():
    p = _one(ERRNO_FN.format(body="    int new_buf = 1;\n    s->buf = g_realloc(s->buf, n + new_buf);\n"))
    assert p.temp == "new_buf1"


def test_return_direct_when_null_is_already_a_failure_value():
    code = "Foo *f(size_t n)\n{\n    if (!n) {\n        return NULL;\n    }\n    return g_malloc(n);\n}\n"
    p = _one(code)
    assert (p.action, p.form, p.temp, p.failure_block) == (Action.REWRITE, "return", None, None)


def test_return_with_errp_uses_a_typed_temporary():
    p = _one("Foo *f(size_t n, Error **errp)\n{\n    return g_new0(Foo, n);\n}\n")
    assert (p.form, p.temp, p.temp_decl) == ("return", "p", "Foo *p;")
    assert 'error_setg(errp, "Could not allocate Foo");' in p.failure_block


def test_argument_is_hoisted_unless_other_arguments_have_side_effects():
    ok = _one(ERRNO_FN.format(body="    push(s->q, g_malloc(n), n);\n"))
    assert (ok.form, ok.temp, ok.temp_decl) == ("arg", "buf", "void *buf;")
    bad = _one(ERRNO_FN.format(body="    push(s->q, g_malloc(n), next_id(s));\n"))
    assert bad.action is Action.REPORT and "side effects" in bad.reason


def test_earlier_allocations_are_freed_in_reverse_order():
    body = ("    char *a = g_strdup(s->name);\n    g_autofree char *b = g_malloc(n);\n"
            "    void *c = qemu_memalign(4096, n);\n    char *d = g_malloc(n);\n\n    g_free(d);\n"
            "    s->x = g_malloc(n);\n")
    plans = _plans(ERRNO_FN.format(body=body))
    last = plans[-1]
    assert last.frees == ("qemu_vfree(c);", "g_free(a);")
    assert last.failure_block.index("qemu_vfree(c)") < last.failure_block.index("g_free(a)")


def test_handed_off_allocation_is_not_freed_and_doubtful_one_is_a_stub():
    body = "    char *a = g_malloc(n);\n    char *b = g_malloc(n);\n\n    s->a = a;\n    list_add(s, b);\n" \
           "    s->x = g_malloc(n);\n"
    last = _plans(ERRNO_FN.format(body=body))[-1]
    assert last.frees == () and last.action is Action.STUB and "free b here" in last.failure_block


def test_free_in_a_branch_that_returns_does_not_count():
    body = "    char *a = g_malloc(n);\n\n    if (s->broken) {\n        g_free(a);\n        return -EIO;\n    }\n" \
           "    s->x = g_malloc(n);\n"
    last = _plans(ERRNO_FN.format(body=body))[-1]
    assert last.frees == ("g_free(a);",) and last.action is Action.REWRITE


def test_void_function_without_errp_is_a_stub():
    p = _one("static void f(Foo *s, size_t n)\n{\n    s->b = g_malloc(n);\n}\n")
    assert p.action is Action.STUB and "cannot report this failure" in p.failure_block


def test_startup_exit_is_opt_in_and_never_for_monitor_handlers():
    code = "static void f_init(Foo *s, size_t n)\n{\n    s->b = g_malloc(n);\n}\n"
    startup = PhaseInfo("startup", ("machine-init",), ("main", "f_init"))
    assert _one(code, phase=startup).action is Action.NONE
    p = _one(code, phase=startup, startup_exit=True)
    assert (p.action, p.policy, p.exits, p.headers) == (Action.REWRITE, "R2", True, ("qemu/error-report.h",))
    assert p.failure_block == ('{\n    error_report("Could not allocate b");\n    exit(EXIT_FAILURE);\n}')
    qmp = "void qmp_foo(size_t n, Error **errp)\n{\n    g_buf = g_malloc(n);\n}\n"
    q = _one(qmp, phase=startup, startup_exit=True)
    assert not q.exits and q.action is Action.NONE


def test_runtime_monitor_path_is_r6_and_reports_through_errp():
    p = _one("void qmp_foo(Foo *s, size_t n, Error **errp)\n{\n    s->b = g_malloc(n);\n}\n",
             phase=PhaseInfo("runtime", ("monitor",)))
    assert p.policy == "R6" and "error_setg(errp" in p.failure_block and "exit" not in p.failure_block


def test_declaration_followed_by_calls_is_reported():
    body = "    g_autofree char *a = g_malloc(n);\n    int r = g(s, a);\n\n"
    p = _one(ERRNO_FN.format(body=body))
    assert p.action is Action.REPORT and "among declarations" in p.reason


def test_long_error_message_wraps_with_aligned_continuation():
    body = "            s->a_very_long_field_name_for_the_descriptor_cache = g_malloc(n);\n"
    code = "int f(Foo *s, size_t n, Error **errp)\n{\n    if (s) {\n        if (n) {\n" + body + \
           "        }\n    }\n    return 0;\n}\n"
    p = _one(code)
    lines = p.failure_block.splitlines()
    assert lines[1] == "    error_setg(errp,"
    assert lines[2].startswith("    " + " " * len("error_setg(") + '"Could not allocate')


def test_existing_null_check_is_kept_and_only_the_allocator_changes():
    p = _one(ERRNO_FN.format(body="    s->b = g_malloc(n);\n    if (!s->b) {\n        return -EIO;\n    }\n"))
    assert (p.action, p.fix, p.failure_block) == (Action.REWRITE, "rename", None)


def test_realloc_into_a_local_temporary_is_an_ordinary_check():
    body = "    Foo *t;\n\n    t = g_realloc(s->t, n);\n    s->t = t;\n"
    code = "int f(Foo *s, size_t n)\n{\n" + body + "    if (!s) {\n        return -EINVAL;\n    }\n    return 0;\n}\n"
    p = _one(code)
    assert (p.fix, p.cond) == ("check", "n && !t")


def test_startup_exit_through_the_rule_adds_error_report_and_its_header():
    import codemod.engine as engine
    from codemod.smpl.loader import load_rules

    rules = load_rules([Path(__file__).resolve().parent.parent / "rules" / "large-alloc.cocci"], PROFILE)
    startup = PhaseInfo("startup", ("machine-init",), ("main", "foo_machine_init"))

    class StartupIndex:  # every function runs only at startup
        def phase_at(self, key, offset):
            return startup

    config = engine.EngineConfig(rules, PROFILE, phase_index=StartupIndex(), tree_root=".", startup_exit=True)
    code = (b'#include "qemu/osdep.h"\n\nstatic void foo_machine_init(MachineState *ms)\n{\n'
            b'    FooMachineState *s = FOO_MACHINE(ms);\n\n    s->ram_copy = g_malloc(ms->ram_size);\n}\n')
    result = engine.process_file("m.c", "m.c", config, data=code)
    out = result.rewritten.decode()
    assert '#include "qemu/osdep.h"\n#include "qemu/error-report.h"\n' in out
    assert ("    s->ram_copy = g_try_malloc(ms->ram_size);\n    if (ms->ram_size && !s->ram_copy) {\n"
            '        error_report("Could not allocate ram_copy");\n        exit(EXIT_FAILURE);\n    }\n') in out
    [finding] = result.findings
    assert (finding.action.value, finding.policy) == ("rewrite", "R2")


def test_size_checked_non_zero_earlier_needs_no_guard():
    body = "    if (!n) {\n        return -EINVAL;\n    }\n    s->a = g_malloc(n);\n"
    assert _one(ERRNO_FN.format(body=body)).cond == "!s->a"
    changed = "    if (!n) {\n        return -EINVAL;\n    }\n    n = s->len;\n    s->a = g_malloc(n);\n"
    assert _one(ERRNO_FN.format(body=changed)).cond == "n && !s->a"
    asserted = "    assert(s->len > 0);\n    s->a = g_malloc(s->len);\n"
    assert _one(ERRNO_FN.format(body=asserted)).cond == "!s->a"


def test_errp_possibly_set_by_an_unchecked_call_makes_a_stub():
    code = ("void f(Foo *s, size_t n, Error **errp)\n{\n    foo_probe(s, errp);\n    s->b = g_malloc(n);\n}\n")
    p = _one(code)
    assert p.action is Action.STUB and "foo_probe may already have set errp" in p.reason
    guarded = ("void f(Foo *s, size_t n, Error **errp)\n{\n    ERRP_GUARD();\n\n    foo_probe(s, errp);\n"
               "    if (*errp) {\n        return;\n    }\n    s->b = g_malloc(n);\n}\n")
    assert _one(guarded).action is Action.REWRITE


def test_label_that_reports_a_message_variable_gets_it_set_and_no_error_setg():
    code = ("int f(Chan *c, size_t n, Error **errp)\n{\n    Lz *z = c->z;\n    const char *msg;\n\n"
            "    if (lz_init(&z->st) != 0) {\n        msg = \"init failed\";\n        goto err_z;\n    }\n"
            "    z->buf = g_malloc(n);\n    c->ready = true;\n    return 0;\n\nerr_end:\n    lz_end(&z->st);\n"
            "err_z:\n    error_setg(errp, \"chan: %s\", msg);\n    return -1;\n}\n")
    p = _one(code)
    assert p.action == Action.REWRITE
    assert p.failure_block == '{\n    msg = "Could not allocate buf";\n    goto err_end;\n}'
    assert "qapi/error.h" not in p.headers


def test_errno_variable_of_the_label_is_set_before_the_jump():
    code = ("struct iovec *f(Mem *m, size_t count)\n{\n    struct iovec *vec;\n    void *t;\n    int err = 0;\n\n"
            "    vec = g_new0(struct iovec, count);\n    t = mem_map(m, count);\n    if (!t) {\n        err = EFAULT;\n"
            "        goto fail;\n    }\n    return vec;\nfail:\n    g_free(vec);\n    errno = err;\n    return NULL;\n}\n")
    p = _one(code)
    assert p.failure_block == "{\n    err = ENOMEM;\n    goto fail;\n}" and p.action == Action.REWRITE


def test_direct_return_that_would_keep_a_lock_releases_it_first():
    code = ("int f(Tab *t, size_t n)\n{\n    uint8_t *map;\n    int ret;\n\n    qemu_mutex_lock(&t->lock);\n"
            "    t->x = g_malloc(n);\n    map = tab_map(t);\n    if (!map) {\n        ret = -EIO;\n        goto out;\n"
            "    }\n    ret = 0;\nout:\n    tab_log(t, map);\n    qemu_mutex_unlock(&t->lock);\n    return ret;\n}\n")
    p = _one(code)
    assert p.action == Action.REWRITE
    assert p.failure_block == "{\n    qemu_mutex_unlock(&t->lock);\n    return -ENOMEM;\n}"
    assert p.error_path == "qemu_mutex_unlock(&t->lock); return -ENOMEM"


_RELEASE_FN = ("int f(Foo *s, size_t n)\n{{\n    uint8_t *buf;\n    int ret;\n\n{pre}    buf = g_malloc(n);\n{mid}"
               "    ret = fill(s, buf, n);\n    if (ret < 0) {{\n        qemu_mutex_unlock(&s->lock);\n"
               "        return ret;\n    }}\n    qemu_mutex_unlock(&s->lock);\n    g_free(buf);\n    return 0;\n}}\n")


def test_release_after_the_frees_of_earlier_allocations():
    code = ("int f(Foo *s, size_t n)\n{\n    uint8_t *a;\n    uint8_t *b;\n\n    qemu_mutex_lock(&s->lock);\n"
            "    a = g_malloc(n);\n    b = g_malloc(n);\n    if (fill(s, a, b) < 0) {\n        g_free(b);\n"
            "        g_free(a);\n        qemu_mutex_unlock(&s->lock);\n        return -EIO;\n    }\n"
            "    g_free(b);\n    g_free(a);\n    qemu_mutex_unlock(&s->lock);\n    return 0;\n}\n")
    second = _plans(code)[1]
    assert second.action == Action.REWRITE
    assert second.failure_block == ("{\n    g_free(a);\n    qemu_mutex_unlock(&s->lock);\n    return -ENOMEM;\n}")


@pytest.mark.parametrize("pre, mid, why", [
    # Taken only on one branch: held at the failure or not, a human decides.
    ("    if (s->shared) {\n        qemu_mutex_lock(&s->lock);\n    }\n", "", "not taken on every path"),
    # The object the release names changes after the site.
    ("    qemu_mutex_lock(&s->lock);\n", "    s = s->next;\n", "'s' changes before qemu_mutex_unlock"),
])
def test_release_that_cannot_be_copied_stays_a_stub(pre, mid, why):
    p = _one(_RELEASE_FN.format(pre=pre, mid=mid))
    assert p.action == Action.STUB and "qemu_mutex_unlock(&s->lock)" in p.failure_block
    assert "    qemu_mutex_unlock(&s->lock);\n" not in p.failure_block  # named in the note, not run
    assert why in p.convention.evidence


def test_release_of_a_local_from_another_case_is_not_needed():
    code = ("abi_long f(int op, abi_ulong addr, size_t n)\n{\n    switch (op) {\n    case 1:\n    {\n"
            "        struct tgt_a *ta;\n\n        if (!lock_user_struct(VERIFY_READ, ta, addr, 1)) {\n"
            "            return -TARGET_EFAULT;\n        }\n        use_a(ta);\n"
            "        unlock_user_struct(ta, addr, 0);\n        return 0;\n    }\n    case 2:\n    {\n"
            "        struct tgt_b *tb;\n        char *key;\n\n"
            "        if (!lock_user_struct(VERIFY_READ, tb, addr, 1)) {\n            return -TARGET_EFAULT;\n"
            "        }\n        key = g_malloc(n);\n        use_b(tb, key);\n        g_free(key);\n"
            "        unlock_user_struct(tb, addr, 0);\n        return 0;\n    }\n    }\n"
            "    return -TARGET_EINVAL;\n}\n")
    p = _one(code)
    assert p.action == Action.REWRITE and "ta" not in p.failure_block
    assert "unlock_user_struct(tb, addr, 0);" in p.failure_block


def test_long_release_is_wrapped_with_aligned_arguments():
    code = _RELEASE_FN.format(pre="    foo_device_region_begin_access(s->regions[s->active_region_index], n * FOO_PAGE);\n",
                              mid="").replace("qemu_mutex_unlock(&s->lock)",
                                              "foo_device_region_end_access(s->regions[s->active_region_index], n * FOO_PAGE)")
    p = _one(code)
    assert p.action == Action.REWRITE
    assert ("    foo_device_region_end_access(s->regions[s->active_region_index],\n"
            "                                 n * FOO_PAGE);\n") in p.failure_block


def test_release_reading_an_object_the_block_frees_stays_a_stub():
    # The object is still being built: its teardown may read fields set later.
    code = ("int f(Dev *d, uint32_t n)\n{\n    Res *res;\n\n    res = g_new0(Res, 1);\n"
            "    res->image = image_create(d);\n    if (!res->image) {\n        g_free(res);\n        return -EINVAL;\n"
            "    }\n    res->addrs = g_new(uint64_t, n);\n    if (map_all(d, res) < 0) {\n"
            "        res_cleanup_mapping(d, res);\n        image_unref(res->image);\n        g_free(res);\n"
            "        return -EINVAL;\n    }\n    list_add(d, res);\n    return 0;\n}\n")
    p = _plans(code)[1]
    assert p.action == Action.STUB and "g_free(res);" in p.failure_block
    assert "    res_cleanup_mapping(d, res);\n" not in p.failure_block
    assert "allocated in this function" in p.convention.evidence


def test_one_release_needing_a_human_keeps_all_of_them_in_the_note():
    code = _RELEASE_FN.format(pre="    qemu_mutex_lock(&s->lock);\n    if (s->shared) {\n"
                                  "        dev_lock(s->dev);\n    }\n", mid="").replace(
        "    qemu_mutex_unlock(&s->lock);\n    g_free(buf);\n", "    dev_unlock(s->dev);\n    qemu_mutex_unlock(&s->lock);\n"
        "    g_free(buf);\n")
    p = _one(code)
    assert p.action == Action.STUB and p.convention.release == ()
    assert "dev_unlock(s->dev)" in p.failure_block and "qemu_mutex_unlock(&s->lock)" in p.failure_block


def test_glib_path_strings_are_owned_and_freed_before_the_release():
    code = ("ssize_t f(Ctx *ctx, const char *path)\n{\n    char *name;\n    void *value;\n    ssize_t len;\n    int fd;\n\n"
            "    fd = dir_open(ctx, path);\n    if (fd == -1) {\n        return -1;\n    }\n"
            "    name = g_path_get_basename(path);\n    len = list_at(fd, name, NULL, 0);\n    if (len <= 0) {\n"
            "        g_free(name);\n        close_preserve_errno(fd);\n        return len;\n    }\n"
            "    value = g_malloc(len);\n    len = list_at(fd, name, value, len);\n    g_free(name);\n"
            "    close_preserve_errno(fd);\n    g_free(value);\n    return len;\n}\n")
    p = _plans(code)[-1]
    assert p.action == Action.REWRITE
    assert p.failure_block == "{\n    g_free(name);\n    close_preserve_errno(fd);\n    return -1;\n}"
