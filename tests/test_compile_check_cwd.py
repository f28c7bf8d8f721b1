"""compile_check.py scans from the top of the tree, whatever the current directory."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("compile_check", REPO / "scripts" / "compile_check.py")
cc = importlib.util.module_from_spec(_spec)
sys.modules["compile_check"] = cc  # dataclasses look their module up
_spec.loader.exec_module(cc)

FOO = """#include "qemu/osdep.h"
#include "bar.h"

int foo_alloc(char **out, size_t len)
{
    Bar *b = g_new0(Bar, 1);

    if (!len) {
        g_free(b);
        return -EINVAL;
    }
    *out = g_malloc(len);
    g_free(b);
    return 0;
}
"""


def test_sizes_from_quoted_headers_hold_in_the_idempotency_rerun(tmp_path, monkeypatch):
    # A small struct whose size only its quoted header tells: not a site to
    # rewrite. The engine's second run must see the header too, or it
    # rewrites that site and drops the whole file as "not idempotent".
    src = tmp_path / "src"
    (src / "include" / "qemu").mkdir(parents=True)
    (src / "include" / "qemu" / "osdep.h").write_text("#include <stdlib.h>\n#include <errno.h>\n")
    (src / "hw").mkdir()
    (src / "hw" / "bar.h").write_text("typedef struct Bar {\n    char name[16];\n} Bar;\n")
    (src / "hw" / "foo.c").write_text(FOO)
    build = tmp_path / "build"
    build.mkdir()
    (build / "compile_commands.json").write_text(json.dumps([{
        "directory": str(build), "file": "../src/hw/foo.c", "output": "foo.o",
        "command": "cc -I../src/include -c ../src/hw/foo.c -o foo.o"}]))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cc, "build_generated_headers", lambda build, units: None)
    monkeypatch.setattr(cc, "compile_unit", lambda unit, tmpdir: (0, ""))
    summary = cc.run(build, src, ["hw"], keep=True, jobs=1, log=lambda s: None)
    assert summary.dropped == []
    text = (src / "hw" / "foo.c").read_bytes()
    assert summary.files_changed == 1 and b"g_try_malloc(len)" in text and b"g_new0(Bar, 1)" in text
