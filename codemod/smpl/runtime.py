"""Run a rule set over one file's text with SmPL's semantics.

Rules run in order, each on the text the previous rules produced; a rule
runs once per environment inherited from the rules it names (`r.E`,
script inputs), and only when its `depends on` holds. Positions are kept
as original-file offsets through an OffsetMap, so a position bound by an
early rule still identifies its token after later edits.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from codemod.api import Location
from codemod.cparse import MacroProfile, ParsedFile, enclosing_function, function_name, parse_bytes
from codemod.edits import Edit, EditSet, OffsetMap
from codemod.match import Binding, Target, find_matches, macro_bodies, macro_view, normalize_text
from codemod.smpl.compile import CompiledRule
from codemod.smpl.loader import RuleSet
from codemod.smpl.script import Cocci, Outputs, ScriptValue
from codemod.transform import TransformError, edits_for_match

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
                with contextlib.redirect_stdout(sys.stderr):  # stdout carries diffs
                    exec(rule.code, ns)
        _INIT_NAMESPACES[group_path] = ns
    return ns


def run_finalizers(rules: RuleSet) -> None:
    """Run each rule file's @finalize:python@ blocks once, after every file was processed
    (they see the globals the initialize and script blocks built). For the engine/runner to
    call at the end of a run; output goes to stderr."""
    for group_path, group in rules.groups:
        finals = [r for r in group if r.kind == "finalize"]
        if not finals:
            continue
        ns = script_namespace(group_path, group)
        for rule in finals:
            try:
                with contextlib.redirect_stdout(sys.stderr):
                    exec(rule.code, ns)
            except Exception as exc:  # reported with its rule-file line
                tb = traceback.extract_tb(exc.__traceback__)
                line = next((f.lineno for f in reversed(tb) if f.filename == rule.file), None)
                where = f"{rule.file}:{line}" if line else rule.file
                raise ScriptFailure(f"{where}: finalize block raised {type(exc).__name__}: {exc}") from None


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


def _eval_depends(expr, matched: set[str], virtuals: set[str], may: bool = False) -> bool:
    """Whether `depends on expr` holds given the rules that matched. With `may`,
    whether it could hold: `!r` and `never r` count as satisfiable (r may
    still fail to match), for a prefilter that must never wrongly say no."""
    if expr is None:
        return True
    tag = expr[0]
    if tag in ("name", "ever"):
        return expr[1] in matched or expr[1] in virtuals
    if tag in ("never", "not") and may:
        return True
    if tag == "never":
        return not (expr[1] in matched or expr[1] in virtuals)
    if tag == "not":
        return not _eval_depends(expr[1], matched, virtuals)
    if tag == "and":
        return _eval_depends(expr[1], matched, virtuals, may) and _eval_depends(expr[2], matched, virtuals, may)
    return _eval_depends(expr[1], matched, virtuals, may) or _eval_depends(expr[2], matched, virtuals, may)


def _env_key(env: dict, keys=None) -> tuple:
    items = env.items() if keys is None else ((k, env[k]) for k in keys if k in env)
    return tuple(sorted((k, v.key()) for k, v in items))


def _consistent(a: dict, b: dict) -> bool:
    for k, v in b.items():
        w = a.get(k)
        if w is not None and w.key() != v.key():
            return False
    return True


def _with_subs(m) -> list:
    out = [m]
    for sub in m.subs:
        out += _with_subs(sub)
    return out


def _starred_offsets(m, data: bytes) -> list[int]:
    """One offset per target line covered by a `*` piece of the match (as spatch marks them)."""
    offsets: set[int] = set()
    for match in _with_subs(m):
        markers = match.pattern.markers
        for a in match.atoms:
            if a.tend <= a.tstart or a.is_list or markers[a.pstart:a.pstart + 1] != "*":
                continue
            offsets.add(a.tstart)
            nl = data.find(b"\n", a.tstart, a.tend)
            while nl != -1:
                offsets.add(nl + 1)
                nl = data.find(b"\n", nl + 1, a.tend)
    return sorted(offsets)


def could_match(rules: RuleSet, data: bytes, seen: dict[bytes, bool] | None = None) -> bool:
    """False when no rule that changes or reports something can match the text.

    Rules are followed in order as the runner would run them, with "may have
    matched" for "matched": a rule whose words occur may match once the rules
    it depends on or inherits from may have; `!r` is assumed satisfiable (the
    answer must never be a wrong False). Rules with inherited metavariables
    have no words of their own: theirs come bound from the rule they name.
    `seen` (word -> occurs in data) is shared with the caller's own searches.
    """
    seen = {} if seen is None else seen
    for _, group in rules.groups:
        # A rule that changes nothing still counts when its matches feed a script.
        feeds = {i.rule for r in group if r.kind == "script" for i in r.inputs}
        possible: set[str] = set()
        for rule in group:
            if rule.kind == "script":
                if all(i.rule in possible for i in rule.inputs):
                    possible.add(rule.name)
                continue
            if rule.kind != "transform" or not _eval_depends(rule.depends, possible, rules.virtuals, may=True):
                continue
            if any(r not in possible for r in rule.inherited_rules) or not _prefilter(rule, data, seen):
                continue
            possible.add(rule.name)
            if rule.transforms or rule.context_mode or rule.name in feeds:
                return True
    return False


def _prefilter(rule: CompiledRule, data: bytes, seen: dict[bytes, bool] | None = None) -> bool:
    if not rule.required:
        return True
    seen = {} if seen is None else seen
    for needs in rule.required:
        if all(any_word_in(minimal_words(group), data, seen) for group in needs):
            return True
    return False


_MINIMAL: dict[frozenset, tuple[bytes, ...]] = {}


def minimal_words(words) -> tuple[bytes, ...]:
    """The words of a "does any of these occur" test that decide it: a word
    containing another of them (g_malloc0 has g_malloc) occurs only where that
    one does, so searching for it adds nothing. Encoded, shortest first."""
    key = frozenset(words)
    hit = _MINIMAL.get(key)
    if hit is None:
        encoded = sorted({w.encode() if isinstance(w, str) else w for w in key}, key=lambda w: (len(w), w))
        hit = tuple(w for i, w in enumerate(encoded) if not any(o in w for o in encoded[:i]))
        _MINIMAL[key] = hit
    return hit


def any_word_in(words: tuple[bytes, ...], data: bytes, seen: dict[bytes, bool]) -> bool:
    """Whether one of `words` occurs in `data`; each word searched once per `seen`."""
    for w in words:
        found = seen.get(w)
        if found is None:
            found = seen[w] = w in data
        if found:
            return True
    return False


_ARITH_CACHE: dict[tuple, bool] = {}


def _has_arithmetic(rule: CompiledRule) -> bool:
    """Whether a pattern has a binary `+ - * &` (what a misread `sizeof(T)-1` hides)."""
    key = (rule.file, rule.name, rule.pos, len(rule.alternatives))
    if key not in _ARITH_CACHE:
        found = False
        for pattern in rule.alternatives:
            stack = list(pattern.nodes)
            while stack and not found:
                n = stack.pop()
                if n.type == "binary_expression" and any(
                        c.kind == "leaf" and c.text in ("+", "-", "*", "&") for c in n.children):
                    found = True
                stack.extend(n.children)
        _ARITH_CACHE[key] = found
    return _ARITH_CACHE[key]


def _split_declarations(edits: list, data: bytes, tree) -> list:
    """Removed declarators of a declaration with several (`int i, rc;`) take a comma with
    them, as spatch prints it: the one after, or the one before when every declarator
    after them goes too; when all go, the whole declaration goes (its line, if alone)."""
    groups: dict[tuple[int, int], tuple] = {}
    out = []
    for e in edits:
        decl = None
        if not e.text and e.end > e.start:
            node = tree.root_node.descendant_for_byte_range(e.start, e.end - 1)
            while node is not None and (node.start_byte, node.end_byte) != (e.start, e.end):
                node = node.parent if node.end_byte - node.start_byte <= e.end - e.start else None
            if node is not None and node.parent is not None and node.parent.type == "declaration":
                parent = node.parent
                idx = [i for i, c in enumerate(parent.children) if parent.field_name_for_child(i) == "declarator"]
                if len(idx) > 1 and any(parent.children[i] == node for i in idx):
                    decl = parent
        if decl is None:
            out.append(e)
            continue
        key = (decl.start_byte, decl.end_byte)
        groups.setdefault(key, (decl, {}))[1][e.start] = e
    for decl, removed in groups.values():
        dnodes = [c for i, c in enumerate(decl.children) if decl.field_name_for_child(i) == "declarator"]
        gone = [k for k, d in enumerate(dnodes) if d.start_byte in removed]
        sample = removed[dnodes[gone[0]].start_byte]
        if len(gone) == len(dnodes):
            start, end = decl.start_byte, decl.end_byte
            ls = data.rfind(b"\n", 0, start) + 1
            le = data.find(b"\n", end)
            le = len(data) if le == -1 else le
            if not data[ls:start].strip() and not data[end:le].strip():
                start, end = ls, min(le + 1, len(data))
            out.append(Edit(start, end, b"", sample.rule, sample.note))
            continue
        kept_last = max(k for k in range(len(dnodes)) if k not in gone)
        for k in gone:
            d = dnodes[k]
            if k < kept_last:
                span = (d.start_byte, dnodes[k + 1].start_byte)
            else:
                span = (dnodes[k - 1].end_byte, d.end_byte)
            out.append(Edit(span[0], span[1], b"", sample.rule, sample.note))
    return out


def _join_removals(edits: list, data: bytes, tree) -> list:
    """Two removals of whole lines with only comments and blank lines between them: the
    lines between go too (spatch drops what lies between removed tokens)."""
    removals = sorted((e for e in edits if not e.text and e.end > e.start), key=lambda e: e.start)
    if len(removals) < 2:
        return edits
    grown: dict[int, Edit] = {}
    for a, b in zip(removals, removals[1:]):
        if a.end >= b.start or data[a.end - 1:a.end] != b"\n" or (b.start and data[b.start - 1:b.start] != b"\n"):
            continue
        if not _only_comments(data[a.end:b.start], a.end, tree):
            continue
        grown[id(b)] = Edit(a.end, b.end, b"", b.rule, b.note)
    return [grown.get(id(e), e) for e in edits]


def _only_comments(gap: bytes, offset: int, tree) -> bool:
    """Whether gap (at offset) holds nothing but comments and whitespace, and some comment."""
    pos, seen = 0, False
    while pos < len(gap):
        if gap[pos:pos + 1].isspace():
            pos += 1
            continue
        node = tree.root_node.descendant_for_byte_range(offset + pos, offset + pos)
        if node is None or node.type != "comment" or node.start_byte != offset + pos:
            return False
        seen = True
        pos = node.end_byte - offset
    return seen


def _with_comments_above(e: Edit, data: bytes, tree) -> Edit:
    """A removal of whole lines takes the comment lines right above it (no blank line
    between), as spatch drops the comments attached to removed code."""
    if e.text or e.end <= e.start or (e.start > 0 and data[e.start - 1:e.start] != b"\n") or \
            not (e.end == len(data) or data[e.end - 1:e.end] == b"\n"):
        return e
    start = e.start
    while start > 0:
        prev_start = data.rfind(b"\n", 0, start - 1) + 1
        line = data[prev_start:start].strip()
        if line.startswith(b"//"):
            start = prev_start
            continue
        if not line.endswith(b"*/"):
            break
        close = data.rfind(b"*/", prev_start, start)
        node = tree.root_node.descendant_for_byte_range(close, close + 1)
        if node is None or node.type != "comment" or node.end_byte != close + 2:
            break
        top = data.rfind(b"\n", 0, node.start_byte) + 1
        if data[top:node.start_byte].strip():
            break
        start = top
    if start == e.start:
        return e
    return Edit(start, e.end, b"", e.rule, e.note)


class RuleRunner:
    """Runs every rule group over one file's text."""

    def __init__(self, rules: RuleSet, profile: MacroProfile, api, original: ParsedFile, display: str):
        self.rules = rules
        self.profile = profile
        self.api = api  # the `allocfix` object scripts see
        self.original = original
        self.display = display
        self._macro_target = None  # (target, view or False): #define bodies of the current text

    def run(self, data: bytes, tree) -> RunOutcome:
        outcome = RunOutcome(data)
        omap = OffsetMap()
        for group_path, rules in self.rules.groups:
            data, tree = self._run_group(group_path, rules, data, tree, omap, outcome)
        outcome.data = data
        return outcome

    def _location(self, b: Binding) -> Location:
        parsed = self.original
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
        target: Target | None = None  # node index of the current text, shared by rules until it changes
        # The analysis API knows no allocation sites in #define bodies: rule files whose
        # scripts ask it do not match there.
        macros_ok = not any(r.kind == "script" and "allocfix" in r.code_text for r in rules)
        if hasattr(self.api, "enter_group"):
            self.api.enter_group(label)  # lets the analysis say which rule file looked at a site
        for rule in rules:
            if rule.kind in ("initialize", "finalize"):
                continue
            if not _eval_depends(rule.depends, matched, self.rules.virtuals):
                continue
            inputs = self._input_envs(rule, envs)
            if inputs is None:
                continue
            if rule.kind == "script":
                out = self._run_script(group_path, rules, rule, inputs, envs)
                envs[rule.name] = out
                if out:
                    matched.add(rule.name)
                continue
            if not _prefilter(rule, data):
                continue
            if target is None or target.tree is not tree:
                target = Target(data, tree, omap.to_original)
                target.path = self.original.source.path
            self._refuse_misparse(rule, target, omap)
            edits = EditSet()
            rule_edits: list = []
            out_envs: list[dict] = []
            seen: set = set()
            for env in inputs:
                prebound, near = self._prebind(rule, env, omap)
                if prebound is None:
                    continue
                for m, mtree in self._matches(rule, target, prebound, near, tree, macros_ok):
                    self._refuse_undecided(rule, m, omap)
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
                            for part in _with_subs(m):
                                rule_edits.extend(edits_for_match(part, data, mtree, f"{label}:{rule.name}"))
                        except TransformError as exc:
                            raise ScriptFailure(f"{rule.file}: rule {rule.name}: {exc}") from None
                    elif rule.context_mode:
                        for off in _starred_offsets(m, data):
                            orig = omap.to_original(off)
                            if orig is not None:
                                outcome.reports.append((orig, label, rule.name))
            for e in _join_removals([_with_comments_above(e, data, tree)
                                     for e in _split_declarations(rule_edits, data, tree)], data, tree):
                edits.add(e)
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
                _, tree = parse_bytes(data, self.profile)
        return data, tree

    def _refuse_misparse(self, rule: CompiledRule, target: Target, omap: OffsetMap) -> None:
        """A rule with arithmetic in its pattern could match across `sizeof(T)-1`, which the
        C parser misreads: refuse the file (naming the spot) rather than miss matches there."""
        if not _has_arithmetic(rule):
            return
        bad = target.misparsed_sizeof()
        if not bad:
            return
        orig = omap.to_original(bad[0].start_byte)
        line, col = self.original.source.line_col(orig if orig is not None else 0)
        text = " ".join(target.text(bad[0]).split())
        raise ScriptFailure(
            f"{self.display}:{line}:{col}: unsupported: sizeof(T) before an operator: `{text}`: tree-sitter-c "
            f"reads a cast after sizeof "
            f"(`sizeof((T)...)`) where C reads `sizeof(T) ...`, so rule {rule.name} "
            f"({rule.file}) could miss a match here; add parentheses, e.g. `(sizeof(T)) - 1`")

    def _refuse_undecided(self, rule: CompiledRule, m, omap: OffsetMap) -> None:
        """A match that holds only if an expression has a type allocfix cannot see (spatch
        reads it from headers): refuse the file rather than rewrite a subset of what spatch
        would."""
        for part in _with_subs(m):
            for offset, text, type_text in part.undecided:
                orig = omap.to_original(offset)
                line, col = self.original.source.line_col(orig if orig is not None else 0)
                where = f"{rule.file}:{rule.pos.line}" if rule.pos is not None else rule.file
                raise ScriptFailure(
                    f"{self.display}:{line}:{col}: unsupported: type inference: the type of `{' '.join(text.split())}` is not "
                    f"known from this file or the headers next to it (rule {rule.name} at {where} needs it to be "
                    f"`{type_text.strip()}`); allocfix cannot tell whether the rule applies here")

    def _matches(self, rule: CompiledRule, target: Target, prebound, near, tree, macros_ok: bool):
        """The rule's matches in the code, then (as spatch) in #define bodies; each with the
        tree its offsets belong to."""
        for m in find_matches(rule, target, prebound, near):
            yield m, tree
        if not macros_ok or not any(p.kind in ("expr", "stmts") for p in rule.alternatives):
            return
        cache = self._macro_target
        if cache is None or cache[0] is not target:
            bodies = macro_bodies(target)
            cache = self._macro_target = [target, bodies, b"\n".join(target.data[x:y] for x, y in bodies), False]
        if not cache[1] or not _prefilter(rule, cache[2]):
            return
        if cache[3] is False:
            cache[3] = macro_view(target, cache[1], lambda text: parse_bytes(text, self.profile)[1])
        view = cache[3]
        if view is None:
            return
        for m in find_matches(rule, view, prebound, near, kinds=("expr", "stmts")):
            yield m, view.tree

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

    @staticmethod
    def _drop_env(rule: CompiledRule, env: dict, envs: dict) -> None:
        for src in {i.rule for i in rule.inputs}:
            keys = [f"{i.rule}.{i.name}" for i in rule.inputs if i.rule == src]
            want = [env[k].key() for k in keys if k in env]
            envs[src] = [e for e in envs.get(src, ())
                         if [e[k].key() for k in keys if k in e] != want]

    def _run_script(self, group_path, rules, rule: CompiledRule, inputs: list[dict],
                    envs: dict | None = None) -> list[dict]:
        envs = {} if envs is None else envs
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
                    with contextlib.redirect_stdout(sys.stderr):  # stdout carries diffs
                        exec(rule.code, g)
                except Exception as exc:  # a script bug is reported with its rule-file line
                    tb = traceback.extract_tb(exc.__traceback__)
                    line = next((f.lineno for f in reversed(tb) if f.filename == rule.file), None)
                    where = f"{rule.file}:{line}" if line else rule.file
                    raise ScriptFailure(f"{where}: script {rule.name} raised {type(exc).__name__}: {exc}") from None
                if cocci.excluded:
                    # spatch drops the match itself: later rules inheriting from the
                    # script's input rules no longer see this environment either.
                    self._drop_env(rule, env, envs)
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


