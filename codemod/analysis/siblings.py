"""The other C files of a file's directory, for provenance across files.

A non-static function's callers often live beside it (qga/commands.c calls
the handlers' helpers in qga/commands-posix.c; block/ drivers share helpers
in one directory). Size analysis asks here for the sibling files that call
a function by name: the directory's texts are read once per process, a
byte search picks the files that name the function followed by `(`, and
only those are parsed (kept for the last few files asked for). Files of
other directories are not looked at: the cost stays bounded by one
directory, and a caller found here is evidence, never a proof that there
are no others.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from functools import lru_cache

from codemod.cparse import MacroProfile, ParsedFile, parse_source
from codemod.source import SourceFile

_MAX_FILES = 4  # sibling files parsed for one question
# Questions asked since the last reset, as (directory, pattern, needle): a
# file's result depends on the answers (the runner records them with the
# result, and a cached result is stale when one of them would now be different).
_CONSULTED: set[tuple[str, bytes, bytes]] = set()
# (directory, pattern) -> the files of _dir_texts(directory) that match
_ANSWERS: dict[tuple[str, bytes], list[tuple[str, bytes]]] = {}
_ANSWERS_KEEP = 4096
_SEEN_MISSES = [0]  # _dir_texts misses when _ANSWERS was last checked


def reset_consulted() -> None:
    _CONSULTED.clear()


def consulted() -> tuple[tuple[str, bytes, bytes], ...]:
    return tuple(sorted(_CONSULTED))


def matching_files(directory: str, pattern: bytes, needle: bytes,
                   texts: tuple[tuple[str, bytes], ...] | None = None) -> list[tuple[str, bytes]]:
    """(path, bytes) of the .c files of `directory` whose text `pattern` finds:
    the files a question recorded by consulted() could have looked at. Among
    the texts as this process read them, or among `texts` (read_dir(directory)
    now). `needle` is a word every match contains: a plain byte search for it
    spares running the pattern over most files."""
    if texts is not None:
        return _search(texts, pattern, needle)
    key = (directory, pattern)
    hit = _ANSWERS.get(key)
    if hit is None:
        texts = _dir_texts(directory)
        info = _dir_texts.cache_info()
        if len(_ANSWERS) >= _ANSWERS_KEEP or (info.currsize == info.maxsize and info.misses != _SEEN_MISSES[0]):
            # A directory's texts may have left the cache: answers that hold
            # their bytes must not outlive them (memory, and what a re-read sees).
            _ANSWERS.clear()
        _SEEN_MISSES[0] = info.misses
        hit = _ANSWERS[key] = _search(texts, pattern, needle)
    return hit


def _search(texts, pattern: bytes, needle: bytes) -> list[tuple[str, bytes]]:
    rx = re.compile(pattern)
    return [(path, data) for path, data in texts if needle in data and rx.search(data)]


_PARSED_KEEP = 16
_PARSED: OrderedDict[str, ParsedFile | None] = OrderedDict()


@lru_cache(maxsize=32)
def _dir_texts(dirpath: str) -> tuple[tuple[str, bytes], ...]:
    """(path, bytes) of the .c files of a directory (read once per process)."""
    return read_dir(dirpath)


def read_dir(dirpath: str) -> tuple[tuple[str, bytes], ...]:
    """(path, bytes) of the .c files of a directory, in name order."""
    out = []
    try:
        names = sorted(os.listdir(dirpath))
    except OSError:
        return ()
    for name in names:
        if not name.endswith(".c"):
            continue
        path = os.path.join(dirpath, name)
        try:
            with open(path, "rb") as f:
                out.append((path, f.read()))
        except OSError:
            continue
    return tuple(out)


@lru_cache(maxsize=1)
def _profile() -> MacroProfile:
    from codemod.rulesdata import builtin_rules_dir

    return MacroProfile.load(builtin_rules_dir() / "qemu-macros.toml")


def _parsed(path: str, display: str, data: bytes) -> ParsedFile | None:
    key = f"{path}\0{display}"
    if key in _PARSED:
        _PARSED.move_to_end(key)
        return _PARSED[key]
    try:
        parsed: ParsedFile | None = parse_source(SourceFile(path, display, data), _profile())
    except Exception:  # a file the parser cannot take is no evidence
        parsed = None
    _PARSED[key] = parsed
    while len(_PARSED) > _PARSED_KEEP:
        _PARSED.popitem(last=False)
    return parsed


def _display(display: str, other: str) -> str:
    """How a sibling is shown: beside `display`, the way the scanned file is."""
    head = display.rsplit("/", 1)[0] if "/" in display else ""
    return f"{head}/{os.path.basename(other)}" if head else os.path.basename(other)


def sibling_callers(path: str, display: str, name: str) -> list[ParsedFile]:
    """Parsed files beside `path` (same directory, not `path` itself) whose
    text calls `name`; at most a few, in name order. `display` is how `path`
    is shown; siblings are shown beside it."""
    if not name:
        return []
    word = name.encode()
    return _siblings_matching(path, display, rb"\b" + re.escape(word) + rb"\s*\(", word)


def sibling_field_writers(path: str, display: str, field: str) -> list[ParsedFile]:
    """Parsed files beside `path` whose text assigns a member named `field`
    (`x->field = ...`, `x.field += ...`); at most a few, in name order."""
    if not field:
        return []
    word = field.encode()
    return _siblings_matching(path, display, rb"(->|\.)\s*" + re.escape(word) + rb"\s*([-+*/|&]?=)(?!=)", word)


def sibling_definitions(path: str, display: str, name: str) -> list[ParsedFile]:
    """Parsed files beside `path` whose text defines a function `name`
    (a line starting with its declarator, the body's `{` after the
    parameters); at most a few, in name order."""
    if not name:
        return []
    word = name.encode()
    return _siblings_matching(path, display, rb"(?m)^[\w \t*]*\b" + re.escape(word) + rb"\s*\([^;{]*\)\s*\{", word)


def _siblings_matching(path: str, display: str, pattern: bytes, needle: bytes) -> list[ParsedFile]:
    if not path:
        return []
    real = os.path.realpath(path)
    out: list[ParsedFile] = []
    directory = os.path.dirname(real)
    _CONSULTED.add((directory, pattern, needle))
    for other, data in matching_files(directory, pattern, needle):
        if other == real:
            continue
        parsed = _parsed(other, _display(display, other), data)
        if parsed is not None:
            out.append(parsed)
        if len(out) >= _MAX_FILES:
            break
    return out
