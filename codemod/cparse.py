"""Parse C with tree-sitter-c after masking QEMU's macros.

tree-sitter-c knows nothing of QEMU's macros: `QTAILQ_FOREACH(v, h, f) {`
looks like a call missing its semicolon, `coroutine_fn` like a stray type.
The macro profile (data: rules/qemu-macros.toml) says how each macro is
masked before parsing. Every masking is length-preserving, so byte offsets
in the tree are those of the original file and the original bytes are what
edits and printers use.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_c

from codemod.errors import RuleError, Position
from codemod.source import SourceFile

C_LANGUAGE = tree_sitter.Language(tree_sitter_c.language())

# Comments, string and character literals, and preprocessor lines (with
# continuations) are never masked. Alternation order matters: the first
# branch that matches at a position wins.
_SKIP_RE = re.compile(
    rb"""
      /\*.*?(?:\*/|\Z)                   # block comment (possibly unterminated)
    | //[^\n]*                           # line comment
    | "(?:[^"\\\n]|\\.)*"                # string literal
    | '(?:[^'\\\n]|\\.)*'                # character literal
    | ^[ \t]*\#(?:[^\n\\]|\\.|\\\n)*     # preprocessor directive line(s)
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class MacroProfile:
    """How each known macro is masked. See rules/qemu-macros.toml."""

    attributes: frozenset[str]  # NAME            -> blanked
    attribute_calls: frozenset[str]  # NAME(args)      -> blanked
    iterators: frozenset[str]  # NAME(args) {...} -> while (args) {...}
    toplevel: frozenset[str]  # NAME(args);?   -> blanked (declaration-like)
    type_wrappers: frozenset[str]  # NAME(T) x       -> T * x
    source: str = "<builtin>"

    @classmethod
    def load(cls, path: str | Path) -> "MacroProfile":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            line, col = _toml_error_position(str(exc))
            raise RuleError(f"malformed macro profile: {exc}", Position(str(path), line, col)) from None
        known = {"attributes", "attribute_calls", "iterators", "toplevel", "type_wrappers"}
        for key in data:
            if key not in known:
                raise RuleError(
                    f"unknown macro class '{key}' (expected one of {', '.join(sorted(known))})",
                    Position(str(path), 1, 1),
                )
        return cls(
            attributes=frozenset(data.get("attributes", {}).get("names", [])),
            attribute_calls=frozenset(data.get("attribute_calls", {}).get("names", [])),
            iterators=frozenset(data.get("iterators", {}).get("names", [])),
            toplevel=frozenset(data.get("toplevel", {}).get("names", [])),
            type_wrappers=frozenset(data.get("type_wrappers", {}).get("names", [])),
            source=str(path),
        )

    @classmethod
    def empty(cls) -> "MacroProfile":
        return cls(frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), "<none>")

    def names(self) -> frozenset[str]:
        return self.attributes | self.attribute_calls | self.iterators | self.toplevel | self.type_wrappers


def _toml_error_position(message: str) -> tuple[int, int]:
    m = re.search(r"line (\d+), column (\d+)", message)
    return (int(m.group(1)), int(m.group(2))) if m else (1, 1)


@lru_cache(maxsize=8)
def _macro_regex(names: frozenset[str]) -> re.Pattern[bytes] | None:
    if not names:
        return None
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names, key=len, reverse=True))
    return re.compile(rb"\b(?:" + alternatives + rb")\b")


def _skip_spans(data: bytes) -> list[tuple[int, int]]:
    return [m.span() for m in _SKIP_RE.finditer(data)]


def _balanced_parens_end(data: bytes, start: int) -> int | None:
    """Offset just past the `)` matching the `(` at or after `start` (spaces allowed)."""
    i = start
    n = len(data)
    while i < n and data[i] in b" \t\r\n":
        i += 1
    if i >= n or data[i] != 0x28:  # '('
        return None
    depth = 0
    while i < n:
        c = data[i]
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
        elif c in (0x22, 0x27):  # skip string/char literal
            quote = c
            i += 1
            while i < n and data[i] != quote:
                i += 2 if data[i] == 0x5C else 1
        i += 1
    return None


def _blank(buf: bytearray, start: int, end: int) -> None:
    for i in range(start, end):
        if buf[i] not in b"\r\n":
            buf[i] = 0x20


def mask_macros(data: bytes, profile: MacroProfile) -> bytes:
    """Return `data` with the profile's macros masked; same length."""
    regex = _macro_regex(profile.names())
    if regex is None or regex.search(data) is None:
        return data
    skips = _skip_spans(data)
    buf = bytearray(data)
    skip_i = 0
    for m in regex.finditer(data):
        start, end = m.span()
        while skip_i < len(skips) and skips[skip_i][1] <= start:
            skip_i += 1
        if skip_i < len(skips) and skips[skip_i][0] <= start < skips[skip_i][1]:
            continue
        name = m.group().decode()
        if name in profile.attributes:
            _blank(buf, start, end)
        elif name in profile.iterators:
            if _balanced_parens_end(data, end) is None:
                continue
            buf[start:end] = b"while".ljust(end - start)
        elif name in profile.attribute_calls or name in profile.toplevel:
            close = _balanced_parens_end(data, end)
            if close is None:
                _blank(buf, start, end)
                continue
            if name in profile.toplevel:
                j = close
                while j < len(data) and data[j] in b" \t":
                    j += 1
                if j < len(data) and data[j] == 0x3B:  # ';'
                    close = j + 1
            _blank(buf, start, close)
        elif name in profile.type_wrappers:
            close = _balanced_parens_end(data, end)
            if close is None:
                continue
            open_paren = data.index(b"(", end)
            inner = data[open_paren + 1 : close - 1]
            # NAME(T) -> T, padded, then '*' where ')' stood.
            replacement = inner.strip().ljust(close - start - 1) + b"*"
            if b"\n" in inner:
                continue
            buf[start:close] = replacement
    return bytes(buf)


@dataclass
class ParsedFile:
    """A source file, its masked bytes and its tree-sitter tree."""

    source: SourceFile
    masked: bytes
    tree: tree_sitter.Tree

    @property
    def root(self) -> tree_sitter.Node:
        return self.tree.root_node

    @property
    def has_errors(self) -> bool:
        return self.tree.root_node.has_error

    def text(self, node: tree_sitter.Node) -> str:
        """Original (unmasked) text of a node."""
        return self.source.data[node.start_byte : node.end_byte].decode("utf-8", errors="surrogateescape")

    def error_nodes(self) -> list[tree_sitter.Node]:
        return list(iter_errors(self.tree.root_node))


def iter_errors(node: tree_sitter.Node):
    """Yield ERROR and MISSING nodes (only descending where errors are)."""
    if not node.has_error:
        return
    stack = [node]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            yield n
            continue
        stack.extend(c for c in n.children if c.has_error or c.is_missing)


_PARSER: tree_sitter.Parser | None = None


def parser() -> tree_sitter.Parser:
    global _PARSER
    if _PARSER is None:
        _PARSER = tree_sitter.Parser(C_LANGUAGE)
    return _PARSER


def parse_bytes(data: bytes, profile: MacroProfile) -> tuple[bytes, tree_sitter.Tree]:
    masked = mask_macros(data, profile)
    return masked, parser().parse(masked)


def parse_source(source: SourceFile, profile: MacroProfile) -> ParsedFile:
    masked, tree = parse_bytes(source.data, profile)
    return ParsedFile(source, masked, tree)


def enclosing_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    while node is not None and node.type != "function_definition":
        node = node.parent
    return node


def function_name(fn: tree_sitter.Node, data: bytes) -> str | None:
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return None
    ident = decl.child_by_field_name("declarator")
    while ident is not None and ident.type not in ("identifier", "field_identifier"):
        ident = ident.child_by_field_name("declarator")
    return data[ident.start_byte : ident.end_byte].decode() if ident is not None else None
