"""The failure block forms the error-path conventions add: a direct return
that stores the error code first, and `status = value; break;`."""

from __future__ import annotations

from codemod.analysis.errpath import ErrorConvention
from codemod.analysis.plan import failure_block
from scripts.recall import parse_error_path


def test_direct_return_storing_the_error_code():
    conv = ErrorConvention("f", "struct iovec *", None, "NULL", "x", sets=(("errno", "ENOMEM"),))
    text, summary = failure_block(conv, "vec", 4, frees=("g_free(tmp);",))
    assert text == "{\n    g_free(tmp);\n    errno = ENOMEM;\n    return NULL;\n}"
    assert summary == "g_free(tmp); errno = ENOMEM; return NULL"
    parsed = parse_error_path(summary)
    assert (parsed["kind"], parsed["value"]) == ("return", "NULL")


def test_break_to_the_status_return():
    conv = ErrorConvention("f", "int", None, "-ENOMEM", "x", break_status="ret")
    text, summary = failure_block(conv, "buf", 12)
    assert text == "{\n    ret = -ENOMEM;\n    break;\n}"
    assert summary == "ret = -ENOMEM; break"
    # A label, when there is one, wins over the break.
    jumping = ErrorConvention("f", "int", None, "-ENOMEM", "x", label="out", status_var="ret", break_status="ret")
    assert failure_block(jumping, "buf", 12)[1] == "ret = -ENOMEM; goto out"
