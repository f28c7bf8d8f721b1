"""Parse rule-file text into codemod.smpl.ast with positions.

The file is split into rules by header lines (`@name@`, `@script:python
name@`, ...); each rule has a metavariable section closed by `@@` and a
body. Errors name file:line:col and the offending text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from codemod.errors import Position, RuleError
from codemod.smpl.ast import (
    BodyLine,
    Constraint,
    DependsOn,
    MetavarDecl,
    Rule,
    RuleFile,
    ScriptInput,
    ScriptOutput,
)

_HEADER_RE = re.compile(r"^@(?!@)(.*)@\s*$|^@@\s*$")
_TOKEN_RE = re.compile(
    r"""
      (?P<ws>[ \t\r\n]+)
    | (?P<comment>//[^\n]*|/\*.*?\*/)
    | (?P<str>"(?:[^"\\\n]|\\.)*")
    | (?P<op><<|=~|!~|!=|\#\#|&&|\|\||[-+*/%,;=.{}()\[\]!<>&|~^?:])
    | (?P<num>\d+)
    | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)

KIND_WORDS = {
    "expression", "identifier", "idexpression", "type", "constant", "statement",
    "position", "declaration", "fresh", "parameter", "local", "global", "typedef",
    "symbol", "field", "format", "binary", "assignment", "operator", "function",
    "iterator", "declarer", "attribute", "initializer", "list", "metavariable",
}
SUPPORTED_SIMPLE_KINDS = {
    "expression", "identifier", "idexpression", "type", "constant", "statement",
    "position", "declaration",
}


@dataclass(frozen=True)
class Tok:
    kind: str  # "str" | "op" | "num" | "id"
    text: str
    line: int
    col: int


def tokenize(text: str, path: str, line0: int, col0: int = 1) -> list[Tok]:
    """Tokens of `text`, which starts at line0:col0 of the rule file."""
    toks: list[Tok] = []
    line, line_start = line0, 0
    first_line_col_shift = col0 - 1
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        start = m.start()
        col = start - line_start + 1 + (first_line_col_shift if line == line0 else 0)
        if kind == "bad":
            raise RuleError(f"unexpected character {m.group()!r}", Position(path, line, col))
        if kind not in ("ws", "comment"):
            toks.append(Tok(kind, m.group(), line, col))
        newlines = m.group().count("\n")
        if newlines:
            line += newlines
            line_start = m.start() + m.group().rindex("\n") + 1
    return toks


class _Cursor:
    def __init__(self, toks: list[Tok], path: str, end: Position):
        self.toks, self.i, self.path, self.end = toks, 0, path, end

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def pos(self, tok: Tok | None = None) -> Position:
        tok = tok or self.peek()
        return Position(self.path, tok.line, tok.col) if tok else self.end

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise RuleError("unexpected end of metavariable declarations", self.end)
        self.i += 1
        return tok

    def accept(self, text: str) -> Tok | None:
        tok = self.peek()
        if tok is not None and tok.text == text:
            self.i += 1
            return tok
        return None

    def expect(self, text: str, what: str | None = None) -> Tok:
        tok = self.peek()
        if tok is None or tok.text != text:
            found = f"'{tok.text}'" if tok else "end of declarations"
            raise RuleError(f"expected '{text}'{' ' + what if what else ''}, found {found}", self.pos(tok))
        self.i += 1
        return tok

    def ident(self, what: str) -> Tok:
        tok = self.peek()
        if tok is None or tok.kind != "id":
            found = f"'{tok.text}'" if tok else "end of declarations"
            raise RuleError(f"expected {what}, found {found}", self.pos(tok))
        self.i += 1
        return tok


def parse_depends(text: str, path: str, line: int, col: int) -> DependsOn:
    toks = tokenize(text, path, line, col)
    cur = _Cursor(toks, path, Position(path, line, col + len(text)))

    def primary():
        tok = cur.peek()
        if tok is None:
            raise RuleError("expected a rule name after 'depends on'", cur.pos())
        if cur.accept("!"):
            return ("not", primary())
        if tok.text == "file" and cur.peek(1) is not None and cur.peek(1).text == "in":
            raise RuleError("unsupported: `file in \"...\"` in depends on", cur.pos(tok),
                            hint="allocfix rules depend on rule names and virtual names only")
        if cur.accept("("):
            e = disjunction()
            cur.expect(")", "to close '(' in depends on")
            return e
        if tok.text in ("ever", "never") and cur.peek(1) is not None and cur.peek(1).kind == "id":
            cur.next()
            name = cur.ident("a rule name")
            return ("ever" if tok.text == "ever" else "never", name.text, cur.pos(name))
        name = cur.ident("a rule name")
        return ("name", name.text, cur.pos(name))

    def conjunction():
        e = primary()
        while cur.accept("&&"):
            e = ("and", e, primary())
        return e

    def disjunction():
        e = conjunction()
        while cur.accept("||"):
            e = ("or", e, conjunction())
        return e

    expr = disjunction()
    if cur.peek() is not None:
        raise RuleError(f"unexpected '{cur.peek().text}' in depends on", cur.pos())
    return DependsOn(expr, text.strip())


def _parse_values(cur: _Cursor) -> tuple[str, ...]:
    cur.expect("{", "to open a value set")
    values: list[str] = []
    while True:
        tok = cur.next()
        if tok.kind not in ("id", "num", "str"):
            raise RuleError(f"expected a value in set, found '{tok.text}'", cur.pos(tok))
        # Multi-token values such as `unsigned long` in type sets.
        parts = [tok.text]
        while cur.peek() is not None and cur.peek().text not in (",", "}"):
            parts.append(cur.next().text)
        values.append(" ".join(parts))
        if cur.accept("}"):
            return tuple(values)
        cur.expect(",", "between values")


def _parse_constraint(cur: _Cursor, kind: str) -> tuple[Constraint | None, tuple]:
    if kind == "fresh identifier" and cur.peek() is not None and cur.peek().text == "=":
        cur.next()
        parts: list[tuple[str, str]] = []
        while True:
            tok = cur.next()
            if tok.kind == "str":
                parts.append(("str", tok.text[1:-1]))
            elif tok.kind == "id":
                parts.append(("var", tok.text))
            else:
                raise RuleError(f"expected a string or name in fresh identifier, found '{tok.text}'", cur.pos(tok))
            if not cur.accept("##"):
                return None, tuple(parts)
    tok = cur.peek()
    if tok is None:
        return None, ()
    if tok.text == "=" and cur.peek(1) is not None and cur.peek(1).text == "{":
        cur.next()
        return Constraint("in", _parse_values(cur)), ()
    if tok.text == "!=":
        cur.next()
        if cur.peek() is not None and cur.peek().text == "{":
            return Constraint("not in", _parse_values(cur)), ()
        val = cur.next()
        return Constraint("not in", (val.text,)), ()
    if tok.text in ("=~", "!~"):
        cur.next()
        s = cur.next()
        if s.kind != "str":
            raise RuleError(f"expected a regular expression string after '{tok.text}'", cur.pos(s))
        regex = s.text[1:-1].encode().decode("unicode_escape")
        try:
            re.compile(regex)
        except re.error as exc:
            raise RuleError(f"bad regular expression: {exc}", cur.pos(s)) from None
        return Constraint(tok.text, regex=regex), ()
    return None, ()


def _parse_kind(cur: _Cursor) -> tuple[str | None, str | None]:
    """The metavariable kind at the cursor, or (None, type_text) for a typed expression."""
    tok = cur.peek()
    words = tok.text
    if words in ("local", "global") and cur.peek(1) is not None and cur.peek(1).text == "idexpression":
        cur.next()
        cur.next()
        return f"{words} idexpression", None
    if words == "expression" and cur.peek(1) is not None and cur.peek(1).text == "list":
        cur.next()
        cur.next()
        return "expression list", None
    if words == "parameter" and cur.peek(1) is not None and cur.peek(1).text == "list":
        cur.next()
        cur.next()
        return "parameter list", None
    if words == "fresh":
        cur.next()
        if not cur.accept("identifier"):
            raise RuleError("expected 'identifier' after 'fresh'", cur.pos())
        return "fresh identifier", None
    if words in SUPPORTED_SIMPLE_KINDS:
        cur.next()
        return words, None
    if words == "metavariable":
        cur.next()
        return "expression", None  # spatch's "any term": allocfix matches expressions
    if words in ("typedef", "symbol"):
        cur.next()
        return words, None
    if words in KIND_WORDS:
        raise RuleError(f"unsupported: metavariable kind '{words}'", cur.pos(tok),
                        hint="allocfix supports expression, identifier, idexpression, type, constant, "
                        "statement, position, declaration, expression list, parameter list, fresh identifier")
    return None, None


C_TYPE_WORDS = frozenset({
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "_Bool", "bool",
    "const", "volatile", "struct", "union", "enum",
})


def _typed_expression(cur: _Cursor, path: str, typedefs: set[str], declared: set[str]) -> tuple[str, list[Tok]]:
    """`T *E, *F;` -> ("T *", [E, F]): the type is everything before the first name."""
    start = cur.i
    depth_end = start
    while cur.peek() is not None and cur.peek().text != ";":
        depth_end += 1
        cur.next()
    toks = cur.toks[start:depth_end]
    if not toks:
        raise RuleError("empty declaration", cur.pos())
    groups: list[list[Tok]] = [[]]
    for t in toks:
        if t.text == ",":
            groups.append([])
        else:
            groups[-1].append(t)
    first = groups[0]
    ids = [i for i, t in enumerate(first) if t.kind == "id"]
    if len(ids) < 2 and not any(t.text == "*" for t in first):
        raise RuleError(f"unknown metavariable kind '{first[0].text}'", Position(path, first[0].line, first[0].col),
                        hint="expected a kind such as expression, identifier, type, statement, position")
    name_i = ids[-1]
    type_words = [t.text for t in first[:name_i]]
    if (len(type_words) == 1 and not any(t.text == "*" for t in first)
            and type_words[0] not in C_TYPE_WORDS and type_words[0] not in typedefs
            and type_words[0] not in declared):
        word = first[0]
        close = difflib.get_close_matches(word.text, list(SUPPORTED_SIMPLE_KINDS) + ["fresh", "typedef"], n=1)
        hint = f"did you mean '{close[0]}'?" if close else \
            "expected a metavariable kind, a C type, or a name declared with `typedef`"
        raise RuleError(f"unknown metavariable kind '{word.text}'", Position(path, word.line, word.col), hint=hint)
    type_text = " ".join(t.text for t in first[:name_i]).replace(" *", " *").replace("* ", "*")
    names = [first[name_i]] + [g[-1] for g in groups[1:] if g]
    return type_text, names


def parse_metavars(text: str, path: str, line0: int, rule_names: set[str]) -> list[MetavarDecl]:
    toks = tokenize(text, path, line0)
    cur = _Cursor(toks, path, Position(path, line0 + text.count("\n"), 1))
    decls: list[MetavarDecl] = []
    typedefs: set[str] = set()
    while cur.peek() is not None:
        if cur.peek().text == "{":
            # `{ uint64_t, long } a, b;`: expressions of any of these types.
            set_pos = cur.pos()
            types = _parse_values(cur)
            for t in types:
                if len(t.split()) == 1 and "*" not in t and t not in C_TYPE_WORDS and t not in typedefs:
                    raise RuleError(f"unknown type '{t}' in a type set", set_pos,
                                    hint=f"declare it with `typedef {t};`")
            while True:
                name = cur.ident("a metavariable name after the type set")
                decls.append(MetavarDecl("expression", name.text, cur.pos(name), type_text="|".join(types)))
                if cur.accept(";"):
                    break
                cur.expect(",", f"or ';' after '{name.text}'")
            continue
        kind, _ = _parse_kind(cur)
        if kind is None:
            # A typed expression `T *E;` (or a C type such as `int x;`).
            type_text, names = _typed_expression(cur, path, typedefs, {d.name for d in decls if d.kind == "type"})
            cur.expect(";", "after a metavariable declaration")
            for n in names:
                decls.append(MetavarDecl("expression", n.text, cur.pos(n), type_text=type_text))
            continue
        if kind in ("typedef", "symbol"):
            # Not metavariables: names that stand for themselves in patterns.
            while True:
                name = cur.ident(f"a name after '{kind}'")
                if kind == "typedef":
                    typedefs.add(name.text)
                if cur.accept(";"):
                    break
                cur.expect(",", f"or ';' after '{name.text}'")
            continue
        while True:
            name = cur.ident(f"a name for the {kind} metavariable")
            first = name
            inherited = None
            if cur.accept("."):
                inherited = name.text
                name = cur.ident(f"a metavariable name after '{inherited}.'")
            constraint, fresh = _parse_constraint(cur, kind)
            decls.append(
                MetavarDecl(kind, name.text, cur.pos(first), inherited, constraint, fresh_parts=fresh)
            )
            if cur.accept(";"):
                break
            if not cur.accept(","):
                tok = cur.peek()
                found = f"'{tok.text}'" if tok else "end of declarations"
                raise RuleError(f"expected ',' or ';' after '{name.text}', found {found}", cur.pos(tok))
    return decls


def parse_script_vars(text: str, path: str, line0: int) -> tuple[list[ScriptInput], list[ScriptOutput]]:
    toks = tokenize(text, path, line0)
    cur = _Cursor(toks, path, Position(path, line0 + text.count("\n"), 1))
    inputs: list[ScriptInput] = []
    outputs: list[ScriptOutput] = []
    while cur.peek() is not None:
        local = cur.ident("a script variable name")
        if cur.accept("<<"):
            rule = cur.ident("a rule name after '<<'")
            cur.expect(".", f"between rule name and metavariable ('{rule.text}.NAME')")
            name = cur.ident("a metavariable name")
            if cur.accept("="):
                cur.next()  # default value: accepted, unused
            inputs.append(ScriptInput(local.text, rule.text, name.text, cur.pos(local)))
        else:
            outputs.append(ScriptOutput(local.text, cur.pos(local)))
        cur.expect(";", "after a script variable")
    return inputs, outputs


def _parse_header(content: str, path: str, line: int, index: int) -> Rule:
    pos = Position(path, line, 2)
    text = content.strip()
    script = re.match(r"(script|initialize|finalize):(\w+)\s*(.*)$", text)
    if script:
        kind, language, rest = script.groups()
        if language != "python":
            raise RuleError(f"unsupported: script language '{language}' (only python)", pos)
        rule = Rule("script" if kind == "script" else kind, f"{kind}_{line}", pos, language=language)
        rest = rest.strip()
    else:
        rule = Rule("transform", f"rule_{line}", pos)
        rest = text
    m = re.match(r"([A-Za-z_]\w*)?\s*(.*)$", rest)
    name, rest = m.group(1), m.group(2)
    if name in ("depends", "exists", "forall", "disable"):
        rest = f"{name} {rest}"
        name = None
    if name:
        rule.name = name
    while rest:
        dm = re.match(r"depends\s+on\s+(.*?)(\s+(?:exists|forall|disable)\b.*)?$", rest)
        if dm:
            dep_text = dm.group(1)
            col = 2 + content.index(dep_text)
            rule.depends = parse_depends(dep_text, path, line, col)
            rest = (dm.group(2) or "").strip()
            continue
        em = re.match(r"(exists|forall)\b\s*(.*)$", rest)
        if em:
            rule.exists = em.group(1)
            rest = em.group(2).strip()
            continue
        im = re.match(r"disable\s+([\w\s,]+?)\s*$", rest)
        if im:
            rule.disable = tuple(x.strip() for x in im.group(1).split(","))
            rest = ""
            continue
        col = 2 + content.index(rest)
        raise RuleError(f"unexpected '{rest.split()[0]}' in rule header", Position(path, line, col),
                        hint="a header looks like @name depends on other@")
    return rule


def parse_rule_text(source: str, path: str = "<rules>") -> RuleFile:
    lines = source.split("\n")
    rules: list[Rule] = []
    virtuals: list[str] = []
    i = 0
    n = len(lines)
    # Preamble: `virtual name` lines and comments before the first rule.
    in_comment = False
    while i < n and (in_comment or not lines[i].startswith("@")):
        stripped = lines[i].strip()
        if in_comment or stripped.startswith("/*"):
            in_comment = "*/" not in (stripped[2:] if not in_comment else stripped)
            i += 1
            continue
        if stripped.startswith("virtual"):
            for v in re.split(r"[\s,]+", stripped[len("virtual"):].strip()):
                if v:
                    virtuals.append(v)
        elif stripped and not stripped.startswith(("//", "/*", "*", "#")):
            raise RuleError(f"text outside a rule: '{stripped[:40]}'", Position(path, i + 1, 1),
                            hint="rules start with a header line such as @name@")
        i += 1
    seen_names: set[str] = set()
    while i < n:
        line = lines[i]
        hm = _HEADER_RE.match(line)
        if not hm:
            raise RuleError(f"expected a rule header, found '{line.strip()[:40]}'", Position(path, i + 1, 1))
        rule = _parse_header(hm.group(1) or "", path, i + 1, len(rules))
        if rule.name in seen_names:
            raise RuleError(f"rule name '{rule.name}' is used twice", rule.pos)
        seen_names.add(rule.name)
        i += 1
        decl_start = i
        while i < n and lines[i].strip() != "@@":
            if _HEADER_RE.match(lines[i]) and lines[i].strip() != "@@":
                raise RuleError("metavariable section is not closed by '@@'", Position(path, decl_start, 1))
            i += 1
        if i >= n:
            raise RuleError("metavariable section is not closed by '@@'", Position(path, decl_start, 1))
        decl_text = "\n".join(lines[decl_start:i])
        i += 1  # past @@
        body_start = i
        while i < n and not (lines[i].startswith("@") and _HEADER_RE.match(lines[i])):
            i += 1
        body_lines = lines[body_start:i]
        if rule.kind == "transform":
            rule.metavars = parse_metavars(decl_text, path, decl_start + 1, seen_names)
            rule.body = _body_lines(body_lines, body_start + 1)
        else:
            if rule.kind == "script":
                rule.inputs, rule.outputs = parse_script_vars(decl_text, path, decl_start + 1)
            elif decl_text.strip():
                raise RuleError(f"{rule.kind} blocks take no metavariables",
                                Position(path, decl_start + 1, 1))
            # Blank and `//` comment lines before the next rule belong to no script.
            while body_lines and (not body_lines[-1].strip() or body_lines[-1].startswith("//")):
                body_lines.pop()
            rule.code = "\n".join(body_lines) + "\n"
            rule.code_line = body_start + 1
        rules.append(rule)
    rf = RuleFile(path, rules, source)
    rf.virtuals = tuple(virtuals)  # type: ignore[attr-defined]
    return rf


def _body_lines(lines: list[str], first_line: int) -> list[BodyLine]:
    out: list[BodyLine] = []
    for k, raw in enumerate(lines):
        raw = raw.rstrip("\r")
        lineno = first_line + k
        if not raw.strip():
            continue
        marker = raw[0] if raw[0] in "-+*" else " "
        text = raw[1:] if raw[0] in "-+* \t" else raw
        col = 2 if raw[0] in "-+* \t" else 1
        if raw[0] == "\t":
            text, col = raw, 1
        stripped = text.strip()
        if marker != "+" and stripped.startswith("//"):
            continue
        if col == 1 and marker == " " and len(text) > 1 and text[0] == ")" and text[1:].strip() \
                and not text[1:].lstrip().startswith(("//", "/*")):
            # `)(args);` closes a disjunction and goes on: the rest continues each branch.
            out.append(BodyLine(" ", ")", lineno, 1))
            out.append(BodyLine(" ", " " + text[1:], lineno, 1))
            continue
        out.append(BodyLine(marker, text, lineno, col))
    return out
