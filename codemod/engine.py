"""One file: parse -> match rules -> edits -> verify -> a FileResult value.

Rules of a file run in order, each on the text the previous ones produced
(SmPL semantics); a rule's edits are applied once, together. Positions are
kept in original-file offsets through an OffsetMap. The result is re-parsed
(no new ERROR nodes) and the rules are run on it again (nothing may
change); a rewrite failing either is dropped and reported, never written.
Nothing here raises into the runner: failures become FileResult values.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from codemod.analysis.plan import SitePlan, plan_site
from codemod.analysis.sites import Site, find_sites
from codemod.api import AllocfixAPI, Location
from codemod.cparse import MacroProfile, ParsedFile, enclosing_function, function_name, iter_errors, parse_bytes, parse_source
from codemod.edits import Edit, EditConflict, EditSet, OffsetMap
from codemod.findings import Action, FileResult, Finding, PhaseInfo, Status
from codemod.match import Binding, Target, find_matches, normalize_text
from codemod.smpl.compile import CompiledRule
from codemod.smpl.loader import RuleSet
from codemod.smpl.script import Cocci, Outputs, ScriptValue
from codemod.source import SourceFile
from codemod.transform import TransformError, edits_for_match


@dataclass
class EngineConfig:
    rules: RuleSet
    profile: MacroProfile
    small_limit: int = 4096
    phase_of: object = None  # callable(display, function name) -> PhaseInfo, or None
    size_facts: object = None


# Stands for an inherited metavariable the environment did not bind: equal to nothing.
UNBOUND = Binding("unbound", "", "\0unbound")


class ScriptFailure(Exception):
    pass


_INIT_NAMESPACES: dict[str, dict] = {}


def script_namespace(group_path: str, rules: list[CompiledRule]) -> dict:
    """Globals shared by a rule file's scripts, after its initialize blocks ran (once per process)."""
    ns = _INIT_NAMESPACES.get(group_path)
    if ns is None:
        ns = {"__name__": "allocfix_rules", "cocci": Cocci()}
        for rule in rules:
            if rule.kind == "initialize":
                exec(rule.code, ns)
        _INIT_NAMESPACES[group_path] = ns
    return ns


class FileContext:
    """Per-file analysis shared by every rule: sites and their plans, computed lazily."""

    def __init__(self, parsed: ParsedFile, config: EngineConfig):
        self.parsed = parsed
        self.config = config
        self.sites: list[Site] = find_sites(parsed)
        self._by_offset = {s.offset: s for s in self.sites}
        self._plans: dict[int, SitePlan] = {}

    def site_at(self, offset: int) -> Site | None:
        site = self._by_offset.get(offset)
        if site is None:
            for s in self.sites:
                if s.call.start_byte <= offset < s.call.end_byte:
                    return s
        return site

    def plan(self, site: Site) -> SitePlan:
        plan = self._plans.get(site.offset)
        if plan is None:
            phase = None
            if self.config.phase_of is not None and site.function is not None:
                name = function_name(site.function, self.parsed.source.data)
                phase = self.config.phase_of(self.parsed.source.display, name)
            plan = plan_site(site, self.parsed, phase, limit=self.config.small_limit,
                             size_facts=self.config.size_facts)
            self._plans[site.offset] = plan
        return plan

    def plan_at(self, offset: int) -> SitePlan | None:
        site = self.site_at(offset)
        return self.plan(site) if site is not None else None


@dataclass
class AppliedEdit:
    orig_start: int
    orig_end: int
    group: str
    rule: str
    note: str


@dataclass
class RunOutcome:
    data: bytes
    applied: list[AppliedEdit] = field(default_factory=list)
    reports: list[tuple[int, str, str]] = field(default_factory=list)  # (orig offset, group, rule)


def _eval_depends(expr, matched: set[str], virtuals: set[str]) -> bool:
    if expr is None:
        return True
    tag = expr[0]
    if tag in ("name", "ever"):
        return expr[1] in matched or expr[1] in virtuals
    if tag == "never":
        return not (expr[1] in matched or expr[1] in virtuals)
    if tag == "not":
        return not _eval_depends(expr[1], matched, virtuals)
    if tag == "and":
        return _eval_depends(expr[1], matched, virtuals) and _eval_depends(expr[2], matched, virtuals)
    return _eval_depends(expr[1], matched, virtuals) or _eval_depends(expr[2], matched, virtuals)


def _env_key(env: dict, keys=None) -> tuple:
    items = env.items() if keys is None else ((k, env[k]) for k in keys if k in env)
    return tuple(sorted((k, v.key()) for k, v in items))


def _consistent(a: dict, b: dict) -> bool:
    for k, v in b.items():
        w = a.get(k)
        if w is not None and w.key() != v.key():
            return False
    return True


def _prefilter(rule: CompiledRule, data: bytes) -> bool:
    if not rule.required:
        return True
    for needs in rule.required:
        if all(any(w.encode() in data for w in group) for group in needs):
            return True
    return False


class RuleRunner:
    """Runs every rule group over one file's text."""

    def __init__(self, config: EngineConfig, context: FileContext, display: str):
        self.config = config
        self.ctx = context
        self.display = display
        self.api = AllocfixAPI(context)

    def run(self, data: bytes, tree) -> RunOutcome:
        outcome = RunOutcome(data)
        omap = OffsetMap()
        for group_path, rules in self.config.rules.groups:
            data, tree = self._run_group(group_path, rules, data, tree, omap, outcome)
        outcome.data = data
        return outcome

    def _location(self, b: Binding) -> Location:
        parsed = self.ctx.parsed
        orig = b.orig if b.orig is not None else 0
        orig_end = b.orig_end if b.orig_end is not None else orig
        line, col = parsed.source.line_col(orig)
        line_end, col_end = parsed.source.line_col(orig_end)
        node = parsed.root.descendant_for_byte_range(orig, orig)
        fn = enclosing_function(node) if node is not None else None
        name = function_name(fn, parsed.source.data) if fn is not None else "something_else"
        return Location(self.display, line, col - 1, line_end, col_end - 1, name or "", orig)

    def _script_value(self, b: Binding):
        if b.kind == "position":
            return [self._location(b)]
        return b.text

    def _run_group(self, group_path, rules, data, tree, omap: OffsetMap, outcome: RunOutcome):
        envs: dict[str, list[dict]] = {}
        matched: set[str] = set()
        label = Path(group_path).stem
        for rule in rules:
            if rule.kind in ("initialize", "finalize"):
                continue
            if not _eval_depends(rule.depends, matched, self.config.rules.virtuals):
                continue
            inputs = self._input_envs(rule, envs)
            if inputs is None:
                continue
            if rule.kind == "script":
                out = self._run_script(group_path, rules, rule, inputs)
                envs[rule.name] = out
                if out:
                    matched.add(rule.name)
                continue
            if not _prefilter(rule, data):
                continue
            target = Target(data, tree, omap.to_original)
            edits = EditSet()
            out_envs: list[dict] = []
            seen: set = set()
            for env in inputs:
                prebound, near = self._prebind(rule, env, omap)
                if prebound is None:
                    continue
                for m in find_matches(rule, target, prebound, near):
                    new_env = dict(env)
                    for name, b in m.bindings.items():
                        spec = rule.metavars.get(name)
                        if spec is not None and spec.inherited_from:
                            continue
                        new_env[f"{rule.name}.{name}"] = b
                    key = _env_key(new_env)
                    if key not in seen:
                        seen.add(key)
                        out_envs.append(new_env)
                    if rule.transforms:
                        try:
                            for e in edits_for_match(m, data, tree, f"{label}:{rule.name}"):
                                edits.add(e)
                        except TransformError as exc:
                            raise ScriptFailure(f"{rule.file}: rule {rule.name}: {exc}") from None
                    elif rule.context_mode:
                        outcome.reports.append((omap.to_original(m.start) or 0, label, rule.name))
            envs[rule.name] = out_envs
            if out_envs:
                matched.add(rule.name)
            if len(edits):
                for e in edits:
                    start = omap.to_original(e.start)
                    end = omap.to_original(e.end)
                    if start is not None and end is not None:
                        outcome.applied.append(AppliedEdit(start, end, label, rule.name, e.note))
                data = edits.apply(data)
                omap.push(edits.shifts())
                _, tree = parse_bytes(data, self.config.profile)
        return data, tree

    def _input_envs(self, rule: CompiledRule, envs: dict) -> list[dict] | None:
        inherited = rule.inherited_rules
        if not inherited:
            return [{}]
        current: list[dict] = [{}]
        for name in inherited:
            theirs = envs.get(name)
            if not theirs:
                return None
            merged = []
            for a in current:
                for b in theirs:
                    if _consistent(a, b):
                        c = dict(a)
                        c.update(b)
                        merged.append(c)
            current = merged
            if not current:
                return None
        needed = self._needed_keys(rule)
        unique: dict[tuple, dict] = {}
        for env in current:
            unique.setdefault(_env_key(env, needed), env)
        return list(unique.values())

    @staticmethod
    def _needed_keys(rule: CompiledRule) -> list[str]:
        keys = [f"{mv.inherited_from}.{mv.source_name}" for mv in rule.metavars.values() if mv.inherited_from]
        keys += [f"{i.rule}.{i.name}" for i in rule.inputs]
        return keys

    def _prebind(self, rule: CompiledRule, env: dict, omap: OffsetMap):
        prebound: dict[str, Binding] = {}
        near: list[int] = []
        for local, mv in rule.metavars.items():
            if not mv.inherited_from:
                continue
            b = env.get(f"{mv.inherited_from}.{mv.source_name}")
            if b is None:
                # Bound in another disjunction branch only: alternatives using it cannot match.
                prebound[local] = UNBOUND
                continue
            prebound[local] = b
            if b.kind == "position" and b.orig is not None:
                near.append(omap.to_current(b.orig))
        return prebound, near or None

    def _run_script(self, group_path, rules, rule: CompiledRule, inputs: list[dict]) -> list[dict]:
        ns = script_namespace(group_path, rules)
        out: list[dict] = []
        for env in inputs:
            values = {}
            for inp in rule.inputs:
                b = env.get(f"{inp.rule}.{inp.name}")
                if b is None:
                    break
                values[inp.local] = self._script_value(b)
            else:
                cocci = Cocci()
                outputs = Outputs(rule.outputs)
                g = dict(ns)
                g.update(values)
                g.update(cocci=cocci, coccinelle=outputs, allocfix=self.api)
                try:
                    exec(rule.code, g)
                except Exception as exc:  # a script bug is reported with its rule-file line
                    tb = traceback.extract_tb(exc.__traceback__)
                    line = next((f.lineno for f in reversed(tb) if f.filename == rule.file), None)
                    where = f"{rule.file}:{line}" if line else rule.file
                    raise ScriptFailure(f"{where}: script {rule.name} raised {type(exc).__name__}: {exc}") from None
                if cocci.excluded:
                    continue
                got = outputs.values
                if any(o not in got for o in rule.outputs):
                    continue
                new_env = dict(env)
                for name, value in got.items():
                    if isinstance(value, ScriptValue):
                        b = Binding(value.kind, value.text, normalize_text(value.text), from_script=True)
                    else:
                        text = str(value)
                        b = Binding("expression", text, normalize_text(text), from_script=True)
                    new_env[f"{rule.name}.{name}"] = b
                out.append(new_env)
        return out


def _error_count(tree) -> int:
    return sum(1 for _ in iter_errors(tree.root_node))


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def process_file(path: str, display: str, config: EngineConfig, data: bytes | None = None) -> FileResult:
    """Everything allocfix has to say about one file. Never raises."""
    try:
        if data is None:
            data = _read(path)
    except IsADirectoryError:
        return FileResult(path, display, Status.FAILED, message=f"{display}: is a directory")
    except OSError as exc:
        return FileResult(path, display, Status.FAILED, message=f"{display}: cannot read ({exc.strerror})")
    if b"\0" in data[:65536] or b"\0" in data:
        return FileResult(path, display, Status.SKIPPED, original=data,
                          message=f"{display}:1:1: binary file (NUL bytes), not scanned")
    try:
        return _process(path, display, config, data)
    except ScriptFailure as exc:
        return FileResult(path, display, Status.FAILED, original=data, message=str(exc))
    except EditConflict as exc:
        src = SourceFile(path, display, data)
        line, col = src.line_col(exc.second.start)
        return FileResult(path, display, Status.FAILED, original=data,
                          message=f"{display}:{line}:{col}: {exc}")
    except RecursionError:
        return FileResult(path, display, Status.FAILED, original=data,
                          message=f"{display}:1:1: nesting too deep to analyse")


def _process(path: str, display: str, config: EngineConfig, data: bytes) -> FileResult:
    source = SourceFile(path, display, data)
    parsed = parse_source(source, config.profile)
    ctx = FileContext(parsed, config)
    outcome = RuleRunner(config, ctx, display).run(data, parsed.tree)
    new = outcome.data
    dropped: list[str] = []
    if new != data:
        problem = verify(new, config, display, _error_count(parsed.tree))
        if problem:
            dropped.append(problem)
            new = data
            outcome.applied.clear()
    return _result(path, display, parsed, ctx, outcome, new, dropped)


def verify(new: bytes, config: EngineConfig, display: str, old_errors: int) -> str | None:
    """Why a rewrite must not be written, or None when it is safe."""
    _, tree = parse_bytes(new, config.profile)
    if _error_count(tree) > old_errors:
        return "rewrite dropped: the result does not parse cleanly (new syntax errors)"
    source = SourceFile(display, display, new)
    parsed = ParsedFile(source, *parse_bytes(new, config.profile))
    again = RuleRunner(config, FileContext(parsed, config), display).run(new, parsed.tree)
    if again.data != new:
        return "rewrite dropped: a second run would change the result again (not idempotent)"
    return None


def _result(path, display, parsed: ParsedFile, ctx: FileContext, outcome: RunOutcome, new: bytes,
            dropped: list[str]) -> FileResult:
    findings: list[Finding] = []
    source = parsed.source
    errors_in_fn = 0
    for site in ctx.sites:
        if site.function is not None and site.function.has_error:
            errors_in_fn += 1
        plan = ctx.plan(site)
        covering = [a for a in outcome.applied if a.orig_start <= site.offset < max(a.orig_end, a.orig_start + 1)]
        action, rule, reason = plan.action, "", plan.reason
        if covering:
            rule = covering[0].group
            if not plan.needs_fix:
                action, reason = Action.REWRITE, f"rewritten by rule {covering[0].group}:{covering[0].rule}"
        elif plan.needs_fix:
            action = Action.REPORT
            reason = plan.reason + ("; " + dropped[0] if dropped else "; no rule rewrote this form")
        elif plan.action is Action.REPORT:
            rule = "large-alloc"
        line, col = source.line_col(site.offset)
        findings.append(Finding(
            file=display, offset=site.offset, line=line, column=col, function=plan.function,
            allocator=plan.allocator, policy=plan.policy, rule=rule or ("large-alloc" if action is not Action.NONE else ""),
            size=plan.size, phase=plan.phase, action=action, reason=reason,
            error_path=plan.error_path if action in (Action.REWRITE, Action.STUB) else None,
        ))
    hunks = [(a.orig_start, a.orig_end, f"{a.group}:{a.rule}", _note_for(a, findings)) for a in outcome.applied]
    return FileResult(
        path, display, Status.OK, original=source.data, rewritten=new if new != source.data else None,
        findings=findings, hunks_info=hunks, parse_errors=_error_count(parsed.tree),
        sites_in_error_functions=errors_in_fn, sites=len(ctx.sites), dropped=dropped,
    )


def _note_for(applied: AppliedEdit, findings: list[Finding]) -> str:
    for f in findings:
        if applied.orig_start <= f.offset < max(applied.orig_end, applied.orig_start + 1):
            return f"{f.policy} {f.action.value}: {f.reason}"
    return applied.note
