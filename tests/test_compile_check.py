"""scripts/compile_check.py: compile what allocfix changed, -Werror, restore."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("compile_check", REPO / "scripts" / "compile_check.py")
cc = importlib.util.module_from_spec(spec)
sys.modules["compile_check"] = cc  # dataclasses look their module up
spec.loader.exec_module(cc)

OSDEP = """#include <stdlib.h>
#include <string.h>
#include <errno.h>
void *g_malloc(size_t n);
void *g_try_malloc(size_t n);
"""
ERROR_H = "typedef struct Error Error;\nvoid error_setg(Error **errp, const char *fmt, ...);\n"

ERRP_FN = """#include "qemu/osdep.h"
{extra}
int foo_alloc(char **out, size_t len, Error **errp)
{{
    if (!len) {{
        return -EINVAL;
    }}
    *out = g_malloc(len);
    return 0;
}}
"""


def _tree(tmp_path: Path, with_error_header: bool) -> tuple[Path, Path]:
    src = tmp_path / "src"
    (src / "include" / "qemu").mkdir(parents=True)
    (src / "include" / "qapi").mkdir(parents=True)
    (src / "include" / "qemu" / "osdep.h").write_text(
        OSDEP + ("" if with_error_header else "typedef struct Error Error;\n"))
    if with_error_header:
        (src / "include" / "qapi" / "error.h").write_text(ERROR_H)
    else:
        # The header exists but does not declare error_setg: the rewrite cannot compile.
        (src / "include" / "qapi" / "error.h").write_text("/* empty */\n")
    (src / "hw").mkdir()
    (src / "hw" / "foo.c").write_text(ERRP_FN.format(extra=""))
    (src / "hw" / "plain.c").write_text('#include "qemu/osdep.h"\nint plain(void)\n{\n    return 0;\n}\n')
    build = tmp_path / "build"
    build.mkdir()
    entries = [{"directory": str(build), "file": f"../src/hw/{n}.c", "output": f"{n}.o",
                "command": f"cc -I../src/include -Wall -c ../src/hw/{n}.c -o {n}.o -MD -MQ {n}.o -MF {n}.o.d"}
               for n in ("foo", "plain")]
    (build / "compile_commands.json").write_text(json.dumps(entries))
    return build, src


def test_werror_command_drops_outputs_and_dep_files():
    unit = cc.Unit(Path("/s/a.c"), Path("/b"), ["cc", "-Ix", "-MD", "-MQ", "a.o", "-MF", "a.o.d", "-c", "a.c",
                                                 "-o", "a.o"], "a.o")
    assert cc.werror_command(unit, "/tmp/x.o") == ["cc", "-Werror", "-Ix", "-c", "a.c", "-o", "/tmp/x.o"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_changed_unit_compiles_and_sources_are_restored(tmp_path):
    build, src = _tree(tmp_path, with_error_header=True)
    before = (src / "hw" / "foo.c").read_bytes()
    summary = cc.run(build, src, ["hw"], keep=False, jobs=1, log=lambda s: None)
    assert (summary.files_changed, summary.compiled, summary.failures) == (1, 1, [])
    assert summary.rewrites == 1
    assert (src / "hw" / "foo.c").read_bytes() == before
    assert not (build / "foo.o").exists()  # the build directory is left alone


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_failure_names_the_finding_that_caused_it(tmp_path):
    build, src = _tree(tmp_path, with_error_header=False)
    summary = cc.run(build, src, ["hw"], keep=True, jobs=1, log=lambda s: None)
    assert summary.failures, "error_setg without a declaration must fail with -Werror"
    f = summary.failures[0]
    assert f.unit == "hw/foo.c" and "error_setg" in f.message
    assert "foo_alloc" in f.finding and "g_malloc" in f.finding
    assert b"g_try_malloc" in (src / "hw" / "foo.c").read_bytes()  # --keep leaves the rewrite


def test_missing_compile_commands_is_a_usage_error(tmp_path, capsys):
    assert cc.main([str(tmp_path), str(tmp_path)]) == 2
    assert "compile_commands.json" in capsys.readouterr().err
