"""Turn a match into edits: remove minus code, place plus code.

Minus atoms that follow each other form runs; each run's target range is
removed (whole lines when the run covers them). A plus chunk next to a
run replaces it; a plus chunk between context tokens is inserted on new
lines after the preceding token's line (before the next token's line when
it opens the pattern). Plus code is indented like the code around it, with
its own relative indentation kept; metavariables in it are replaced by
their bindings.
"""

from __future__ import annotations

import re

from codemod.edits import Edit
from codemod.match import Atom, Binding, Match
from codemod.smpl.compile import EXPRESSION_TYPES, PlusChunk
from codemod.cparse import has_descendant
from codemod.source import line_bounds, line_indent

INDENT = "    "  # QEMU: four spaces
_PLUS_TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|/\*.*?\*/|//.*$|[A-Za-z_]\w*')


class TransformError(Exception):
    """A match whose plus code cannot be produced (e.g. an unbound name)."""


_BIN_PREC = {"*": 10, "/": 10, "%": 10, "+": 9, "-": 9, "<<": 8, ">>": 8, "<": 7, ">": 7, "<=": 7, ">=": 7,
             "==": 6, "!=": 6, "&": 5, "^": 4, "|": 3, "&&": 2, "||": 1, "?": 0.5, ":": 0.5, ",": 0.1}
_ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
_OP_RE = r"->|\+\+|--|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|[-+*/%<>&|^!~=?:,.(\[{};]"
_TOKEN_AT_END = re.compile(r"(" + _OP_RE + r"|[A-Za-z_]\w*|\d\w*|[)\]])\s*$")
_TOKEN_AT_START = re.compile(r"^\s*(" + _OP_RE + r"|[A-Za-z_]\w*|\d\w*|[)\]])")


def expression_precedence(tree, b: Binding) -> float:
    """How tightly the bound expression holds together: 12 primary/postfix, 11 prefix
    (unary, cast), a binary operator's level, below 1 for ?:, assignment and comma."""
    if tree is None or b.start is None or b.from_script:
        return 12
    node = tree.root_node.descendant_for_byte_range(b.start, max(b.start, b.end - 1))
    while node is not None and node.parent is not None and (node.start_byte, node.end_byte) != (b.start, b.end):
        node = node.parent
    while node is not None and node.parent is not None and (node.parent.start_byte, node.parent.end_byte) == (
            b.start, b.end) and node.parent.type not in ("expression_statement", "argument_list"):
        node = node.parent
    if node is None or (node.start_byte, node.end_byte) != (b.start, b.end):
        return 12
    ty = node.type
    if ty == "binary_expression":
        op = node.child_by_field_name("operator")
        return _BIN_PREC.get(op.type if op is not None else "", 1)
    if ty == "conditional_expression":
        return 0.5
    if ty == "assignment_expression":
        return 0.2
    if ty == "comma_expression":
        return 0.1
    if ty in ("unary_expression", "pointer_expression", "cast_expression", "sizeof_expression") or (
            ty == "update_expression" and node.children and node.children[0].type in ("++", "--")):
        return 11
    return 12


def _text_precedence(text: str) -> float:
    """expression_precedence for added code (parsed on its own)."""
    from codemod.cparse import parser as c_parser

    wrapped = f"void __af_f__(void) {{ __af_x__ = {text}; }}".encode()
    tree = c_parser().parse(wrapped)
    if tree.root_node.has_error:
        return 12
    start = wrapped.index(b"= ") + 2
    b = Binding("expression", text, text, start, start + len(text.encode()))
    return expression_precedence(tree, b)


def _is_one_expression(tree, start: int, end: int) -> bool:
    """Whether [start, end) is exactly one expression (not, say, `return f`)."""
    node = tree.root_node.named_descendant_for_byte_range(start, end)
    while node is not None and node.parent is not None and (node.start_byte, node.end_byte) != (start, end):
        node = node.parent
    return node is not None and (node.start_byte, node.end_byte) == (start, end) and node.type in EXPRESSION_TYPES


def _needs_parens(before: str, after: str, prec: float) -> bool:
    """Whether an expression of precedence `prec` between these texts must be parenthesized
    to keep its meaning (as spatch does when it substitutes a metavariable)."""
    if prec >= 12:
        return False
    nxt = _TOKEN_AT_START.match(after)
    nxt_tok = nxt.group(1) if nxt else ""
    if nxt_tok in ("->", ".", "[", "(", "++", "--"):
        return True
    prv = _TOKEN_AT_END.search(before)
    prv_tok = prv.group(1) if prv else ""
    if prv_tok in _BIN_PREC or prv_tok in _ASSIGN_OPS or prv_tok in ("!", "~"):
        head = before[: prv.start()] if prv else ""
        prev2 = _TOKEN_AT_END.search(head)
        operand_before = prev2 is not None and (re.fullmatch(r"[A-Za-z_]\w*|\d\w*|[)\]]", prev2.group(1))
                                                and prev2.group(1) != "return")
        if prv_tok in ("!", "~") or (prv_tok in ("-", "+", "*", "&") and not operand_before):
            if prec < 11:
                return True
        elif prv_tok in _ASSIGN_OPS:
            if prec < 0.2:
                return True
        elif prv_tok != "," and (prec < _BIN_PREC[prv_tok] or (
                prec == _BIN_PREC[prv_tok] and prv_tok not in ("+", "&&", "||", "|", "^", "&"))):
            # Right of an operator: a looser one needs brackets, and so does the same level
            # unless regrouping cannot change the value (`x + a - b`).
            return True
        elif prv_tok == "," and prec <= 0.1:
            return True
    if nxt_tok in _BIN_PREC and nxt_tok != ",":
        # Left of an operator: needed when it binds tighter; spatch also brackets a
        # product's left operand of the same level (`(a * b) * 2`).
        if prec < _BIN_PREC[nxt_tok] or (prec == _BIN_PREC[nxt_tok] == 10):
            return True
    if nxt_tok == "," and prec <= 0.1:
        return True
    return False


def substitute(line: str, bindings: dict[str, Binding], metavars: dict, indent: str, tree=None) -> str:
    def repl(m: re.Match) -> str:
        word = m.group()
        if not (word[0].isalpha() or word[0] == "_"):
            return word
        mv = metavars.get(word)
        if mv is None:
            return word
        if mv.kind == "fresh identifier":
            parts = []
            for kind, value in mv.fresh_parts:
                if kind == "str":
                    parts.append(value)
                else:
                    b = bindings.get(value)
                    if b is None:
                        raise TransformError(f"fresh identifier '{word}' uses unbound '{value}'")
                    parts.append(b.text)
            return "".join(parts) or word
        b = bindings.get(word)
        if b is None:
            if mv.kind == "position":
                return word
            raise TransformError(f"metavariable '{word}' is used in added code but not bound")
        text = b.text
        if "\n" in text and b.from_script:
            text = text.replace("\n", "\n" + indent)
        if mv.kind == "type" and text.endswith("*"):
            text += "\0"  # `T x` with T = `char *` reads `char *x`
        if mv.kind in ("expression", "constant") or mv.kind.endswith("idexpression"):
            prec = expression_precedence(tree, b)
            if _needs_parens(line[: m.start()], line[m.end() :], prec):
                text = f"({text})"
        return text

    return re.sub("\0 *", "", _PLUS_TOKEN_RE.sub(repl, line))


def _chunk_lines(chunk: PlusChunk, bindings, metavars, base: str, tree=None) -> list[str]:
    out = []
    for rel, text in chunk.lines:
        indent = base + INDENT * (rel // 4) + " " * (rel % 4)
        out.append(indent + substitute(text, bindings, metavars, indent, tree) if text else "")
    return out


def _only_space(data: bytes, start: int, end: int) -> bool:
    return not data[start:end].strip()


def _ends_line(data: bytes, offset: int) -> bool:
    _, end = line_bounds(data, offset)
    rest = data[offset:end].strip()
    return not rest or rest.startswith((b"//", b"/*"))


def _hoist_past_declarations(data: bytes, offset: int, token_end: int, tree) -> tuple[int, bool]:
    """QEMU keeps declarations first: move an insertion after a declaration
    past the declarations that follow it, if they call nothing. Also says
    whether the insertion point ends a run of declarations."""
    node = tree.root_node.descendant_for_byte_range(max(token_end - 1, 0), max(token_end - 1, 0))
    while node is not None and not (node.type == "declaration" and node.parent is not None
                                    and node.parent.type == "compound_statement"):
        node = node.parent
    if node is None or node.end_byte > offset:
        return offset, False
    last = node
    sib = node.next_named_sibling
    while sib is not None and sib.type in ("declaration", "comment"):
        if sib.type == "declaration" and _has_call(sib):
            break
        if sib.type == "declaration":
            last = sib
        sib = sib.next_named_sibling
    if last is node:
        return offset, True
    _, line_end = line_bounds(data, last.end_byte)
    return min(line_end + 1, len(data)), True


def _has_call(node) -> bool:
    return has_descendant(node, "call_expression")


def _minus_commas(pattern, data: bytes, run, start: int, end: int, eat_space: bool) -> tuple[int, int]:
    """List commas are not aligned as atoms: a comma on a '-' line right after (or before)
    the run goes with it when the target has one there too."""
    text, markers = pattern.text, pattern.markers
    k = max(a.pend for a in run)
    while k < len(text) and text[k] in " \t\n":
        k += 1
    if k < len(text) and text[k] == "," and markers[k] == "-":
        j = end
        while j < len(data) and data[j : j + 1] in (b" ", b"\t", b"\n", b"\r"):
            j += 1
        if data[j : j + 1] == b",":
            end = j + 1
            while eat_space and end < len(data) and data[end : end + 1] in (b" ", b"\t"):
                end += 1
    k = min(a.pstart for a in run) - 1
    while k >= 0 and text[k] in " \t\n":
        k -= 1
    if k >= 0 and text[k] == "," and markers[k] == "-":
        j = start
        while j > 0 and data[j - 1 : j] in (b" ", b"\t", b"\n", b"\r"):
            j -= 1
        if data[j - 1 : j] == b",":
            start = j - 1
    return start, end


def _with_list_comma(data: bytes, start: int, end: int) -> tuple[int, int]:
    """A removed item of a comma list takes one of its commas with it: the one after it
    (and the space up to the next item), or for the last item the one before it."""
    before = start
    while before > 0 and data[before - 1 : before] in (b" ", b"\t", b"\n", b"\r"):
        before -= 1
    after = end
    while after < len(data) and data[after : after + 1] in (b" ", b"\t", b"\n", b"\r"):
        after += 1
    prev = data[before - 1 : before]
    nxt = data[after : after + 1]
    if nxt == b"," and prev in (b"(", b",", b"{"):
        after += 1
        while after < len(data) and data[after : after + 1] in (b" ", b"\t"):
            after += 1
        return start, after
    if prev == b"," and nxt in (b")", b"}"):
        return before - 1, end
    return start, end


def _dedent_unwrapped(data: bytes, removed: list, rule_label: str, note: str) -> list[Edit]:
    """Code kept while the block around it is removed (`- if (x) {` ... `- }`) moves out one
    level, as spatch prints it: its lines take the indentation of the removed opening line."""
    edits: list[Edit] = []
    for k, (open_start, open_end, open_text) in enumerate(removed):
        if not open_text.endswith(b"{"):
            continue
        close = next((r for r in removed[k + 1 :] if r[2] == b"}"), None)
        if close is None:
            continue
        inner = data[open_end : close[0]]
        if not inner.strip() or any(open_end <= r[0] < close[0] for r in removed if r is not close):
            continue
        outer_indent = line_indent(data, open_start)
        lines = inner.split(b"\n")
        first = next(l for l in lines if l.strip())
        inner_indent = first[: len(first) - len(first.lstrip())]
        pos = open_end
        for line in lines:
            if line.strip() and line.startswith(inner_indent) and inner_indent != outer_indent:
                edits.append(Edit(pos, pos + len(inner_indent), outer_indent, rule_label, note))
            pos += len(line) + 1
    return edits


_STATEMENTS = frozenset({"expression_statement", "declaration", "return_statement"})


def _statement_start(tree, data: bytes, anchor: int) -> int:
    """Where the statement ending at `anchor` starts, or `anchor` itself:
    code added after a statement that spans lines is indented like its
    first line, not like its last (a continuation line)."""
    if tree is None or anchor <= 0:
        return anchor
    node = tree.root_node.descendant_for_byte_range(anchor - 1, anchor - 1)
    found = anchor
    while node is not None and node.end_byte == anchor:
        if node.type in _STATEMENTS and node.parent is not None and node.parent.type not in _STATEMENTS:
            found = node.start_byte
        node = node.parent
    return found


def _open_parens(data: bytes, start: int, end: int) -> list[int]:
    """Offsets of the '(' and '[' in data[start:end] still open at `end`
    (strings, characters and comments skipped)."""
    stack: list[int] = []
    i = start
    while i < end:
        c = data[i : i + 1]
        if c in (b'"', b"'"):
            j = i + 1
            while j < end and data[j : j + 1] != c:
                j += 2 if data[j : j + 1] == b"\\" else 1
            i = j + 1
            continue
        if data[i : i + 2] == b"/*":
            j = data.find(b"*/", i + 2, end)
            i = end if j < 0 else j + 2
            continue
        if data[i : i + 2] == b"//":
            break
        if c in (b"(", b"["):
            stack.append(i)
        elif c in (b")", b"]") and stack:
            stack.pop()
        i += 1
    return stack


def _opens_with_code(tree, brace: int) -> bool:
    """The block opened at `brace` starts with a statement, not a declaration."""
    if tree is None:
        return False
    node = tree.root_node.descendant_for_byte_range(brace, brace)
    block = node.parent if node is not None else None
    if block is None or block.type != "compound_statement" or block.start_byte != brace:
        return False
    first = next((c for c in block.named_children if c.type != "comment"), None)
    return first is not None and first.type != "declaration"


def _only_declarations(lines: list[str]) -> bool:
    from codemod.cparse import parser as c_parser

    text = "\n".join(lines)
    wrapped = f"void __af_f__(void)\n{{\n{text}\n}}\n".encode()
    tree = c_parser().parse(wrapped)
    if tree.root_node.has_error:
        return False
    fn = tree.root_node.named_children[0] if tree.root_node.named_children else None
    body = fn.child_by_field_name("body") if fn is not None else None
    kids = [c for c in body.named_children if c.type != "comment"] if body is not None else []
    return bool(kids) and all(c.type == "declaration" for c in kids)


def _names_script_value(chunk: PlusChunk, bindings) -> bool:
    for _, text in chunk.lines:
        for word in re.findall(r"[A-Za-z_]\w*", text or ""):
            b = bindings.get(word)
            if b is not None and b.from_script:
                return True
    return False


def realign_continuations(data: bytes, edits: list[Edit], scripted: set[int], rule_label: str,
                           note: str) -> list[Edit]:
    """QEMU aligns an argument list's continuation lines with its '(': when
    edits on the opening line move that '(' (a longer allocator name, a
    renamed target), the lines aligned with it move by as much. Lines
    indented less than the '(' (a plain 4-column continuation) stay.
    Only lines where a script-computed name was put (the analysis's
    rewrites, written in QEMU style) are realigned: spatch leaves
    continuation lines alone, and rule text alone behaves as there."""
    by_line: dict[int, list[Edit]] = {}
    if not scripted:
        return []
    scripted_lines = {line_bounds(data, e.start)[0] for e in edits if id(e) in scripted}
    for e in edits:
        if b"\n" in data[e.start : e.end] or b"\n" in e.text or b"\t" in e.text:
            continue
        if e.end - e.start == len(e.text):
            continue
        start, _ = line_bounds(data, e.start)
        by_line.setdefault(start, []).append(e)
    out: list[Edit] = []
    for line_start, line_edits in by_line.items():
        if line_start not in scripted_lines:
            continue
        _, line_end = line_bounds(data, line_start)
        if b"\t" in data[line_start:line_end]:
            continue
        last_end = max(e.end for e in line_edits)
        opened = _open_parens(data, line_start, line_end)
        # (old column of the '(', how far edits before it move it)
        parens = [(p - line_start, sum(len(e.text) - (e.end - e.start) for e in line_edits if e.end <= p))
                  for p in opened if p >= last_end]
        if not parens or all(d == 0 for _, d in parens):
            continue
        pos = line_end + 1
        depth_from = [p for p in opened if p >= last_end]
        while pos < len(data) and depth_from:
            _, end = line_bounds(data, pos)
            line = data[pos:end]
            ind = len(line) - len(line.lstrip(b" "))
            if line.strip() and not line.lstrip(b" ").startswith(b"\t"):
                aligned = [d for col, d in parens if col + 1 <= ind]
                shift = aligned[-1] if aligned else 0
                touched = any(e.start < pos + ind and e.end > pos for e in edits)
                if shift and not touched and ind + shift >= 0:
                    out.append(Edit(pos, pos + ind, b" " * (ind + shift), rule_label, note))
            # Which of the opening line's brackets are still open after this line.
            close = _close_count(data, pos, end)
            while close and depth_from:
                depth_from.pop()
                parens = parens[: len(depth_from)]
                close -= 1
            pos = end + 1
    return out


def _close_count(data: bytes, start: int, end: int) -> int:
    """How many brackets opened before `start` this line closes."""
    depth = 0
    closed = 0
    for c in _strip_literals(data[start:end]):
        if c in b"([":
            depth += 1
        elif c in b")]":
            if depth:
                depth -= 1
            else:
                closed += 1
    return closed


def _strip_literals(line: bytes) -> bytes:
    return re.sub(rb'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|/\*.*?\*/|//.*$', b"", line)


def edits_for_match(match: Match, data: bytes, tree, rule_label: str, note: str = "") -> list[Edit]:
    pattern = match.pattern
    metavars = match.rule.metavars
    atoms = sorted(match.atoms, key=lambda a: (a.pstart, a.pend))
    # Runs of consecutive minus atoms (indices into `atoms`).
    runs: list[list[Atom]] = []
    last_idx = -2
    for idx, a in enumerate(atoms):
        if not a.minus:
            if a.is_list and a.tstart == a.tend and last_idx == idx - 1:
                # `...` that skipped nothing joins the removals around it (spatch then drops
                # the comments and blank lines between them too).
                last_idx = idx
            continue
        if runs and last_idx == idx - 1:
            runs[-1].append(a)
        else:
            runs.append([a])
        last_idx = idx
    run_of = {id(a): i for i, run in enumerate(runs) for a in run}
    replacements: dict[int, list[tuple[str, PlusChunk]]] = {i: [] for i in range(len(runs))}
    insertions: list[tuple[PlusChunk, Atom | None, Atom | None]] = []
    for chunk in pattern.plus:
        before = [a for a in atoms if a.pend <= chunk.anchor]
        after = [a for a in atoms if a.pstart >= chunk.anchor]
        prev = before[-1] if before else None
        nxt = after[0] if after else None
        if prev is not None and prev.minus:
            replacements[run_of[id(prev)]].append(("after", chunk))
        elif nxt is not None and nxt.minus:
            replacements[run_of[id(nxt)]].append(("before", chunk))
        else:
            insertions.append((chunk, prev, nxt))
    edits: list[Edit] = []
    scripted: set[int] = set()  # ids of edits that put a script-computed value
    removed_lines: list[tuple[int, int, bytes]] = []  # whole lines a pure deletion removes
    for i, run in enumerate(runs):
        real = [a for a in run if a.tend > a.tstart]
        if not real and not replacements[i]:
            continue
        start = min(a.tstart for a in (real or run))
        end = max(a.tend for a in (real or run))
        start, end = _minus_commas(pattern, data, run, start, end, eat_space=not replacements[i])
        chunks = [c for _, c in sorted(replacements[i], key=lambda x: 0 if x[0] == "before" else 1)]
        if not replacements[i]:
            start, end = _with_list_comma(data, start, end)
        line_start, _ = line_bounds(data, start)
        _, line_end = line_bounds(data, end)
        base = line_indent(data, start).decode("utf-8", "surrogateescape")
        lines: list[str] = []
        for c in chunks:
            lines += _chunk_lines(c, match.bindings, metavars, base, tree)
        if _only_space(data, line_start, start) and _only_space(data, end, line_end):
            # The run is whole lines: replace them (removing them when nothing is added).
            text = "".join(l + "\n" for l in lines)
            edits.append(Edit(line_start, min(line_end + 1, len(data)),
                              text.encode("utf-8", "surrogateescape"), rule_label, note))
            if not lines:
                removed_lines.append((line_start, min(line_end + 1, len(data)), data[line_start:line_end].strip()))
        else:
            text = "\n".join(l.lstrip() if k == 0 else l for k, l in enumerate(lines))
            if (len(lines) == 1 and text and not text.rstrip().endswith((";", "{", "}"))
                    and _is_one_expression(tree, start, end)):
                # An expression replacing an expression keeps its meaning in the code around it.
                prec = _text_precedence(text)
                around_before = data[line_start:start].decode("utf-8", "surrogateescape")
                around_after = data[end:line_end].decode("utf-8", "surrogateescape")
                if _needs_parens(around_before, around_after, prec):
                    text = f"({text})"
            edits.append(Edit(start, end, text.encode("utf-8", "surrogateescape"), rule_label, note))
            if any(_names_script_value(c, match.bindings) for c in chunks):
                scripted.add(id(edits[-1]))
    edits += _dedent_unwrapped(data, removed_lines, rule_label, note)
    edits += realign_continuations(data, edits, scripted, rule_label, note)
    for chunk, prev, nxt in insertions:
        if prev is not None:
            anchor = prev.tend
            base = line_indent(data, _statement_start(tree, data, anchor)).decode("utf-8", "surrogateescape")
            if data[prev.tstart : prev.tend] == b"{":
                base += INDENT
            lines = _chunk_lines(chunk, match.bindings, metavars, base, tree)
            if _ends_line(data, anchor):
                _, line_end = line_bounds(data, anchor)
                at = min(line_end + 1, len(data))
                at, after_declarations = _hoist_past_declarations(data, at, anchor, tree)
                text = "".join(l + "\n" for l in lines)
                next_start, next_end = line_bounds(data, at) if at < len(data) else (at, at)
                if after_declarations and at < len(data) and not data[next_start:next_end].strip():
                    # Keep the blank line that separates declarations from code.
                    text = "\n" + text
                if at == len(data) and not data.endswith(b"\n"):
                    text = "\n" + text.rstrip("\n")
                elif data[prev.tstart : prev.tend] == b"{" and _names_script_value(chunk, match.bindings) \
                        and data[next_start:next_end].strip() and _opens_with_code(tree, prev.tstart) \
                        and _only_declarations(lines):
                    # A declaration put first in a block of code: QEMU leaves a
                    # blank line after the declarations. Written as the code
                    # line's indentation (an edit every such match makes alike,
                    # so they merge) to come after all declarations added there.
                    ind = line_indent(data, next_start)
                    edits.append(Edit(next_start, next_start + len(ind), b"\n" + ind, rule_label, note))
                edits.append(Edit(at, at, text.encode("utf-8", "surrogateescape"), rule_label, note))
            else:
                text = "\n" + "\n".join(lines)
                edits.append(Edit(anchor, anchor, text.encode("utf-8", "surrogateescape"), rule_label, note))
        elif nxt is not None:
            line_start, _ = line_bounds(data, nxt.tstart)
            base = line_indent(data, nxt.tstart).decode("utf-8", "surrogateescape")
            lines = _chunk_lines(chunk, match.bindings, metavars, base, tree)
            text = "".join(l + "\n" for l in lines)
            edits.append(Edit(line_start, line_start, text.encode("utf-8", "surrogateescape"), rule_label, note))
    if b"\r\n" in data:
        # Added lines take the file's own line ending.
        edits = [Edit(e.start, e.end, e.text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), e.rule, e.note)
                 for e in edits]
    return edits
