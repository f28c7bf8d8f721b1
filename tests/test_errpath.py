"""Error conventions learned from the function itself (errpath)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.analysis.errpath import cleanup_label, convention, in_scope, errp_param, failure_returns
from codemod.cparse import MacroProfile, function_name, parse_source
from codemod.source import SourceFile

PROFILE = MacroProfile.load(Path(__file__).resolve().parent.parent / "rules" / "qemu-macros.toml")


def _conv(code: str, marker: str = "ALLOC"):
    data = code.encode()
    parsed = parse_source(SourceFile("t.c", "t.c", data), PROFILE)
    fn = [c for c in parsed.tree.root_node.children if c.type == "function_definition"][-1]
    site = data.index(marker.encode()) if marker in code else None
    return convention(fn, data, function_name(fn, data), site), fn, data


@pytest.mark.parametrize("code, value, confident", [
    ("int f(int x)\n{\n    if (x) {\n        return -EINVAL;\n    }\n    ALLOC;\n    return 0;\n}\n",
     "-ENOMEM", True),
    ("int f(int x)\n{\n    if (x) {\n        return -1;\n    }\n    ALLOC;\n    return 0;\n}\n", "-1", True),
    ("abi_long f(int x)\n{\n    if (x) {\n        return -TARGET_EFAULT;\n    }\n    ALLOC;\n    return 0;\n}\n",
     "-TARGET_ENOMEM", True),
    ("target_ulong h_f(target_ulong *args)\n{\n    if (!args[0]) {\n        return H_PARAMETER;\n    }\n"
     "    ALLOC;\n    return H_SUCCESS;\n}\n", "H_NO_MEM", True),
    ("bool f(Error **errp)\n{\n    ALLOC;\n    return true;\n}\n", "false", True),
    ("bool f(int x)\n{\n    ALLOC;\n    return true;\n}\n", "false", False),
    ("Foo *f(int x)\n{\n    if (!x) {\n        return NULL;\n    }\n    ALLOC;\n    return p;\n}\n", "NULL", True),
    ("Foo *f(int x)\n{\n    ALLOC;\n    return p;\n}\n", "NULL", False),
    ("int f(int x)\n{\n    ALLOC;\n    return 0;\n}\n", "-ENOMEM", False),
    ("int f(Foo *s)\n{\n    int ret = g(s);\n    if (ret < 0) {\n        return ret;\n    }\n    ALLOC;\n"
     "    return 0;\n}\n", "-ENOMEM", True),
    ("void f(Error **errp)\n{\n    ALLOC;\n}\n", "", True),
    ("uint32_t f(int x)\n{\n    ALLOC;\n    return 1;\n}\n", None, True),
])
def test_failure_value_comes_from_the_function(code, value, confident):
    conv, _, _ = _conv(code)
    assert conv.failure_value == value
    if value is not None:
        assert conv.confident is confident


def test_errp_param_is_found_by_type_not_name():
    conv, fn, data = _conv("void f(int a, Error **err)\n{\n    ALLOC;\n}\n")
    assert errp_param(fn, data) == "err" and conv.error_dest == "err"


def test_failure_returns_ignore_success_codes():
    assert failure_returns(b"{ return H_SUCCESS; return H_HARDWARE; }") == ["H_HARDWARE"]


def test_cleanup_label_with_status_variable():
    code = ("int f(Foo *s)\n{\n    int ret;\n    char *a = NULL;\n\n    ret = g(s);\n    if (ret < 0) {\n"
            "        ret = -EIO;\n        goto out;\n    }\n    ALLOC;\n    ret = 0;\nout:\n    g_free(a);\n"
            "    return ret;\n}\n")
    conv, fn, data = _conv(code)
    assert (conv.label, conv.status_var, conv.failure_value) == ("out", "ret", "-ENOMEM")
    assert cleanup_label(fn, data, data.index(b"ALLOC"))[:2] == ("out", "ret")


def test_label_returning_a_constant_is_jumped_to_without_status():
    code = ("int f(Foo *s)\n{\n    if (!s) {\n        goto fail;\n    }\n    ALLOC;\n    return 0;\nfail:\n"
            "    return -1;\n}\n")
    conv, _, _ = _conv(code)
    assert (conv.label, conv.status_var, conv.failure_value) == ("fail", None, "-1")


def test_label_before_the_site_is_not_used():
    code = ("int f(Foo *s)\n{\nagain:\n    if (g(s)) {\n        goto again;\n    }\n    ALLOC;\n"
            "    return -EIO;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label is None


def test_label_reading_an_uninitialised_local_is_not_used():
    code = ("int f(Foo *s)\n{\n    char *a;\n    char *b;\n    int ret;\n\n    ALLOC;\n    b = g(s);\n"
            "    if (!b) {\n        ret = -EIO;\n        goto fail;\n    }\n    return 0;\nfail:\n    log_failure(b);\n"
            "    return ret;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label is None and "uninitialised" in conv.evidence


def test_label_skipping_an_autofree_declaration_is_not_used():
    code = ("int f(Foo *s)\n{\n    int ret;\n\n    ALLOC;\n    {\n        g_autofree char *n = g(s);\n"
            "        if (!n) {\n            ret = -EIO;\n            goto fail;\n        }\n    }\n"
            "    return 0;\nfail:\n    return ret;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label is None and "automatic-cleanup" in conv.evidence


def test_label_that_sets_errp_is_not_reused():
    code = ("int f(Foo *s, Error **errp)\n{\n    if (!s) {\n        goto fail;\n    }\n    ALLOC;\n"
            "    return 0;\nfail:\n    error_setg(errp, \"bad\");\n    return -EINVAL;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label is None and conv.error_dest == "errp"


def test_label_propagating_a_local_error_gets_it_set_instead():
    code = ("void f(Foo *s, Error **errp)\n{\n    Error *local_err = NULL;\n\n    g(s, &local_err);\n"
            "    if (local_err) {\n        goto out;\n    }\n    ALLOC;\nout:\n    error_propagate(errp, local_err);\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label == "out" and conv.error_dest == "&local_err"


def test_first_jump_after_the_site_picks_the_label_in_a_cascade():
    code = ("int f(Foo *s)\n{\n    int ret;\n\n    s->a = g(s);\n    ALLOC;\n    ret = h(s);\n    if (ret < 0) {\n"
            "        goto free_a;\n    }\n    ret = k(s);\n    if (ret < 0) {\n        goto free_b;\n    }\n"
            "    return 0;\nfree_b:\n    unlock(s);\nfree_a:\n    release(s->a);\n    return ret;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label == "free_a"


def test_label_with_only_frees_of_unset_pointers_is_not_needed_after_a_direct_return():
    code = ("int f(Foo *s)\n{\n    char *a = NULL;\n    int ret;\n\n    if (!s->n) {\n        return -EINVAL;\n"
            "    }\n    ALLOC;\n    a = g(s);\n    if (!a) {\n"
            "        ret = -EIO;\n        goto fail;\n    }\n    return 0;\nfail:\n    g_free(a);\n    return ret;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label is None and "nothing to clean up yet" in conv.evidence


def test_common_exit_label_is_used_by_a_first_failure_without_direct_returns():
    # No failure before the site returns directly, and 'fail:' tears down what
    # is set up later: it is the function's common exit (3 in 4 of QEMU 7.2's
    # checks in this position jump there). Jumping is safe: a is still NULL.
    code = ("int f(Foo *s)\n{\n    char *a = NULL;\n    int ret;\n\n    ALLOC;\n    a = g(s);\n    if (!a) {\n"
            "        ret = -EIO;\n        goto fail;\n    }\n    return 0;\nfail:\n    g_free(a);\n    return ret;\n}\n")
    conv, _, _ = _conv(code)
    assert (conv.label, conv.status_var, conv.failure_value) == ("fail", "ret", "-ENOMEM")
    # A success return before the site (nothing to do) is not a failure convention.
    early_ok = code.replace("    ALLOC;\n", "    if (!s->n) {\n        return 0;\n    }\n    ALLOC;\n")
    assert _conv(early_ok)[0].label == "fail"


def test_single_exit_label_is_used_by_a_first_failure():
    # `out: return ret;` ends every failure path of the function: join it.
    code = ("int f(Foo *s)\n{\n    int ret;\n\n    ALLOC;\n    ret = g(s);\n    if (ret < 0) {\n"
            "        goto out;\n    }\n    ret = h(s);\nout:\n    trace_f_done(s, ret);\n    return ret;\n}\n")
    conv, _, _ = _conv(code)
    assert (conv.label, conv.status_var) == ("out", "ret")


def test_label_in_a_loop_is_used_even_with_nothing_to_clean_up_in_the_text_before():
    # Earlier iterations ran the code after the site: the jump, like the
    # loop's other failures, is the safe choice even after a direct return.
    code = ("int f(Foo *s, int n)\n{\n    char *t = NULL;\n    int i, ret;\n\n    if (n < 0) {\n"
            "        return -EINVAL;\n    }\n    for (i = 0; i < n; i++) {\n        if (!t) {\n"
            "            t = ALLOC;\n        }\n        ret = fill(s, t, i);\n        if (ret < 0) {\n"
            "            goto fail;\n        }\n    }\n    ret = 0;\nfail:\n    g_free(t);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "t")
    assert (conv.label, conv.status_var) == ("fail", "ret")
    straight = code.replace("    for (i = 0; i < n; i++) {\n        if (!t) {\n            t = ALLOC;\n        }\n",
                            "    t = ALLOC;\n    for (i = 0; i < n; i++) {\n")
    assert _conv_at(straight, "ALLOC", "t").label is None


def test_label_freeing_only_the_sites_pointer_is_not_needed_without_earlier_returns():
    # The label exists for the pointer set here: at the allocation it would
    # only free NULL, and QEMU's checks return directly (as at line 1 of a
    # function whose later failures all jump).
    code = ("int f(Foo *s, size_t n)\n{\n    char *t;\n    int ret;\n\n    t = ALLOC;\n    ret = fill(s, t);\n"
            "    if (ret < 0) {\n        goto fail;\n    }\n    ret = 0;\nfail:\n    g_free(t);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "t")
    assert conv.label is None and "nothing to clean up yet" in conv.evidence


def test_label_that_would_only_free_the_null_from_the_site_is_not_needed_yet():
    # QEMU's own checks in this position mostly return directly (6 of 9 in
    # 7.2's block/ and hw/): the jump would only run g_free(NULL).
    code = ("int f(Foo *s, size_t n)\n{\n    char *t;\n    int ret;\n\n    if (n > MAX) {\n        return -EFBIG;\n"
            "    }\n    t = ALLOC;\n    ret = fill(s, t);\n    if (ret < 0) {\n        goto fail;\n    }\n"
            "    ret = 0;\nfail:\n    g_free(t);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "t")
    assert conv.label is None and "nothing to clean up yet" in conv.evidence
    # Once something else the label releases is held, the jump is needed.
    held = code.replace("    t = ALLOC;\n", "    s->map = map_open(s);\n    t = ALLOC;\n").replace(
        "    g_free(t);\n", "    g_free(t);\n    map_close(s->map);\n")
    conv = _conv_at(held, "ALLOC", "t")
    assert (conv.label, conv.status_var) == ("fail", "ret")


def test_named_error_constant_is_the_failure_value():
    code = ("int f(Foo *s)\n{\n    if (!s) {\n        return VIRTIO_NET_ERR;\n    }\n    ALLOC;\n"
            "    return VIRTIO_NET_OK;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.failure_value == "VIRTIO_NET_ERR" and conv.confident


# --- stacked cleanup labels: the label is chosen by what is held at the site --

_STACKED = ("int f(Foo *s, size_t n)\n{\n    Error *err = NULL;\n\n    foo_lock(s);\n    s->a = ALLOC_A;\n"
            "    s->cache = cache_init(n, &err);\n    if (!s->cache) {\n        goto free_a;\n    }\n"
            "    s->b = ALLOC_B;\n    s->c = ALLOC_C;\n    foo_unlock(s);\n    return 0;\n\nfree_b:\n"
            "    g_free(s->b);\n    s->b = NULL;\nfree_cache:\n    cache_fini(s->cache);\n    s->cache = NULL;\n"
            "free_a:\n    g_free(s->a);\n    s->a = NULL;\nerr_out:\n    foo_unlock(s);\n    return -ENOMEM;\n}\n")


def _conv_at(code: str, marker: str, target: str):
    data = code.encode()
    parsed = parse_source(SourceFile("t.c", "t.c", data), PROFILE)
    fn = [c for c in parsed.tree.root_node.children if c.type == "function_definition"][-1]
    return convention(fn, data, function_name(fn, data), data.index(marker.encode()), assigned_at_site={target})


@pytest.mark.parametrize("marker, target, label", [
    ("ALLOC_A", "s->a", "err_out"),  # only the lock is held: its own free is not needed
    ("ALLOC_B", "s->b", "free_cache"),  # a, cache and the lock are held; b is not
    ("ALLOC_C", "s->c", "free_b"),  # b is held too
])
def test_stacked_labels_are_chosen_by_what_is_held(marker, target, label):
    conv = _conv_at(_STACKED, marker, target)
    assert conv.label == label and conv.failure_value == "-ENOMEM"


def test_label_undoing_an_increment_not_yet_made_is_skipped():
    code = ("int f(Ring *r, Req *q, size_t n)\n{\n    int ret;\n\n    q->buf = ALLOC;\n    r->count++;\n"
            "    ret = push(r, q);\n    if (ret < 0) {\n        goto out_dec;\n    }\n    return 0;\n\nout_dec:\n"
            "    r->count--;\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "q->buf")
    assert conv.label is None and "r->count--" in conv.evidence


def test_label_handing_the_null_pointer_to_a_teardown_is_not_used():
    code = ("Pair *f(Ctrl *s, size_t n, Error **errp)\n{\n    Pair *q;\n\n    q = ALLOC;\n    q->s = s;\n"
            "    if (!map(s, q, errp)) {\n        goto fail;\n    }\n    return q;\nfail:\n    pair_free(q);\n"
            "    return NULL;\n}\n")
    conv = _conv_at(code, "ALLOC", "q")
    assert conv.label is None and "pair_free(q);" in conv.evidence and conv.failure_value == "NULL"


def test_direct_return_lists_what_the_error_path_releases():
    code = ("int f(Tab *t, size_t n)\n{\n    uint8_t *map;\n    int ret;\n\n    qemu_mutex_lock(&t->lock);\n"
            "    t->x = ALLOC;\n    map = tab_map(t);\n    if (!map) {\n        ret = -EIO;\n        goto out;\n    }\n"
            "    ret = 0;\nout:\n    tab_log(t, map);\n    qemu_mutex_unlock(&t->lock);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "t->x")
    assert conv.label is None and "uninitialised" in conv.evidence
    # A single call on something held since before the site: the block does it.
    assert conv.undo == () and conv.release == (("qemu_mutex_unlock", ("&t->lock",)),)


def test_message_variable_set_before_each_jump_is_set_too():
    code = ("int f(Chan *c, size_t n, Error **errp)\n{\n    Lz *z = g_new0(Lz, 1);\n    const char *msg;\n\n"
            "    if (lz_init(&z->st) != 0) {\n        msg = \"init failed\";\n        goto err_z;\n    }\n"
            "    z->buf = ALLOC;\n    if (lz_reset(&z->st) != 0) {\n        msg = \"reset failed\";\n"
            "        goto err_buf;\n    }\n    return 0;\n\nerr_buf:\n    g_free(z->buf);\nerr_end:\n"
            "    lz_end(&z->st);\nerr_z:\n    g_free(z);\n    error_setg(errp, \"chan: %s\", msg);\n    return -1;\n}\n")
    conv = _conv_at(code, "ALLOC", "z->buf")
    assert (conv.label, conv.message_var, conv.errp_at_label) == ("err_end", "msg", True)
    assert conv.failure_value == "-1"


def test_errno_variable_set_before_each_jump_gets_enomem():
    code = ("struct iovec *f(Mem *m, size_t count)\n{\n    struct iovec *vec;\n    void *t;\n    int err = 0;\n\n"
            "    vec = ALLOC;\n    t = mem_map(m, count);\n    if (!t) {\n        err = EFAULT;\n        goto fail;\n"
            "    }\n    return vec;\nfail:\n    g_free(vec);\n    errno = err;\n    return NULL;\n}\n")
    conv = _conv_at(code, "ALLOC", "vec")
    assert conv.label == "fail" and conv.presets == (("err", "ENOMEM"),)


def test_jump_variable_with_an_unknown_value_prevents_the_jump():
    code = ("int f(Foo *s)\n{\n    int err = 0;\n    int ret;\n\n    s->a = g(s);\n    s->b = ALLOC;\n"
            "    if (h(s)) {\n        err = s->last;\n        ret = -EIO;\n        goto fail;\n    }\n    return 0;\n"
            "fail:\n    g_free(s->a);\n    report(err);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "s->b")
    assert conv.label is None and "'err'" in conv.evidence


def test_teardown_of_the_function_itself_undoes_a_partial_setup():
    code = ("int threads_setup(int n)\n{\n    int i;\n\n    pool = ALLOC;\n    for (i = 0; i < n; i++) {\n"
            "        if (spawn(i) < 0) {\n            goto exit;\n        }\n    }\n    return 0;\nexit:\n"
            "    threads_cleanup();\n    return -1;\n}\n")
    conv = _conv_at(code, "ALLOC", "pool")
    assert conv.label == "exit" and conv.failure_value == "-1"


def test_release_guarded_by_a_null_pointer_or_by_success_does_not_run():
    code = ("int f(Foo *s, int n)\n{\n    uint64_t *slice;\n    uint64_t *t;\n    int i, ret;\n\n    slice = NULL;\n"
            "    t = ALLOC;\n    for (i = 0; i < n; i++) {\n        ret = get(s, &slice);\n        if (ret < 0) {\n"
            "            goto fail;\n        }\n    }\n    ret = 0;\nfail:\n    if (slice) {\n"
            "        cache_put(s->cache, &slice);\n    }\n    if (ret == 0 && n) {\n"
            "        for (i = 0; i < n; i++) {\n            swap(&t[i]);\n        }\n    }\n"
            "    flush(s, ret);\n    g_free(t);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "t")
    assert (conv.label, conv.status_var) == ("fail", "ret")


def test_state_reset_at_a_label_is_cleanup_to_keep():
    code = ("int f(Drv *bs, size_t n)\n{\n    int ret;\n    void *t = NULL;\n\n    ret = wipe(bs);\n"
            "    if (ret < 0) {\n        goto fail_broken;\n    }\n    t = ALLOC;\n    ret = write(bs, t);\n"
            "    if (ret < 0) {\n        goto fail_broken;\n    }\n    return 0;\n\nfail_broken:\n"
            "    bs->drv = NULL;\nfail:\n    g_free(t);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "t")
    assert conv.label == "fail_broken"


def test_label_with_fixed_errp_message_is_reused_when_a_return_would_keep_a_lock():
    code = ("int f(Tab *t, size_t n, Error **errp)\n{\n    int ret;\n\n    qemu_mutex_lock(&t->lock);\n"
            "    ret = check(t);\n    if (ret < 0) {\n        goto fail;\n    }\n    t->e = ALLOC;\n    return 0;\n"
            "fail:\n    error_setg(errp, \"Could not reload\");\n    qemu_mutex_unlock(&t->lock);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "t->e")
    assert (conv.label, conv.errp_at_label, conv.error_dest) == ("fail", True, None)


_HELPER_FILE = ("static int alloc_failed(void)\n{\n    fprintf(stderr, \"out of memory\\n\");\n    return -1;\n}\n\n"
                "static int add_one(Ctx *c, const char *a)\n{\n    char *p = strdup(a);\n    if (!p) {\n"
                "        return alloc_failed();\n    }\n    return push(c, p);\n}\n\n"
                "static int add_two(Ctx *c, size_t n)\n{\n    void *p = malloc(n);\n    if (!p) {\n"
                "        return alloc_failed();\n    }\n    return push(c, p);\n}\n\n"
                "static int add_three(Ctx *c, size_t n)\n{\n    if (next(c) == -1) {\n        return -1;\n    }\n"
                "    ALLOC;\n    return 0;\n}\n")


def test_file_allocation_failure_helper_is_the_failure_value():
    conv, _, _ = _conv(_HELPER_FILE)
    assert conv.failure_value == "alloc_failed()" and "alloc_failed" in conv.evidence


def test_helper_used_once_or_of_another_type_is_not_learned():
    once = _HELPER_FILE.replace("static int add_two", "static int add_two_unused").replace(
        "    void *p = malloc(n);\n    if (!p) {\n        return alloc_failed();\n    }\n", "")
    assert _conv(once)[0].failure_value == "-1"
    other = _HELPER_FILE.replace("static int alloc_failed", "static long alloc_failed")
    assert _conv(other)[0].failure_value == "-1"


def test_release_before_a_later_return_is_needed_by_a_direct_return():
    code = ("int f(Foo *s, size_t n)\n{\n    int ret;\n\n    qemu_mutex_lock(&s->lock);\n    if (s->busy) {\n"
            "        qemu_mutex_unlock(&s->lock);\n        return -EBUSY;\n    }\n    s->buf = ALLOC;\n"
            "    ret = fill(s);\n    qemu_mutex_unlock(&s->lock);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "s->buf")
    assert conv.label is None and conv.undo == () and conv.release == (("qemu_mutex_unlock", ("&s->lock",)),)


def test_release_already_done_on_the_way_to_the_site_is_not_needed():
    code = ("int f(Foo *s)\n{\n    size_t n;\n\n    rcu_read_lock();\n    n = s->len;\n    rcu_read_unlock();\n"
            "    s->buf = ALLOC;\n    if (fill(s) < 0) {\n        rcu_read_unlock();\n        return -EIO;\n    }\n"
            "    return 0;\n}\n")
    conv = _conv_at(code, "ALLOC", "s->buf")
    assert conv.undo == ()


def test_release_of_something_acquired_after_the_site_is_not_needed():
    code = ("int f(Cpu *cpu, hwaddr addr)\n{\n    Regs *regs;\n    hwaddr len = sizeof(*regs);\n\n"
            "    cpu->saved = ALLOC;\n    regs = as_map(cpu->as, addr, &len);\n    if (!regs) {\n"
            "        as_unmap(cpu->as, regs, len, 0);\n        return -EFAULT;\n    }\n    load(cpu, regs);\n"
            "    as_unmap(cpu->as, regs, len, len);\n    return 0;\n}\n")
    conv = _conv_at(code, "ALLOC", "cpu->saved")
    assert conv.undo == ()


def test_label_that_zeroes_the_status_is_not_a_failure_entry():
    code = ("int f(Foo *s, size_t n)\n{\n    uint8_t *out;\n    int ret;\n\n    ret = prep(s);\n    if (ret < 0) {\n"
            "        goto fail;\n    }\n    out = ALLOC;\n    ret = write(s, out);\n    if (ret < 0) {\n"
            "        goto fail;\n    }\n    goto success;\n\nsuccess:\n    ret = 0;\nfail:\n    g_free(out);\n"
            "    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "out")
    assert (conv.label, conv.status_var) == ("fail", "ret")


def test_in_scope_sees_parameters_enclosing_blocks_and_globals_only():
    code = ("int f(Foo *s, int op)\n{\n    int a;\n\n    if (op) {\n        int b = 1;\n\n        use(b);\n    }\n"
            "    {\n        int c;\n\n        SITE;\n        use(c);\n    }\n    int d = 2;\n    return a + d;\n}\n")
    _, fn, data = _conv(code, "SITE")
    site = data.index(b"SITE")
    assert [in_scope(fn, data, n, site) for n in ("s", "a", "c", "b", "d", "global_state")] == \
        [True, True, True, False, False, True]


def test_release_made_before_a_later_unlock_of_the_same_lock_is_copied():
    # The unlock on the error branch must not count as changing the lock.
    code = ("int f(Foo *s, size_t n)\n{\n    int ret;\n\n    qemu_mutex_lock(&s->lock);\n    s->buf = ALLOC;\n"
            "    ret = fill(s);\n    if (ret < 0) {\n        qemu_mutex_unlock(&s->lock);\n        return ret;\n    }\n"
            "    qemu_mutex_unlock(&s->lock);\n    return 0;\n}\n")
    conv = _conv_at(code, "ALLOC", "s->buf")
    assert conv.release == (("qemu_mutex_unlock", ("&s->lock",)),) and conv.undo == ()


def test_release_of_a_handle_reacquired_after_the_site_is_not_needed():
    code = ("abi_long f(abi_ulong addr, size_t n)\n{\n    struct tgt *t;\n    char *buf;\n\n"
            "    if (!lock_user_struct(VERIFY_READ, t, addr, 1)) {\n        return -TARGET_EFAULT;\n    }\n"
            "    buf = ALLOC;\n    unlock_user_struct(t, addr, 0);\n"
            "    if (!lock_user_struct(VERIFY_WRITE, t, addr, 0)) {\n        g_free(buf);\n"
            "        return -TARGET_EFAULT;\n    }\n    fill(t, buf);\n    g_free(buf);\n"
            "    unlock_user_struct(t, addr, 1);\n    return 0;\n}\n")
    conv = _conv_at(code, "ALLOC", "buf")
    assert conv.release == ((("unlock_user_struct", ("t", "addr", "0"))),)
    assert conv.undo == ()


def test_release_of_a_handle_reassigned_after_the_site_is_left_to_a_human():
    code = ("int f(Dev *d, size_t n)\n{\n    Map *m;\n    char *buf;\n\n    m = dev_map(d);\n    if (!m) {\n"
            "        return -EIO;\n    }\n    buf = ALLOC;\n    if (d->remap) {\n        m = d->alt;\n    }\n"
            "    fill(m, buf);\n    g_free(buf);\n    dev_unmap(d, m);\n    return 0;\n}\n")
    conv = _conv_at(code, "ALLOC", "buf")
    assert conv.release == () and conv.undo == ("dev_unmap(d, m);",) and "'m' changes" in conv.evidence


def test_trace_event_named_like_a_release_is_not_one():
    code = ("int f(Foo *s, size_t n)\n{\n    int ret;\n\n    trace_f_begin(s);\n    s->buf = ALLOC;\n"
            "    ret = fill(s);\n    trace_f_end(s);\n    return ret;\n}\n")
    conv = _conv_at(code, "ALLOC", "s->buf")
    assert conv.undo == () and conv.release == ()


_LATER_ACQUIRE = ("int f(Foo *s, int64_t *offset, bool in_place)\n{\n    int64_t off = 0;\n    char *t;\n    int ret;\n\n"
                  "    if (in_place) {\n        off = *offset;\n    }\n    t = ALLOC;\n    if (!in_place) {\n"
                  "        off = foo_alloc_clusters(s);\n        if (off < 0) {\n            ret = off;\n"
                  "            goto fail;\n        }\n    }\n    ret = fill(s, t, off);\n    if (ret < 0) {\n"
                  "        goto fail;\n    }\n    g_free(t);\n    return 0;\nfail:\n    g_free(t);\n"
                  "    if (!in_place && off > 0) {\n        foo_free_clusters(s, off);\n    }\n    return ret;\n}\n")


def test_release_guarded_by_validity_of_a_later_acquisition_does_nothing_yet():
    # `off = *offset` is the caller's, not acquired: foo_free_clusters undoes
    # foo_alloc_clusters after the site, and its guard makes the label safe
    # to enter before that: nothing to clean up here.
    conv = _conv_at(_LATER_ACQUIRE, "ALLOC", "t")
    assert conv.label is None and "nothing to clean up yet" in conv.evidence and not conv.undo


def test_unguarded_release_of_a_later_acquisition_rules_the_label_out():
    code = _LATER_ACQUIRE.replace("    if (!in_place && off > 0) {\n        foo_free_clusters(s, off);\n    }\n",
                                  "    foo_free_clusters(s, off);\n")
    conv = _conv_at(code, "ALLOC", "t")
    assert conv.label is None and "undoes something not done at this point" in conv.evidence
    # Once the acquisition is before the site, the label releases what is held.
    held = code.replace("    t = ALLOC;\n    if (!in_place) {\n        off = foo_alloc_clusters(s);\n",
                        "    if (!in_place) {\n        off = foo_alloc_clusters(s);\n").replace(
        "    ret = fill(s, t, off);\n", "    t = ALLOC;\n    ret = fill(s, t, off);\n")
    conv = _conv_at(held, "ALLOC", "t")
    assert (conv.label, conv.status_var) == ("fail", "ret")


def test_common_exit_returning_its_own_constant_is_not_joined_for_nothing():
    # 'err:' would only free NULLs and then return -EFAULT: the jump would
    # turn the allocation failure into -EFAULT for no cleanup at all.
    code = ("int f(Foo *s, uint32_t n)\n{\n    Req *req;\n    uint8_t *src = NULL;\n\n    req = ALLOC;\n"
            "    if (n > 0) {\n        src = g(s, n);\n        if (!src) {\n            goto err;\n        }\n    }\n"
            "    req->src = src;\n    s->req = req;\n    return 0;\n\nerr:\n    g_free(req);\n    g_free(src);\n"
            "    return -EFAULT;\n}\n")
    conv = _conv_at(code, "ALLOC", "req")
    assert conv.label is None and conv.failure_value == "-ENOMEM"
    # Returned through a status variable, the value is kept: join the exit.
    status = code.replace("    Req *req;\n", "    Req *req;\n    int ret;\n").replace(
        "            goto err;\n", "            ret = -EFAULT;\n            goto err;\n").replace(
        "    return -EFAULT;\n}\n", "    return ret;\n}\n")
    conv = _conv_at(status, "ALLOC", "req")
    assert (conv.label, conv.status_var, conv.failure_value) == ("err", "ret", "-ENOMEM")


_STORES_ERRNO = ("Vec *f(abi_ulong addr, abi_ulong count)\n{\n    Vec *vec;\n    void *g;\n    int err = 0;\n\n"
                 "    if (count > MAX_IOV) {\n        errno = EINVAL;\n        return NULL;\n    }\n    vec = ALLOC;\n"
                 "    g = lock_user(addr, count);\n    if (!g) {\n        err = EFAULT;\n        goto fail;\n    }\n"
                 "    if (convert(vec, g) < 0) {\n        err = EINVAL;\n        unlock_user(g, addr);\n"
                 "        goto fail;\n    }\n    unlock_user(g, addr);\n    return vec;\n\nfail:\n    g_free(vec);\n"
                 "    errno = err;\n    return NULL;\n}\n")


def test_label_that_only_stores_the_error_code_becomes_a_direct_store_and_return():
    conv = _conv_at(_STORES_ERRNO, "ALLOC", "vec")
    assert conv.label is None and conv.sets == (("errno", "ENOMEM"),) and conv.failure_value == "NULL"


def test_stored_error_code_needs_the_functions_own_direct_stores_before_the_site():
    # The earlier return does not store errno: no evidence of how a direct
    # return reports, so the jump (which sets err) is kept.
    code = _STORES_ERRNO.replace("        errno = EINVAL;\n        return NULL;\n", "        return NULL;\n")
    conv = _conv_at(code, "ALLOC", "vec")
    assert (conv.label, conv.presets, conv.sets) == ("fail", (("err", "ENOMEM"),), ())


def test_preset_survives_a_release_between_it_and_the_jump():
    # `err = EINVAL; unlock_user(...); goto fail;` still sets err for the label.
    code = _STORES_ERRNO.replace("        errno = EINVAL;\n        return NULL;\n", "        return NULL;\n")
    conv = _conv_at(code, "ALLOC", "vec")
    assert ("err", "ENOMEM") in conv.presets
    by_address = code.replace("        unlock_user(g, addr);\n        goto fail;\n",
                              "        unlock_user_err(g, &err);\n        goto fail;\n")
    conv = _conv_at(by_address, "ALLOC", "vec")
    assert ("err", "ENOMEM") not in conv.presets


_SWITCH_LOOP = ("int f(QEMUFile *q, Foo *s)\n{\n    int ret = 0;\n\n    while (!ret) {\n        switch (get(q)) {\n"
                "        case 1: {\n            uint8_t *buf = ALLOC;\n\n            ret = use(s, buf);\n"
                "            g_free(buf);\n            break;\n        }\n        case 2:\n            ret = -EINVAL;\n"
                "            break;\n        case 3:\n            return 0;\n        }\n    }\n    return ret;\n}\n")


def test_failure_in_a_switch_breaks_like_its_siblings_when_the_break_leads_to_the_return():
    conv = _conv_at(_SWITCH_LOOP, "ALLOC", "buf")
    assert (conv.break_status, conv.failure_value, conv.label) == ("ret", "-ENOMEM", None)
    # A switch followed directly by `return ret;`.
    flat = ("int f(Foo *s, int op)\n{\n    int ret = 0;\n\n    switch (op) {\n    case 1:\n        s->buf = ALLOC;\n"
            "        ret = use(s);\n        break;\n    default:\n        ret = -ENOSYS;\n        break;\n    }\n"
            "    return ret;\n}\n")
    assert _conv_at(flat, "ALLOC", "s->buf").break_status == "ret"


@pytest.mark.parametrize("change", [
    ("    return ret;\n}\n", "    trace_f(ret);\n    return ret;\n}\n"),  # more than the return after the loop
    ("    while (!ret) {\n", "    while (more(q)) {\n"),  # the loop goes on after a failure
    ("            ret = -EINVAL;\n            break;\n", "            ret = -EINVAL;\n            return ret;\n"),
])
def test_no_break_when_it_would_not_reach_the_return_directly(change):
    conv = _conv_at(_SWITCH_LOOP.replace(*change), "ALLOC", "buf")
    assert conv.break_status is None and conv.failure_value == "-ENOMEM"


def test_breaks_of_an_inner_loop_are_not_the_switchs_convention():
    code = _SWITCH_LOOP.replace("        case 2:\n            ret = -EINVAL;\n            break;\n",
                                "        case 2:\n            while (g(q)) {\n                ret = -EINVAL;\n"
                                "                break;\n            }\n            break;\n")
    assert _conv_at(code, "ALLOC", "buf").break_status is None
