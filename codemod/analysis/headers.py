"""Size facts from the headers a file includes (`#include "..."`).

Struct layouts, typedefs and constants used in size expressions mostly live
in headers. A file's quoted includes are resolved like QEMU's build does
(the file's own directory, then the tree's include/ and top directory),
followed a few levels deep, and each header is parsed once per process.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from codemod.analysis.size import SizeFacts, file_facts
from codemod.cparse import MacroProfile, parse_source
from codemod.source import SourceFile

DEPTH = 3
_INCLUDE_RE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*"([^"\n]+)"', re.MULTILINE)
# header path -> (its own facts, the headers it includes)
_CACHE: dict[str, tuple[SizeFacts | None, tuple[str, ...]]] = {}


def _resolve(name: str, including_dir: Path, root: Path) -> str | None:
    for base in (including_dir, root / "include", root):
        candidate = base / name
        if candidate.is_file():
            return os.path.normpath(str(candidate))
    return None


def _includes(data: bytes, directory: Path, root: Path) -> tuple[str, ...]:
    found = []
    for m in _INCLUDE_RE.finditer(data):
        path = _resolve(m.group(1).decode("utf-8", "replace"), directory, root)
        if path is not None:
            found.append(path)
    return tuple(found)


def _header(path: str, root: Path, profile: MacroProfile) -> tuple[SizeFacts | None, tuple[str, ...]]:
    cached = _CACHE.get(path)
    if cached is None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            cached = (None, ())
        else:
            facts = None if b"\0" in data else file_facts(parse_source(SourceFile(path, path, data), profile))
            cached = (facts, _includes(data, Path(path).parent, root))
        _CACHE[path] = cached
    return cached


def header_facts(path: str, data: bytes, root: Path, profile: MacroProfile, depth: int = DEPTH) -> SizeFacts | None:
    """Merged size facts of the headers `data` (the file at `path`) includes."""
    merged: SizeFacts | None = None
    seen: set[str] = set()
    frontier = list(_includes(data, Path(path).parent, root))
    for _ in range(depth):
        following: list[str] = []
        for header in frontier:
            if header in seen:
                continue
            seen.add(header)
            facts, nested = _header(header, root, profile)
            if facts is not None:
                if merged is None:
                    merged = SizeFacts()
                merged.absorb(facts)
            following.extend(nested)
        frontier = following
    return merged
