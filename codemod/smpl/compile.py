"""Compile checked rules into immutable patterns the engine runs.

A transformation rule body is expanded into alternatives (line-level
disjunctions), each alternative's minus/context code is turned into C text
that tree-sitter-c parses (metavariables stay identifiers, `...` becomes a
placeholder, `@p` annotations are blanked), and the parse tree becomes a
tree of PNode values. Every character of that C text remembers where it
came from in the rule file (for error positions) and its line's marker
(for edits); plus lines become PlusChunks anchored between pattern tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codemod.cparse import MacroProfile, mask_macros, parser as c_parser
from codemod.errors import Position, RuleError
from codemod.smpl.ast import BodyLine

MAX_ALTERNATIVES = 512

EXPRESSION_TYPES = frozenset({
    "identifier", "number_literal", "string_literal", "char_literal", "true", "false", "null",
    "call_expression", "field_expression", "subscript_expression", "pointer_expression",
    "unary_expression", "binary_expression", "assignment_expression", "update_expression",
    "cast_expression", "sizeof_expression", "conditional_expression", "parenthesized_expression",
    "comma_expression", "compound_literal_expression", "concatenated_string", "alignof_expression",
    "offsetof_expression", "generic_expression", "gnu_asm_expression", "extension_expression",
    "initializer_list",
})
STATEMENT_TYPES = frozenset({
    "compound_statement", "expression_statement", "if_statement", "while_statement",
    "for_statement", "do_statement", "return_statement", "break_statement", "continue_statement",
    "goto_statement", "switch_statement", "labeled_statement", "case_statement", "declaration",
    "attributed_statement",
})
# Lists whose items are separated by commas: dots and list metavariables
# match whole items there.
COMMA_LISTS = frozenset({"argument_list", "parameter_list", "initializer_list"})

WRAP_STMT_PREFIX = "void __af_wrapper__(void) {\n"
WRAP_STMT_SUFFIX = "\n}\n"
WRAP_EXPR_PREFIX = "void __af_wrapper__(void) {\n__af_expr__ = (\n"
WRAP_EXPR_SUFFIX = "\n);\n}\n"


@dataclass(frozen=True)
class PNode:
    """A pattern node. kind: node | leaf | meta | dots."""

    kind: str
    type: str
    text: str  # leaf text, metavariable name or dots id
    children: tuple["PNode", ...]
    start: int  # span in the pattern's C text
    end: int
    positions: tuple[str, ...] = ()  # position metavariables attached here
    minus: bool = False  # every character of the node is on '-' lines
    field_name: str | None = None


@dataclass(frozen=True)
class WhenClause:
    op: str  # "!=", "==", "any", "strict", "exists", "forall"
    pattern: "Pattern | None" = None
    text: str = ""


@dataclass(frozen=True)
class DotsSpec:
    id: int
    whens: tuple[WhenClause, ...]
    minus: bool
    nest: "tuple[Pattern, ...] | None" = None  # `<... P ...>`: P (alternatives) anywhere in the skipped code
    nest_required: bool = False  # `<+... P ...+>`: at least once


@dataclass(frozen=True)
class PlusChunk:
    anchor: int  # offset in pattern C text: the chunk goes between tokens around it
    lines: tuple[tuple[int, str], ...]  # (relative indent in columns, text)
    rule_line: int


@dataclass(frozen=True)
class Pattern:
    kind: str  # "stmts" | "expr" | "toplevel"
    nodes: tuple[PNode, ...]
    text: str  # the C text (for leaf comparison of pattern tokens)
    markers: str  # per character of text: ' ', '-', '*'
    origins: tuple[tuple[int, int, int], ...]  # sorted (text offset, rule line, rule col)
    plus: tuple[PlusChunk, ...]
    dots: tuple[DotsSpec, ...]
    path: str

    def position_of(self, offset: int) -> Position:
        best = self.origins[0]
        for o in self.origins:
            if o[0] > offset:
                break
            best = o
        return Position(self.path, best[1], best[2] + (offset - best[0]))


@dataclass(frozen=True)
class MetavarSpec:
    kind: str
    name: str
    inherited_from: str | None
    constraint: object | None
    type_text: str | None
    fresh_parts: tuple = ()
    source_name: str | None = None  # name in the rule it is inherited from


@dataclass(frozen=True)
class CompiledRule:
    name: str
    kind: str  # transform | script | initialize | finalize
    depends: tuple | None
    metavars: dict = field(default_factory=dict)  # local name -> MetavarSpec
    alternatives: tuple[Pattern, ...] = ()
    quantifier: str | None = None  # "exists" | "forall" | None (spatch's default)
    transforms: bool = False  # has - or + lines
    context_mode: bool = False  # has * lines (report only)
    required: tuple[frozenset[str], ...] = ()  # each set: one of these words must occur
    # scripts
    inputs: tuple = ()
    outputs: tuple = ()
    code: object = None  # compiled code object
    code_text: str = ""
    pos: Position | None = None
    file: str = ""

    @property
    def inherited_rules(self) -> tuple[str, ...]:
        names = []
        for mv in self.metavars.values():
            if mv.inherited_from and mv.inherited_from not in names:
                names.append(mv.inherited_from)
        for inp in self.inputs:
            if inp.rule not in names:
                names.append(inp.rule)
        return tuple(names)


# --- body expansion -------------------------------------------------------

def _is_disj(line: BodyLine, token: str) -> bool:
    return line.col == 1 and line.marker == " " and line.text.strip() == token


_INLINE_RE = re.compile(r"\\\(|\\\||\\\)")


def _inline_variants(line: BodyLine, path: str) -> list[BodyLine]:
    """`a \\( b \\| c \\) d` on one line -> the lines `a b d` and `a c d` (nesting allowed).
    Each variant keeps the line's columns: the other branches become spaces."""
    text = line.text
    tokens = [(m.start(), m.group()) for m in _INLINE_RE.finditer(text)]

    def parse(k: int, depth: int):
        # -> (list of (start, end, [alternatives as lists of segments]), next token index)
        pieces = []
        while k < len(tokens):
            off, tok = tokens[k]
            if tok == "\\(":
                branches, start = [], off
                k += 1
                seg_start = off + 2
                inner_nodes = []
                while True:
                    if k >= len(tokens):
                        raise RuleError("unbalanced '\\(': inline disjunction is not closed on its line",
                                        Position(path, line.line, line.col + start))
                    off2, tok2 = tokens[k]
                    if tok2 == "\\(":
                        sub, k = parse(k, depth + 1)
                        inner_nodes.extend(sub)
                        continue
                    branches.append((seg_start, off2, inner_nodes))
                    inner_nodes = []
                    seg_start = off2 + 2
                    k += 1
                    if tok2 == "\\)":
                        pieces.append((start, off2 + 2, branches))
                        break
                if depth > 0:
                    return pieces, k
                continue
            raise RuleError(f"unbalanced '{tok}' outside an inline disjunction",
                            Position(path, line.line, line.col + off))
        return pieces, k

    def render(lo: int, hi: int, nodes) -> list[str]:
        # All texts of text[lo:hi] with each disjunction replaced by one branch, same width.
        outs = [""]
        pos = lo
        for start, end, branches in nodes:
            if start < lo or end > hi:
                continue
            prefix = text[pos:start]
            options = []
            for b_lo, b_hi, inner in branches:
                for body in render(b_lo, b_hi, inner):
                    options.append(" " * (b_lo - start) + body + " " * (end - b_hi))
            outs = [o + prefix + opt for o in outs for opt in options]
            pos = end
        return [o + text[pos:hi] for o in outs]

    nodes, _ = parse(0, 0)
    return [BodyLine(line.marker, t, line.line, line.col) for t in render(0, len(text), nodes)]


def expand_alternatives(body: list[BodyLine], path: str) -> list[list[BodyLine]]:
    """Expand column-0 `( | )` disjunctions into flat alternatives, in order."""

    def parse_seq(i: int, depth: int) -> tuple[list, int]:
        items: list = []
        while i < len(body):
            line = body[i]
            if line.marker != "+" and line.text.strip().startswith(("<...", "<+...")):
                # A nest's lines stay together: its own disjunctions are expanded when it is compiled.
                depth = 0
                while i < len(body):
                    st = body[i].text.strip() if body[i].marker != "+" else ""
                    if st.startswith(("<...", "<+...")):
                        depth += 1
                    elif st.startswith(("...>", "...+>")):
                        depth -= 1
                    items.append(("line", body[i]))
                    i += 1
                    if depth == 0:
                        break
                continue
            if _is_disj(line, "("):
                branches: list[list] = []
                i += 1
                while True:
                    seq, i = parse_seq(i, depth + 1)
                    branches.append(seq)
                    if i >= len(body):
                        raise RuleError("unbalanced '(': disjunction is not closed by ')'",
                                        Position(path, line.line, 1))
                    if _is_disj(body[i], "|"):
                        i += 1
                        continue
                    if _is_disj(body[i], ")"):
                        i += 1
                        break
                items.append(("disj", branches))
                continue
            if _is_disj(line, "&") or "\\&" in line.text:
                raise RuleError("unsupported: conjunction ( A & B )", Position(path, line.line, 1),
                                hint="allocfix supports disjunctions ( A | B ); split the rule or use a "
                                "script to combine conditions")
            if _is_disj(line, "|") or _is_disj(line, ")"):
                if depth == 0:
                    raise RuleError(f"unbalanced '{line.text.strip()}' outside a disjunction",
                                    Position(path, line.line, 1))
                return items, i
            if "\\(" in line.text or "\\|" in line.text or "\\)" in line.text:
                variants = _inline_variants(line, path)
                items.append(("disj", [[("line", v)] for v in variants]))
            else:
                items.append(("line", line))
            i += 1
        return items, i

    items, _ = parse_seq(0, 0)

    def expand(seq: list) -> list[list[BodyLine]]:
        results: list[list[BodyLine]] = [[]]
        for kind, val in seq:
            if kind == "line":
                results = [r + [val] for r in results]
            else:
                options = [alt for branch in val for alt in expand(branch)]
                results = [r + o for r in results for o in options]
            if len(results) > MAX_ALTERNATIVES:
                raise RuleError(f"too many disjunction alternatives (> {MAX_ALTERNATIVES})",
                                Position(path, body[0].line, 1))
        return results

    return expand(items)


# --- C text construction --------------------------------------------------

_POS_RE = re.compile(r"(?<=[\w)\]])@([A-Za-z_]\w*)")
_DOTS_RE = re.compile(r"\.\.\.")
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
_WHEN_RE = re.compile(r"\b(?:when|WHEN)\b\s*(!=|==|any\b|strict\b|exists\b|forall\b)\s*(.*)$")


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.markers: list[str] = []
        self.origins: list[tuple[int, int, int]] = []
        self.length = 0

    def add(self, text: str, marker: str, line: int, col: int) -> int:
        start = self.length
        self.origins.append((start, line, col))
        self.parts.append(text)
        self.markers.append(marker * len(text))
        self.length += len(text)
        return start

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _split_when(text: str) -> tuple[str, list[tuple[str, str]]]:
    whens: list[tuple[str, str]] = []
    m = _WHEN_RE.search(text)
    while m:
        whens.insert(0, (m.group(1), m.group(2).strip()))
        text = text[: m.start()]
        m = _WHEN_RE.search(text)
    return text, whens


def build_pattern_text(lines: list[BodyLine], metavars: dict, path: str):
    """C text, markers, origins, plus chunks, dots and position annotations."""
    tb = _TextBuilder()
    plus: list[PlusChunk] = []
    dots: list[tuple[int, list[tuple[str, str, int]], bool]] = []
    positions: list[tuple[int, str]] = []  # (offset just past the annotated token, name)
    pending_plus: list[BodyLine] = []
    statement_metas = {n for n, mv in metavars.items() if mv.kind == "statement"}

    def flush_plus() -> None:
        if not pending_plus:
            return
        widths = [_indent_width(l.text) for l in pending_plus]
        base = min(widths)
        chunk = tuple((w - base, l.text.strip()) for w, l in zip(widths, pending_plus))
        plus.append(PlusChunk(tb.length, chunk, pending_plus[0].line))
        pending_plus.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.marker == "+":
            pending_plus.append(line)
            i += 1
            continue
        flush_plus()
        marker = "-" if line.marker == "-" else ("*" if line.marker == "*" else " ")
        text = line.text
        stripped = text.strip()
        if stripped.startswith(("...>", "...+>")):
            raise RuleError(f"unbalanced '{stripped.split()[0]}': no nest '<...' open",
                            Position(path, line.line, line.col + text.index(stripped[0])))
        if stripped.startswith(("<...", "<+...")):
            # A nest: the lines up to the matching close form their own pattern.
            required = stripped.startswith("<+...")
            opener = "<+..." if required else "<..."
            closer = "...+>" if required else "...>"
            if stripped != opener:
                raise RuleError(f"unsupported: code after '{opener}' on the same line",
                                Position(path, line.line, line.col + text.index(stripped[0])))
            depth, j = 1, i + 1
            while j < len(lines):
                st = lines[j].text.strip() if lines[j].marker != "+" else ""
                if st.startswith(("<...", "<+...")):
                    depth += 1
                elif st.startswith(("...>", "...+>")):
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= len(lines) or lines[j].text.strip() != closer:
                raise RuleError(f"unbalanced '{opener}': nest is not closed by '{closer}'",
                                Position(path, line.line, line.col + text.index(stripped[0])))
            inner = lines[i + 1 : j]
            if not any(l.marker != "+" for l in inner):
                raise RuleError("a nest needs a pattern", Position(path, line.line, line.col))
            k = len(dots)
            dots.append((k, [], marker == "-", inner, required))
            col = line.col + text.index(stripped[0])
            tb.add(f"__af_dots_{k}__;", marker, line.line, col)
            tb.add("\n", marker, line.line, col + len(stripped))
            i = j + 1
            continue
        if stripped.startswith(("when ", "WHEN ")) or stripped in ("when", "WHEN"):
            # A `when` clause continuing the previous `...` line.
            if not dots or not tb.text.rstrip().endswith(";"):
                raise RuleError("'when' without a preceding '...'", Position(path, line.line, line.col))
            _, whens = _split_when(" " + stripped)
            dots[-1][1].extend((op, arg, line.line) for op, arg in whens)
            i += 1
            continue
        if stripped.startswith("...") and _split_when(stripped[3:])[0].strip() == "":
            _, whens = _split_when(stripped[3:])
            k = len(dots)
            dots.append((k, [(op, arg, line.line) for op, arg in whens], marker == "-", None, False))
            col = line.col + text.index("...")
            tb.add(f"__af_dots_{k}__;", marker, line.line, col)
            tb.add("\n", marker, line.line, col + len(stripped))
            i += 1
            continue
        # Ordinary code line: blank position annotations, replace inline dots.
        for m in _POS_RE.finditer(text):
            positions.append((tb.length + m.start(), m.group(1)))
        text = _POS_RE.sub(lambda m: " " * len(m.group()), text)
        pos = 0
        for m in _DOTS_RE.finditer(text):
            piece = text[pos : m.start()]
            tb.add(piece, marker, line.line, line.col + pos)
            k = len(dots)
            dots.append((k, [], marker == "-", None, False))
            tb.add(f"__af_dots_{k}__", marker, line.line, line.col + m.start())
            pos = m.end()
        rest = text[pos:]
        # A statement metavariable used as a statement gets its ';'.
        for m in _IDENT_RE.finditer(rest):
            if m.group() in statement_metas:
                after = rest[m.end() :].lstrip()
                if not after.startswith(";"):
                    tb.add(rest[: m.end()], marker, line.line, line.col + pos)
                    tb.add(";", marker, line.line, line.col + pos + m.end())
                    pos += m.end()
                    rest = rest[m.end() :]
                    break
        tb.add(rest, marker, line.line, line.col + pos)
        tb.add("\n", marker, line.line, line.col + len(line.text))
        i += 1
    flush_plus()
    return tb, plus, dots, positions


def _indent_width(text: str) -> int:
    width = 0
    for ch in text:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4  # a tab in a rule file is one QEMU indentation level
        else:
            break
    return width


# --- parsing the C text ---------------------------------------------------

def _first_error(node):
    stack = [node]
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            return n
        stack.extend(reversed([c for c in n.children if c.has_error or c.is_missing]))
    return None


ANYTYPE = "__af_anytype__"
_HEADERLESS_FN_RE = re.compile(r"\s*[A-Za-z_]\w*\s*\([^;{]*\)\s*\{")


def _parse_as(text: str, kind: str, profile: MacroProfile):
    if kind == "toplevel":
        prefix, suffix = "", "\n"
        if _HEADERLESS_FN_RE.match(text):
            # `f(...) { ... }` names no return type: it matches functions of any type.
            prefix = ANYTYPE + " "
    elif kind == "stmts":
        prefix, suffix = WRAP_STMT_PREFIX, WRAP_STMT_SUFFIX
    else:
        prefix, suffix = WRAP_EXPR_PREFIX, WRAP_EXPR_SUFFIX
    data = (prefix + text + suffix).encode()
    original = data
    masked = mask_macros(data, profile)
    tree = c_parser().parse(masked)
    return tree, len(prefix.encode()), original


def _byte_to_char_map(text: str):
    # Pattern text is almost always ASCII; map byte offsets to str offsets.
    if text.isascii():
        return None
    mapping = {}
    b = 0
    for i, ch in enumerate(text):
        mapping[b] = i
        b += len(ch.encode())
    mapping[b] = len(text)
    return mapping


def _pattern_roots(tree, kind: str):
    root = tree.root_node
    if kind == "toplevel":
        return [c for c in root.children if c.type != "comment"]
    fn = root.children[0]
    body = fn.child_by_field_name("body")
    if kind == "stmts":
        return [c for c in body.children if c.type not in ("{", "}", "comment")]
    stmt = body.named_children[0]
    assign = stmt.named_children[0]
    paren = assign.child_by_field_name("right")
    return [c for c in paren.named_children if c.type != "comment"]


def choose_and_parse(text: str, profile: MacroProfile, pattern_for_errors) -> tuple[str, list, int, bytes]:
    stripped = text.strip()
    attempts = []
    if stripped.startswith("#") or re.search(r"\)\s*\n?\s*\{", stripped) and not re.match(
        r"^(if|while|for|switch|do)\b", stripped
    ):
        attempts.append("toplevel")
    if stripped.endswith((";", "}")) or "__af_dots_" in stripped:
        attempts.append("stmts")
    attempts += [k for k in ("expr", "stmts", "toplevel") if k not in attempts]
    first_failure = None
    for kind in attempts:
        tree, shift, data = _parse_as(text, kind, profile)
        err = _first_error(tree.root_node)
        if err is None:
            roots = _pattern_roots(tree, kind)
            if kind == "toplevel" and not any(
                r.type in ("function_definition", "preproc_include", "preproc_def", "preproc_call",
                           "preproc_function_def", "preproc_if", "preproc_ifdef")
                for r in roots
            ):
                continue
            return kind, roots, shift, data
        if first_failure is None or kind == "stmts":
            first_failure = (err, shift)
    err, shift = first_failure
    offset = max(0, min(err.start_byte - shift, len(text.encode())))
    raise RuleError(
        f"unsupported: this pattern does not parse as C statements, an expression or top-level code "
        f"(unexpected '{_snippet(text, offset)}')",
        pattern_for_errors(offset),
        hint="patterns must be C statements, an expression, or top-level code",
    )


def _snippet(text: str, offset: int) -> str:
    s = text.encode()[offset : offset + 20].decode(errors="replace").split("\n")[0].strip()
    return s or "end of pattern"


# --- tree-sitter nodes -> PNode -------------------------------------------

_META_LEAF_TYPES = {"identifier", "type_identifier", "field_identifier", "statement_identifier",
                    "primitive_type"}
_DOTS_NAME_RE = re.compile(r"__af_dots_(\d+)__$")


def to_pnodes(roots, data: bytes, shift: int, text: str, markers: str, metavars: dict,
              positions: dict[int, list[str]]) -> tuple[PNode, ...]:
    bmap = _byte_to_char_map(text)

    def off(b: int) -> int:
        o = b - shift
        if bmap is not None:
            return bmap.get(o, o)
        return o

    def convert(n, field_name=None) -> PNode:
        s, e = off(n.start_byte), off(n.end_byte)
        minus = e > s and all(markers[k] == "-" for k in range(s, min(e, len(markers))))
        pos_names = tuple(positions.get(e, ()))
        if n.type == "expression_statement" and n.named_child_count == 1:
            inner = n.named_children[0]
            name = data[inner.start_byte : inner.end_byte].decode()
            dm = _DOTS_NAME_RE.match(name)
            if inner.type == "identifier" and dm:
                return PNode("dots", "dots", dm.group(1), (), s, e, (), minus, field_name)
            mv = metavars.get(name)
            if inner.type == "identifier" and mv is not None and mv.kind == "statement":
                return PNode("meta", "statement", name, (), s, e, pos_names, minus, field_name)
        if n.child_count == 0 or n.type in ("string_literal", "char_literal", "number_literal",
                                            "concatenated_string", "system_lib_string"):
            name = data[n.start_byte : n.end_byte].decode()
            dm = _DOTS_NAME_RE.match(name)
            if dm and n.type in ("identifier", "type_identifier"):
                return PNode("dots", "dots", dm.group(1), (), s, e, (), minus, field_name)
            mv = metavars.get(name) if n.type in _META_LEAF_TYPES else None
            if mv is not None and mv.kind not in ("position", "fresh identifier"):
                return PNode("meta", mv.kind, name, (), s, e, pos_names, minus, field_name)
            return PNode("leaf", n.type, name, (), s, e, pos_names, minus, field_name)
        if n.type == "parameter_declaration" and n.named_child_count == 1:
            name = data[n.start_byte : n.end_byte].decode().strip()
            dm = _DOTS_NAME_RE.match(name)
            if dm:
                return PNode("dots", "dots", dm.group(1), (), s, e, (), minus, field_name)
            mv = metavars.get(name)
            if mv is not None and mv.kind == "parameter list":
                return PNode("meta", mv.kind, name, (), s, e, pos_names, minus, field_name)
        kids = []
        for i, c in enumerate(n.children):
            if c.type == "comment":
                continue
            kids.append(convert(c, n.field_name_for_child(i)))
        return PNode("node", n.type, "", tuple(kids), s, e, pos_names, minus, field_name)

    return tuple(convert(r) for r in roots)


def identifiers_needed(nodes: tuple[PNode, ...], metavars: dict) -> tuple[frozenset[str], ...]:
    """Words a file must contain for the pattern to match (a cheap prefilter)."""
    needed: list[frozenset[str]] = []

    def walk(p: PNode) -> None:
        if p.type == "binary_expression" and len(p.children) == 3 and p.children[1].text in ("==", "!=") \
                and (p.children[2].type == "null" or p.children[2].text in ("NULL", "0")):
            # `X == NULL` also matches `!X` (standard.iso): only X's words are sure to occur.
            walk(p.children[0])
            return
        if p.kind == "leaf" and p.type in ("identifier", "field_identifier", "type_identifier"):
            if not p.text.startswith("__af_"):
                needed.append(frozenset({p.text}))
        elif p.kind == "meta":
            mv = metavars.get(p.text)
            c = getattr(mv, "constraint", None)
            if c is not None and c.op == "in" and mv.kind == "identifier":
                needed.append(frozenset(c.values))
        for c in p.children:
            walk(c)

    for n in nodes:
        walk(n)
    return tuple(needed)
