"""One file: parse -> match rules -> edits -> verify -> a FileResult value.

Rules of a file run in order, each on the text the previous ones produced
(SmPL semantics); a rule's edits are applied once, together. Positions are
kept in original-file offsets through an OffsetMap. The result is re-parsed
(no new ERROR nodes) and the rules are run on it again (nothing may
change); a rewrite failing either is dropped and reported, never written.
Nothing here raises into the runner: failures become FileResult values.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from codemod.analysis.plan import SitePlan, plan_site
from codemod.analysis.sites import Site, find_sites
from codemod.api import AllocfixAPI
from codemod.cparse import MacroProfile, ParsedFile, error_count, function_definitions, parse_bytes, parse_source
from codemod.edits import EditConflict
from codemod.analysis.plan import UNKNOWN_PHASE
from codemod.findings import Action, FileResult, Finding, SizeInfo, Status
from codemod.smpl.loader import RuleSet
from codemod.smpl.runtime import (AppliedEdit, RuleRunner, RunOutcome, ScriptFailure, any_word_in, could_match,
                                   minimal_words)
from codemod.source import SourceFile


@dataclass
class EngineConfig:
    rules: RuleSet
    profile: MacroProfile
    small_limit: int = 4096
    phase_index: object = None  # analysis.phase.PhaseIndex of the whole project, or None
    tree_root: str | None = None  # the project root the phase index names files from
    size_facts: object = None
    startup_exit: bool = False  # R2 opt-in: large startup allocations exit with a message
    # codemod.cache.Cache (namespace analysis.headers.store_namespace) keeping each
    # header's size facts between runs; None: headers are parsed once per process.
    header_store: object = None


class FileContext:
    """Per-file analysis shared by every rule: sites and their plans, computed lazily."""

    def __init__(self, parsed: ParsedFile, config: EngineConfig, indexed_offset=None):
        self.parsed = parsed
        self.config = config
        # Offset in this text -> offset in the file the phase index was built from
        # (they differ when this text is a rewrite being verified).
        self.indexed_offset = indexed_offset or (lambda offset: offset)
        self.sites: list[Site] = find_sites(parsed)
        self._by_offset = {s.offset: s for s in self.sites}
        self._plans: dict[int, SitePlan] = {}
        self.inspected_by: dict[int, str] = {}
        self._size_facts = None  # site offset -> rule file whose script asked about it

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
            if self.config.phase_index is not None:
                from codemod.wholetree import tree_key

                key = tree_key(self.parsed.source.path, Path(self.config.tree_root))
                phase = self.config.phase_index.phase_at(key, self.indexed_offset(site.offset))
            plan = plan_site(site, self.parsed, phase, limit=self.config.small_limit,
                             size_facts=self.size_facts(), startup_exit=self.config.startup_exit)
            self._plans[site.offset] = plan
        return plan

    def size_facts(self):
        """Size facts of the headers this file includes (computed once)."""
        if self._size_facts is None:
            from codemod.analysis.headers import header_facts

            root = self.config.tree_root
            if root is None:
                from codemod.discover import find_tree_root

                root = str(find_tree_root([Path(self.parsed.source.path)]))
            self._size_facts = header_facts(self.parsed.source.path, self.parsed.source.data, Path(root),
                                            self.config.profile, store=self.config.header_store) or False
        return self._size_facts or None

    def plan_at(self, offset: int) -> SitePlan | None:
        site = self.site_at(offset)
        return self.plan(site) if site is not None else None


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


_SITE_WORDS: tuple[bytes, ...] | None = None


def worth_parsing(data: bytes, config: EngineConfig) -> bool:
    """Whether anything could be found in these bytes: an allocation site, a
    checked allocation for the policy checks, or a word some rule needs."""
    global _SITE_WORDS
    if _SITE_WORDS is None:
        from codemod.analysis.checks import CHECKED_ALLOCATORS
        from codemod.rulesdata import load_allocators

        _SITE_WORDS = minimal_words({*load_allocators(), *CHECKED_ALLOCATORS})
    seen: dict[bytes, bool] = {}  # the rules' words overlap these: each is searched once
    return any_word_in(_SITE_WORDS, data, seen) or could_match(config.rules, data, seen)


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
    outcome = RuleRunner(config.rules, config.profile, AllocfixAPI(ctx), parsed, display).run(data, parsed.tree)
    new = outcome.data
    dropped: list[str] = []
    if new != data:
        problem = verify(new, config, path, display, parsed)
        if problem:
            dropped.append(problem)
            new = data
            outcome.applied.clear()
    return _result(path, display, parsed, ctx, outcome, new, dropped)


def verify(new: bytes, config: EngineConfig, path: str, display: str, original: ParsedFile) -> str | None:
    """Why a rewrite must not be written, or None when it is safe.

    The second run sees the file at its own path (the analysis reads the
    headers it includes relative to it) and asks the phase index about each
    function where that function starts in the original text: offsets in the
    rewrite have moved, and the index knows the original file."""
    parsed = ParsedFile(SourceFile(path, display, new), *parse_bytes(new, config.profile))
    if error_count(parsed.tree) > error_count(original.tree):
        return "rewrite dropped: the result does not parse cleanly (new syntax errors)"
    ctx = FileContext(parsed, config, _by_function_order(parsed, original))
    again = RuleRunner(config.rules, config.profile, AllocfixAPI(ctx), parsed, display).run(new, parsed.tree)
    if again.data != new:
        return "rewrite dropped: a second run would change the result again (not idempotent)"
    return None


def _by_function_order(rewritten: ParsedFile, original: ParsedFile):
    """Offset in `rewritten` -> the start of the same function in `original`.

    A rewrite changes function bodies, never which functions there are, so
    the k-th definition of one text is the k-th of the other (names would not
    do: some definitions are named by macros)."""
    old_starts = [n.start_byte for n in function_definitions(original.tree)]
    new_spans = [(n.start_byte, n.end_byte) for n in function_definitions(rewritten.tree)]
    if len(old_starts) != len(new_spans):
        return None
    firsts = [start for start, _ in new_spans]

    def indexed(offset: int) -> int:
        k = bisect.bisect_right(firsts, offset) - 1
        # The innermost definition holding the offset (nested ones come later).
        while k >= 0 and not (new_spans[k][0] <= offset < new_spans[k][1]):
            k -= 1
        return old_starts[k] if k >= 0 else offset
    return indexed


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
        action, reason = plan.action, plan.reason
        rule = ctx.inspected_by.get(site.offset, "")
        if covering:
            rule = covering[0].group
            if not plan.needs_fix:
                action, reason = Action.REWRITE, f"rewritten by rule {covering[0].group}:{covering[0].rule}"
        elif plan.needs_fix:
            action = Action.REPORT
            reason = plan.reason + ("; " + dropped[0] if dropped else "; no rule rewrote this form")
        line, col = source.line_col(site.offset)
        findings.append(Finding(
            file=display, offset=site.offset, line=line, column=col, function=plan.function,
            allocator=plan.allocator, policy=plan.policy, rule=rule, size=plan.size, phase=plan.phase,
            action=action, reason=reason,
            error_path=plan.error_path if action in (Action.REWRITE, Action.STUB) else None,
        ))
    findings = _with_policy_checks(parsed, ctx, findings)
    hunks = [(a.orig_start, a.orig_end, f"{a.group}:{a.rule}", _note_for(a, findings)) for a in outcome.applied]
    return FileResult(
        path, display, Status.OK, original=source.data, rewritten=new if new != source.data else None,
        findings=findings, hunks_info=hunks, parse_errors=error_count(parsed.tree),
        sites_in_error_functions=errors_in_fn, sites=len(ctx.sites), dropped=dropped,
    )


def _with_policy_checks(parsed: ParsedFile, ctx: FileContext, findings: list[Finding]) -> list[Finding]:
    """Add the report-only policy findings (R1, R2, R3, R6) to the site findings."""
    from codemod.analysis import checks

    plans = [ctx.plan(s) for s in ctx.sites]
    by_offset = {f.offset: f for f in findings}
    # R3 and R6 refine the finding of an existing site.
    refinements = checks.r3_small_in_loops(parsed, plans, {s.offset: s.call for s in ctx.sites})
    errp_functions = getattr(ctx.config.phase_index, "errp_functions", None)
    if errp_functions is not None:
        refinements += checks.r6_monitor_without_errp(plans, errp_functions)
    for pf in refinements:
        f = by_offset.get(pf.offset)
        if f is None:
            continue
        f.policy = pf.policy
        if f.action is Action.NONE:
            f.action, f.reason, f.rule = Action.REPORT, pf.reason, "policy-checks"
        else:
            f.reason = f"{f.reason}; {pf.reason}"
    extra = []
    source = parsed.source
    unknown_size = SizeInfo("unknown", None, "not an aborting allocation")
    for pf in checks.r1_use_before_check(parsed) + checks.r2_abort_on_failure(parsed):
        line, col = source.line_col(pf.offset)
        phase = (ctx.config.phase_index.phase_at(_tree_key(ctx), ctx.indexed_offset(pf.offset))
                 if ctx.config.phase_index else UNKNOWN_PHASE)
        extra.append(Finding(file=source.display, offset=pf.offset, line=line, column=col, function=pf.function,
                             allocator=pf.allocator, policy=pf.policy, rule="policy-checks", size=unknown_size,
                             phase=phase, action=Action.REPORT, reason=pf.reason))
    return sorted(findings + extra, key=lambda f: f.offset)


def _tree_key(ctx: FileContext) -> str:
    from codemod.wholetree import tree_key

    return tree_key(ctx.parsed.source.path, Path(ctx.config.tree_root))


def _note_for(applied: AppliedEdit, findings: list[Finding]) -> str:
    """The rationale shown with an edit: the finding it rewrites, or the one it follows."""
    before = [f for f in findings if f.offset <= max(applied.orig_end, applied.orig_start)
              and f.action in (Action.REWRITE, Action.STUB)]
    if before:
        f = before[-1]
        return f"{f.policy} {f.action.value} {f.allocator} in {f.function}: {f.reason}"
    return applied.note or "supporting change (e.g. a header the rewrite needs)"
