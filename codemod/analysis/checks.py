"""Policy findings that are reports, not rewrites (GUIDE §1: R1, R2, R3, R6).

R1  a checked allocator's result (g_try_*, qemu_try_*, malloc, ...) used
    before any NULL check: dereferenced, indexed or passed to a call;
R2  abort(), g_error() or assert() on an allocation-failure path: QEMU wants
    error_report() + exit(EXIT_FAILURE) there;
R3  a small allocation inside a loop whose trip count is not bounded by a
    constant: many small allocations can add up to a large one;
R6  a site reached from a monitor command in a function with no
    Error **errp, so the failure cannot be reported on the monitor.

Each check reads the parse tree of one file (and, for R6, the phase chain);
none of them edits anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from codemod.analysis.plan import SitePlan
from codemod.cparse import ParsedFile, calls_named, enclosing_function, function_name

CHECKED_ALLOCATORS = frozenset({
    "g_try_malloc", "g_try_malloc0", "g_try_malloc_n", "g_try_malloc0_n", "g_try_new", "g_try_new0",
    "g_try_realloc", "g_try_realloc_n", "g_try_renew", "qemu_try_memalign", "qemu_try_blockalign",
    "qemu_try_blockalign0", "blk_try_blockalign", "bitmap_try_new", "malloc", "calloc", "realloc",
})
FREES = frozenset({"g_free", "free", "qemu_vfree", "g_clear_pointer"})
ABORTS = frozenset({"abort", "g_error", "assert", "g_assert", "g_assert_nonnull", "g_assert_not_reached"})
LOOPS = frozenset({"for_statement", "while_statement", "do_statement"})
_CONST_BOUND_RE = re.compile(r"^(?:\d+[uUlL]*|[A-Z][A-Z0-9_]*|ARRAY_SIZE\s*\(.*\)|sizeof\s*\(.*\))$")


@dataclass(frozen=True)
class PolicyFinding:
    offset: int  # of the allocator (or abort) name
    allocator: str
    policy: str
    function: str | None
    reason: str


def _text(node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _calls(root):
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "call_expression":
            yield n
        stack.extend(reversed(n.children))


def _stored_in(call, data: bytes):
    parent = call.parent
    if parent is not None and parent.type == "cast_expression":
        call, parent = parent, parent.parent
    if parent is None:
        return None
    if parent.type == "assignment_expression" and parent.child_by_field_name("right") == call:
        return _text(parent.child_by_field_name("left"), data)
    if parent.type == "init_declarator" and parent.child_by_field_name("value") == call:
        decl = parent.child_by_field_name("declarator")
        while decl is not None and decl.type == "pointer_declarator":
            decl = decl.child_by_field_name("declarator")
        return _text(decl, data) if decl is not None else None
    return None


def _statement_of(node):
    while node.parent is not None and node.parent.type not in ("compound_statement", "translation_unit"):
        node = node.parent
    return node


def _mentions(node, target: str, data: bytes) -> bool:
    return target in _norm(_text(node, data))


_CHECK_RE_CACHE: dict[str, re.Pattern] = {}


def _is_check(stmt, target: str, data: bytes) -> bool:
    """Does `stmt` test the pointer (if/while condition, assert, ternary, &&)?"""
    if stmt.type in ("if_statement", "while_statement", "switch_statement"):
        cond = stmt.child_by_field_name("condition")
        return cond is not None and _mentions(cond, target, data)
    text = _norm(_text(stmt, data))
    pat = _CHECK_RE_CACHE.get(target)
    if pat is None:
        t = re.escape(target)
        pat = re.compile(rf"(?:assert|g_assert|g_assert_nonnull)\({t}\)|!{t}(?![\w\[\-.])|{t}(?:==|!=)NULL|"
                         rf"NULL(?:==|!=){t}|{t}\?|{t}&&|\({t}\)\?")
        _CHECK_RE_CACHE[target] = pat
    return bool(pat.search(text))


def _use_in(stmt, target: str, data: bytes) -> str | None:
    """How `stmt` uses the pointer before a check, or None."""
    text = _norm(_text(stmt, data))
    t = re.escape(target)
    if re.search(rf"(?<![\w>.]){t}(?:->|\[)", text) or re.search(rf"\*{t}(?![\w\[])", text) and "=" in text:
        return "dereferenced"
    for call in _calls(stmt):
        fn = call.child_by_field_name("function")
        name = _text(fn, data) if fn is not None else ""
        if name in FREES:
            continue
        args = call.child_by_field_name("arguments")
        for arg in (args.named_children if args is not None else ()):
            if _norm(_text(arg, data)) == target:
                return f"passed to {name}()"
    return None


def _checked_allocations(parsed: ParsedFile):
    """(call, allocator name node, allocator, enclosing function name) of each checked allocation."""
    data = parsed.source.data
    for call, fn in calls_named(parsed, CHECKED_ALLOCATORS):
        name = _text(fn, data)
        func = enclosing_function(call)
        yield call, fn, name, function_name(func, data) if func is not None else None


def r1_use_before_check(parsed: ParsedFile) -> list[PolicyFinding]:
    data = parsed.source.data
    out: list[PolicyFinding] = []
    for call, fn, name, fname in _checked_allocations(parsed):
        parent = call.parent
        if parent is not None and parent.type == "argument_list":
            callee = _text(parent.parent.child_by_field_name("function"), data)
            if callee not in FREES:
                out.append(PolicyFinding(fn.start_byte, name, "R1", fname,
                                         f"the result of {name}() is passed to {callee}() unchecked: "
                                         "a failed allocation becomes a bad pointer"))
            continue
        target = _stored_in(call, data)
        if not target:
            continue
        target = _norm(target)
        stmt = _statement_of(call)
        sib = stmt.next_named_sibling
        while sib is not None:
            if sib.type == "comment":
                sib = sib.next_named_sibling
                continue
            if _is_check(sib, target, data):
                break
            use = _use_in(sib, target, data)
            if use:
                line, _ = parsed.source.line_col(sib.start_byte)
                out.append(PolicyFinding(fn.start_byte, name, "R1", fname,
                                         f"{target} from {name}() is {use} at line {line} before any NULL check"))
                break
            if sib.type in ("return_statement", "goto_statement", "break_statement", "continue_statement"):
                break
            if re.search(rf"(?<![\w>.]){re.escape(target)}=(?!=)", _norm(_text(sib, data))):
                break  # reassigned
            sib = sib.next_named_sibling
    return out


def r2_abort_on_failure(parsed: ParsedFile) -> list[PolicyFinding]:
    """abort()/g_error()/assert() right where an allocation's failure is handled."""
    data = parsed.source.data
    out: list[PolicyFinding] = []
    for call, fn, _, fname in _checked_allocations(parsed):
        target = _stored_in(call, data)
        if not target:
            continue
        target = _norm(target)
        sib = _statement_of(call).next_named_sibling
        while sib is not None and sib.type == "comment":
            sib = sib.next_named_sibling
        if sib is None:
            continue
        failure_branch = None
        if sib.type == "if_statement":
            cond = _norm(_text(sib.child_by_field_name("condition"), data))
            if cond in (f"(!{target})", f"({target}==NULL)", f"(NULL=={target})"):
                failure_branch = sib.child_by_field_name("consequence")
        elif _is_check(sib, target, data) and re.match(r"(g_)?assert", _norm(_text(sib, data))):
            failure_branch = sib
        if failure_branch is None:
            continue
        for c in _calls(failure_branch):
            cname = _text(c.child_by_field_name("function"), data)
            if cname in ABORTS:
                out.append(PolicyFinding(c.start_byte, cname, "R2", fname,
                                         f"failure of {_text(fn, data)}() for {target} ends in {cname}(): "
                                         "use error_report() and exit(EXIT_FAILURE), or recover"))
                break
    return out


def _loop_bounded(loop, data: bytes) -> bool:
    if loop.type == "for_statement":
        cond = loop.child_by_field_name("condition")
        if cond is None:
            return False
        if cond.type == "binary_expression":
            op = cond.child_by_field_name("operator")
            right = cond.child_by_field_name("right")
            if op is not None and op.type in ("<", "<=") and right is not None:
                return bool(_CONST_BOUND_RE.match(_text(right, data).strip()))
        return False
    return False


def r3_small_in_loops(parsed: ParsedFile, plans: list[SitePlan], site_nodes: dict[int, tree_sitter.Node]) -> list[PolicyFinding]:
    data = parsed.source.data
    out: list[PolicyFinding] = []
    for plan in plans:
        if plan.size.cls != "small" or plan.phase.cls == "startup":
            continue
        node = site_nodes.get(plan.offset)
        loop = node.parent if node is not None else None
        while loop is not None and loop.type not in LOOPS and loop.type != "function_definition":
            loop = loop.parent
        if loop is None or loop.type not in LOOPS or _loop_bounded(loop, data):
            continue
        head = loop.child_by_field_name("condition")
        head_text = " ".join(_text(head, data).split()) if head is not None else "its condition"
        out.append(PolicyFinding(plan.offset, plan.allocator, "R3", plan.function,
                                 f"small allocation ({plan.size.max_bytes} bytes) in a loop bounded by "
                                 f"{head_text[:60]}, not by a constant: many small allocations can add up"))
    return out


def r6_monitor_without_errp(plans: list[SitePlan], errp_functions: frozenset[str]) -> list[PolicyFinding]:
    out: list[PolicyFinding] = []
    for plan in plans:
        if "monitor" not in plan.phase.via or plan.size.cls == "small" or plan.convention.errp:
            continue
        chain = plan.phase.chain
        carriers = [f for f in chain if f in errp_functions]
        if carriers:
            how = f"errp stops at {carriers[-1]}() in the chain {' -> '.join(chain)}"
        else:
            how = f"no function in the chain {' -> '.join(chain)} takes Error **errp"
        out.append(PolicyFinding(plan.offset, plan.allocator, "R6", plan.function,
                                 f"reached from the monitor, but {plan.function or 'the function'} cannot report "
                                 f"the failure there: {how}"))
    return out
