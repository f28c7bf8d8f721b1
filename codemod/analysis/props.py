"""Device properties of a tree: which struct fields a user sets.

`DEFINE_PROP_UINT32("nr-irqs", SpaprXive, nr_irqs, 0)` makes the field
`nr_irqs` of `SpaprXive` settable with `-device ...,nr-irqs=N` or
`-global`, so a size computed from it is user-controlled: large unless a
check bounds it. Properties are usually defined in the device's own .c
file while the field is read elsewhere (a machine sizing a table by a
child device's count), so the index covers the whole tree. It is built by
a plain regex over the files that mention DEFINE_PROP (a fraction of a
second for QEMU), once per process and root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# Property macros whose field holds an integer the user chooses. Others
# hold flags (BIT, BOOL), strings, links or enums and are not sizes.
INTEGER_KINDS = frozenset({
    "UINT8", "UINT16", "UINT32", "UINT64", "INT32", "INT64", "SIZE", "SIZE32", "SIZE32POW2",
    "UINT64_CHECKMASK", "BLOCKSIZE", "UNSIGNED", "UNSIGNED_NODEFAULT",
    "ARRAY",  # its field is the array's length, "len-<name>"
})

_PROP_RE = re.compile(rb'\bDEFINE_PROP_([A-Z0-9_]+)\s*\(\s*("(?:[^"\\\n]|\\.)*"|[\w.]+)\s*,\s*(\w+)\s*,\s*(\w+)')
_SKIP_DIRS = {"tests", "roms", "subprojects"}

# "Type.field" -> [(macro kind, property name, "file:line")]
Properties = dict[str, list[tuple[str, str, str]]]
_INDEX: dict[str, Properties] = {}


def scan_properties(data: bytes, display: str, out: Properties | None = None) -> Properties:
    """Integer properties defined in one file's text."""
    out = {} if out is None else out
    if b"DEFINE_PROP" not in data:
        return out
    for m in _PROP_RE.finditer(data):
        kind = m.group(1).decode()
        if kind not in INTEGER_KINDS:
            continue
        name = m.group(2).decode("utf-8", "replace")
        if kind == "ARRAY" and name.startswith('"'):
            name = '"len-' + name[1:]
        line = data.count(b"\n", 0, m.start()) + 1
        key = f"{m.group(3).decode()}.{m.group(4).decode()}"
        entry = (f"DEFINE_PROP_{kind}", name, f"{display}:{line}")
        lst = out.setdefault(key, [])
        if entry not in lst:
            lst.append(entry)
    return out


def tree_properties(root: Path) -> Properties:
    """Integer device properties defined anywhere below `root` (cached per process)."""
    key = os.path.normpath(str(root))
    hit = _INDEX.get(key)
    if hit is not None:
        return hit
    out: Properties = {}
    for dirpath, dirnames, filenames in os.walk(key):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (dirpath == key and d in _SKIP_DIRS))
        for name in sorted(filenames):
            if not name.endswith((".c", ".h", ".inc")):
                continue
            full = os.path.join(dirpath, name)
            try:
                with open(full, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            scan_properties(data, os.path.relpath(full, key), out)
    _INDEX[key] = out
    return out
