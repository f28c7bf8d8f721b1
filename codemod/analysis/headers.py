"""Size facts from the headers a file includes, transitively.

Struct layouts, typedefs and constants used in size expressions mostly live
in headers, often several includes away (QEMUIOVector is in qemu/iov.h,
reached through block/block.h -> block/block-common.h -> ...). A file's
includes are resolved like QEMU's build does: `#include "x.h"` in the
including file's directory, then the tree's include/ and top directory;
`#include <linux/x.h>` in the tree's linux-headers/ (QEMU's copy of the
kernel UAPI headers); other `<...>` includes are system headers, whose
types come from rules/system-types.toml instead. Branches for Windows
(`#ifdef _WIN32`) are skipped: sizes are those of Linux x86_64.

Each header is read and parsed once per process (`_CACHE`); a file's facts
are its include closure merged in breadth-first order (a nearer header's
definition of a type wins; #define variants are unioned), followed by the
QAPI schema's generated types and the tree's device properties.
"""

from __future__ import annotations

import os
import re
from collections import deque
from pathlib import Path

from codemod.analysis.size import SizeFacts, file_facts
from codemod.cparse import MacroProfile, parse_source
from codemod.source import SourceFile

# Directives that matter for includes: include, and the conditionals that
# decide whether a Windows-only include applies.
_DIRECTIVE_RE = re.compile(rb"^[ \t]*#[ \t]*(include|ifdef|ifndef|if|elif|else|endif)\b[ \t]*([^\n]*)", re.MULTILINE)
_INCLUDE_ARG_RE = re.compile(rb'^(?:"([^"\n]+)"|<([^>\n]+)>)')
_WIN32_RE = re.compile(rb"^(?:defined\s*\(?\s*)?_WIN32\b\s*\)?\s*$")

# header path -> (its own facts, the headers it includes)
_CACHE: dict[str, tuple[SizeFacts | None, tuple[str, ...]]] = {}
# (root, the file's direct includes) -> merged facts of the closure
_CLOSURES: dict[tuple[str, tuple[str, ...]], SizeFacts | None] = {}
_CLOSURE_LIMIT = 256


def _win32_test(word: bytes, rest: bytes) -> tuple[bool, bool]:
    """(is this conditional a test of _WIN32, is it negated?)"""
    if word == b"if":
        negated = rest.startswith(b"!")
        return bool(_WIN32_RE.match(rest.lstrip(b"!").strip())), negated
    return bool(_WIN32_RE.match(rest)), word == b"ifndef"


def _include_names(data: bytes) -> list[tuple[bool, str]]:
    """(quoted?, name) of each #include outside Windows-only branches."""
    out: list[tuple[bool, str]] = []
    # per open conditional: (tests _WIN32, negated, in the else branch)
    stack: list[list[bool]] = []
    for m in _DIRECTIVE_RE.finditer(data):
        word, rest = m.group(1), m.group(2).strip()
        if word == b"include":
            # a Windows-only branch: `#ifdef _WIN32` before its #else, `#ifndef _WIN32` after it
            if any(win and (neg == in_else) for win, neg, in_else in stack):
                continue
            a = _INCLUDE_ARG_RE.match(rest)
            if a:
                quoted = a.group(1) is not None
                out.append((quoted, (a.group(1) or a.group(2)).decode("utf-8", "replace")))
        elif word in (b"ifdef", b"ifndef", b"if"):
            win, neg = _win32_test(word, rest)
            stack.append([win, neg, False])
        elif word == b"elif" and stack:
            stack[-1] = [False, False, False]
        elif word == b"else" and stack:
            stack[-1][2] = True
        elif word == b"endif" and stack:
            stack.pop()
    return out


def _resolve(quoted: bool, name: str, including_dir: Path, root: Path) -> str | None:
    if quoted:
        bases = (including_dir, root / "include", root)
    elif name.startswith("linux/"):
        bases = (root / "linux-headers",)
    else:
        return None
    for base in bases:
        candidate = base / name
        if candidate.is_file():
            return os.path.normpath(str(candidate))
    return None


def _includes(data: bytes, directory: Path, root: Path) -> tuple[str, ...]:
    found = []
    for quoted, name in _include_names(data):
        path = _resolve(quoted, name, directory, root)
        if path is not None and path not in found:
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


def include_closure(path: str, data: bytes, root: Path, profile: MacroProfile) -> list[str]:
    """Every header `data` (the file at `path`) includes, directly or not, nearest first."""
    order: list[str] = []
    seen: set[str] = set()
    queue = deque(_includes(data, Path(path).parent, root))
    while queue:
        header = queue.popleft()
        if header in seen:
            continue
        seen.add(header)
        order.append(header)
        queue.extend(_header(header, root, profile)[1])
    return order


def header_facts(path: str, data: bytes, root: Path, profile: MacroProfile, depth: int | None = None) -> SizeFacts | None:
    """Merged size facts of the headers `data` (the file at `path`) includes,
    transitively, plus the tree's QAPI types and device properties.

    `depth` limits how many include levels are followed (None: all)."""
    root = Path(root)
    if depth is not None:
        return _limited(path, data, root, profile, depth)
    direct = _includes(data, Path(path).parent, root)
    key = (str(root), direct)
    if key in _CLOSURES:
        return _CLOSURES[key]
    merged = SizeFacts()
    for header in include_closure(path, data, root, profile):
        facts = _header(header, root, profile)[0]
        if facts is not None:
            merged.absorb(facts)
    from codemod.analysis import props, qapi

    # generated QAPI types and the tree's device properties: shared layers, not copied
    tree = SizeFacts(properties=props.tree_properties(root))
    q = qapi.schema_facts(root)
    result = merged.layered(*(f for f in (q, tree) if f is not None))
    if len(_CLOSURES) >= _CLOSURE_LIMIT:
        _CLOSURES.pop(next(iter(_CLOSURES)))
    _CLOSURES[key] = result
    return result


def _limited(path: str, data: bytes, root: Path, profile: MacroProfile, depth: int) -> SizeFacts | None:
    merged = SizeFacts()
    found = False
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
                merged.absorb(facts)
                found = True
            following.extend(nested)
        frontier = following
    return merged if found else None


def outside_inputs_fingerprint(root: Path) -> str:
    """What size facts read besides the file and its headers: the QAPI schema
    files, the tree's device properties (both in other files than the one
    scanned) and rules/system-types.toml. For the runner's cache key next to its header fingerprint, so a
    schema or property change invalidates cached results."""
    import hashlib
    import json

    from codemod.analysis import props, qapi

    h = hashlib.sha256()
    root = Path(root)
    for pattern in qapi._SCHEMA_GLOBS:
        for p in sorted(root.glob(pattern)):
            try:
                st = p.stat()
            except OSError:
                continue
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    h.update(json.dumps(props.tree_properties(root), sort_keys=True).encode())
    # system layouts, constants and output limits: data, not code, so not in the code fingerprint
    from codemod.rulesdata import builtin_rules_dir

    try:
        h.update((builtin_rules_dir() / "system-types.toml").read_bytes())
    except OSError:
        h.update(b"\0no system-types.toml\0")
    return h.hexdigest()
