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

import json
import os
import re
import time
from pathlib import Path

from codemod.source import read_or_none

# Property macros whose field holds an integer the user chooses. Others
# hold flags (BIT, BOOL), strings, links or enums and are not sizes.
INTEGER_KINDS = frozenset({
    "UINT8", "UINT16", "UINT32", "UINT64", "INT32", "INT64", "SIZE", "SIZE32", "SIZE32POW2",
    "UINT64_CHECKMASK", "BLOCKSIZE", "UNSIGNED", "UNSIGNED_NODEFAULT",
    "ARRAY",  # its field is the array's length, "len-<name>"
})

# The field may be a member's member (`conf.num_queues`): the key keeps the whole path.
_PROP_RE = re.compile(rb'\bDEFINE_PROP_([A-Z0-9_]+)\s*\(\s*("(?:[^"\\\n]|\\.)*"|[\w.]+)\s*,\s*(\w+)\s*,\s*(\w+(?:\s*\.\s*\w+)*)')
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
        member = re.sub(r"\s+", "", m.group(4).decode())
        key = f"{m.group(3).decode()}.{member}"
        entry = (f"DEFINE_PROP_{kind}", name, f"{display}:{line}")
        lst = out.setdefault(key, [])
        if entry not in lst:
            lst.append(entry)
    return out


def tree_properties(root: Path, cache_dir: str | os.PathLike | None = None, files: list | None = None) -> Properties:
    """Integer device properties defined anywhere below `root` (cached per process).

    With `cache_dir`, each file's properties are kept there with its stat
    signature, so a later run reads only the files that changed since.
    `files`: treestat.tree_files(root) when the caller has walked the tree.
    """
    key = os.path.normpath(str(root))
    hit = _INDEX.get(key)
    if hit is not None:
        return hit
    from codemod.treestat import tree_files

    store = _FileIndex(cache_dir, key) if cache_dir is not None else None
    out: Properties = {}
    for full, rel, st in (files if files is not None else tree_files(key)):
        if rel.split("/", 1)[0] in _SKIP_DIRS:
            continue
        if store is None:
            data = read_or_none(full)
            if data is not None:
                scan_properties(data, rel, out)
            continue
        for prop_key, entry in store.properties(full, rel, st):
            lst = out.setdefault(prop_key, [])
            if entry not in lst:
                lst.append(entry)
    if store is not None:
        store.save()
    _INDEX[key] = out
    return out


class _FileIndex:
    """Per file below a root: its stat signature and the properties its text
    defines, kept in the cache directory between runs. A file is read again
    only when its signature no longer vouches for it (codemod.cache's
    still_vouches, the stat index's rule)."""

    def __init__(self, cache_dir, root: str):
        from codemod.cache import code_fingerprint, digest

        self.path = Path(cache_dir) / "props" / (digest(root, code_fingerprint())[:32] + ".json")
        self.old: dict[str, list] = {}
        self.new: dict[str, list] = {}
        self.changed = 0  # files read again this run
        try:
            data = json.loads(self.path.read_bytes())
            if isinstance(data, dict) and isinstance(data.get("files"), dict):
                self.old = data["files"]
        except (OSError, ValueError):
            pass

    def properties(self, path: str, display: str, st: os.stat_result) -> list[tuple[str, tuple[str, str, str]]]:
        from codemod.cache import stat_signature, still_vouches

        entry = self.old.get(display)
        if (isinstance(entry, list) and len(entry) == 3 and still_vouches(entry[0], entry[1], st)
                and _well_formed(entry[2])):
            self.new[display] = entry
            return [(k, (kind, name, where)) for k, kind, name, where in entry[2]]
        data = read_or_none(path)
        found = scan_properties(data, display) if data is not None else {}
        pairs = [(k, e) for k, entries in found.items() for e in entries]
        self.new[display] = [stat_signature(st), time.time_ns(), [[k, *e] for k, e in pairs]]
        self.changed += 1
        return pairs

    def save(self) -> None:
        from codemod.cache import worth_rewriting, write_atomically

        if not worth_rewriting(self.changed, len(self.old), len(self.new)):
            return
        try:
            write_atomically(self.path, json.dumps({"files": self.new}, separators=(",", ":")).encode())
        except OSError:
            pass


def _well_formed(rows) -> bool:
    return isinstance(rows, list) and all(
        isinstance(r, list) and len(r) == 4 and all(isinstance(x, str) for x in r) for r in rows)
