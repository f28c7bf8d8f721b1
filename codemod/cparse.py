"""Parse C with tree-sitter-c after masking QEMU's macros.

tree-sitter-c knows nothing of QEMU's macros: `QTAILQ_FOREACH(v, h, f) {`
looks like a call missing its semicolon, `coroutine_fn` like a stray type.
The macro profile (data: rules/qemu-macros.toml) says how each macro is
masked before parsing. Every masking is length-preserving and keeps every
newline, so byte offsets in the tree are those of the original file and
the original bytes are what edits and printers use.

Public API:
    mask_macros(data, profile) -> bytes     pure; also used on rule patterns
    MacroProfile.load(path) / .loads(text)  RuleError at file:line:col
    default_profile()                       rules/qemu-macros.toml, cached
    parse_source(source, profile) -> ParsedFile;  parse_bytes(data, profile)
    registration_calls(parsed, names)       file-scope `type_init(fn)` & co.
    iter_errors(node), enclosing_function(node), function_name(fn, data)

Besides the named macro classes, masking fixes a few things that are C (or
GNU C) but not tree-sitter-c: `case A ... B:` ranges, backslash-newline
splices outside directives, and (when the profile's [infer] switches are
on) type-shaped call arguments, unknown iterators and upper-case
file-scope macro calls. Comments, strings and preprocessor lines are never
changed.
"""

from __future__ import annotations

import bisect
import itertools
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_c

from codemod.errors import RuleError, Position
from codemod.source import SourceFile

C_LANGUAGE = tree_sitter.Language(tree_sitter_c.language())

# Comments, string and character literals, and preprocessor lines (with
# continuations) are never masked. Alternation order matters: the first
# branch that matches at a position wins.
_BLOCK_COMMENT = rb"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/"
# A directive runs to the end of its last continued line; block comments
# and literals inside it are part of it (a comment may span lines).
_DIRECTIVE = (
    rb"\#(?:[^\n\\/\"']+|\\\r?\n|\\.|" + _BLOCK_COMMENT
    + rb"""|/(?![*/])|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'|["'])*"""
)
# Every branch starts with a literal byte, so the regex engine jumps from
# one candidate byte (/ " ' # newline) to the next instead of trying every
# offset. A directive at column 0 is a `#` after a newline (the lookbehind
# looks back over the `#`); an indented one is matched from the newline
# before it, which _skip_spans then leaves out of the span. A file that
# starts with indentation is scanned behind a newline (see _skip_spans).
_SKIP_RE = re.compile(
    _BLOCK_COMMENT  # block comment
    + rb"|/\*.*\Z"  # unterminated block comment
    + rb"|//[^\n\\]*(?:\\.[^\n\\]*)*"  # line comment (a backslash continues it)
    + rb"""|"[^"\\\n]*(?:\\.[^"\\\n]*)*\""""  # string literal
    + rb"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"  # character literal
    + rb"|\#(?<![^\n]\#)" + _DIRECTIVE[2:]  # directive at the start of a line ...
    + rb"|\n[ \t]+" + _DIRECTIVE,  # ... or indented
    re.DOTALL | re.MULTILINE,
)

# GNU case ranges (`case 'a' ... 'z':`) are a language extension, not a
# macro: the `...` becomes `+` so the label parses as one expression
# (see _mask_case_ranges).

# A backslash-newline outside directives (a line splice in a macro call's
# arguments) is not C syntax tree-sitter-c knows: the backslash becomes a space.
_SPLICE_RE = re.compile(rb"\\(?=\r?\n)")

_IDENT_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*\Z")
_NON_WORD_RE = re.compile(rb"[^A-Za-z0-9_]")
_COMPARISON_OPS = {b"==", b"!=", b"<", b">", b"<=", b">="}

# The classes a profile may hold, with their TOML shape.
_LIST_CLASSES = (
    "attributes",
    "attribute_calls",
    "iterators",
    "toplevel",
    "type_wrappers",
    "type_macros",
    "string_macros",
    "operator_args",
    "registrations",
    "declarator_macros",
)
_CLASSES = _LIST_CLASSES + ("type_args", "replacements", "infer")
# [infer] switches: heuristics that need no macro names.
_INFER_KEYS = {
    "registrations": "infer_registrations",
    "type_args": "infer_type_args",
    "iterators": "infer_iterators",
}


@dataclass(frozen=True)
class MacroProfile:
    """How each known macro is masked. See rules/qemu-macros.toml."""

    attributes: frozenset[str]  # NAME             -> blanked
    attribute_calls: frozenset[str]  # NAME(args)       -> blanked
    iterators: frozenset[str]  # NAME(args) {..}  -> while (args) {..}
    toplevel: frozenset[str]  # NAME(args);?     -> blanked (declaration-like)
    type_wrappers: frozenset[str]  # NAME(T) x        -> T * x
    type_macros: frozenset[str] = frozenset()  # NAME(args) x   -> NAME_____ x (one type name)
    string_macros: frozenset[str] = frozenset()  # NAME(args)    -> "        " (a string)
    operator_args: frozenset[str] = frozenset()  # NAME(a, ==, b) -> NAME(a, 00, b)
    registrations: frozenset[str] = frozenset()  # NAME(a, b) at line start, no ';' -> NAME=a| b;
    declarator_macros: frozenset[str] = frozenset()  # NAME(x, n);  -> NAME x    ;
    type_args: tuple[tuple[str, tuple[int, ...]], ...] = ()  # NAME(.., T, ..): these arguments are types
    replacements: tuple[tuple[str, str], ...] = ()  # NAME -> shorter text, padded
    # Treat any upper-case NAME(args) standing alone at column 0 as a
    # registration (helper generators, REG32(...)): names cannot all be listed.
    infer_registrations: bool = False
    # A call argument shaped like a type (`struct foo`, `Foo *`, `unsigned
    # long`), which no expression is, becomes one identifier, in any call.
    infer_type_args: bool = False
    # An indented NAME(args) in statement position followed by `{` (which no
    # call is) is an iterator.
    infer_iterators: bool = False
    source: str = "<builtin>"

    @classmethod
    def load(cls, path: str | Path) -> "MacroProfile":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleError(f"cannot read macro profile: {exc}", Position(str(path), 1, 1)) from None
        return cls.loads(text, str(path))

    @classmethod
    def loads(cls, text: str, source: str = "<string>") -> "MacroProfile":
        """Parse and check a profile; every problem is a RuleError at file:line:col."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, col = _toml_error_position(str(exc))
            raise RuleError(f"malformed macro profile: {exc}", Position(source, line, col)) from None

        def where(*needles: str) -> Position:
            return Position(source, *_locate(text, needles))

        seen: dict[str, str] = {}

        def check_name(klass: str, name: object) -> str:
            if not isinstance(name, str) or not _IDENT_RE.match(name.encode()):
                raise RuleError(
                    f"[{klass}]: {name!r} is not a C identifier",
                    where(f"[{klass}]", repr(name) if not isinstance(name, str) else f'"{name}"'),
                )
            if name in seen:
                raise RuleError(
                    f"[{klass}]: '{name}' is already in [{seen[name]}]; a macro has one class",
                    where(f"[{klass}]", f'"{name}"'),
                )
            seen[name] = klass
            return name

        fields: dict[str, object] = {}
        for key, table in data.items():
            if key not in _CLASSES:
                raise RuleError(
                    f"unknown macro class '{key}' (expected one of {', '.join(_CLASSES)})",
                    where(f"[{key}]") if f"[{key}]" in text else where(key),
                )
            if not isinstance(table, dict):
                raise RuleError(f"'{key}' must be a table ([{key}])", where(key))
            if key == "type_args":
                pairs = []
                for name, index in table.items():
                    check_name(key, name)
                    indices = index if isinstance(index, list) else [index]
                    if not indices or not all(
                        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices
                    ):
                        raise RuleError(
                            f"[type_args]: {name} = {index!r}: expected the 0-based index (or a list of"
                            " indices) of the type arguments",
                            where("[type_args]", f"{name}="),
                        )
                    pairs.append((name, tuple(indices)))
                fields[key] = tuple(sorted(pairs))
                continue
            if key == "infer":
                for sub, value in table.items():
                    if sub not in _INFER_KEYS:
                        raise RuleError(
                            f"[infer]: unknown key '{sub}' (expected one of {', '.join(_INFER_KEYS)})",
                            where("[infer]", f"{sub}="),
                        )
                    if not isinstance(value, bool):
                        raise RuleError(f"[infer]: '{sub}' must be true or false", where("[infer]", f"{sub}="))
                    fields[_INFER_KEYS[sub]] = value
                continue
            if key == "replacements":
                repl = []
                for name, value in table.items():
                    check_name(key, name)
                    if not isinstance(value, str) or len(value.encode()) > len(name) or "\n" in value:
                        raise RuleError(
                            f"[replacements]: {name} = {value!r}: expected one line of text no longer than the name",
                            where("[replacements]", f"{name}="),
                        )
                    repl.append((name, value))
                fields[key] = tuple(sorted(repl))
                continue
            for sub in table:
                if sub != "names":
                    raise RuleError(f"[{key}]: unknown key '{sub}' (expected 'names')", where(f"[{key}]", f"{sub}="))
            names = table.get("names", [])
            if not isinstance(names, list):
                raise RuleError(f"[{key}]: 'names' must be a list of strings", where(f"[{key}]", "names="))
            fields[key] = frozenset(check_name(key, n) for n in names)
        for key in _LIST_CLASSES:
            fields.setdefault(key, frozenset())
        return cls(**fields, source=source)  # type: ignore[arg-type]

    @classmethod
    def empty(cls) -> "MacroProfile":
        return cls(frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), source="<none>")

    def names(self) -> frozenset[str]:
        return frozenset(self._classes)

    @cached_property
    def _classes(self) -> dict[str, str]:
        classes = {name: klass for klass in _LIST_CLASSES for name in getattr(self, klass)}
        classes.update((name, "type_args") for name, _ in self.type_args)
        classes.update((name, "replacements") for name, _ in self.replacements)
        return classes

    @cached_property
    def _replacement(self) -> dict[str, bytes]:
        return {name: text.encode() for name, text in self.replacements}

    @cached_property
    def _type_arg_index(self) -> dict[str, tuple[int, ...]]:
        return dict(self.type_args)

    @cached_property
    def _regex(self) -> re.Pattern[bytes] | None:
        return _macro_regex(self.names())

    @cached_property
    def _by_bytes(self) -> dict[bytes, tuple[str, str]]:
        """name as bytes -> (name, class): mask_macros looks names up without decoding."""
        return {name.encode(): (name, klass) for name, klass in self._classes.items()}

    @cached_property
    def _name_set(self) -> frozenset[bytes]:
        return frozenset(self._by_bytes)


@lru_cache(maxsize=1)
def default_profile() -> MacroProfile:
    """The built-in QEMU profile, rules/qemu-macros.toml."""
    from codemod.rulesdata import builtin_rules_dir

    return MacroProfile.load(builtin_rules_dir() / "qemu-macros.toml")


def _toml_error_position(message: str) -> tuple[int, int]:
    m = re.search(r"line (\d+), column (\d+)", message)
    return (int(m.group(1)), int(m.group(2))) if m else (1, 1)


def _locate(text: str, needles: tuple[str, ...]) -> tuple[int, int]:
    """1-based line:col of the last needle found, each searched after the
    previous one. A needle `key=` means a TOML key at the start of a line."""
    pos, found = 0, 0
    for needle in needles:
        if needle.endswith("=") and needle[:-1].isidentifier():
            m = re.compile(rf"^[ \t]*({re.escape(needle[:-1])})[ \t]*=", re.MULTILINE).search(text, pos)
            i = m.start(1) if m else -1
        else:
            i = text.find(needle, pos)
        if i >= 0:
            found, pos = i, i + len(needle)
    line = text.count("\n", 0, found) + 1
    return line, found - (text.rfind("\n", 0, found) + 1) + 1


@lru_cache(maxsize=8)
def _macro_regex(names: frozenset[str]) -> re.Pattern[bytes] | None:
    if not names:
        return None
    # A prefix-tree alternation: Python's regex engine tries a flat
    # alternation branch by branch at every offset, a tree only once.
    return re.compile(rb"\b(?:" + _trie_pattern(sorted(n.encode() for n in names)) + rb")\b")


def _trie_pattern(words: list[bytes]) -> bytes:
    """Regex source matching exactly `words` (sorted, non-empty), as a prefix tree."""
    groups: dict[bytes, list[bytes]] = {}
    optional = False
    for w in words:
        if not w:
            optional = True
        else:
            groups.setdefault(w[:1], []).append(w[1:])
    branches = [re.escape(head) + _trie_pattern(rest) if rest != [b""] else re.escape(head)
                for head, rest in groups.items()]
    body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
    return b"(?:" + body + b")?" if optional else body


# Bytes that are not word characters (as \\b sees them in a bytes regex)
# become spaces: split() then gives a file's words.
_WORDS_TABLE = bytes(b if (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A or b == 0x5F) else 0x20
                     for b in range(256))
_WORD_BYTE = tuple(c != 0x20 for c in _WORDS_TABLE)


def _macro_matches(data: bytes, profile: MacroProfile) -> list[tuple[int, int, bytes]]:
    """(start, end, name) of every whole-word occurrence of a profile macro,
    in order: what `profile._regex.finditer(data)` finds (names are words,
    so occurrences never overlap), but cheaper. The file's words are
    collected in C (translate, split) and only the few names present are
    searched for."""
    present = profile._name_set.intersection(data.translate(_WORDS_TABLE).split())
    if not present:
        return []
    out = []
    is_word = _WORD_BYTE
    n = len(data)
    for name in present:
        size = len(name)
        i = data.find(name)
        while i >= 0:
            end = i + size
            if (i == 0 or not is_word[data[i - 1]]) and (end == n or not is_word[data[end]]):
                out.append((i, end, name))
            i = data.find(name, end)
    if len(present) > 1:
        out.sort()
    return out


def _skip_spans(data: bytes) -> tuple[list[int], list[int]]:
    """(starts, ends) of the comments, literals and directives, in order."""
    if data[:1] in (b" ", b"\t"):
        # An indented directive on the first line has no newline before it.
        starts, ends = _skip_spans(b"\n" + data)
        return [s - 1 for s in starts], [e - 1 for e in ends]
    starts: list[int] = []
    ends: list[int] = []
    add_start = starts.append
    add_end = ends.append
    for m in _SKIP_RE.finditer(data):
        s, e = m.span()
        add_start(s + 1 if data[s] == 0x0A else s)  # an indented directive starts after the newline
        add_end(e)
    return starts, ends


def _in_skip(spans: tuple[list[int], list[int]], pos: int) -> bool:
    i = bisect.bisect_right(spans[0], pos) - 1
    return i >= 0 and pos < spans[1][i]


def _skip_space(data: bytes, i: int, newlines: bool = True) -> int:
    ws = b" \t\r\n\f\v" if newlines else b" \t"
    n = len(data)
    while i < n and data[i] in ws:
        i += 1
    return i


# The bytes _call_args acts on; it jumps from one to the next.
_CALL_STOP_RE = re.compile(rb"[\]\[(){},\"'/]")
# A literal's body after its opening quote: up to the closing quote or a
# newline; a backslash takes the next byte with it, whatever it is.
_LITERAL_BODY_RE = {
    0x22: re.compile(rb'[^"\\\n]*(?:\\.[^"\\\n]*)*', re.DOTALL),
    0x27: re.compile(rb"[^'\\\n]*(?:\\.[^'\\\n]*)*", re.DOTALL),
}


def _call_args(data: bytes, start: int) -> tuple[int, list[tuple[int, int]]] | None:
    """For a `(` at or after `start` (whitespace allowed): the offset just past
    the matching `)` and the (start, end) span of each top-level argument.

    Strings, character literals and comments inside are skipped. Only the
    bytes that matter (brackets, commas, quotes, slashes) are visited.
    """
    i = _skip_space(data, start)
    n = len(data)
    if i >= n or data[i] != 0x28:  # '('
        return None
    depth = 0
    args: list[tuple[int, int]] = []
    arg_start = i + 1
    search = _CALL_STOP_RE.search
    while True:
        m = search(data, i)
        if m is None:
            return None
        i = m.start()
        c = data[i]
        if c == 0x28 or c == 0x5B or c == 0x7B:  # ( [ {
            depth += 1
        elif c == 0x29 or c == 0x5D or c == 0x7D:  # ) ] }
            depth -= 1
            if depth == 0:
                if c != 0x29:
                    return None
                if args or data[arg_start:i].strip():
                    args.append((arg_start, i))
                return i + 1, args
        elif c == 0x2C:  # ','
            if depth == 1:
                args.append((arg_start, i))
                arg_start = i + 1
        elif c == 0x22 or c == 0x27:  # a literal, to its closing quote or the end of the line
            i = _LITERAL_BODY_RE[c].match(data, i + 1).end()
            if i >= n or data[i] == 0x5C:  # ran off the end (a last byte '\\' skips past it)
                return None
        elif i + 1 < n and data[i + 1] == 0x2A:  # '/*'
            close = data.find(b"*/", i + 2)
            if close < 0:
                return None
            i = close + 1
        elif i + 1 < n and data[i + 1] == 0x2F:  # '//'
            close = data.find(b"\n", i)
            if close < 0:
                return None
            i = close
        i += 1


_BLANK_TABLE = bytes(b if b in b"\r\n" else 0x20 for b in range(256))


def _blank(buf: bytearray, start: int, end: int) -> None:
    buf[start:end] = bytes(buf[start:end]).translate(_BLANK_TABLE)


def _strip_span(data: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and data[start] in b" \t\r\n":
        start += 1
    while end > start and data[end - 1] in b" \t\r\n":
        end -= 1
    return start, end


def _mask_case_ranges(data: bytes, buf: bytearray, spans) -> None:
    # Find each `...` (a fast literal search), then look back for its `case`.
    pos = data.find(b"...")
    while pos >= 0:
        k = data.rfind(b"case", 0, pos)
        if (
            k >= 0
            and not (k and (data[k - 1 : k].isalnum() or data[k - 1] == 0x5F))
            and not (data[k + 4 : k + 5].isalnum() or data[k + 4 : k + 5] == b"_")
            and not any(c in data[k + 4 : pos] for c in (b":", b";", b"{", b"}"))
            and not _in_skip(spans, k)
            and not _in_skip(spans, pos)
        ):
            buf[pos : pos + 3] = b"+  "
        pos = data.find(b"...", pos + 3)


def mask_macros(data: bytes, profile: MacroProfile) -> bytes:
    """Return `data` with the profile's macros masked; same length, same newlines.

    Pure: the result depends only on `data` and the profile, so rule
    pattern code masked with the same profile lines up with masked C code.
    Comments, strings and preprocessor lines are never changed.
    """
    matches = _macro_matches(data, profile)
    has_ranges = b"..." in data and b"case" in data
    has_splices = b"\\\n" in data or b"\\\r\n" in data
    infer = profile.infer_registrations or profile.infer_type_args or profile.infer_iterators
    if not (matches or has_ranges or has_splices or infer):
        return data
    spans = _skip_spans(data)
    buf = bytearray(data)
    if has_ranges:
        _mask_case_ranges(data, buf, spans)
    if has_splices:
        for m in _SPLICE_RE.finditer(data):
            if not _in_skip(spans, m.start()):
                buf[m.start()] = 0x20
    classes = profile._classes
    by_bytes = profile._by_bytes
    done = 0  # masking before this offset is final: matches inside are ignored
    for start, end, word in matches:
        if start < done or _in_skip(spans, start):
            continue
        name, klass = by_bytes[word]
        if klass == "attributes":
            _blank(buf, start, end)
            continue
        call = _call_args(data, end)
        if call is None:
            if klass == "attribute_calls":
                _blank(buf, start, end)
            continue
        close, args = call
        if klass == "iterators":
            if not _statement_follows(data, close, spans):
                continue  # a plain call of a same-named function
            if args:
                buf[start:end] = b"while".ljust(end - start)
            elif close - start >= 8:  # NAME() -> while(1)
                buf[start:close] = _keep_newlines(b"while(1)", data, start, close)
        elif klass in ("attribute_calls", "toplevel"):
            if klass == "toplevel":
                j = _skip_space(data, close, newlines=False)
                if j < len(data) and data[j] == 0x3B:  # ';'
                    close = j + 1
            _blank(buf, start, close)
            done = close
        elif klass == "type_wrappers":
            open_paren = data.index(b"(", end)
            inner = data[open_paren + 1 : close - 1]
            if b"\n" not in inner:
                # NAME(T) -> T, padded, then '*' where ')' stood.
                buf[start:close] = inner.strip().ljust(close - start - 1) + b"*"
                done = close
        elif klass == "type_macros":
            if b"\n" not in data[start:close]:
                buf[start:close] = data[start:end].ljust(close - start, b"_")
                done = close
        elif klass == "string_macros":
            if b"\n" not in data[start:close]:
                buf[start:close] = b'"' + b" " * (close - start - 2) + b'"'
                done = close
        elif klass == "type_args":
            for index in profile._type_arg_index[name]:
                if index < len(args):
                    _identify_arg(data, buf, *args[index])
        elif klass == "declarator_macros":
            if args and _IDENT_RE.match(data[slice(*_strip_span(data, *args[0]))]):
                # NAME(x, rest) -> NAME x       : a declaration of x of type NAME.
                open_paren = data.index(b"(", end)
                buf[open_paren] = 0x20
                _blank(buf, args[0][1], close)
                done = close
        elif klass == "operator_args":
            for a, b in args:
                a, b = _strip_span(data, a, b)
                if data[a:b] in _COMPARISON_OPS:
                    buf[a:b] = b"0" * (b - a)  # `00`: one number node over the whole operator
        elif klass == "registrations":
            line_start = data.rfind(b"\n", 0, start) + 1
            if data[line_start:start].strip(b" \t"):
                continue  # only at the start of a line: file-scope registrations
            _mask_registration(data, buf, end, close, args, spans)
        elif klass == "replacements":
            buf[start:end] = profile._replacement[name].ljust(end - start)
    if profile.infer_iterators:
        for m in _line_matches(_INFER_ITERATOR_RE, _INFER_ITERATOR_LINE_RE, data):
            start, end = m.span(1)
            name = m.group(1)
            if name in _NOT_CALLS or name.decode() in classes or buf[start:end] != data[start:end]:
                continue
            if _in_skip(spans, start) or not _statement_position(data, start, spans):
                continue
            call = _call_args(data, end)
            if call is not None and call[1]:
                k = _next_significant(data, call[0], spans)
                if data[k : k + 1] != b"{":
                    continue
                buf[start:end] = b"while".ljust(end - start)
    if profile.infer_type_args and (b"*" in data or b"struct" in data):
        _mask_type_shaped_args(data, buf, spans)
    if profile.infer_registrations:
        for m in _line_matches(_INFER_REGISTRATION_RE, _INFER_REGISTRATION_LINE_RE, data):
            start, end = m.span(1)
            if m.group(1).decode() in classes or _in_skip(spans, start) or buf[start:end] != data[start:end]:
                continue
            call = _call_args(data, end)
            # Its parentheses must be untouched (inferred type arguments inside are fine).
            if call is not None and buf[end] == data[end] and buf[call[0] - 1] == data[call[0] - 1]:
                _mask_registration(data, buf, end, call[0], call[1], spans)
    return bytes(buf)


# Upper-case NAME( at column 0: a file-scope macro call (when nothing but a
# new item follows its `)`; see _mask_registration).
_INFER_REGISTRATION_RE = re.compile(rb"^([A-Z][A-Z0-9_]*)\(", re.MULTILINE)
# The same from the newline before (a literal first byte: a fast scan); the
# identifier cannot give bytes back to `(`, so it takes them possessively.
_INFER_REGISTRATION_LINE_RE = re.compile(rb"\n([A-Z][A-Z0-9_]*+)\(")


def _line_matches(first_re: re.Pattern[bytes], line_re: re.Pattern[bytes], data: bytes):
    """The matches of `first_re` (a `^...` MULTILINE pattern) in `data`, given
    `line_re`, the same pattern starting with `\\n` instead of `^`: a match at
    offset 0, then line_re's matches after it. Only the groups are the same."""
    first = first_re.match(data)
    if first is None:
        return line_re.finditer(data)
    return itertools.chain((first,), line_re.finditer(data, first.end()))


def _mask_registration(data: bytes, buf: bytearray, name_end: int, close: int, args, spans) -> None:
    """`NAME(a, b)` without `;` -> `NAME=a| b;` (or `NAME  ;` without
    arguments): an expression statement with the name and every argument
    where they were (see registration_calls)."""
    after = _next_significant(data, close, spans)
    if after < len(data) and data[after] in b";{(,=)[":
        return  # already a statement, or a definition/declarator: not ours
    j = _skip_space(data, close, newlines=False)
    if j < len(data) and data[j] not in b"\r\n/":
        return  # more code on the line: not a stand-alone macro call
    open_paren = _skip_space(data, name_end)
    buf[open_paren] = 0x3D if args else 0x20  # '='
    buf[close - 1] = 0x3B  # ';'
    # A file-scope expression statement may not hold a comma expression:
    # the commas between arguments become '|'.
    for arg_start, _ in args[1:]:
        buf[arg_start - 1] = 0x7C


def _next_significant(data: bytes, pos: int, spans) -> int:
    """Offset of the next byte after `pos` that is not white space or in a comment."""
    n = len(data)
    while True:
        pos = _skip_space(data, pos)
        if pos < n and data[pos] == 0x2F and _in_skip(spans, pos):
            pos = spans[1][bisect.bisect_right(spans[0], pos) - 1]
            continue
        return pos


def _identify_arg(data: bytes, buf: bytearray, start: int, end: int) -> None:
    """Make the argument in [start, end) one identifier of the same length
    (unless it is one already, or holds a newline or a string)."""
    a, b = _strip_span(data, start, end)
    text = data[a:b]
    if text and b"\n" not in text and b'"' not in text and not _IDENT_RE.match(text):
        buf[a:b] = _NON_WORD_RE.sub(b"_", text)


# A call argument shaped like a type: `struct foo`, `const char *`,
# `Foo **`, `unsigned long` - shapes no expression has. The lookbehind
# wants `(` right after an identifier, or `,`.
# Possessive `*+` where what follows cannot start with the bytes given up
# (a word never ends just before a word byte): the same matches, without
# backtracking through every identifier that is not followed by a `*`.
_TYPE_ARG_RE = re.compile(
    rb"""
    [(,] \s*+
    ( (?: (?:const|volatile|struct|union|enum|unsigned|signed|short|long) [ \t]+ )+
      [A-Za-z_][A-Za-z0-9_]*+
      (?: [ \t]* \* (?:[ \t]*const\b)? )*
    | [A-Za-z_][A-Za-z0-9_]*+
      (?: [ \t]* \* (?:[ \t]*const\b)? )+ )
    [ \t]* (?=[,)])
    """,
    re.VERBOSE,
)
_INT_MODIFIERS = frozenset((b"unsigned", b"signed", b"short", b"long"))
_INT_WORDS = frozenset((b"int", b"char", b"short", b"long", b"double", b"signed", b"unsigned"))
_TYPE_KEYWORDS = frozenset(
    b"const volatile struct union enum unsigned signed short long".split()
)
# `sizeof (struct foo)` and the like take types already.
_NOT_CALLS = frozenset(
    b"sizeof _Alignof __alignof__ __alignof alignof typeof __typeof__ __typeof _Generic "
    b"if while for switch return case __attribute__ __asm__ asm".split()
)


def _mask_type_shaped_args(data: bytes, buf: bytearray, spans) -> None:
    for m in _TYPE_ARG_RE.finditer(data):
        a, b = m.span(1)
        text = data[a:b]
        words = text.replace(b"*", b" ").split()
        if words[-1] in _TYPE_KEYWORDS and words[-1] not in (b"short", b"long", b"signed", b"unsigned"):
            continue  # `struct` alone, `const` alone: not a type
        if (words[0] in _INT_MODIFIERS and words[-1] not in _INT_WORDS and b"*" not in text):
            continue  # `unsigned size`: a parameter (type and name), as in a declarator
        j = m.start()
        if data[j] == 0x28:  # '(': must open a call, not a cast or a group
            k = j
            while k > 0 and (data[k - 1] == 0x5F or data[k - 1 : k].isalnum()):
                k -= 1
            if k == j or data[k:j] in _NOT_CALLS:
                continue
        if _in_skip(spans, a) or buf[a:b] != text:
            continue
        buf[a:b] = _NON_WORD_RE.sub(b"_", text)


# An indented NAME(args on one line) followed by `{`: a candidate iterator.
_INFER_ITERATOR_RE = re.compile(rb"^[ \t]+([A-Za-z_][A-Za-z0-9_]{4,})[ \t]*\([^;{}\n]*\)\s*\{", re.MULTILINE)
_INFER_ITERATOR_LINE_RE = re.compile(rb"\n[ \t]+([A-Za-z_][A-Za-z0-9_]{4,}+)[ \t]*\([^;{}\n]*\)\s*\{")


def _statement_position(data: bytes, pos: int, spans) -> bool:
    """Whether a statement may start at `pos`: after `;`, `{`, `}`, `:`, `)`,
    `else`, or a directive or comment."""
    i = pos
    while i > 0 and data[i - 1] in b" \t\r\n":
        i -= 1
    if i == 0 or _in_skip(spans, i - 1):
        return True
    c = data[i - 1]
    if c in b";{}:)":
        return True
    return data[max(0, i - 4) : i] == b"else" and (i < 5 or not (data[i - 5 : i - 4].isalnum() or data[i - 5] == 0x5F))


def _statement_follows(data: bytes, pos: int, spans) -> bool:
    """Whether a loop body (`{` or a statement) follows `pos`, not `;` or an operator."""
    n = len(data)
    pos = _next_significant(data, pos, spans)
    if pos >= n:
        return False
    c = data[pos]
    return c == 0x7B or c == 0x5F or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c == 0x2A or c == 0x28


def _keep_newlines(text: bytes, data: bytes, start: int, end: int) -> bytes:
    """`text` padded to end-start bytes, or the span blanked if it holds a newline."""
    if b"\n" in data[start:end]:
        return bytes(data[start:end]).translate(_BLANK_TABLE)
    return text.ljust(end - start)


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


def error_count(tree: tree_sitter.Tree) -> int:
    """ERROR and MISSING nodes in the tree (a rewrite may not add any)."""
    return sum(1 for _ in iter_errors(tree.root_node))


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


@dataclass(frozen=True)
class MacroCall:
    """A file-scope macro call such as `type_init(fn)` (see registration_calls)."""

    name: str
    name_node: tree_sitter.Node
    args: tuple[tree_sitter.Node, ...]


def registration_calls(parsed: ParsedFile, names: frozenset[str] | set[str] | None = None) -> list[MacroCall]:
    """File-scope `NAME(args)` macro calls, e.g. `type_init(fn)`.

    `NAME(args);` parses as a call. `NAME(args)` without `;` is masked to
    `NAME=a| b;` (see _mask_registration); its arguments are found in the
    original text and mapped to the nodes that cover them. Both forms are
    returned alike. `names` filters by macro name (None: every file-scope
    call statement, e.g. pass profile.registrations).
    """
    data = parsed.source.data
    out: list[MacroCall] = []
    for item in parsed.root.children:
        if item.type != "expression_statement" or item.named_child_count < 1:
            continue
        expr = item.named_children[0]
        if expr.type == "call_expression":
            fn = expr.child_by_field_name("function")
            arglist = expr.child_by_field_name("arguments")
            args = tuple(arglist.named_children) if arglist is not None else ()
        elif expr.type in ("assignment_expression", "identifier") and data[item.end_byte - 1 : item.end_byte] == b")":
            fn = expr.child_by_field_name("left") if expr.type == "assignment_expression" else expr
            if fn is None:
                continue
            call = _call_args(data, fn.end_byte)
            if call is None:
                continue
            args = tuple(
                n for n in (parsed.root.named_descendant_for_byte_range(*_strip_span(data, a, b)) for a, b in call[1])
                if n is not None
            )
        else:
            continue
        if fn is None or fn.type != "identifier":
            continue
        name = data[fn.start_byte : fn.end_byte].decode("utf-8", "replace")
        if names is None or name in names:
            out.append(MacroCall(name, fn, args))
    return out




def has_descendant(node: tree_sitter.Node, node_type: str) -> bool:
    """Whether `node` or anything below it is of `node_type` (e.g. a call)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == node_type:
            return True
        stack.extend(n.children)
    return False


def declarator_identifier(decl: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The identifier a declarator declares, through pointer/array/init declarators."""
    while decl is not None and decl.type != "identifier":
        decl = decl.child_by_field_name("declarator")
    return decl


_FUNCTION_QUERY: tree_sitter.Query | None = None


def function_definitions(tree: tree_sitter.Tree) -> list[tree_sitter.Node]:
    """Every function_definition node, in source order."""
    global _FUNCTION_QUERY
    if _FUNCTION_QUERY is None:
        _FUNCTION_QUERY = tree_sitter.Query(C_LANGUAGE, "(function_definition) @f")
    nodes = tree_sitter.QueryCursor(_FUNCTION_QUERY).captures(tree.root_node).get("f", [])
    nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
    return nodes


_CALL_NAME_RES: dict[frozenset, re.Pattern[bytes]] = {}
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def calls_named(parsed: ParsedFile, names: frozenset[str]) -> list[tuple[tree_sitter.Node, tree_sitter.Node]]:
    """(call_expression, function identifier) of every direct call of one of `names`, in source order.

    A word search over the bytes finds the few candidate offsets; only those
    are looked up in the tree. Walking every node in Python instead costs
    more than the parse itself on a large file.
    """
    pattern = _CALL_NAME_RES.get(names)
    if pattern is None:
        # No look-behind in front: the regex engine then skips to the names'
        # first letters. The byte before a match is checked below instead, a
        # cheap early exit (the identifier lookup would refuse it too); a match
        # refused there hides no other (its letters are word characters).
        words = sorted((n.encode() for n in names), key=len, reverse=True)
        pattern = re.compile(rb"(?:" + b"|".join(re.escape(w) for w in words) + rb")(?![A-Za-z0-9_])")
        _CALL_NAME_RES[names] = pattern
    root = parsed.tree.root_node
    data = parsed.masked
    found = []
    for m in pattern.finditer(data):
        if m.start() and data[m.start() - 1] in _WORD_BYTES:
            continue
        node = root.descendant_for_byte_range(m.start(), m.end())
        if node is None or node.type != "identifier" or node.start_byte != m.start() or node.end_byte != m.end():
            continue
        call = node.parent
        if call is not None and call.type == "call_expression" and call.child_by_field_name("function") == node:
            found.append((call, node))
    return found
