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

With the result cache on, a header's own facts and the names it #includes
are also kept between runs (and shared by the workers of a run): an entry
is keyed by the header's path and the hash of its bytes, in a namespace of
the macro profile and allocfix's code (`store_namespace`), so an unchanged
header is never parsed again. Which files those names resolve to depends
on the files that exist now, so resolution is never stored: it is redone
in each process, and a header added or removed changes the closure at once.
"""

from __future__ import annotations

import os
import re
from collections import deque
from pathlib import Path

from codemod.analysis.size import SizeFacts, file_facts
from codemod.cache import content_hash, digest, register, ruleset_key
from codemod.cparse import MacroProfile, parse_source
from codemod.source import SourceFile, read_or_none

# A header's own facts are kept in the result cache (_own).
register(SizeFacts)

# Directives that matter for includes: include, and the conditionals that
# decide whether a Windows-only include applies.
_DIRECTIVE_RE = re.compile(rb"^[ \t]*#[ \t]*(include|ifdef|ifndef|if|elif|else|endif)\b[ \t]*([^\n]*)", re.MULTILINE)
_INCLUDE_ARG_RE = re.compile(rb'^(?:"([^"\n]+)"|<([^>\n]+)>)')
_WIN32_RE = re.compile(rb"^(?:defined\s*\(?\s*)?_WIN32\b\s*\)?\s*$")

# header path -> (its own facts, the headers it includes)
_CACHE: dict[str, tuple[SizeFacts | None, tuple[str, ...]]] = {}
# (root, the file's direct includes) -> merged facts of the closure
_CLOSURES: dict[tuple[str, tuple[str, ...]], tuple[SizeFacts | None, tuple[str, ...]]] = {}
# Included files that are not headers (`#include "../device.c"`), read for the
# file being analysed: the result cache's header fingerprint covers .h and
# .inc files only, so the runner keys a result on these itself (sources()).
_SOURCES: set[str] = set()


def reset_sources() -> None:
    _SOURCES.clear()


def sources() -> tuple[str, ...]:
    """The non-header files header_facts read since reset_sources(), sorted."""
    return tuple(sorted(_SOURCES))


def _not_header(path: str) -> bool:
    return not path.endswith((".h", ".inc"))
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
    return _resolved(_include_names(data), directory, root)


def _resolved(names, directory: Path, root: Path) -> tuple[str, ...]:
    found = []
    for quoted, name in names:
        path = _resolve(quoted, name, directory, root)
        if path is not None and path not in found:
            found.append(path)
    return tuple(found)


def store_namespace(profile_path: str) -> str:
    """The cache namespace of header entries: what a header's facts depend on
    besides its path and bytes (the macro profile, allocfix's code and parser)."""
    return digest("header-facts", ruleset_key((), profile_path))


def _header(path: str, root: Path, profile: MacroProfile, store=None) -> tuple[SizeFacts | None, tuple[str, ...]]:
    cached = _CACHE.get(path)
    if cached is None:
        data = read_or_none(path)
        if data is None:
            cached = (None, ())
        else:
            facts, names = _own(path, data, profile, store)
            cached = (facts, _resolved(names, Path(path).parent, root))
        _CACHE[path] = cached
    return cached


def _own(path: str, data: bytes, profile: MacroProfile, store) -> tuple[SizeFacts | None, list[tuple[bool, str]]]:
    """A header's own facts and the (quoted?, name) of its #includes, from
    `store` (a codemod.cache.Cache in store_namespace) when it has them."""
    key = None
    if store is not None:
        key = store.key("header", path, content_hash(data))
        value = store.get(key)
        if _well_formed(value):
            return value[0], [(q == "q", n) for q, n in value[1]]
    facts = None if b"\0" in data else file_facts(parse_source(SourceFile(path, path, data), profile))
    names = _include_names(data)
    if key is not None:
        store.put(key, (facts, [["q" if q else "s", n] for q, n in names]))
    return facts, names


def _well_formed(value) -> bool:
    # The key names the code that wrote the entry, so a mismatch means a damaged
    # or foreign entry: recomputed, like one Cache.get() rejects.
    return (isinstance(value, tuple) and len(value) == 2 and (value[0] is None or isinstance(value[0], SizeFacts))
            and isinstance(value[1], list)
            and all(isinstance(x, list) and len(x) == 2 and x[0] in ("q", "s") and isinstance(x[1], str)
                    for x in value[1]))


def include_closure(path: str, data: bytes, root: Path, profile: MacroProfile, store=None) -> list[str]:
    """Every header `data` (the file at `path`) includes, directly or not, nearest first.

    `store`: a codemod.cache.Cache in store_namespace(), or None."""
    order: list[str] = []
    seen: set[str] = set()
    queue = deque(_includes(data, Path(path).parent, root))
    while queue:
        header = queue.popleft()
        if header in seen:
            continue
        seen.add(header)
        order.append(header)
        queue.extend(_header(header, root, profile, store)[1])
    return order


def header_facts(path: str, data: bytes, root: Path, profile: MacroProfile, depth: int | None = None,
                 store=None) -> SizeFacts | None:
    """Merged size facts of the headers `data` (the file at `path`) includes,
    transitively, plus the tree's QAPI types and device properties.

    `depth` limits how many include levels are followed (None: all).
    `store`: a codemod.cache.Cache in store_namespace() keeping each header's
    own facts between runs, or None (parsed once per process)."""
    root = Path(root)
    if depth is not None:
        return _limited(path, data, root, profile, depth, store)
    direct = _includes(data, Path(path).parent, root)
    key = (str(root), direct)
    if key in _CLOSURES:
        result, others = _CLOSURES[key]
        _SOURCES.update(others)
        return result
    merged = SizeFacts()
    closure = include_closure(path, data, root, profile, store)
    for header in closure:
        facts = _header(header, root, profile, store)[0]
        if facts is not None:
            merged.absorb(facts)
    others = tuple(h for h in closure if _not_header(h))
    _SOURCES.update(others)
    from codemod.analysis import props, qapi

    # generated QAPI types and the tree's device properties: shared layers, not copied
    tree = SizeFacts(properties=props.tree_properties(root))
    q = qapi.schema_facts(root, store)
    result = merged.layered(*(f for f in (q, tree) if f is not None))
    if len(_CLOSURES) >= _CLOSURE_LIMIT:
        _CLOSURES.pop(next(iter(_CLOSURES)))
    _CLOSURES[key] = (result, others)
    return result


def _limited(path: str, data: bytes, root: Path, profile: MacroProfile, depth: int, store=None) -> SizeFacts | None:
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
            if _not_header(header):
                _SOURCES.add(header)
            facts, nested = _header(header, root, profile, store)
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
