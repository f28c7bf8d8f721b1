"""Syntax tree of a rule file, with the position of every piece."""

from __future__ import annotations

from dataclasses import dataclass, field

from codemod.errors import Position

# Metavariable kinds allocfix understands (GUIDE §4).
METAVAR_KINDS = (
    "expression list",
    "parameter list",
    "fresh identifier",
    "expression",
    "identifier",
    "idexpression",
    "local idexpression",
    "global idexpression",
    "type",
    "constant",
    "statement",
    "position",
    "declaration",
)


@dataclass(frozen=True)
class Constraint:
    """`= {a, b}` (values), `=~ "re"` (regex), `!= {..}`/`!~ ".."` (negated)."""

    op: str  # "in", "not in", "=~", "!~"
    values: tuple[str, ...] = ()
    regex: str | None = None


@dataclass(frozen=True)
class MetavarDecl:
    kind: str
    name: str  # local name
    pos: Position
    inherited_from: str | None = None  # rule name for `r.E`
    constraint: Constraint | None = None
    type_text: str | None = None  # for typed expressions: `T *E;` -> "T *"
    fresh_parts: tuple[tuple[str, str], ...] = ()  # ("str", "new_") | ("var", "E")


@dataclass(frozen=True)
class ScriptInput:
    local: str
    rule: str
    name: str
    pos: Position


@dataclass(frozen=True)
class ScriptOutput:
    name: str
    pos: Position


@dataclass(frozen=True)
class BodyLine:
    """One line of a rule body: its marker and text after the marker column."""

    marker: str  # " ", "-", "+", "*"
    text: str
    line: int  # 1-based line in the rule file
    col: int  # 1-based column of text[0] in the rule file


@dataclass(frozen=True)
class DependsOn:
    """Boolean expression over rule names: ("name", n) | ("not", e) | ("and"/"or", a, b)."""

    expr: tuple
    text: str


@dataclass
class Rule:
    kind: str  # "transform" | "script" | "initialize" | "finalize"
    name: str
    pos: Position
    depends: DependsOn | None = None
    metavars: list[MetavarDecl] = field(default_factory=list)
    body: list[BodyLine] = field(default_factory=list)
    # scripts
    language: str | None = None
    inputs: list[ScriptInput] = field(default_factory=list)
    outputs: list[ScriptOutput] = field(default_factory=list)
    code: str = ""
    code_line: int = 0  # rule-file line of the first code line
    exists: str | None = None  # "exists" | "forall" | None
    disable: tuple[str, ...] = ()


@dataclass
class RuleFile:
    path: str
    rules: list[Rule]
    source: str
