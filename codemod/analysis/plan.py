"""What to do at one allocation site: the policy decision and the fix parts.

Combines size (R3), phase (R4/R5/R6) and the function's error convention
(R5/R7) into an action, a one-sentence reason, and the text a rule needs
to write the fix (checked allocator, NULL-check target, failure block).
"""

from __future__ import annotations

from dataclasses import dataclass

from codemod.analysis.errpath import ErrorConvention, convention
from codemod.analysis.sites import Site
from codemod.analysis.size import classify_size
from codemod.cparse import ParsedFile, function_name
from codemod.findings import Action, PhaseInfo, SizeInfo
from codemod.source import line_indent

MAX_COLUMNS = 80
UNKNOWN_PHASE = PhaseInfo("unknown", (), (), "no call chain from a known entry point")
_SIDE_EFFECT_TYPES = frozenset({"call_expression", "update_expression", "assignment_expression"})


@dataclass(frozen=True)
class SitePlan:
    offset: int
    allocator: str
    checked: str | None
    function: str | None
    size: SizeInfo
    phase: PhaseInfo
    convention: ErrorConvention
    target: str | None  # the pointer the result is stored in
    action: Action
    policy: str
    reason: str
    failure_block: str | None  # "{ ... }" at column 0, continuation lines relative
    error_path: str | None

    @property
    def needs_fix(self) -> bool:
        return self.action in (Action.REWRITE, Action.STUB)


def _store_target(site: Site, data: bytes) -> tuple[str | None, object]:
    parent = site.call.parent
    if parent is None:
        return None, None
    if parent.type == "assignment_expression" and parent.child_by_field_name("right") == site.call:
        op = parent.child_by_field_name("operator")
        if op is not None and op.type != "=":
            return None, None
        left = parent.child_by_field_name("left")
        return data[left.start_byte : left.end_byte].decode("utf-8", "replace"), left
    if parent.type == "init_declarator" and parent.child_by_field_name("value") == site.call:
        decl = parent.child_by_field_name("declarator")
        while decl is not None and decl.type == "pointer_declarator":
            decl = decl.child_by_field_name("declarator")
        if decl is not None and decl.type == "identifier":
            return data[decl.start_byte : decl.end_byte].decode("utf-8", "replace"), decl
    return None, None


def _has_side_effects(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in _SIDE_EFFECT_TYPES:
            return True
        stack.extend(n.children)
    return False


def _what(target: str) -> str:
    """A readable name for the object in messages: `s->rx_fifo` -> `rx_fifo`."""
    last = target.replace("->", ".").split(".")[-1]
    return last.strip("*&() ").split("[")[0] or target


def failure_block(conv: ErrorConvention, target: str, indent_width: int) -> tuple[str, str] | None:
    """The `{ ... }` after `if (!target)` and a short summary, or None when unknown."""
    inner = " " * (indent_width + 4)
    lines: list[str] = []
    summary: list[str] = []
    if conv.errp:
        msg = f'"Could not allocate {_what(target)}"'
        one = f"error_setg({conv.errp}, {msg});"
        if len(inner) + len(one) <= MAX_COLUMNS:
            lines.append(one)
        else:
            lines.append(f"error_setg({conv.errp},")
            lines.append(" " * len("error_setg(") + f"{msg});")
        summary.append(f"error_setg({conv.errp})")
    if conv.failure_value is None:
        return None
    if conv.failure_value == "" and not conv.errp:
        who = conv.function or "this function"
        one = f"/* allocfix: {who} cannot report this failure: decide how to recover */"
        if len(inner) + len(one) <= MAX_COLUMNS:
            lines.append(one)
        else:
            # QEMU block comment style, as checkpatch.pl wants it.
            lines += ["/*", f" * allocfix: {who} cannot report this failure:",
                      " * decide how to recover (R5, R7).", " */"]
        lines.append(f"goto {conv.label};" if conv.label else "return;")
        summary.append(f"goto {conv.label} (stub)" if conv.label else "return (stub)")
    elif conv.label:
        if conv.status_var:
            lines.append(f"{conv.status_var} = {conv.failure_value};")
            summary.append(f"{conv.status_var} = {conv.failure_value}")
        lines.append(f"goto {conv.label};")
        summary.append(f"goto {conv.label}")
    else:
        ret = f"return {conv.failure_value};" if conv.failure_value else "return;"
        lines.append(ret)
        summary.append(ret)
    body = "\n".join("    " + line for line in lines)
    return "{\n" + body + "\n}", "; ".join(summary)


def plan_site(site: Site, parsed: ParsedFile, phase: PhaseInfo | None = None, *, limit: int = 4096,
              size_facts=None) -> SitePlan:
    data = parsed.source.data
    fn_name = function_name(site.function, data) if site.function is not None else None
    size = classify_size(site, parsed, limit=limit, facts=size_facts)
    phase = phase or UNKNOWN_PHASE
    conv = convention(site.function, data, fn_name, site.offset)
    target, target_node = _store_target(site, data)
    alloc = site.allocator
    common = dict(offset=site.offset, allocator=alloc.name, checked=alloc.checked, function=fn_name,
                  size=size, phase=phase, convention=conv, target=target)
    if size.cls == "small":
        return SitePlan(**common, action=Action.NONE, policy="R3",
                        reason=f"small allocation ({size.max_bytes} bytes <= {limit}): may exit on failure",
                        failure_block=None, error_path=None)
    if phase.cls == "startup":
        return SitePlan(**common, action=Action.NONE, policy="R4",
                        reason="runs only during startup, where exiting on failure is allowed",
                        failure_block=None, error_path=None)
    policy = "R6" if "monitor" in phase.via else "R5"
    why = f"{size.cls} allocation ({size.evidence})"
    if phase.cls in ("runtime", "both"):
        why += f" reachable after startup via {', '.join(phase.via) or 'a runtime path'}"
    else:
        why += " in code not proven to run only at startup"
    if site.function is None:
        return SitePlan(**common, action=Action.REPORT, policy=policy, reason=why + "; not inside a function",
                        failure_block=None, error_path=None)
    if site.function.has_error:
        return SitePlan(**common, action=Action.REPORT, policy=policy,
                        reason=why + f"; {fn_name or 'the function'} did not parse cleanly, so it is not rewritten",
                        failure_block=None, error_path=None)
    if alloc.checked is None:
        return SitePlan(**common, action=Action.REPORT, policy=policy,
                        reason=why + f"; {alloc.name} has no checked counterpart", failure_block=None,
                        error_path=None)
    if target is None:
        return SitePlan(**common, action=Action.REPORT, policy=policy,
                        reason=why + "; the result is not stored in a variable or field allocfix can check",
                        failure_block=None, error_path=None)
    if _has_side_effects(target_node):
        return SitePlan(**common, action=Action.REPORT, policy=policy,
                        reason=why + f"; the target '{target}' has side effects and cannot be re-evaluated",
                        failure_block=None, error_path=None)
    indent = len(line_indent(data, site.call.start_byte).expandtabs(8))
    block = failure_block(conv, target, indent)
    if block is None:
        return SitePlan(**common, action=Action.REPORT, policy=policy,
                        reason=why + f"; {conv.evidence}", failure_block=None, error_path=None)
    text, summary = block
    stub = conv.failure_value == "" and not conv.errp
    if stub:
        action = Action.STUB
        reason = why + f"; {conv.evidence} and has no Error **errp: a human must finish the failure path"
    else:
        action = Action.REWRITE
        reason = why + f"; checked with {alloc.checked}, failure: {summary}"
    return SitePlan(**common, action=action, policy=policy, reason=reason, failure_block=text,
                    error_path=summary)
