"""Load rule files: parse -> check -> compile (GUIDE §6, habit 3)."""

from __future__ import annotations

from pathlib import Path

from codemod.cparse import MacroProfile
from codemod.errors import Position, RuleError, InputError
from codemod.smpl import compile as comp
from codemod.smpl.ast import Rule, RuleFile
from codemod.smpl.parser import parse_rule_text
from codemod.smpl.script import check_script, compile_script


class RuleSet:
    """Compiled rule files, in order. Rule names are scoped to their file."""

    def __init__(self, groups: list[tuple[str, list[comp.CompiledRule]]], virtuals: set[str]):
        self.groups = groups
        self.virtuals = virtuals

    @property
    def files(self) -> list[str]:
        return [path for path, _ in self.groups]


def load_rule_file(path: str | Path, profile: MacroProfile) -> list[comp.CompiledRule]:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read rule file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RuleError("rule file is not valid UTF-8", Position(str(p), line, col)) from None
    return load_rule_text(text, str(p), profile)


def load_rule_text(text: str, path: str, profile: MacroProfile) -> list[comp.CompiledRule]:
    rf = parse_rule_text(text, path)
    return check_and_compile(rf, profile)


def _depends_names(expr) -> list[tuple[str, Position]]:
    tag = expr[0]
    if tag in ("name", "ever", "never"):
        return [(expr[1], expr[2])]
    if tag == "not":
        return _depends_names(expr[1])
    return _depends_names(expr[1]) + _depends_names(expr[2])


def _strip_positions(expr):
    tag = expr[0]
    if tag in ("name", "ever", "never"):
        return (tag, expr[1])
    if tag == "not":
        return ("not", _strip_positions(expr[1]))
    return (tag, _strip_positions(expr[1]), _strip_positions(expr[2]))


def check_and_compile(rf: RuleFile, profile: MacroProfile) -> list[comp.CompiledRule]:
    path = rf.path
    virtuals = set(getattr(rf, "virtuals", ()))
    defined: dict[str, Rule] = {}
    metavars_of: dict[str, dict[str, comp.MetavarSpec]] = {}
    script_globals: set[str] = set()
    compiled: list[comp.CompiledRule] = []
    for rule in rf.rules:
        if rule.depends is not None:
            for name, pos in _depends_names(rule.depends.expr):
                if name not in defined and name not in virtuals:
                    raise RuleError(f"depends on unknown rule '{name}'", pos,
                                    hint="a rule can depend only on rules defined above it or on virtual names")
        depends = _strip_positions(rule.depends.expr) if rule.depends else None
        if rule.kind in ("initialize", "finalize"):
            names = check_script(rule.code, path, rule.code_line, script_globals, ())
            if rule.kind == "initialize":
                script_globals |= names
            compiled.append(comp.CompiledRule(
                rule.name, rule.kind, depends, code=compile_script(rule.code, path, rule.code_line),
                code_text=rule.code, pos=rule.pos, file=path))
            defined[rule.name] = rule
            continue
        if rule.kind == "script":
            for inp in rule.inputs:
                if inp.rule not in defined:
                    raise RuleError(f"script input '{inp.local}' refers to unknown rule '{inp.rule}'", inp.pos)
                if inp.name not in metavars_of.get(inp.rule, {}):
                    raise RuleError(f"rule '{inp.rule}' has no metavariable '{inp.name}'", inp.pos)
            known = {i.local for i in rule.inputs} | script_globals
            outputs = tuple(o.name for o in rule.outputs)
            check_script(rule.code, path, rule.code_line, known, outputs)
            metavars_of[rule.name] = {
                o.name: comp.MetavarSpec("script", o.name, None, None, None) for o in rule.outputs
            }
            compiled.append(comp.CompiledRule(
                rule.name, "script", depends, inputs=tuple(rule.inputs), outputs=outputs,
                code=compile_script(rule.code, path, rule.code_line), code_text=rule.code,
                pos=rule.pos, file=path))
            defined[rule.name] = rule
            continue
        # Transformation / context rule.
        local: dict[str, comp.MetavarSpec] = {}
        for mv in rule.metavars:
            if mv.kind in ("typedef", "symbol"):
                continue  # literal names in patterns, not metavariables
            if mv.name in local:
                raise RuleError(f"metavariable '{mv.name}' is declared twice", mv.pos)
            source_name = None
            kind = mv.kind
            if mv.inherited_from:
                if mv.inherited_from not in defined:
                    raise RuleError(f"'{mv.inherited_from}.{mv.name}' refers to unknown rule '{mv.inherited_from}'",
                                    mv.pos)
                parent = metavars_of.get(mv.inherited_from, {})
                if mv.name not in parent:
                    raise RuleError(f"rule '{mv.inherited_from}' has no metavariable '{mv.name}'", mv.pos)
                source_name = mv.name
            if kind == "fresh identifier":
                for part_kind, value in mv.fresh_parts:
                    if part_kind == "var" and value not in local:
                        raise RuleError(f"fresh identifier '{mv.name}' uses undeclared metavariable '{value}'",
                                        mv.pos)
            local[mv.name] = comp.MetavarSpec(kind, mv.name, mv.inherited_from, mv.constraint, mv.type_text,
                                              mv.fresh_parts, source_name)
        if not rule.body:
            raise RuleError(f"rule '{rule.name}' has an empty body", rule.pos)
        alternatives = []
        required = []
        transforms = any(l.marker in "-+" for l in rule.body)
        context_mode = any(l.marker == "*" for l in rule.body)
        if transforms and context_mode:
            line = next(l for l in rule.body if l.marker == "*")
            raise RuleError("a rule cannot mix '*' lines with '-'/'+' lines", Position(path, line.line, 1))
        for alt in comp.expand_alternatives(rule.body, path):
            if not any(l.marker != "+" for l in alt):
                raise RuleError("an alternative has only '+' lines: nothing to anchor them to",
                                Position(path, alt[0].line, 1) if alt else rule.pos)
            pattern = compile_pattern(alt, local, profile, path)
            alternatives.append(pattern)
            required.append(comp.identifiers_needed(pattern.nodes, local))
        metavars_of[rule.name] = local
        compiled.append(comp.CompiledRule(
            rule.name, "transform", depends, local, tuple(alternatives), rule.exists, transforms, context_mode,
            tuple(required), pos=rule.pos, file=path))
        defined[rule.name] = rule
    return compiled


def compile_pattern(lines, metavars, profile: MacroProfile, path: str) -> comp.Pattern:
    tb, plus, dots, positions = comp.build_pattern_text(lines, metavars, path)
    text = tb.text
    markers = "".join(tb.markers)
    origins = tuple(tb.origins)

    def where(offset: int) -> Position:
        best = origins[0]
        for o in origins:
            if o[0] > offset:
                break
            best = o
        return Position(path, best[1], best[2] + (offset - best[0]))

    for off, name in positions:
        mv = metavars.get(name)
        if mv is None or mv.kind != "position":
            raise RuleError(f"'@{name}' is not a declared position metavariable", where(off),
                            hint=f"declare it with `position {name};`")
    kind, roots, shift, data = comp.choose_and_parse(text, profile, where)
    pos_map: dict[int, list[str]] = {}
    for off, name in positions:
        pos_map.setdefault(off, []).append(name)
    nodes = comp.to_pnodes(roots, data, shift, text, markers, metavars, pos_map)
    dot_specs = []
    for k, whens, minus, nest_lines, nest_required in dots:
        nest = None
        if nest_lines:
            alts = comp.expand_alternatives(nest_lines, path)
            for alt in alts:
                _check_nest_shape(alt, path)
            nest = tuple(compile_pattern(alt, metavars, profile, path) for alt in alts)
        clauses = []
        for op, arg, line in whens:
            pat = None
            if op in ("!=", "=="):
                if not arg:
                    raise RuleError(f"'when {op}' needs an expression", Position(path, line, 1))
                from codemod.smpl.ast import BodyLine
                pat = compile_pattern([BodyLine(" ", arg, line, 1)], metavars, profile, path)
            clauses.append(comp.WhenClause(op, pat, arg))
        dot_specs.append(comp.DotsSpec(k, tuple(clauses), minus, nest, nest_required))
    return comp.Pattern(kind, nodes, text, markers, origins, tuple(plus), tuple(dot_specs), path)


def _check_nest_shape(lines, path: str) -> None:
    """`<... S; ... f(x) ...>`: statements, then an expression without `;`. spatch looks for
    that expression inside the statements that follow along the control flow; allocfix
    matches whole statements there, so it says so rather than fail to parse."""
    code = [l for l in lines if l.marker != "+" and l.text.strip()
            and not l.text.strip().startswith(("when ", "WHEN "))]
    if len(code) < 2:
        return
    last = code[-1].text.strip()
    if last.endswith((";", "}", "{")) or last.startswith("..."):
        return
    if any(l.text.strip().endswith((";", "}")) or l.text.strip().startswith("...") for l in code[:-1]):
        raise RuleError("unsupported: a nest `<... ...>` whose statements end in a bare expression "
                        f"(`{last}`): allocfix matches only whole statements after `...`",
                        Position(path, code[-1].line, code[-1].col + code[-1].text.index(last[0])),
                        hint="end the nest with a statement (e.g. `fn2(..., err, ...);`) or split the rule")


def load_rules(paths: list[Path], profile: MacroProfile, virtuals: set[str] | None = None) -> RuleSet:
    """Rule files named by `paths` (a directory means its *.cocci files, sorted)."""
    groups: list[tuple[str, list[comp.CompiledRule]]] = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise InputError(f"{p}: no such rule file or directory")
        files = sorted(p.glob("*.cocci")) if p.is_dir() else [p]
        for f in files:
            groups.append((str(f), load_rule_file(f, profile)))
    return RuleSet(groups, set(virtuals or ()))
