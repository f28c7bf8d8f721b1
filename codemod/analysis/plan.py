"""What to do at one allocation site: the policy decision and the fix parts.

Combines size (R3), phase (R4/R5/R6) and the function's error convention
(R5/R7) into an action, a one-sentence reason, and the text a rule needs
to write the fix: the checked allocator, the call form, the NULL-check
condition (with the zero-size guard), the failure block, and for forms
that need one a temporary and its declaration.

Forms (SitePlan.form):
  assign   `E = alloc(...);`             check E after the statement
  decl     `T *x = alloc(...);`          check x after the declarations
  realloc  `E = g_realloc(E, n);`        through a temporary: the old block
                                          stays owned by E on failure
  return   `return alloc(...);`          `return g_try_*(...)` when NULL is
                                          already a failure value, else via
                                          a temporary
  arg      `f(..., alloc(...), ...);`     hoisted into a temporary
  chain    `a = p = alloc(...);`         `p = g_try_*(...);`, the check, then
                                          `a = p;`: a is left as it was on failure
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from codemod.analysis.errpath import ErrorConvention, convention, in_scope, is_auto_decl, local_declarations
from codemod.analysis.sites import Site
from codemod.analysis.size import classify_size
from codemod.cparse import ParsedFile, declarator_identifier, function_name, has_descendant
from codemod.findings import Action, PhaseInfo, SizeInfo
from codemod.rulesdata import load_allocators
from codemod.source import line_indent

MAX_COLUMNS = 80
UNKNOWN_PHASE = PhaseInfo("unknown", (), (), "no call chain from a known entry point")
_SIDE_EFFECT_TYPES = frozenset({"call_expression", "update_expression", "assignment_expression"})
REALLOCATORS = frozenset({"g_realloc", "g_realloc_n", "g_renew"})
# Checked allocators that never return NULL for a zero size (QEMU 7.2
# util/memalign.c and block/io.c round a zero size up).
NONNULL_ON_ZERO = frozenset({"qemu_try_memalign", "qemu_try_blockalign", "qemu_try_blockalign0",
                             "blk_try_blockalign"})
# Calls that return a value without side effects: safe to repeat in a guard.
PURE_CALLS = frozenset({"MIN", "MAX", "ROUND_UP", "DIV_ROUND_UP", "QEMU_ALIGN_UP", "QEMU_ALIGN_DOWN",
                        "BITS_TO_LONGS", "strlen", "pow2ceil", "ARRAY_SIZE", "BDRV_REQUEST_MAX_BYTES"})
# Allocators whose result, stored in a local, the function then owns.
_EXTRA_OWNING = {"g_strdup": "g_free", "g_strndup": "g_free", "g_strdup_printf": "g_free",
                 "g_strconcat": "g_free", "g_build_filename": "g_free", "g_path_get_basename": "g_free",
                 "g_path_get_dirname": "g_free",
                 "g_memdup": "g_free", "g_try_malloc": "g_free", "g_try_malloc0": "g_free",
                 "g_try_new": "g_free", "g_try_new0": "g_free", "g_try_malloc_n": "g_free",
                 "g_try_malloc0_n": "g_free", "bitmap_try_new": "g_free", "qemu_try_memalign": "qemu_vfree",
                 "qemu_try_blockalign": "qemu_vfree", "qemu_try_blockalign0": "qemu_vfree",
                 "blk_try_blockalign": "qemu_vfree"}
_FREES = frozenset({"g_free", "qemu_vfree", "g_clear_pointer", "bitmap_free"})
# Callees whose name says they may take ownership of a pointer argument.
_TAKES_OWNERSHIP_RE = re.compile(r"insert|add|append|prepend|push|take|steal|replace|attach|set_data|"
                                 r"queue|register|new|own|init_buf|set_ptr|external")


@dataclass(frozen=True)
class SitePlan:
    offset: int
    allocator: str
    checked: str | None
    function: str | None
    size: SizeInfo
    phase: PhaseInfo
    convention: ErrorConvention
    target: str | None  # the pointer the result is stored in (the temporary for realloc/arg/return)
    action: Action
    policy: str
    reason: str
    failure_block: str | None  # "{ ... }" at column 0, continuation lines relative
    error_path: str | None
    form: str | None = None  # assign | decl | realloc | return | arg (module doc)
    cond: str | None = None  # the `if (...)` condition: "!p" or "len && !p"
    temp: str | None = None  # temporary for realloc/return/arg forms
    temp_decl: str | None = None  # its declaration, e.g. "void *new_buf;"
    frees: tuple[str, ...] = ()  # statements freeing earlier allocations, in order
    exits: bool = False  # R2 --startup-exit: error_report + exit
    headers: tuple[str, ...] = field(default=())  # headers the failure block needs
    # The whole statement rewritten (lines after the first relative to its
    # indentation) when renaming in place would break QEMU style: it spans
    # lines, or the longer name pushes it past 80 columns.
    statement: str | None = None

    @property
    def needs_fix(self) -> bool:
        return self.action in (Action.REWRITE, Action.STUB)

    @property
    def fix(self) -> str | None:
        """Which rewrite applies (the rule sections of large-alloc.cocci):
        rename (only the allocator changes), check (assign/decl + NULL
        check), memdup, realloc, return, arg; None when nothing is written."""
        if not self.needs_fix:
            return None
        if self.failure_block is None:
            return "rename"
        if self.form == "chain":
            return "chain"
        if self.statement is not None:
            return "restate"
        if self.allocator == "g_memdup2":
            return "memdup"
        return "check" if self.form in ("assign", "decl") else self.form  # chain, realloc, return, arg


def _text(node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _args(call) -> list:
    args = call.child_by_field_name("arguments")
    return [c for c in args.named_children if c.type != "comment"] if args else []


def _has_side_effects(node, pure_calls: frozenset[str] = frozenset()) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in _SIDE_EFFECT_TYPES:
            if n.type != "call_expression":
                return True
            fn = n.child_by_field_name("function")
            if fn is None or fn.type != "identifier" or fn.text.decode() not in pure_calls:
                return True
        stack.extend(n.children)
    return False


def _existing_check(site: Site, target: str, form: str, data: bytes) -> str | None:
    """The condition of an `if (!p)` / `if (p == NULL)` right after the
    statement (and the declarations after it), if the code has one."""
    stmt = _statement_of(site.call)
    nxt = stmt.next_named_sibling
    while nxt is not None and (nxt.type == "comment" or (form == "decl" and nxt.type == "declaration")):
        nxt = nxt.next_named_sibling
    if nxt is None or nxt.type != "if_statement":
        return None
    cond = nxt.child_by_field_name("condition")
    text = " ".join(_text(cond, data).strip("() \n").split()) if cond is not None else ""
    t = re.escape(target)
    if re.fullmatch(rf"!\s*{t}|{t}\s*==\s*NULL|NULL\s*==\s*{t}|{t}\s*==\s*0", text):
        return text
    return None


def _col(data: bytes, offset: int) -> int:
    return len(data[data.rfind(b"\n", 0, offset) + 1 : offset].expandtabs(8))


def _restate(site: Site, stmt, data: bytes, checked: str | None, form: str | None) -> tuple[str | None, str]:
    """The statement with the allocator renamed, continuation lines kept
    aligned with the call's '(' and wrapped after '=' when the first line
    gets too long; None (and why) when it is not needed or not possible."""
    if stmt is None or checked is None or form not in ("assign", "decl"):
        return None, "allocfix cannot restate it"
    multiline = b"\n" in data[stmt.start_byte : stmt.end_byte]
    line_end = data.find(b"\n", stmt.end_byte)
    line_end = len(data) if line_end < 0 else line_end
    first_end = data.find(b"\n", stmt.start_byte)
    first_line = data[data.rfind(b"\n", 0, stmt.start_byte) + 1 : first_end if first_end >= 0 else len(data)]
    args_node = site.call.child_by_field_name("arguments")
    gap = data[site.name_node.end_byte : args_node.start_byte] if args_node is not None else b""
    # `g_malloc (n)`: checkpatch rejects the space on the line we touch.
    delta = len(checked) - (site.name_node.end_byte - site.name_node.start_byte) - len(gap)
    too_long = len(first_line.expandtabs(8)) + delta > MAX_COLUMNS and site.call.start_byte < first_end
    if gap.strip():
        return None, "a comment sits between the allocator and its arguments"
    if not multiline and not too_long and not gap:
        return None, ""
    if data[stmt.end_byte : line_end].strip():
        return None, "a comment follows it on its last line"
    if form == "decl" and stmt.next_named_sibling is not None and stmt.next_named_sibling.type == "declaration":
        return None, "declarations follow it"
    base = _col(data, data.rfind(b"\n", 0, stmt.start_byte) + 1 + len(line_indent(data, stmt.start_byte)))
    paren_old = _col(data, site.name_node.end_byte)
    text = (data[stmt.start_byte : site.name_node.start_byte] + checked.encode()
            + data[site.name_node.end_byte + len(gap) : stmt.end_byte]).decode("utf-8", "replace")
    lines = text.split("\n")
    lines = [lines[0]] + [l.expandtabs(8) for l in lines[1:]]
    # Where the call's '(' ends up: after the rename, or on a new line after '='.
    head = lines[0]
    call_col = _col(data, site.call.start_byte) if site.call.start_byte < first_end else None
    paren_new = paren_old + delta
    if too_long and "=" in head and call_col is not None:
        eq = head.index("=")
        after = head[eq + 1 :].lstrip()
        lines[0:1] = [head[: eq + 1].rstrip(), " " * (base + 4) + after]
        paren_new = base + 4 + len(checked)
    shift = paren_new - paren_old
    out = [lines[0]]
    for l in lines[1:]:
        ind = len(l) - len(l.lstrip(" "))
        if ind > paren_old - 1 and shift and l.strip():
            ind += shift
        elif l.strip() and ind >= base:
            pass
        out.append(" " * max(ind - base, 0) + l.lstrip(" ") if l.strip() else "")
    if any(base + len(l) > MAX_COLUMNS for l in out) and not multiline:
        return None, "it would still exceed 80 columns"
    return "\n".join(out), ""


def _renamed_lines(stmt, data: bytes, renames: list[tuple[int, int, str]],
                   whole_lines: bool = True) -> list[bytes] | None:
    """The statement's lines after the renames (whole lines, or up to its
    end), continuation lines realigned as the rewrite realigns them; None
    when a realigned line lies outside the statement."""
    from codemod.edits import Edit
    from codemod.transform import realign_continuations

    edits = [Edit(a, b, name.encode(), "") for a, b, name in renames]
    scripted = {id(e) for e in edits}
    edits += realign_continuations(data, edits, scripted, "", "")
    start = data.rfind(b"\n", 0, stmt.start_byte) + 1
    end = data.find(b"\n", stmt.end_byte)
    end = len(data) if end < 0 else end
    if not whole_lines:
        end = stmt.end_byte
    text = bytearray(data[start:end])
    for e in sorted(edits, key=lambda e: e.start, reverse=True):
        if not (start <= e.start <= e.end <= end):
            return None
        text[e.start - start : e.end - start] = e.text
    return bytes(text).split(b"\n")


def _in_place_problem(site: Site, stmt, data: bytes, renames: list[tuple[int, int, str]]) -> str:
    """Why renaming a statement in place would not read like QEMU code (""
    when it would): the renamed lines, with continuation lines realigned as
    the rewrite realigns them, must fit in 80 columns."""
    args_node = site.call.child_by_field_name("arguments")
    if args_node is None or args_node.start_byte != site.name_node.end_byte:
        return "something stands between the allocator and its '('"
    lines = _renamed_lines(stmt, data, renames)
    if lines is None:
        return "a continuation line it would realign lies outside the statement"
    if any(len(line.expandtabs(8)) > MAX_COLUMNS for line in lines):
        return "renamed where it stands it would not fit in 80 columns: restate it by hand"
    return ""


def _chain_statement(site: Site, stmt, data: bytes, checked: str) -> str | None:
    """`p = g_try_*(...);` for a chain `a = p = alloc(...);`, as the rule
    writes it in place of the statement (lines after the first relative to
    its indentation): on one line when it now fits, else with its
    continuation lines realigned; None when it would not fit in 80 columns."""
    inner = site.call.parent
    outer = inner.parent
    renames = [(outer.start_byte, inner.start_byte, ""),
               (site.name_node.start_byte, site.name_node.end_byte, checked)]
    if data[data.rfind(b"\n", 0, stmt.start_byte) + 1 : stmt.start_byte].strip():
        return None  # not at the start of its line (`case 1: a = p = ...`)
    lines = _renamed_lines(stmt, data, renames, whole_lines=False)
    if lines is None:
        return None
    base = len(line_indent(data, stmt.start_byte).expandtabs(8))
    joined = lines[0].strip()
    if any(b"//" in line for line in lines):
        joined += b" " * MAX_COLUMNS  # a line comment: keep the lines
    for line in lines[1:]:
        part = line.strip()
        joined += part if joined.endswith((b"(", b"[")) else b" " + part
    if base + len(joined) <= MAX_COLUMNS:
        return joined.decode("utf-8", "replace")
    if any(len(line.expandtabs(8)) > MAX_COLUMNS for line in lines):
        return None
    out = [lines[0].strip()] + [line.expandtabs(8)[base:] for line in lines[1:]]
    return "\n".join(l.decode("utf-8", "replace") for l in out)


def _has_call(node) -> bool:
    return has_descendant(node, "call_expression")


def _in_block(stmt) -> bool:
    """A statement we can put another one after (not the body of a brace-less if)."""
    p = stmt.parent
    return p is not None and p.type in ("compound_statement", "case_statement", "labeled_statement",
                                        "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif")


def _reads_through(text: str, name: str) -> bool:
    """Does this code dereference `name` (`name->f`, `name[i]`, `*name`)?
    Copying the pointer, taking a member's address (`&name->f`) and
    `sizeof(*name)` read nothing through it."""
    for m in re.finditer(rf"(?<![\w.>]){re.escape(name)}\b", text):
        before = text[: m.start()].rstrip()
        after = text[m.end() :].lstrip()
        if re.search(r"\bsizeof\s*\(?\s*\*?$", before):
            continue
        if after.startswith(("->", "[")) and not before.endswith("&"):
            return True
        if before.endswith("*") and not re.search(r"[\w)\]]\s*\*$", before):
            return True
    return False


def _chain_form(site: Site, inner, outer, data: bytes) -> tuple[str | None, str | None, object, str]:
    """`a = p = alloc(...);`: p is checked, and a assigned only once p is
    known good (`p = g_try_*(...); if (!p) ...; a = p;`), so on failure a
    keeps what it held, as if the statement had not run."""
    stmt = outer.parent
    if stmt is None or stmt.type != "expression_statement" or not _in_block(stmt):
        return None, None, None, "the chained assignment is not a statement of its own in a block"
    if any(op is not None and op.type != "=" for op in (inner.child_by_field_name("operator"),
                                                          outer.child_by_field_name("operator"))):
        return None, None, None, "compound assignment in a chain"
    left = inner.child_by_field_name("left")
    outer_left = outer.child_by_field_name("left")
    name = _text(left, data)
    if site.allocator.name in REALLOCATORS or site.allocator.name == "g_memdup2":
        return None, None, None, f"{site.allocator.name} in a chained assignment: split it by hand"
    if _has_side_effects(outer_left) or _has_side_effects(left):
        return None, None, None, "a target of the chained assignment has side effects"
    if re.search(rf"(?<![\w.>]){re.escape(name)}\b", _text(outer_left, data)):
        return None, None, None, f"the outer target reads '{name}', which the chain assigns"
    return "chain", name, left, ""


def _form(site: Site, data: bytes) -> tuple[str | None, str | None, object, str]:
    """(form, target text, target node, why not) for the site's call."""
    call = site.call
    parent = call.parent
    if parent is None:
        return None, None, None, "not in a statement"
    if parent.type == "assignment_expression" and parent.child_by_field_name("right") == call:
        op = parent.child_by_field_name("operator")
        if op is not None and op.type != "=":
            return None, None, None, "compound assignment"
        stmt = parent.parent
        left = parent.child_by_field_name("left")
        if stmt is not None and stmt.type == "assignment_expression" and stmt.child_by_field_name("right") == parent:
            return _chain_form(site, parent, stmt, data)
        if stmt is None or stmt.type != "expression_statement" or not _in_block(stmt):
            return None, None, None, "the assignment is not a statement of its own in a block"
        return "assign", _text(left, data), left, ""
    if parent.type == "init_declarator" and parent.child_by_field_name("value") == call:
        decl = parent.child_by_field_name("declarator")
        while decl is not None and decl.type == "pointer_declarator":
            decl = decl.child_by_field_name("declarator")
        stmt = parent.parent
        if decl is None or decl.type != "identifier" or stmt is None or stmt.type != "declaration":
            return None, None, None, "unusual declaration"
        if stmt.parent is None or stmt.parent.type != "compound_statement":
            return None, None, None, "the declaration is not in a block"
        if len(stmt.children_by_field_name("declarator")) != 1:
            return None, None, None, "the declaration declares several variables"
        name = _text(decl, data)
        sib = stmt.next_named_sibling
        while sib is not None and sib.type in ("declaration", "comment"):
            if sib.type == "declaration" and _has_call(sib):
                return None, None, None, ("declarations with calls follow it, so the check would sit "
                                          "among declarations: split the declaration by hand")
            if sib.type == "declaration" and _reads_through(_text(sib, data), name):
                # The check goes after the declarations: one reading
                # through the pointer would run before it.
                return None, None, None, (f"a declaration after it reads through '{name}' before it could be "
                                          "checked: move that initialization below the check by hand")
            sib = sib.next_named_sibling
        return "decl", name, decl, ""
    if parent.type == "return_statement":
        if not _in_block(parent):
            return None, None, None, "the return is not in a block"
        return "return", None, None, ""
    if parent.type == "argument_list":
        outer = parent.parent
        stmt = outer.parent if outer is not None else None
        if stmt is None or stmt.type != "expression_statement" or not _in_block(stmt):
            return None, None, None, "the call it is passed to is part of a larger expression"
        callee = outer.child_by_field_name("function")
        others = [a for a in _args(outer) if a != call]
        if callee is None or callee.type != "identifier" or any(_has_side_effects(a) for a in others):
            return None, None, None, "the other arguments have side effects, so it cannot be hoisted"
        return "arg", None, None, ""
    return None, None, None, "the result is not stored in a variable or field allocfix can check"


# --- the zero-size guard ----------------------------------------------------

def _positive(node, data: bytes) -> bool:
    """Is this size term certainly > 0 (a constant, sizeof, a constant macro)?"""
    t = node.type
    text = _text(node, data)
    if t == "number_literal":
        try:
            return int(text.rstrip("uUlL"), 0) > 0
        except ValueError:
            return False
    if t == "sizeof_expression":
        return True
    if t == "parenthesized_expression" and node.named_child_count == 1:
        return _positive(node.named_children[0], data)
    if t == "identifier":
        return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", text))  # a constant macro
    if _constant_only(node, data):
        return True  # a constant size: nobody allocates a constant 0 bytes
    if t == "binary_expression":
        op = node.child_by_field_name("operator").type
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if op in ("*", "<<"):
            return _positive(left, data) and _positive(right, data)
        if op == "+":
            return _positive(left, data) or _positive(right, data)
        return False
    if t == "call_expression":
        fn = node.child_by_field_name("function")
        name = _text(fn, data) if fn is not None else ""
        args = _args(node)
        if name == "MAX":
            return any(_positive(a, data) for a in args)
        if name in ("MIN", "ROUND_UP", "QEMU_ALIGN_UP", "DIV_ROUND_UP", "BITS_TO_LONGS"):
            return bool(args) and _positive(args[0], data) and all(_positive(a, data) for a in args)
    return False


def _constant_only(node, data: bytes) -> bool:
    """Built from numbers, constant macros and sizeof only."""
    if node.type == "sizeof_expression":
        return True
    if node.type == "number_literal":
        return True
    if node.type == "identifier":
        return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", _text(node, data)))
    if node.type in ("binary_expression", "parenthesized_expression"):
        kids = [c for c in node.named_children if c.type != "comment"]
        return bool(kids) and all(_constant_only(c, data) for c in kids)
    return False


def _factors(node):
    """The factors whose product is zero exactly when the size is:
    `n * sizeof(T)` -> n, sizeof(T); `n << SHIFT` -> n (a shift in a
    condition is also what -Wint-in-bool-context rejects)."""
    if node.type == "binary_expression":
        op = node.child_by_field_name("operator").type
        if op == "*":
            return _factors(node.child_by_field_name("left")) + _factors(node.child_by_field_name("right"))
        if op == "<<":
            return _factors(node.child_by_field_name("left"))
    if node.type == "parenthesized_expression" and node.named_child_count == 1:
        inner = node.named_children[0]
        if inner.type == "binary_expression" and inner.child_by_field_name("operator").type in ("*", "<<"):
            return _factors(inner)
    return [node]


def _size_terms(site: Site) -> list:
    args = _args(site.call)
    how = site.allocator.size
    pick = {"arg0": [0], "n*size": [0, 1], "type*n": [1], "renew": [2], "realloc": [1],
            "realloc_n": [1, 2], "memdup": [1], "bits": [0], "align,size": [1], "bs,size": [1]}.get(how, [])
    return [args[i] for i in pick if i < len(args)]


def _proven_nonzero(site: Site, data: bytes, term: str) -> bool:
    """An earlier `if (!x) { return/goto }`, `if (x == 0) ...` or
    `assert(x)` / `assert(x > 0)` in the function, with no assignment to x
    between it and the site."""
    body = site.function.child_by_field_name("body")
    before = data[body.start_byte : site.call.start_byte]
    t = re.escape(term.encode())
    checks = [rb"\bif\s*\(\s*(?:!\s*" + t + rb"|" + t + rb"\s*==\s*0)\s*\)\s*\{?\s*(?:return\b|goto\b)",
              rb"\b(?:g_)?assert\s*\(\s*" + t + rb"\s*(?:>\s*0|!=\s*0)?\s*\)"]
    last = max((m.end() for c in checks for m in re.finditer(c, before)), default=-1)
    if last < 0:
        return False
    return not re.search(rb"(?<![\w>.])" + t + rb"\s*(?:[-+*/|&]?=(?!=)|\+\+|--)", before[last:])


def zero_guard(site: Site, data: bytes, checked: str) -> tuple[list[str] | None, str]:
    """Terms that must be non-zero for NULL to mean failure; None when a
    term cannot be repeated safely (side effects)."""
    if checked in NONNULL_ON_ZERO:
        return [], ""
    terms = []
    for t in _size_terms(site):
        for f in _factors(t):
            if _positive(f, data):
                continue
            if _has_side_effects(f, PURE_CALLS):
                return None, f"the size '{_text(f, data)}' has side effects and cannot be tested for zero"
            text = _text(f, data)
            if "\n" in text:
                text = " ".join(text.split())  # a size written over lines: one line in the condition
            if site.function is not None and _proven_nonzero(site, data, text):
                continue
            if f.type in ("conditional_expression", "comma_expression", "assignment_expression") or (
                    f.type == "binary_expression" and f.child_by_field_name("operator").type in ("||", "&&", "?")):
                text = f"({text})"
            if text not in terms:
                terms.append(text)
    return terms, ""


# --- earlier allocations still owned ------------------------------------------

def _dominates(stmt, site_node) -> bool:
    """stmt is a direct child of a block that encloses the site."""
    block = stmt.parent
    if block is None or block.type != "compound_statement":
        return False
    n = site_node
    while n is not None:
        if n == block:
            return True
        n = n.parent
    return False


def _in_exiting_branch(node, site_node) -> bool:
    """node is in a block that does not enclose the site and ends by leaving
    (return/goto): nothing in it happens on the path to the site."""
    n = node
    while n is not None:
        if n.type == "compound_statement":
            m = site_node
            while m is not None and m != n:
                m = m.parent
            if m == n:
                return False
            last = [c for c in n.named_children if c.type != "comment"]
            if last and last[-1].type in ("return_statement", "goto_statement"):
                return True
        n = n.parent
    return False


def _errp_maybe_set(site: Site, data: bytes, errp: str) -> str | None:
    """A call before the site that is handed errp and whose failure is not
    checked (a bare `f(..., errp);` in a block enclosing the site): errp
    may already be set when the allocation fails. Returns the callee."""
    node = site.call
    while node is not None and node != site.function:
        if node.type == "compound_statement":
            for child in node.named_children:
                if child.start_byte >= site.call.start_byte:
                    break
                if child.type != "expression_statement" or not child.named_child_count:
                    continue
                e = child.named_children[0]
                if e.type != "call_expression":
                    continue
                args = [_text(a, data).strip() for a in _args(e)]
                if errp in args:
                    callee = _text(e.child_by_field_name("function"), data)
                    if callee.startswith(("error_", "warn_", "trace_")):
                        continue
                    rest = data[child.end_byte : site.call.start_byte]
                    # ERRP_GUARD style: `if (*errp) { return; }` afterwards.
                    if re.search(rb"if\s*\(\s*\*\s*" + re.escape(errp.encode()) + rb"\s*\)", rest):
                        continue
                    return callee
        node = node.parent
    return None


def _statement_of(node):
    while node is not None and node.type not in ("expression_statement", "declaration", "return_statement"):
        node = node.parent
    return node


def owned_allocations(site: Site, data: bytes, skip: set[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Locals allocated earlier in the function and still owned at the site:
    ([(name, free function)] in allocation order, [names we cannot be sure of])."""
    fn = site.function
    body = fn.child_by_field_name("body")
    owning = {a.name: a.free for a in load_allocators().values()}
    owning.update(_EXTRA_OWNING)
    owning.pop("g_realloc", None)
    locals_ = local_declarations(fn, data)
    state: dict[str, tuple[str, str]] = {}  # name -> (owned|freed|unsure, free fn)
    order: list[str] = []
    stack = [body]
    events = []
    while stack:
        n = stack.pop()
        if n.start_byte >= site.offset:
            continue
        stack.extend(reversed(n.children))
        events.append(n)
    events.sort(key=lambda n: n.start_byte)
    for n in events:
        if n.type in ("call_expression", "assignment_expression", "init_declarator") \
                and _in_exiting_branch(n, site.call):
            continue
        if n.type == "call_expression":
            fnode = n.child_by_field_name("function")
            name = _text(fnode, data) if fnode is not None else ""
            args = _args(n)
            if name in owning and n.end_byte <= site.offset:
                var = _alloc_target(n, data)
                if var is None or var in skip or var not in locals_:
                    continue
                decl = locals_[var]
                if is_auto_decl(decl, data):
                    continue
                stmt = _statement_of(n)
                if stmt is not None and _dominates(stmt, site.call):
                    state[var] = ("owned", owning[name])
                elif _init_null(decl, var, data):
                    state[var] = ("owned", owning[name]) if state.get(var, ("", ""))[0] != "unsure" else state[var]
                else:
                    state[var] = ("unsure", owning[name])
                if var not in order:
                    order.append(var)
                continue
            for i, a in enumerate(args):
                var = _text(a, data).lstrip("&").strip()
                if var not in state or state[var][0] != "owned":
                    continue
                if name in _FREES:
                    stmt = _statement_of(n)
                    dom = stmt is not None and _dominates(stmt, site.call)
                    state[var] = ("freed" if dom else "unsure", state[var][1])
                elif a.type == "pointer_expression" or _TAKES_OWNERSHIP_RE.search(name.lower()) \
                        or name == "g_steal_pointer":
                    state[var] = ("unsure", state[var][1])
        elif n.type == "assignment_expression":
            right = n.child_by_field_name("right")
            left = n.child_by_field_name("left")
            rtext = _text(right, data) if right is not None else ""
            ltext = _text(left, data) if left is not None else ""
            if rtext in state and state[rtext][0] == "owned":
                state[rtext] = ("given", state[rtext][1])  # stored elsewhere: no longer ours to free
            if ltext in state and right is not None and right.type != "call_expression":
                if rtext == "NULL" and state[ltext][0] in ("freed", "unsure"):
                    continue
                state[ltext] = ("given" if rtext == "NULL" else "unsure", state[ltext][1])
        elif n.type == "init_declarator":
            value = n.child_by_field_name("value")
            if value is not None and _text(value, data) in state and state[_text(value, data)][0] == "owned":
                state[_text(value, data)] = ("given", state[_text(value, data)][1])
    owned = [(v, state[v][1]) for v in order if state[v][0] == "owned"]
    unsure = [v for v in order if state[v][0] == "unsure"]
    return owned, unsure


def _alloc_target(call, data: bytes) -> str | None:
    p = call.parent
    if p is not None and p.type == "assignment_expression" and p.child_by_field_name("right") == call:
        left = p.child_by_field_name("left")
        return _text(left, data) if left is not None and left.type == "identifier" else None
    if p is not None and p.type == "init_declarator" and p.child_by_field_name("value") == call:
        d = p.child_by_field_name("declarator")
        while d is not None and d.type != "identifier":
            d = d.child_by_field_name("declarator")
        return _text(d, data) if d is not None else None
    return None


def _init_null(decl, name: str, data: bytes) -> bool:
    for d in decl.children_by_field_name("declarator"):
        if d.type == "init_declarator":
            inner = declarator_identifier(d.child_by_field_name("declarator"))
            value = d.child_by_field_name("value")
            if inner is not None and _text(inner, data) == name and value is not None:
                return _text(value, data) in ("NULL", "0")
    return False


# --- text -----------------------------------------------------------------------

def _what(target: str) -> str:
    """A readable name for the object in messages: `s->rx_fifo` -> `rx_fifo`."""
    if " " in target:
        return target
    last = target.replace("->", ".").split(".")[-1]
    return last.strip("*&() ").split("[")[0] or target


def _pointer_to(type_text: str) -> str:
    """`T *` for a type as written: `RAMBlock*` -> `RAMBlock **`."""
    t = " ".join(type_text.split())
    stars = len(t) - len(t.rstrip("* "))
    base = t.rstrip("* ")
    return f"{base} {'*' * (t[len(base):].count('*') + 1)}" if stars else f"{t} *"


def _fresh_name(fn, data: bytes, base: str) -> str:
    text = data[fn.start_byte : fn.end_byte]
    name = base
    k = 1
    while re.search(rb"\b" + re.escape(name.encode()) + rb"\b", text):
        name = f"{base}{k}"
        k += 1
    return name


def _call(name: str, args: list[str], indent: int) -> list[str]:
    """`name(a, b);` wrapped at 80 columns with continuations aligned after '('."""
    one = f"{name}({', '.join(args)});"
    if indent + len(one) <= MAX_COLUMNS:
        return [one]
    lines = [f"{name}({args[0]},"]
    pad = " " * (len(name) + 1)
    for i, a in enumerate(args[1:], 1):
        lines.append(pad + a + (");" if i == len(args) - 1 else ","))
    return lines


def _comment(text: str, indent: int) -> list[str]:
    """A comment at column `indent`, QEMU block style when it needs lines."""
    one = f"/* allocfix: {text} */"
    if indent + len(one) <= MAX_COLUMNS:
        return [one]
    words = f"allocfix: {text}".split()
    lines, cur = ["/*"], " *"
    for w in words:
        if indent + len(cur) + 1 + len(w) > MAX_COLUMNS and cur != " *":
            lines.append(cur)
            cur = " *"
        cur += " " + w
    lines += [cur, " */"]
    return lines


def failure_block(conv: ErrorConvention, target: str, indent_width: int, *, frees: tuple[str, ...] = (),
                  exits: bool = False, stub_note: str | None = None,
                  monitor_report: bool = False) -> tuple[str, str] | None:
    """The `{ ... }` after `if (...)` and a short summary, or None when unknown.
    monitor_report: an HMP handler, where error_report prints on the monitor (R6)."""
    inner = indent_width + 4
    lines: list[str] = []
    summary: list[str] = []
    what = _what(target)
    if monitor_report:
        lines += _call("error_report", [f'"Could not allocate {what}"'], inner)
        summary.append("error_report")
    if exits:
        lines += _call("error_report", [f'"Could not allocate {what}"'], inner)
        lines.append("exit(EXIT_FAILURE);")
        summary += ["error_report", "exit(EXIT_FAILURE)"]
    else:
        if conv.failure_value is None:
            return None
        if conv.errp and not conv.errp_at_label:
            lines += _call("error_setg", [conv.error_dest or conv.errp, f'"Could not allocate {what}"'], inner)
            summary.append(f"error_setg({conv.error_dest or conv.errp})")
        for f in frees:
            lines.append(f)
            summary.append(f.rstrip(";"))
        if not conv.label:
            # What the function's other exits release (a lock, a handle),
            # after the frees as at those exits.
            for callee, args in conv.release:
                lines += _call(callee, list(args), inner) if args else [f"{callee}();"]
                summary.append(f"{callee}({', '.join(args)})")
            for var, value in conv.sets:
                lines.append(f"{var} = {value};")
                summary.append(f"{var} = {value}")
        if stub_note:
            lines += _comment(stub_note, inner)
        if conv.label:
            if conv.message_var:
                # The label reports this message (through errp when it sets it).
                lines.append(f'{conv.message_var} = "Could not allocate {what}";')
                summary.append(f'{conv.message_var} = "Could not allocate {what}"')
            for var, value in conv.presets:
                lines.append(f"{var} = {value};")
                summary.append(f"{var} = {value}")
            if conv.status_var:
                lines.append(f"{conv.status_var} = {conv.failure_value};")
                summary.append(f"{conv.status_var} = {conv.failure_value}")
            lines.append(f"goto {conv.label};")
            summary.append(f"goto {conv.label}")
        elif conv.break_status:
            lines += [f"{conv.break_status} = {conv.failure_value};", "break;"]
            summary += [f"{conv.break_status} = {conv.failure_value}", "break"]
        else:
            ret = f"return {conv.failure_value};" if conv.failure_value else "return;"
            lines.append(ret)
            summary.append(ret.rstrip(";"))
        if stub_note:
            summary[-1] += " (stub)"
    body = "\n".join("    " + line for line in lines)
    return "{\n" + body + "\n}", "; ".join(summary)


def _condition(guard: list[str], target: str, indent: int) -> str:
    cond = " && ".join(guard + [f"!{target}"])
    if indent + len("if () {") + len(cond) <= MAX_COLUMNS:
        return cond
    # Break after each && with the continuation aligned after `if (`.
    return " &&\n    ".join(guard + [f"!{target}"])


def plan_site(site: Site, parsed: ParsedFile, phase: PhaseInfo | None = None, *, limit: int = 4096,
              size_facts=None, startup_exit: bool = False) -> SitePlan:
    """The plan for one site. startup_exit (R2, `--startup-exit`): large
    allocations that run only at startup get error_report + exit instead
    of being left to abort."""
    data = parsed.source.data
    fn = site.function
    fn_name = function_name(fn, data) if fn is not None else None
    size = classify_size(site, parsed, limit=limit, facts=size_facts)
    phase = phase or UNKNOWN_PHASE
    alloc = site.allocator
    form, target, target_node, why_form = _form(site, data)
    realloc = alloc.name in REALLOCATORS
    if realloc and form == "assign":
        form = "realloc"
    assigned = {target} if target else set()
    conv = convention(fn, data, fn_name, site.offset, assigned_at_site=assigned)
    common = dict(offset=site.offset, allocator=alloc.name, checked=alloc.checked, function=fn_name,
                  size=size, phase=phase, convention=conv, target=target)

    def report(why: str, policy: str = "R5") -> SitePlan:
        return SitePlan(**common, action=Action.REPORT, policy=policy, reason=why, failure_block=None,
                        error_path=None, form=form)

    if size.cls == "small":
        return SitePlan(**common, action=Action.NONE, policy="R3",
                        reason=f"small allocation ({size.max_bytes} bytes <= {limit}): may exit on failure",
                        failure_block=None, error_path=None, form=form)
    monitor = "monitor" in phase.via or (fn_name or "").startswith(("qmp_", "hmp_"))
    exits = False
    if phase.cls == "startup":
        if not startup_exit or monitor:
            return SitePlan(**common, action=Action.NONE, policy="R4",
                            reason="runs only during startup, where exiting on failure is allowed",
                            failure_block=None, error_path=None, form=form)
        exits = True
    policy = "R2" if exits else ("R6" if monitor else "R5")
    why = f"{size.cls} allocation ({size.evidence})"
    if exits:
        why += " at startup: exit with a message instead of aborting (--startup-exit)"
    elif phase.cls in ("runtime", "both"):
        why += f" reachable after startup via {', '.join(phase.via) or 'a runtime path'}"
    else:
        why += " in code not proven to run only at startup"
    if fn is None:
        return report(why + "; not inside a function", policy)
    if fn.has_error:
        return report(why + f"; {fn_name or 'the function'} did not parse cleanly, so it is not rewritten", policy)
    if alloc.checked is None:
        return report(why + f"; {alloc.name} has no checked counterpart", policy)
    if form is None:
        return report(why + f"; {why_form}", policy)
    if realloc and form != "realloc":
        return report(why + f"; {alloc.name} is only rewritten as `p = {alloc.name}(p, ...);`", policy)
    args = _args(site.call)
    if form == "realloc":
        old = args[1] if alloc.name == "g_renew" and len(args) > 1 else (args[0] if args else None)
        if old is not None and _text(old, data) != target and target_node is not None \
                and target_node.type == "identifier" and target in local_declarations(fn, data) \
                and not re.match(rf"\(*{re.escape(target)}\s*(->|\.|\[)", _text(old, data)):
            # `new = g_realloc(old, n)` into a local: already a temporary,
            # the old block stays with its owner on failure.
            form = "assign"
            assigned = {target}
        elif old is None or _text(old, data) != target:
            return report(why + f"; the old block is not '{target}', so who owns it on failure is unclear", policy)
    if target_node is not None and _has_side_effects(target_node):
        return report(why + f"; the target '{target}' has side effects and cannot be re-evaluated", policy)
    if alloc.name == "g_memdup2" and (form not in ("assign", "decl")
                                      or any(_has_side_effects(a, PURE_CALLS) for a in args)):
        return report(why + "; g_memdup2 is rewritten only when stored, with arguments free of side effects",
                      policy)
    stmt = _statement_of(site.call)
    if stmt is not None and b"\t" in line_indent(data, stmt.start_byte):
        return report(why + "; the code is indented with tabs, which checkpatch rejects on every line a fix "
                      "touches: convert the function to spaces first", policy)
    restated, why_not = _restate(site, stmt, data, alloc.checked, form)
    # The engine indents lines added after a statement like its last line,
    # too deep after a continuation line: such statements are restated
    # whole, or reported.
    multiline = stmt is not None and b"\n" in data[stmt.start_byte : stmt.end_byte] and restated is None
    guard, why_guard = zero_guard(site, data, alloc.checked)
    if guard is None:
        return report(why + f"; {why_guard}", policy)
    # Earlier allocations the failure path must free (not needed when exiting
    # or when the cleanup label takes care of the function's state).
    frees: tuple[str, ...] = ()
    unsure: list[str] = []
    if not exits:
        # A failed realloc leaves the old block with its owner: a local the
        # function allocated is freed on the way out like any other.
        skip = set(assigned) - ({target} if form == "realloc" else set())
        owned, unsure = owned_allocations(site, data, skip)
        # A local declared in a block that does not enclose the site belongs
        # to another path (and could not be named here).
        unsure = [v for v in unsure if in_scope(fn, data, v, site.offset)]
        label_text = ""
        if conv.label:
            body = fn.child_by_field_name("body")
            m = re.search(rb"\b" + re.escape(conv.label.encode()) + rb"\s*:", data[site.offset : body.end_byte])
            label_text = data[site.offset + m.start() : body.end_byte].decode("utf-8", "replace") if m else ""
            owned = [(v, f) for v, f in owned if not re.search(rf"\b{re.escape(v)}\b", label_text)]
            unsure = [v for v in unsure if not re.search(rf"\b{re.escape(v)}\b", label_text)]
        frees = tuple(f"{free}({v});" for v, free in reversed(owned))
        # A release reading an object this block frees tears down something
        # still under construction (its fields set after the site): which
        # steps apply, and in what order, is for a human.
        if conv.release and any(re.search(rf"\b{re.escape(v)}\b", a) for v, _ in owned
                                for _, args in conv.release for a in args):
            conv = replace(conv, undo=tuple(f"{c}({', '.join(a)});" for c, a in conv.release), release=(),
                           evidence=conv.evidence + "; its releases read an object allocated in this function")
            common["convention"] = conv
    # The pointer checked after the call, and for some forms a temporary.
    temp = temp_decl = None
    direct_return = False
    if form == "realloc":
        temp = _fresh_name(fn, data, f"new_{_what(target)}")
        ttype = _pointer_to(_text(args[0], data)) if alloc.name == "g_renew" else "void *"
        temp_decl = f"{ttype}{temp};"
    elif form == "return":
        if conv.failure_value == "NULL" and conv.confident and not conv.errp and not frees and not unsure \
                and not conv.label and not conv.release and not conv.sets and not conv.break_status and not exits:
            direct_return = True
        else:
            temp = _fresh_name(fn, data, "p")
            rtype = conv.return_type if conv.is_pointer else "void *"
            temp_decl = f"{rtype}{temp};"
    elif form == "arg":
        temp = _fresh_name(fn, data, "buf")
        temp_decl = f"void *{temp};"
    checked_ptr = temp or target
    errp_risk = conv.errp is not None and not exits and _errp_maybe_set(site, data, conv.errp)
    # HMP handlers report on the monitor: error_report prints there (R6).
    hmp = (fn_name or "").startswith("hmp_") and conv.failure_value == "" and not conv.errp and \
        re.search(rb"\bMonitor\s*\*\s*\w+", data[fn.start_byte : fn.child_by_field_name("body").start_byte]) \
        is not None
    stub_notes = []
    if not exits:
        if errp_risk:
            stub_notes.append(f"{errp_risk} may already have set {conv.errp}: error_setg must not set it twice")
        if unsure:
            stub_notes.append(f"free {', '.join(unsure)} here if {fn_name} still owns "
                              f"{'it' if len(unsure) == 1 else 'them'}")
        if conv.undo and not conv.label:
            stub_notes.append(f"before returning, release what {fn_name}'s other exits release: "
                              f"{', '.join(u.rstrip(';') for u in conv.undo)}")
        if conv.failure_value == "" and not conv.errp and not hmp:
            stub_notes.append(f"{fn_name} cannot report this failure: decide how to recover (R5, R7)")
        elif not conv.confident and conv.failure_value is not None:
            stub_notes.append(f"check that callers of {fn_name} handle {conv.failure_value}")
    existing = _existing_check(site, target, form, data) if form in ("assign", "decl", "chain") and not realloc \
        and alloc.name != "g_memdup2" else None
    if existing is not None:
        common["target"] = target
        reason = why + f"; already followed by `if ({existing})`, which becomes live with {alloc.checked}"
        return SitePlan(**common, action=Action.REWRITE, policy=policy, reason=reason, failure_block=None,
                        error_path="existing check", form=form, cond=None)
    chain_stmt = None
    if form == "chain" and stmt is not None:
        args_node = site.call.child_by_field_name("arguments")
        if args_node is None or args_node.start_byte != site.name_node.end_byte:
            return report(why + "; something stands between the allocator and its '('", policy)
        chain_stmt = _chain_statement(site, stmt, data, alloc.checked)
        if chain_stmt is None:
            return report(why + "; split out of the chain the allocation would not fit in 80 columns or does "
                          "not start its line: split it by hand", policy)
        multiline = False
    elif form == "realloc" and stmt is not None and temp is not None and target_node is not None:
        # Renamed where it stands, on one line or several: the check goes
        # after the whole statement.
        problem = _in_place_problem(site, stmt, data,
                                    [(site.name_node.start_byte, site.name_node.end_byte, alloc.checked),
                                     (target_node.start_byte, target_node.end_byte, temp)])
        if problem:
            return report(why + f"; {problem}", policy)
        multiline = False
    if multiline and not direct_return:
        # Renamed where it stands instead: the check goes after the whole
        # statement (after the declarations following a declaration).
        renames = [(site.name_node.start_byte, site.name_node.end_byte, alloc.checked)]
        why_in_place = _in_place_problem(site, stmt, data, renames) if form in ("assign", "decl") \
            else (why_not or "allocfix cannot restate it")
        if why_in_place:
            return report(why + f"; the statement spans several lines and {why_in_place}", policy)
        multiline = False
        restated = None
    if direct_return:
        common["target"] = None
        reason = why + f"; {conv.evidence}: returns the NULL from {alloc.checked} to its callers"
        return SitePlan(**common, action=Action.REWRITE, policy=policy, reason=reason, failure_block=None,
                        error_path="return NULL", form=form, cond=None)
    indent = len(line_indent(data, site.call.start_byte).expandtabs(8))
    if form == "return":
        rbase = conv.return_type.rstrip("* ").split()[-1] if conv.is_pointer else "void"
        what = rbase if rbase not in ("void", "char", "uint8_t", "gpointer") else "memory"
    elif form == "arg":
        callee = site.call.parent.parent.child_by_field_name("function")
        what = f"buffer for {_text(callee, data)}"
    else:
        # A realloc's temporary stands for the block it resizes: name that.
        what = target if form == "realloc" else checked_ptr
    block = failure_block(conv, what, indent, frees=frees, exits=exits,
                          stub_note="; ".join(stub_notes) if stub_notes else None, monitor_report=hmp and not exits)
    if block is None:
        return report(why + f"; {conv.evidence}", policy)
    text, summary = block
    cond = _condition(guard, checked_ptr, indent)
    headers = ("qemu/error-report.h",) if exits or hmp else (("qapi/error.h",) if conv.errp and not conv.errp_at_label else ())
    common["target"] = target if form in ("assign", "decl", "realloc", "chain") else checked_ptr
    if stub_notes:
        action = Action.STUB
        reason = why + f"; {conv.evidence}: a human must finish the failure path ({'; '.join(stub_notes)})"
    else:
        action = Action.REWRITE
        reason = why + f"; checked with {alloc.checked}, failure: {summary}"
        if guard:
            reason += f" (NULL means failure only when {' and '.join(guard)} is non-zero)"
    return SitePlan(**common, action=action, policy=policy, reason=reason, failure_block=text,
                    error_path=summary, form=form, cond=cond, temp=temp, temp_decl=temp_decl, frees=frees,
                    exits=exits, headers=headers,
                    statement=chain_stmt if form == "chain" else (
                        restated if form in ("assign", "decl") and alloc.name != "g_memdup2" else None))
