"""`allocfix explain FILE:LINE`: why a site was (or was not) flagged.

Gathers, for the allocation sites on one line, the size reasoning, the
phase chain from a runtime entry point, the error convention chosen for
the failure path, the action, and the proposed change. Printing is left
to render_explanation (plain text) or to_json.
"""

from __future__ import annotations

from dataclasses import dataclass

from codemod.analysis.plan import SitePlan
from codemod.engine import EngineConfig, FileContext, process_file
from codemod.cparse import parse_source
from codemod.errors import InputError
from codemod.findings import Finding
from codemod.render.diff import hunks, render_hunk
from codemod.source import SourceFile


@dataclass
class Explanation:
    finding: Finding
    plan: SitePlan
    hunk: str  # the proposed change around the site, as a diff hunk ("" if none)
    callers: str  # call-graph slice ("" without a phase index)


def explain(path: str, display: str, line: int, config: EngineConfig) -> list[Explanation]:
    result = process_file(path, display, config)
    if result.message:
        raise InputError(result.message)
    source = SourceFile(path, display, result.original)
    parsed = parse_source(source, config.profile)
    ctx = FileContext(parsed, config)
    out: list[Explanation] = []
    for finding in result.findings:
        if finding.line != line:
            continue
        site = ctx.site_at(finding.offset)
        plan = ctx.plan(site)
        hunk_text = ""
        if result.changed:
            for h in hunks(result.original, result.rewritten):
                if h.old_start <= line < h.old_start + max(h.old_count, 1) + 1:
                    hunk_text = render_hunk(h).decode("utf-8", "replace")
                    break
        callers = ""
        if config.phase_index is not None and finding.function:
            from pathlib import Path

            from codemod.wholetree import tree_key

            callers = config.phase_index.slice(tree_key(path, Path(config.tree_root)), finding.function)
        out.append(Explanation(finding, plan, hunk_text, callers))
    if not out:
        raise InputError(f"{display}:{line}:1: no allocation site on this line",
                         hint="give the line of the allocator call (e.g. the line of g_malloc)")
    return out


def render_explanation(e: Explanation) -> str:
    f, p = e.finding, e.plan
    lines = [
        f"{f.file}:{f.line}:{f.column}: {f.allocator}() in {f.function or '(file scope)'}",
        f"  action: {f.action.value} ({f.policy}{', rule ' + f.rule if f.rule else ''})",
        f"  reason: {f.reason}",
        f"  size:   {p.size.cls}"
        + (f", at most {p.size.max_bytes} bytes" if p.size.max_bytes is not None else "")
        + f"; {p.size.evidence}",
        f"  phase:  {p.phase.cls}" + (f" via {', '.join(p.phase.via)}" if p.phase.via else ""),
    ]
    if p.phase.chain:
        lines.append(f"          chain: {' -> '.join(p.phase.chain)}")
    if p.phase.evidence:
        lines.append(f"          {p.phase.evidence}")
    conv = p.convention
    lines.append(f"  error path: {conv.evidence}")
    if conv.errp:
        lines.append(f"          reports through Error **{conv.errp}")
    if f.error_path:
        lines.append(f"          on failure: {f.error_path}")
    if e.hunk:
        lines.append("  proposed change:")
        lines += ["    " + l for l in e.hunk.rstrip("\n").split("\n")]
    if e.callers:
        lines.append("  callers:")
        lines += ["    " + l for l in e.callers.rstrip("\n").split("\n")]
    return "\n".join(lines)


def to_json(e: Explanation) -> dict:
    out = e.finding.to_json()
    out["phase"]["evidence"] = e.plan.phase.evidence
    out["error_convention"] = {
        "evidence": e.plan.convention.evidence,
        "errp": e.plan.convention.errp,
        "failure_value": e.plan.convention.failure_value,
        "label": e.plan.convention.label,
    }
    out["proposed_change"] = e.hunk
    out["callers"] = e.callers
    return out
