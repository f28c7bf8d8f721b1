"""Error conventions learned from the function itself (errpath)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.analysis.errpath import cleanup_label, convention, errp_param, failure_returns
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


def test_label_with_only_frees_of_unset_pointers_is_not_needed_yet():
    code = ("int f(Foo *s)\n{\n    char *a = NULL;\n    int ret;\n\n    ALLOC;\n    a = g(s);\n    if (!a) {\n"
            "        ret = -EIO;\n        goto fail;\n    }\n    return 0;\nfail:\n    g_free(a);\n    return ret;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.label is None and "nothing to clean up yet" in conv.evidence


def test_named_error_constant_is_the_failure_value():
    code = ("int f(Foo *s)\n{\n    if (!s) {\n        return VIRTIO_NET_ERR;\n    }\n    ALLOC;\n"
            "    return VIRTIO_NET_OK;\n}\n")
    conv, _, _ = _conv(code)
    assert conv.failure_value == "VIRTIO_NET_ERR" and conv.confident
