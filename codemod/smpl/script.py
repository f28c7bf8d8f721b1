"""Python script blocks: checked with libcst before anything runs.

Checks report Python syntax errors and names that are neither defined in
the block, nor inputs, nor provided by initialize blocks, nor builtins, at
their line in the rule file. At run time a block sees its inputs as plain
values, `coccinelle` (outputs are set as attributes), `cocci` (Coccinelle's
helpers) and `allocfix` (the analysis API of the current file).
"""

from __future__ import annotations

import builtins
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codemod.errors import Position, RuleError

if TYPE_CHECKING:
    import libcst as cst

# Blocks that passed check_script, kept between runs when a cache directory
# is given (remember_checks): the check itself and importing libcst cost
# a tenth of a second or two per run, for blocks that rarely change.
_MEMO: dict[str, list[str]] = {}
_MEMO_PATH: Path | None = None


def remember_checks(cache_dir: str | os.PathLike | None) -> None:
    """Keep the names of blocks that passed the checks in `cache_dir` (None: forget)."""
    global _MEMO_PATH
    _MEMO.clear()
    if cache_dir is None:
        _MEMO_PATH = None
        return
    from codemod.cache import code_fingerprint, digest

    _MEMO_PATH = Path(cache_dir) / "scripts" / (digest(code_fingerprint())[:32] + ".json")
    try:
        data = json.loads(_MEMO_PATH.read_bytes())
    except (OSError, ValueError):
        return
    if isinstance(data, dict):
        _MEMO.update((k, v) for k, v in data.items()
                     if isinstance(v, list) and all(isinstance(n, str) for n in v))

PROVIDED_NAMES = frozenset({"coccinelle", "cocci", "allocfix"})


@dataclass(frozen=True)
class ScriptValue:
    """A value produced by a script for a metavariable (make_ident etc.)."""

    kind: str  # identifier | expression | statement | type
    text: str

    def __str__(self) -> str:
        return self.text


class IncludeMatch(Exception):
    """Raised internally by cocci.include_match(False) to drop the match."""


class Cocci:
    """The subset of Coccinelle's `cocci` object allocfix offers."""

    def __init__(self) -> None:
        self.excluded = False

    def include_match(self, keep: bool) -> None:
        self.excluded = not keep

    def print_main(self, message: str, positions=(), color: str = "") -> None:
        """Coccinelle's report helper: `file:line: message` (on stderr: stdout carries diffs)."""
        import sys

        where = ""
        if positions:
            p = positions[0]
            where = f"{getattr(p, 'file', '')}:{getattr(p, 'line', '')}: "
        print(f"{where}{message}", file=sys.stderr)

    def print_sec(self, message: str, positions=(), color: str = "") -> None:
        self.print_main(message, positions, color)

    def print_secs(self, message: str, positions=(), color: str = "") -> None:
        self.print_main(message, positions, color)

    def make_ident(self, text: str) -> ScriptValue:
        return ScriptValue("identifier", str(text))

    def make_expr(self, text: str) -> ScriptValue:
        return ScriptValue("expression", str(text))

    def make_stmt(self, text: str) -> ScriptValue:
        return ScriptValue("statement", str(text))

    def make_type(self, text: str) -> ScriptValue:
        return ScriptValue("type", str(text))


class Outputs:
    """The `coccinelle` namespace a script assigns its outputs to."""

    def __init__(self, allowed: tuple[str, ...]):
        object.__setattr__(self, "_allowed", allowed)
        object.__setattr__(self, "_values", {})

    def __setattr__(self, name: str, value) -> None:
        if name not in self._allowed:
            raise AttributeError(f"'{name}' is not an output of this script (declare it as '{name};')")
        self._values[name] = value

    def __getattr__(self, name: str):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def values(self) -> dict:
        return dict(self._values)


def _module_names_defined(module: cst.Module) -> set[str]:
    """Top-level names a module defines (for initialize blocks)."""
    from libcst.metadata import MetadataWrapper, ScopeProvider

    names: set[str] = set()
    wrapper = MetadataWrapper(module)
    scopes = wrapper.resolve(ScopeProvider)
    for scope in set(scopes.values()):
        if scope is not None and type(scope).__name__ == "GlobalScope":
            for assignment in scope.assignments:
                names.add(assignment.name)
    return names


def check_script(code: str, path: str, first_line: int, known: set[str], outputs: tuple[str, ...]) -> set[str]:
    """Validate a script block; return the global names it defines."""
    if _MEMO_PATH is None:
        return _check_script(code, path, first_line, known, outputs)
    from codemod.cache import digest, write_atomically

    key = digest(code, path, str(first_line), *sorted(known), "\0outputs", *outputs)
    names = _MEMO.get(key)
    if names is not None:
        return set(names)
    found = _check_script(code, path, first_line, known, outputs)  # errors are never remembered
    _MEMO[key] = sorted(found)
    try:
        write_atomically(_MEMO_PATH, json.dumps(_MEMO, separators=(",", ":")).encode())
    except OSError:
        pass
    return found


def _check_script(code: str, path: str, first_line: int, known: set[str], outputs: tuple[str, ...]) -> set[str]:
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider, ScopeProvider

    # Python's own parser gives the clearest message and position.
    try:
        compile(code, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = first_line + (exc.lineno or 1) - 1
        raise RuleError(f"Python syntax error in script: {exc.msg}",
                        Position(path, line, exc.offset or 1)) from None
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError as exc:
        raise RuleError(f"Python syntax error in script: {exc.message}",
                        Position(path, first_line + exc.raw_line - 1, exc.raw_column + 1)) from None
    wrapper = MetadataWrapper(module)
    scopes = wrapper.resolve(ScopeProvider)
    positions = wrapper.resolve(PositionProvider)
    allowed = known | PROVIDED_NAMES | set(dir(builtins))
    for scope in set(scopes.values()):
        if scope is None:
            continue
        for access in scope.accesses:
            name = access.node.value if isinstance(access.node, cst.Name) else None
            if name is None or access.referents or name in allowed:
                continue
            pos = positions[access.node].start
            raise RuleError(
                f"script uses '{name}', which is not a declared metavariable or defined name",
                Position(path, first_line + pos.line - 1, pos.column + 1),
                hint="declare it in the script header (`name << rule.metavariable;`)",
            )
    # coccinelle.X = ... must name a declared output.
    for node in _attribute_assignments(wrapper.module):
        if node.value.value == "coccinelle" and node.attr.value not in outputs:
            pos = positions[node].start
            raise RuleError(
                f"script sets coccinelle.{node.attr.value}, which is not a declared output",
                Position(path, first_line + pos.line - 1, pos.column + 1),
                hint=f"declare it in the script header as `{node.attr.value};`",
            )
    return _module_names_defined(module)


def _attribute_assignments(module: cst.Module):
    import libcst as cst

    found: list[cst.Attribute] = []

    class Visitor(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            t = node.target
            if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name):
                found.append(t)

    module.visit(Visitor())
    return found


def compile_script(code: str, path: str, first_line: int):
    # Leading newlines make Python's line numbers those of the rule file.
    return compile("\n" * (first_line - 1) + code, path, "exec")
