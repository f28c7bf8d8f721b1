"""How the enclosing function reports failure: its error convention.

Learned from the function itself, never from path names alone: an
`Error **errp` parameter gets error_setg; the failure value comes from
the return type and the error returns the function already has (-ENOMEM
for -errno functions, -TARGET_ENOMEM where it returns -TARGET_E*,
H_NO_MEM where it returns sPAPR H_* codes, -1, false, NULL); an existing
cleanup label is reused when jumping to it is safe and it is the
function's common exit (not when it has nothing to clean up yet and the
function already returns directly before the site); a failure in a switch
whose siblings `ret = -E...; break;` to `return ret;` leaves the same way.
When the value is only assumed (no other failure return and no errp),
`confident` is False and the plan makes the site a stub a human must
confirm.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

import tree_sitter

from codemod.cparse import declarator_identifier, function_name

SIGNED_INT_TYPES = frozenset({
    "int", "long", "ssize_t", "int64_t", "int32_t", "int16_t", "int8_t", "off_t", "long long",
    "long int", "signed", "signed int", "gint", "gssize", "abi_long", "target_long", "int_fast32_t",
})
# Values an existing return (or `status = value; goto`) uses to report failure.
_FAILURE_VALUE = r"-TARGET_E[A-Z0-9]+|-E[A-Z0-9]+|H_[A-Z0-9_]+|-1|false|NULL"
_RETURN_VALUE_RE = re.compile(rb"\breturn\s+(" + _FAILURE_VALUE.encode() + rb")\s*;")
_STATUS_VALUE_RE = re.compile(rb"\b\w+\s*=\s*(-TARGET_E[A-Z0-9]+|-E[A-Z0-9]+|H_[A-Z0-9_]+)\s*;")
_SUCCESS_H = {"H_SUCCESS", "H_BUSY", "H_LONG_BUSY_ORDER_1_MSEC"}
AUTO_CLEANUP_MARKERS = ("g_autofree", "QEMU_AUTO_VFREE", "g_autoptr", "g_auto(", "g_autolist", "g_autoslist",
                        "__attribute__((cleanup", "__attribute__ ((cleanup")


@dataclass(frozen=True)
class ErrorConvention:
    function: str | None
    return_type: str  # as written, pointer stars included
    errp: str | None  # name of the Error ** parameter
    failure_value: str | None  # "-ENOMEM", "false", "NULL", "" (void), None (unknown: report)
    evidence: str
    # Reuse of the function's own cleanup: `status = value; goto label;`
    label: str | None = None
    status_var: str | None = None
    # False when the value is assumed rather than seen in the function:
    # callers may not check for it, so a human must confirm (stub).
    confident: bool = True
    # Where error_setg writes: errp, or &local_err when the cleanup label
    # propagates a local Error into errp (so *errp is set once).
    error_dest: str | None = None
    # `msg = "Could not allocate ..."; goto label;` where the label reports msg.
    message_var: str | None = None
    # The label's code sets errp itself: no error_setg before the jump.
    errp_at_label: bool = False
    # Other variables the label's code reads that each jump sets (`err = ENOMEM`).
    presets: tuple[tuple[str, str], ...] = ()
    # Returning directly: releases the function's cleanup labels perform
    # that the return would skip (a human must add them: stub).
    undo: tuple[str, ...] = ()
    # Releases the failure block performs itself before returning, copied
    # from the function's other exits: (callee, arguments), one line each.
    release: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Releases from a cleanup label only partly applicable here: never copied.
    partial_undo: tuple[str, ...] = ()
    # Returning directly: where the function stores its error code before
    # its direct returns (`errno = ENOMEM;`), what the failure block stores.
    sets: tuple[tuple[str, str], ...] = ()
    # Instead of returning: `status = value; break;` out of the enclosing
    # switch or loop to the function's `return status;`, as siblings do.
    break_status: str | None = None

    @property
    def can_fail(self) -> bool:
        return self.failure_value is not None and not (self.failure_value == "" and self.errp is None)

    @property
    def is_pointer(self) -> bool:
        return self.return_type.endswith("*")


def _text(node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


# Pre-order node lists of the last few subtrees walked: planning one site walks
# its function body a dozen times, and every site of a function walks the same
# body; asking tree-sitter for children again each time dominated the cost.
# (A Node key keeps its tree alive, so a key never stands for another tree.)
_FLAT: OrderedDict = OrderedDict()
_FLAT_KEEP = 16


def _walk(node):
    nodes = _FLAT.get(node)
    if nodes is None:
        nodes = []
        stack = [node]
        while stack:
            n = stack.pop()
            nodes.append(n)
            stack.extend(reversed(n.children))
        _FLAT[node] = nodes
        if len(_FLAT) > _FLAT_KEEP:
            _FLAT.popitem(last=False)
    else:
        _FLAT.move_to_end(node)
    return iter(nodes)


def _return_type(fn: tree_sitter.Node, data: bytes) -> tuple[str, int]:
    """Return type text (without storage class) and pointer depth of the declarator."""
    parts = []
    for child in fn.children:
        if child.type in ("storage_class_specifier", "attribute_specifier", "ms_declspec_modifier"):
            continue
        if child.type in ("function_declarator", "pointer_declarator") or child == fn.child_by_field_name(
                "declarator"):
            break
        if child.type == "type_qualifier" or child == fn.child_by_field_name("type"):
            parts.append(_text(child, data))
    decl = fn.child_by_field_name("declarator")
    stars = 0
    while decl is not None and decl.type == "pointer_declarator":
        stars += 1
        decl = decl.child_by_field_name("declarator")
    return " ".join(p for p in parts if p != "const" or stars) or "int", stars


def _params(fn: tree_sitter.Node) -> list[tree_sitter.Node]:
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return []
    plist = decl.child_by_field_name("parameters")
    return [c for c in plist.named_children if c.type == "parameter_declaration"] if plist else []


def param_names(fn: tree_sitter.Node, data: bytes) -> set[str]:
    names = set()
    for p in _params(fn):
        d = p.child_by_field_name("declarator")
        while d is not None and d.type not in ("identifier",):
            d = d.child_by_field_name("declarator")
        if d is not None:
            names.add(_text(d, data))
    return names


def errp_param(fn: tree_sitter.Node, data: bytes) -> str | None:
    for p in _params(fn):
        m = re.fullmatch(r"\s*Error\s*\*\s*\*\s*(\w+)\s*", _text(p, data))
        if m:
            return m.group(1)
    return None


_NEG_TEST_RE = re.compile(rb"\bif\s*\(\s*(\w+)\s*<\s*0\s*\)")


def failure_returns(body_bytes: bytes) -> list[str]:
    """Failure-looking values the function already returns (in order of appearance)."""
    values = [m.group(1).decode() for m in _RETURN_VALUE_RE.finditer(body_bytes)]
    values += [m.group(1).decode() for m in _STATUS_VALUE_RE.finditer(body_bytes)]
    values += [m.group(1).decode() for m in _NAMED_ERROR_RE.finditer(body_bytes)]
    # `if (ret < 0) { return ret; }`: passes on a negative errno.
    for m in _NEG_TEST_RE.finditer(body_bytes):
        if re.search(rb"\breturn\s+" + re.escape(m.group(1)) + rb"\s*;", body_bytes):
            values.append("-E(propagated)")
            break
    return [v for v in values if v not in _SUCCESS_H]


_NAMED_ERROR_RE = re.compile(rb"\breturn\s+([A-Z][A-Z0-9_]*(?:ERR|ERROR|FAIL|FAILED|FAILURE)[A-Z0-9_]*)\s*;")


def _integer_value(values: list[str]) -> tuple[str, str] | None:
    """The ENOMEM-like value of a family the function uses, with evidence."""
    named = [v for v in values if re.fullmatch(r"[A-Z][A-Z0-9_]*", v) and not v.startswith("H_")]
    if named:
        # An out-of-memory code of the family when the function has one, else its
        # most used code (ties: the first in the text, so the choice is stable).
        nomem = [v for v in named if "NOMEM" in v or "NO_MEM" in v]
        value = nomem[0] if nomem else max(named, key=named.count)
        return value, f"returns {value} on failure"
    if any(v.startswith("-TARGET_E") for v in values):
        return "-TARGET_ENOMEM", "returns -TARGET_E* codes"
    if any(v.startswith("H_") for v in values):
        return "H_NO_MEM", "returns sPAPR H_* codes"
    if any(v.startswith("-E") for v in values):
        return "-ENOMEM", "returns -errno on failure"
    if "-1" in values:
        return "-1", "returns -1 on failure"
    return None


# `p = malloc(n); if (!p) { return alloc_failed(); }`: a file's own helper
# for allocation failures (it reports, then returns the failure value).
_HELPER_CHECK_RE = re.compile(
    rb"=\s*(?:malloc|calloc|realloc|strdup|strndup|g_try_\w+|qemu_try_\w+)\s*\([^;]*\)\s*;\s*"
    rb"if\s*\(\s*!\s*[\w.\->\[\]]+\s*\)\s*\{?\s*return\s+(\w+)\s*\(\s*\)\s*;")


def alloc_failure_helper(data: bytes, return_type: str) -> str | None:
    """The helper the file's own allocation checks return, when it uses one
    at least twice and defines it in the file with this return type."""
    uses = [m.group(1).decode() for m in _HELPER_CHECK_RE.finditer(data)]
    for name in sorted(set(uses), key=uses.count, reverse=True):
        if uses.count(name) < 2:
            break
        m = re.search(rb"^(?:static\s+)?(?:inline\s+)?([\w ]+?)\s+" + re.escape(name.encode())
                      + rb"\s*\(\s*void\s*\)\s*\{", data, re.M)
        if m is not None and m.group(1).decode().split()[-1] == return_type.split()[-1]:
            return name
    return None


def _convention(fn: tree_sitter.Node | None, data: bytes, name: str | None) -> ErrorConvention:
    if fn is None:
        return ErrorConvention(None, "", None, None, "not inside a function")
    rtype, stars = _return_type(fn, data)
    errp = errp_param(fn, data)
    body = fn.child_by_field_name("body")
    body_bytes = data[body.start_byte : body.end_byte] if body is not None else b""
    values = failure_returns(body_bytes)
    full_type = rtype + (" " + "*" * stars if stars else "")
    base = " ".join(w for w in rtype.split() if w not in ("static", "inline", "const", "coroutine_fn"))
    if stars:
        if errp:
            return ErrorConvention(name, full_type, errp, "NULL", f"{name} returns a pointer and has errp")
        if "NULL" in values:
            return ErrorConvention(name, full_type, errp, "NULL", f"{name} already returns NULL on failure")
        return ErrorConvention(name, full_type, errp, "NULL",
                               f"{name} returns a pointer but never NULL: its callers may not check",
                               confident=False)
    if base == "void":
        return ErrorConvention(name, "void", errp, "", f"{name} returns void")
    if base in ("bool", "_Bool", "gboolean"):
        false = "FALSE" if base == "gboolean" else "false"
        if errp:
            return ErrorConvention(name, base, errp, false, f"{name} returns {base} and has errp")
        return ErrorConvention(name, base, errp, false,
                               f"{name} returns {base} without errp: false may not mean failure to callers",
                               confident=False)
    helper = alloc_failure_helper(data, base) if not errp else None
    if helper is not None:
        return ErrorConvention(name, base, errp, f"{helper}()",
                               f"this file reports allocation failures with 'return {helper}();'")
    found = _integer_value(values)
    if found is not None:
        value, why = found
        return ErrorConvention(name, base, errp, value, f"{name} {why}")
    if base in SIGNED_INT_TYPES:
        if errp:
            return ErrorConvention(name, base, errp, "-ENOMEM", f"{name} returns {base} and has errp")
        return ErrorConvention(name, base, errp, "-ENOMEM",
                               f"{name} returns {base} but no error value: its callers may ignore -ENOMEM",
                               confident=False)
    return ErrorConvention(name, base, errp, None, f"{name} returns {base}: no failure value known")


# --- cleanup labels -------------------------------------------------------

def _labels_and_gotos(body, data):
    labels: dict[str, tree_sitter.Node] = {}
    gotos: dict[str, list[int]] = {}
    for n in _walk(body):
        if n.type == "labeled_statement":
            lab = n.child_by_field_name("label")
            if lab is not None:
                labels[_text(lab, data)] = n
        elif n.type == "goto_statement":
            lab = n.child_by_field_name("label")
            if lab is not None:
                gotos.setdefault(_text(lab, data), []).append(n.start_byte)
    return labels, gotos


def _first_return_after(body, start: int, data: bytes):
    for n in _walk(body):
        if n.type == "return_statement" and n.start_byte > start:
            value = [c for c in n.named_children if c.type != "comment"]
            return n, (value[0] if value else None)
    return None, None


def local_declarations(fn, data: bytes) -> dict[str, tree_sitter.Node]:
    """Local variables of the function: name -> its declaration node."""
    body = fn.child_by_field_name("body")
    out: dict[str, tree_sitter.Node] = {}
    if body is None:
        return out
    for n in _walk(body):
        if n.type != "declaration":
            continue
        for d in n.children_by_field_name("declarator"):
            inner = d
            while inner is not None and inner.type not in ("identifier",):
                inner = inner.child_by_field_name("declarator")
            if inner is not None:
                out.setdefault(_text(inner, data), n)
    return out


def _declarator_has_init(decl_node, name: str, data: bytes) -> bool:
    for d in decl_node.children_by_field_name("declarator"):
        if d.type == "init_declarator":
            inner = declarator_identifier(d.child_by_field_name("declarator"))
            if inner is not None and _text(inner, data) == name:
                return True
    return False


def assigned_before(fn, data: bytes, name: str, site: int) -> bool:
    """Is `name` assigned on every path to `site`? (A plain `name = ...;`
    statement directly in a block enclosing the site, before it.)"""
    node = fn.child_by_field_name("body").descendant_for_byte_range(site, site)
    while node is not None and node != fn:
        if node.type == "compound_statement":
            for child in node.named_children:
                if child.start_byte >= site:
                    break
                if child.type == "expression_statement" and child.named_child_count:
                    e = child.named_children[0]
                    if e.type == "assignment_expression":
                        left = e.child_by_field_name("left")
                        if left is not None and _text(left, data) == name:
                            return True
                    if e.type == "call_expression":
                        # init(&x, ...): x is initialised by the call.
                        args = e.child_by_field_name("arguments")
                        for a in (args.named_children if args is not None else []):
                            if a.type == "pointer_expression" and _text(a, data).replace(" ", "") == "&" + name:
                                return True
        node = node.parent
    return False


def is_auto_decl(decl_node, data: bytes) -> bool:
    """A g_autofree / QEMU_AUTO_VFREE / g_autoptr declaration. The macro
    profile masks these words, so the node may start after them: look
    from the start of its line."""
    start = data.rfind(b"\n", 0, decl_node.start_byte) + 1
    text = data[start : decl_node.end_byte].decode("utf-8", "replace")
    return any(m in text for m in AUTO_CLEANUP_MARKERS)


def _label_is_safe(fn, data: bytes, label: tree_sitter.Node, site: int,
                  assigned_at_site: set[str]) -> tuple[list[str], str | None]:
    """(locals the label's code reads that may be uninitialised at `site`,
    why jumping from `site` to `label` would be wrong regardless, or None)."""
    body = fn.child_by_field_name("body")
    locals_ = local_declarations(fn, data)
    # No automatic-cleanup variable may come into scope between the site and the label.
    for name, decl in locals_.items():
        if site < decl.start_byte < label.start_byte and is_auto_decl(decl, data):
            return [], f"the jump would skip the initialisation of automatic-cleanup variable '{name}'"
    # Every local the cleanup reads must hold a value when we jump.
    seen = set()
    uninit = []
    for n in _walk(body):
        if n.start_byte < label.start_byte or n.type != "identifier":
            continue
        name = _text(n, data)
        if name in seen or name not in locals_ or name in assigned_at_site:
            continue
        seen.add(name)
        parent = n.parent
        if parent is not None and parent.type == "assignment_expression" and parent.child_by_field_name(
                "left") == n and _text(parent.child_by_field_name("operator"), data) == "=":
            continue  # first seen being written (`for (i = 0; ...)`), not read
        decl = locals_[name]
        if decl.start_byte > label.start_byte or _declarator_has_init(decl, name, data):
            continue
        if assigned_before(fn, data, name, site):
            continue
        uninit.append(name)
    return uninit, None


# --- what a cleanup label undoes ---------------------------------------------
#
# Cleanup labels are often stacked (`err2: free(b); err1: unlock(); return`):
# jumping to a label runs its code and everything it falls through to, so
# the right label for a failure is the one whose code undoes exactly what
# is held at the failure, chosen by position, not by the nearest goto.

# Frees that accept NULL, so running them on a pointer still NULL is harmless.
_NULL_SAFE_FREES = frozenset({"g_free", "qemu_vfree", "g_clear_pointer", "free", "g_strfreev"})
# Words that make a call a release of what its arguments name (or, without
# arguments, of what the matching acquire call took): `cache_fini`,
# `deflateEnd`, `qemu_mutex_unlock`, `nvme_free_queue_pair`, `bdrv_unref`.
_RELEASE_WORDS = frozenset({"free", "vfree", "unref", "destroy", "fini", "finalize", "cleanup", "close",
                            "unlock", "end", "put", "release", "deinit", "uninit", "unmap", "unregister",
                            "del", "delete", "dec"})
_ACQUIRE_WORDS = ("new", "alloc", "malloc", "create", "init", "open", "lock", "ref", "get", "begin", "start",
                  "map", "register", "add", "acquire", "take", "setup", "inc", "enter")
_SILENT_PREFIXES = ("trace_", "assert", "g_assert")


def _key(node, data: bytes) -> str:
    """The object an argument names: `&s->lock` -> `s->lock`, `(void *)p` -> `p`."""
    while node.type in ("pointer_expression", "cast_expression", "parenthesized_expression"):
        if node.type == "pointer_expression" and _text(node, data).lstrip().startswith("*"):
            break
        inner = node.child_by_field_name("argument") or node.child_by_field_name("value")
        if inner is None:
            kids = [c for c in node.named_children if c.type != "comment"]
            inner = kids[-1] if kids else None
        if inner is None:
            break
        node = inner
    return re.sub(r"\s+", "", _text(node, data))


@dataclass(frozen=True)
class Segment:
    """The code between one cleanup label and the next (or the end)."""
    label: str
    node: tree_sitter.Node  # the labeled_statement
    start: int
    end: int
    falls_through: bool  # control reaches the next label
    held: tuple[str, ...]  # releases of what is held at the site (statement text)
    harmful: str | None  # why running this code at the site would be wrong
    effects: bool  # other calls or assignments (reporting, state changes)
    assigns: frozenset[str]  # variables the code sets unconditionally
    # Releases of things not held at the site, unless an acquire the chain
    # runs first takes them (`unlocked: lock(); locked: ...; unlock();`).
    unheld: tuple[tuple[str, str], ...] = ()  # (callee, statement)
    acquires: tuple[str, ...] = ()  # callees of the calls in this code
    # Locals other than the site's target the code frees (or releases under
    # `if (p)`) that are still NULL at the site: set up after it.
    unset: tuple[str, ...] = ()
    frees_target: bool = False  # it frees the pointer the site sets
    copies: tuple[tuple[str, str], ...] = ()  # `errno = err;`: (target, variable) statements
    copies_only: bool = False  # its effects are all such copies


def _site_statement_start(body, site: int) -> int:
    node = body.descendant_for_byte_range(site, site)
    while node is not None and node.parent is not None and node.parent != body and node.type not in (
            "expression_statement", "declaration", "return_statement"):
        node = node.parent
    return node.start_byte if node is not None else site


class _Held:
    """What the code before the site has acquired (textual: assignments, `&x`
    handed to calls, acquire calls matching a release by name, counters)."""

    def __init__(self, fn, data: bytes, site: int, targets: set[str]):
        body = fn.child_by_field_name("body")
        self.data = data
        self.before = data[body.start_byte : _site_statement_start(body, site)]
        self.after = data[site : body.end_byte]
        self.targets = {re.sub(r"\s+", "", t) for t in targets}
        self.locals = local_declarations(fn, data)

    def assigned(self, key: str) -> bool:
        k = re.escape(key.encode()).replace(rb"\->", rb"\s*->\s*").replace(rb"\.", rb"\s*\.\s*")
        if re.search(rb"(?<![\w>.])" + k + rb"\s*=(?!=)(?!\s*NULL\b)(?!\s*0\s*[;,)])", self.before):
            return True
        return re.search(rb"&\s*" + k + rb"(?![\w\[])(?!\s*(?:->|\.))", self.before) is not None

    def fresh(self, key: str) -> bool:
        """A local first given a value after the site: what a release of it
        undoes is acquired later (`regs = map(...)` after the allocation)."""
        if key not in self.locals or self.assigned(key):
            return False
        return re.search(rb"(?<![\w>.])" + re.escape(key.encode()) + rb"\s*=(?!=)", self.after) is not None

    def holds_any(self, keys: list[str]) -> bool:
        """Some argument names something acquired before the site, none
        something acquired after it."""
        keys = [k for k in keys if k not in ("NULL", "0")]
        return any(self.assigned(k) for k in keys) and not any(self.fresh(k) for k in keys)

    def acquired_by_name(self, callee: str) -> bool:
        """A call named like the release with an acquire word in its place
        (`deflateEnd` <- `deflateInit`, `cache_unlock` <- `cache_lock`)."""
        acq = _acquire_re(callee)
        return acq is not None and re.search(rb"(?<!\w)(?:" + acq.pattern.encode() + rb")\s*\(",
                                             self.before) is not None

    def acquired_later(self, callee: str, keys: list[str]) -> bool:
        """The acquire paired with this release by name runs only after the
        site, storing into one of its arguments (`off = qcow2_alloc_clusters(...)`
        after the site, `qcow2_free_clusters(bs, off, ...)` at the label): the
        release undoes that later acquisition, whatever the variable held
        before (`off = *offset` on another path)."""
        acq = _acquire_re(callee)
        if acq is None or re.search(rb"(?<!\w)(?:" + acq.pattern.encode() + rb")\s*\(", self.before):
            return False
        return any(re.search(rb"(?<![\w>.])" + re.escape(k.encode()) + rb"\s*=\s*(?:" + acq.pattern.encode()
                             + rb")\s*\(", self.after) for k in keys if re.fullmatch(r"\w+", k))

    def counted(self, key: str) -> bool:
        k = re.escape(key.encode()).replace(rb"\->", rb"\s*->\s*")
        return re.search(rb"(?<![\w>.])" + k + rb"\s*(?:\+\+|\+=)|\+\+\s*" + k + rb"(?![\w])", self.before) is not None

    def is_target(self, key: str) -> bool:
        return key in self.targets

    def in_target(self, key: str) -> bool:
        """Reads through the pointer the failed allocation left NULL."""
        return any(re.match(re.escape(t) + r"(->|\[)", key) for t in self.targets)

    def null_local(self, key: str) -> bool:
        """A local still NULL at the site: declared or set to NULL, never given a value."""
        decl = self.locals.get(key)
        if decl is None or self.assigned(key):
            return False
        return _declared_null(decl, key, self.data) or re.search(
            rb"(?<![\w>.])" + re.escape(key.encode()) + rb"\s*=\s*NULL\s*;", self.before) is not None


def _declared_null(decl, name: str, data: bytes) -> bool:
    for d in decl.children_by_field_name("declarator"):
        if d.type == "init_declarator":
            inner = declarator_identifier(d.child_by_field_name("declarator"))
            value = d.child_by_field_name("value")
            if inner is not None and _text(inner, data) == name and value is not None:
                return _text(value, data).strip() in ("NULL", "0")
    return False


def _segment_nodes(labeled) -> list:
    """A labeled statement's own statement and the siblings up to the next label."""
    out = []
    inner = [c for c in labeled.named_children if c.type not in ("statement_identifier", "comment")]
    out += inner
    sib = labeled.next_named_sibling
    while sib is not None and sib.type != "labeled_statement":
        out.append(sib)
        sib = sib.next_named_sibling
    return out


def _release_words(callee: str) -> list[tuple[str, str]]:
    """(prefix, suffix) around each release word of a callee name."""
    out = []
    for m in re.finditer(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", callee):
        if m.group(0).lower() in _RELEASE_WORDS:
            out.append((callee[: m.start()], callee[m.end() :]))
    return out


def _acquire_re(callee: str) -> re.Pattern | None:
    """Names of the acquire calls a release pairs with: `deflateEnd` ->
    `deflateInit`, `qemu_co_mutex_unlock` -> `qemu_co_mutex_lock`."""
    alts = [re.escape(pre) + "(?i:" + "|".join(_ACQUIRE_WORDS) + ")" + re.escape(post)
            for pre, post in _release_words(callee)]
    return re.compile("|".join(f"(?:{a})" for a in alts)) if alts else None


def _guarded_by(node, key: str, data: bytes, stop) -> bool:
    """node sits in `if (key)` / `if (key != NULL)`: it does nothing while key is NULL."""
    n = node.parent
    while n is not None and n != stop:
        if n.type == "if_statement":
            cond = n.child_by_field_name("condition")
            text = re.sub(r"\s+", "", _text(cond, data)).strip("()") if cond is not None else ""
            if text in (key, f"{key}!=NULL", f"NULL!={key}") or text.startswith(f"{key}&&"):
                return True
        n = n.parent
    return False


def _guarded_by_validity(node, keys: list[str], data: bytes, stop) -> bool:
    """node sits in an `if` one of whose conjuncts tests that an argument
    holds something (`off > 0`, `fd >= 0`, `id != -1`, `p`)."""
    names = [k for k in keys if re.fullmatch(r"[\w.>\-]+", k)]
    n = node.parent
    while n is not None and n != stop:
        if n.type == "if_statement":
            cond = n.child_by_field_name("condition")
            text = re.sub(r"\s+", "", _text(cond, data))[1:-1] if cond is not None else ""
            for part in text.split("&&"):
                part = part.strip("()")
                for k in names:
                    if part == k or re.fullmatch(re.escape(k) + r"(>0|>=0|!=0|!=-1|!=NULL)|0<" + re.escape(k), part):
                        return True
        n = n.parent
    return False


def _guarded_by_success(node, status: str, data: bytes, stop) -> bool:
    """node runs only on success: inside `if (ret == 0 && ...)` / `if (ret >= 0)`
    (callers set the -errno status to a negative value before jumping)."""
    n = node.parent
    while n is not None and n != stop:
        if n.type == "if_statement":
            cond = n.child_by_field_name("condition")
            text = re.sub(r"\s+", "", _text(cond, data)).strip("()") if cond is not None else ""
            first = text.split("&&")[0]
            if first in (f"{status}==0", f"{status}>=0", f"{status}>0"):
                return True
        n = n.parent
    return False


def _analyse_segment(label: str, labeled, data: bytes, held: _Held, trusted: bool, fn_name: str = "",
                     status: str | None = None) -> Segment:
    """trusted: an existing goto before the site already runs this code, so
    releases of things this function did not acquire are the developer's call."""
    nodes = _segment_nodes(labeled)
    nested = [n for n in nodes if n.type == "labeled_statement"]
    if nested:  # `a: b: stmt`: a's code is empty and falls into b
        nodes = []
    releases: list[str] = []
    unheld: list[tuple[str, str]] = []
    acquires: list[str] = []
    harmful = None
    effects = False
    assigns: set[str] = set()
    freed: set[str] = set()
    resets: set[str] = set()
    unset: list[str] = []
    frees_target = False
    copies: list[tuple[str, str]] = []
    other_effects = False
    for top in nodes:
        for n in _walk(top):
            if n.type == "call_expression":
                callee_node = n.child_by_field_name("function")
                callee = _text(callee_node, data) if callee_node is not None else ""
                arglist = n.child_by_field_name("arguments")
                args = [a for a in (arglist.named_children if arglist is not None else []) if a.type != "comment"]
                keys = [_key(a, data) for a in args]
                stmt = _text(n, data) + ";"
                acquires.append(callee)
                null_at_site = [k for k in keys if held.is_target(k) or held.null_local(k)]
                guards = [k for k in null_at_site if _guarded_by(n, k, data, labeled)]
                if guards or (status and _guarded_by_success(n, status, data, labeled)):
                    unset += [k for k in guards if not held.is_target(k) and k not in unset]
                    frees_target = frees_target or any(held.is_target(k) for k in guards)
                    continue  # `if (p) { release(p); }` with p still NULL, or success-only code
                if callee in _NULL_SAFE_FREES:
                    key = keys[0] if keys else ""
                    freed.add(key)
                    if held.assigned(key) and not held.is_target(key):
                        releases.append(stmt)
                    elif held.is_target(key) or held.null_local(key) or trusted:
                        # A NULL pointer, or the developer's own choice.
                        frees_target = frees_target or held.is_target(key)
                        if held.null_local(key) and not held.is_target(key) and key not in unset:
                            unset.append(key)
                    elif held.in_target(key):
                        harmful = harmful or f"'{stmt}' reads through the NULL '{key.split('->')[0]}'"
                    else:
                        harmful = harmful or f"'{stmt}' frees '{key}', not allocated at this point"
                elif _release_words(callee) and not callee.startswith(_SILENT_PREFIXES):
                    freed.update(keys)
                    acq = _acquire_re(callee)
                    if any(held.is_target(k) or held.in_target(k) for k in keys):
                        harmful = harmful or f"'{stmt}' would be handed the NULL from the failed allocation"
                    elif held.acquired_later(callee, keys):
                        # Under `if (... && off > 0)` it was written to be
                        # reached before the acquisition: nothing to do yet.
                        if not trusted and not _guarded_by_validity(n, keys, data, labeled):
                            unheld.append((callee, stmt))
                    elif held.holds_any(keys) or (not any(held.fresh(k) for k in keys) and (
                            held.acquired_by_name(callee) or (acq is not None and acq.fullmatch(fn_name)))):
                        # Also the teardown of this very function (`foo_setup` /
                        # `foo_cleanup`), written to undo a partial setup.
                        releases.append(stmt)
                    elif not trusted:
                        unheld.append((callee, stmt))
                elif any(held.is_target(k) or held.in_target(k) for k in keys):
                    harmful = harmful or f"'{stmt}' would be handed the NULL from the failed allocation"
                elif not callee.startswith(_SILENT_PREFIXES):
                    effects = other_effects = True
            elif n.type == "update_expression" and "--" in _text(n, data):
                arg = n.child_by_field_name("argument")
                key = _key(arg, data) if arg is not None else ""
                if held.counted(key):
                    releases.append(_text(n, data) + ";")
                elif not trusted:
                    harmful = harmful or f"'{_text(n, data)}' undoes an increment not done at this point"
            elif n.type == "assignment_expression":
                left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
                op = n.child_by_field_name("operator")
                if left is None or right is None:
                    continue
                lkey = _key(left, data)
                if op is not None and op.type == "-=":
                    if held.counted(lkey):
                        releases.append(_text(n, data) + ";")
                    elif not trusted:
                        harmful = harmful or f"'{_text(n, data)}' undoes an increment not done at this point"
                    continue
                if n.parent is not None and n.parent.type == "expression_statement" and n.parent in nodes:
                    assigns.add(lkey)  # `success: ret = 0;` overrides the status too
                if _text(right, data).strip() in ("NULL", "0"):
                    resets.add(lkey)
                elif right.type == "identifier" and op is not None and op.type == "=" and n.parent is not None \
                        and n.parent in nodes:
                    # `errno = err;`: hands on a value the jumps set.
                    copies.append((_text(left, data), _text(right, data)))
                    effects = True
                else:
                    effects = other_effects = True
    # `p = NULL;` after freeing p is part of the free; any other reset is a state change.
    if resets - freed:
        effects = other_effects = True
    last = [n for n in nodes if n.type != "comment"]
    falls = bool(nested) or not (last and last[-1].type in ("return_statement", "goto_statement"))
    end = nodes[-1].end_byte if nodes else labeled.end_byte
    return Segment(label, labeled, labeled.start_byte, end, falls, tuple(releases), harmful, effects,
                   frozenset(assigns), tuple(unheld), tuple(acquires), tuple(unset), frees_target,
                   tuple(copies), effects and not other_effects)


def _flat_labels(block) -> list:
    """Labeled statements of a block in order, `a: b: stmt` as two."""
    out = []
    for c in block.named_children:
        n = c
        while n is not None and n.type == "labeled_statement":
            out.append(n)
            inner = [k for k in n.named_children if k.type not in ("statement_identifier", "comment")]
            n = inner[0] if inner else None
    return out


def label_chain(fn, data: bytes, label: str, site: int, targets: set[str] = frozenset(),
                status: str | None = None) -> list[Segment]:
    """The cascade of labels `label` belongs to (labels control falls through
    from one to the next), each analysed against what is held at `site`."""
    body = fn.child_by_field_name("body")
    labels, gotos = _labels_and_gotos(body, data)
    node = labels.get(label)
    if node is None:
        return []
    held = _Held(fn, data, site, targets)
    fn_name = function_name(fn, data) or ""
    ordered = _flat_labels(node.parent)
    names = [_text(n.child_by_field_name("label"), data) for n in ordered]
    early = {l for l, gs in gotos.items() if any(g < site for g in gs)}
    out = []
    vouched = False
    for name, n in zip(names, ordered):
        # Later labels run whenever an earlier one does: a label an existing
        # goto before the site reaches vouches for the code from there on.
        vouched = vouched or name in early
        out.append(_analyse_segment(name, n, data, held, vouched, fn_name, status))
    # Keep the run of segments containing `label` that control falls through.
    idx = names.index(label)
    lo = idx
    while lo > 0 and out[lo - 1].falls_through:
        lo -= 1
    hi = idx
    while hi < len(out) - 1 and out[hi].falls_through:
        hi += 1
    return [s for s in out[lo : hi + 1] if s.start > site]


def _bad_from(chain: list[Segment], i: int, status: str | None) -> list[str | None]:
    """Why each segment from chain[i] on would be wrong when entered at chain[i]."""
    out = []
    acquired: list[str] = []
    for seg in chain[i:]:
        why = seg.harmful or (f"'{seg.label}:' sets '{status}'" if status and status in seg.assigns else None)
        acquired += seg.acquires
        for callee, stmt in seg.unheld:
            acq = _acquire_re(callee)
            if why is None and not (acq is not None and any(acq.fullmatch(a) for a in acquired)):
                why = f"'{stmt}' undoes something not done at this point"
        out.append(why)
    return out


def choose_in_chain(chain: list[Segment], status: str | None) -> tuple[Segment | None, str]:
    """The label whose code undoes exactly what is held: the first one from
    which no later code is wrong at the site, skipping labels whose own code
    has nothing to do there. (None, why) when every entry is wrong."""
    first_why = ""
    for i, seg in enumerate(chain):
        bad = _bad_from(chain, i, status)
        if any(bad):
            if not first_why:
                k = next(j for j, b in enumerate(bad) if b)
                first_why = f"'{chain[i + k].label}:': {bad[k]}"
            continue
        if seg.held or seg.effects or i == len(chain) - 1:
            return seg, ""
    return None, first_why or "no label fits"


def _label_errp_use(label: tree_sitter.Node, end: int, data: bytes, errp: str) -> tuple[str, str | None]:
    """How the code after a label uses errp: ('none'|'propagate'|'set', local Error)."""
    text = data[label.start_byte : end]
    m = re.search(rb"\berror_propagate(?:_prepend)?\s*\(\s*" + re.escape(errp.encode()) + rb"\s*,\s*(\w+)", text)
    if m:
        return "propagate", m.group(1).decode()
    if re.search(rb"\berror_\w+\s*\(\s*" + re.escape(errp.encode()) + rb"\b", text) or re.search(
            rb"\*\s*" + re.escape(errp.encode()) + rb"\s*=", text):
        return "set", None
    return "none", None


def _start_label(body, data: bytes, after: int) -> str | None:
    """The label existing code suggests for a failure after `after`: the first
    jump after the site, else the busiest label, else one only fallen into."""
    labels, gotos = _labels_and_gotos(body, data)
    after_site = {l for l, n in labels.items() if n.start_byte > after}
    if not after_site:
        return None
    following = sorted((g, l) for l in after_site for g in gotos.get(l, []) if g > after)
    if following:
        return following[0][1]
    if any(gotos.get(l) for l in after_site):
        return max(after_site, key=lambda l: (len(gotos.get(l, [])), -labels[l].start_byte))
    return min(after_site, key=lambda l: labels[l].start_byte)


def _status_after(fn, body, data: bytes, label: str, node) -> tuple[str | None, str | None]:
    """(status variable the label's code returns, value existing gotos give it
    or the constant returned there)."""
    ret, value = _first_return_after(body, node.start_byte, data)
    if value is not None and value.type == "identifier" and _text(value, data) in local_declarations(fn, data):
        status = _text(value, data)
        pattern = (rb"\b" + re.escape(status.encode()) + rb"\s*=\s*(" + _FAILURE_VALUE.encode()
                   + rb")\s*;\s*goto\s+\w+\s*;")
        found = re.findall(pattern, data[body.start_byte : body.end_byte])
        return status, (found[0].decode() if found else None)
    if value is not None:
        return None, _text(value, data)
    return None, None


@dataclass(frozen=True)
class LabelChoice:
    label: str | None  # None: no label fits (why_not says why)
    status: str | None
    assigned: str | None
    chain: tuple[Segment, ...]
    why_not: str = ""


def choose_label(fn, data: bytes, after: int, targets: set[str] | frozenset[str] = frozenset(),
                 negative: bool = False) -> LabelChoice | None:
    """The cleanup label a failure at `after` should jump to, chosen by what
    each label's code undoes (label_chain, choose_in_chain); None when no
    label follows the site."""
    body = fn.child_by_field_name("body")
    if body is None:
        return None
    start = _start_label(body, data, after)
    if start is None:
        return None
    labels, _ = _labels_and_gotos(body, data)
    status, assigned = _status_after(fn, body, data, start, labels[start])
    # With a negative status, code under `if (ret >= 0)` does not run.
    chain = label_chain(fn, data, start, after, set(targets), status if negative else None)
    if not chain:
        return LabelChoice(start, status, assigned, ())
    seg, why = choose_in_chain(chain, status)
    if seg is None:
        return LabelChoice(None, status, assigned, tuple(chain), why)
    return LabelChoice(seg.label, status, assigned, tuple(chain))


def cleanup_label(fn: tree_sitter.Node, data: bytes, after: int,
                  targets: set[str] | frozenset[str] = frozenset()) -> tuple[str, str | None, str | None] | None:
    """(label, status variable, its failure value) for a failure at `after`, or None."""
    choice = choose_label(fn, data, after, targets)
    if choice is None or choice.label is None:
        return None
    return choice.label, choice.status, choice.assigned


def _preset_values(body, data: bytes, labels: set[str]) -> dict[str, list]:
    """Locals every existing jump into these labels sets just before it
    (`err = EFAULT; goto fail;`, `err_msg = "..."; goto out;`, calls not
    handed `&var` may come between): name -> values."""
    found: dict[str, list] | None = None
    for n in _walk(body):
        if n.type != "goto_statement":
            continue
        lab = n.child_by_field_name("label")
        if lab is None or _text(lab, data) not in labels:
            continue
        here: dict[str, list] = {}
        prev = n.prev_named_sibling
        while prev is not None and prev.type in ("comment", "expression_statement"):
            if prev.type == "expression_statement":
                e = prev.named_children[0] if prev.named_child_count else None
                if e is not None and e.type == "call_expression" and "&" not in _text(e, data):
                    # `err = EINVAL; unlock_user(...); goto fail;`: a release
                    # between the two leaves err as set.
                    prev = prev.prev_named_sibling
                    continue
                if e is None or e.type != "assignment_expression" or \
                        _text(e.child_by_field_name("operator"), data) != "=":
                    break
                left = e.child_by_field_name("left")
                if left is not None and left.type == "identifier":
                    here.setdefault(_text(left, data), []).append(e.child_by_field_name("right"))
            prev = prev.prev_named_sibling
        if found is None:
            found = here
        else:
            found = {k: found[k] + v for k, v in here.items() if k in found}
    return found or {}


_ERRNO_RE = re.compile(r"(-?)(TARGET_)?E[A-Z0-9]+")


def _preset_for(values: list, data: bytes) -> str | None:
    """What allocfix sets such a variable to: None for a message (strings),
    the ENOMEM of the family the jumps use, or "" when it cannot tell."""
    texts = [re.sub(r"\s+", "", _text(v, data)) for v in values if v is not None]
    if values and all(v is not None and v.type in ("string_literal", "concatenated_string") for v in values):
        return None
    forms = {(m.group(1), m.group(2) or "") for t in texts if (m := _ERRNO_RE.fullmatch(t))}
    if len(forms) == 1 and all(_ERRNO_RE.fullmatch(t) for t in texts):
        sign, target = forms.pop()
        return f"{sign}{target}ENOMEM"
    return ""


def _undo_on_return(chain: tuple[Segment, ...]) -> tuple[str, ...]:
    """What the label code releases that a direct return would leave held
    (locks, counters, handles; frees of locals are the plan's business)."""
    out: list[str] = []
    for seg in chain:
        for stmt in seg.held:
            callee = stmt.split("(", 1)[0].strip()
            if callee in _NULL_SAFE_FREES or stmt in out:
                continue
            out.append(stmt)
    return tuple(out)


def _exits(block) -> bool:
    stmts = [c for c in block.named_children if c.type != "comment"]
    return bool(stmts) and stmts[-1].type in ("return_statement", "goto_statement")


def _undo_before_returns(fn, data: bytes, site: int, targets) -> tuple[str, ...]:
    """Releases the function performs before its returns after the site
    (`qemu_mutex_unlock(&s->lock); return 0;`) of what is held at the site
    and not already released on the way to it: a new return must do them too."""
    body = fn.child_by_field_name("body")
    held = _Held(fn, data, site, set(targets))
    fn_name = function_name(fn, data) or ""
    stmt_start = _site_statement_start(body, site)
    out: list[str] = []
    for block in _walk(body):
        if block.type != "compound_statement":
            continue
        stmts = [c for c in block.named_children if c.type != "comment"]
        if not stmts or stmts[-1].type != "return_statement" or stmts[-1].start_byte <= site:
            continue
        for st in stmts[:-1]:
            if st.start_byte <= site or st.type != "expression_statement" or not st.named_child_count:
                continue
            call = st.named_children[0]
            if call.type != "call_expression":
                continue
            callee = _text(call.child_by_field_name("function"), data)
            if callee in _NULL_SAFE_FREES or not _release_words(callee) or callee.startswith(_SILENT_PREFIXES):
                continue  # `trace_foo_end(...)` marks the exit, it releases nothing
            arglist = call.child_by_field_name("arguments")
            keys = [_key(a, data) for a in (arglist.named_children if arglist is not None else [])
                    if a.type != "comment"]
            if any(held.is_target(k) or held.in_target(k) for k in keys):
                continue
            acq = _acquire_re(callee)
            if any(held.fresh(k) for k in keys) or not (
                    held.holds_any(keys) or held.acquired_by_name(callee)
                    or (acq is not None and acq.fullmatch(fn_name))):
                continue
            text = _text(st, data)
            if text in out or _released_on_the_way(body, data, text, stmt_start):
                continue
            out.append(text)
    return tuple(out)


def _released_on_the_way(body, data: bytes, text: str, end: int) -> bool:
    """The same statement runs before `end` outside a branch that leaves."""
    for n in _walk(body):
        if n.type != "expression_statement" or n.start_byte >= end or _text(n, data) != text:
            continue
        p = n.parent
        leaves = False
        while p is not None and p != body:
            if p.type == "compound_statement" and _exits(p):
                leaves = True
                break
            p = p.parent
        if not leaves:
            return True
    return False


def in_scope(fn, data: bytes, name: str, site: int) -> bool:
    """`name` can be used at `site`: a parameter, a local declared before the
    site in a block enclosing it, or no local at all (a global, a macro)."""
    if name in param_names(fn, data):
        return True
    body = fn.child_by_field_name("body")
    decls = []
    for n in _walk(body):
        if n.type == "declaration" and any(
                (i := declarator_identifier(d)) is not None and _text(i, data) == name
                for d in n.children_by_field_name("declarator")):
            decls.append(n)
    if not decls:
        return True
    for d in decls:
        scope = d.parent
        if d.start_byte < site and scope is not None and scope.start_byte <= site < scope.end_byte:
            return True
    return False


def _arg_identifiers(call, data: bytes) -> list[str]:
    """Variables a call's arguments read (not field names, not callees)."""
    args = call.child_by_field_name("arguments")
    out: list[str] = []
    for a in (args.named_children if args is not None else []):
        for n in _walk(a):
            if n.type == "identifier" and not (n.parent is not None and n.parent.type == "call_expression"
                                               and n.parent.child_by_field_name("function") == n):
                name = _text(n, data)
                if name not in out:
                    out.append(name)
    return out


def _dominates_site(node, site: int) -> bool:
    """node runs on every path to `site` that gets there: it sits in a block
    enclosing the site, outside any branch, loop body or short-circuit arm."""
    n = node
    while n.parent is not None:
        p = n.parent
        if p.type in ("compound_statement", "case_statement"):
            return p.start_byte <= site < p.end_byte
        if p.type == "if_statement" and n != p.child_by_field_name("condition"):
            return False
        if p.type in ("for_statement", "while_statement", "do_statement") and n == p.child_by_field_name("body"):
            return False
        if p.type in ("conditional_expression", "else_clause") and n != p.child_by_field_name("condition"):
            return False
        if p.type == "binary_expression":
            op = p.child_by_field_name("operator")
            if op is not None and op.type in ("&&", "||") and n == p.child_by_field_name("right"):
                return False
        n = p
    return False


def _changed_between(data: bytes, start: int, end: int, names: list[str], keys: list[str],
                     acquire: re.Pattern | None) -> str | None:
    """A variable the release reads is given another value (assigned, passed
    by address), or an object it names is overwritten, between the site and
    the release: the copy would release something else. "acquire" when an
    acquire named like the release takes it again there."""
    region = data[start:end]
    for name in names:
        k = re.escape(name.encode())
        if acquire is not None and re.search(rb"(?<!\w)(?:" + acquire.pattern.encode() + rb")\s*\([^;]*(?<![\w>.])"
                                             + k + rb"(?!\w)", region):
            return "acquire"
        if re.search(rb"(?<![\w>.])" + k + rb"\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)|(?<![\w>.])" + k + rb"\s*(?:\+\+|--)"
                     rb"|(?:\+\+|--)\s*" + k + rb"(?!\w)|&\s*" + k + rb"(?![\w\[])(?!\s*(?:->|\.))", region):
            return name
    for key in keys:
        k = re.escape(key.encode()).replace(rb"\->", rb"\s*->\s*").replace(rb"\.", rb"\s*\.\s*")
        if re.search(rb"(?<![\w>.])" + k + rb"\s*=(?!=)", region):
            return key
    return None


def _copyable_release(fn, data: bytes, site: int, text: str) -> tuple[str, object]:
    """("copy", (callee, args)) when the release statement `text` can run in
    the failure block as written; ("drop", None) when it cannot concern the
    site (it names a local not in scope there); ("keep", why) otherwise."""
    body = fn.child_by_field_name("body")
    occurrences = [n for n in _walk(body) if n.type == "expression_statement" and n.start_byte > site
                   and _text(n, data) == text and n.named_child_count
                   and n.named_children[0].type == "call_expression"]
    if not occurrences:
        return "keep", "not a single call"
    call = occurrences[0].named_children[0]
    callee = _text(call.child_by_field_name("function"), data)
    names = _arg_identifiers(call, data)
    for name in names:
        if not in_scope(fn, data, name, site):
            return "drop", None
    arglist = call.child_by_field_name("arguments")
    args = [a for a in (arglist.named_children if arglist is not None else []) if a.type != "comment"]
    keys = [k for k in (_key(a, data) for a in args) if k not in names and re.fullmatch(r"[\w.>\-]+", k)]
    acq = _acquire_re(callee)
    for occ in occurrences:
        changed = _changed_between(data, site, occ.start_byte, names, keys, acq)
        if changed == "acquire":
            return "drop", None  # it releases what a later acquire takes
        if changed is not None:
            return "keep", f"'{changed}' changes before {callee}"
    # What it releases must be taken on every path to the site: an acquire
    # named like it, `&key` handed to a call, or `key = call()` dominating it.
    stmt_start = _site_statement_start(body, site)
    arg_keys = {_key(a, data) for a in args}
    dominated = False
    for n in _walk(body):
        if n.end_byte > stmt_start or dominated:
            continue
        if n.type == "call_expression":
            fname = _text(n.child_by_field_name("function"), data)
            nargs = n.child_by_field_name("arguments")
            hit = acq is not None and acq.fullmatch(fname) is not None or any(
                a.type == "pointer_expression" and _key(a, data) in arg_keys
                for a in (nargs.named_children if nargs is not None else []))
        elif n.type == "assignment_expression":
            left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
            hit = left is not None and right is not None and right.type == "call_expression" and \
                re.sub(r"\s+", "", _text(left, data)) in arg_keys
        else:
            continue
        dominated = hit and _dominates_site(n, stmt_start)
    if not dominated:
        return "keep", f"what {callee} releases is not taken on every path here"
    return "copy", (callee, tuple(re.sub(r"\s+", " ", _text(a, data)).strip() for a in args))


def _split_undo(fn, data: bytes, site: int, conv: ErrorConvention, targets) -> ErrorConvention:
    """Releases a direct return needs move from `undo` to `release` (the
    failure block does them) when each is a single call, its arguments in
    scope and unchanged since the site, what it releases taken on every path
    here, and none of them needs a human; releases naming locals out of
    scope at the site concern other paths and go."""
    if conv.label or not conv.undo:
        return conv
    del targets
    release, needed, kept, why = [], [], [], []
    for text in conv.undo:
        if text in conv.partial_undo:
            kept.append(text)
            why.append(f"{text.split('(', 1)[0].strip()} is part of a cleanup label not all of which applies here")
            needed.append(text)
            continue
        kind, what = _copyable_release(fn, data, site, text)
        if kind == "drop":
            continue
        needed.append(text)
        if kind == "copy":
            release.append(what)
        else:
            kept.append(text)
            why.append(what)
    evidence = conv.evidence + "".join(f"; {w}" for w in why)
    if kept:
        # One release needs a human: which to do, and in what order, is theirs.
        return _replace(conv, undo=tuple(needed), release=(), evidence=evidence)
    return _replace(conv, undo=(), release=tuple(release), evidence=evidence)


def convention(fn: tree_sitter.Node | None, data: bytes, name: str | None, site_offset: int | None = None,
               assigned_at_site: set[str] | frozenset[str] = frozenset()) -> ErrorConvention:
    """The convention for a failure at site_offset (a label is reused only when safe)."""
    conv = _convention_at(fn, data, name, site_offset, assigned_at_site)
    if fn is None or site_offset is None:
        return conv
    conv = _split_undo(fn, data, site_offset, conv, assigned_at_site)
    if conv.label is None and conv.failure_value and conv.failure_value.startswith("-"):
        status = _break_exit(fn.child_by_field_name("body"), data, site_offset, set(assigned_at_site))
        if status is not None:
            conv = _replace(conv, break_status=status, evidence=conv.evidence + f"; its other failures here set "
                            f"'{status}' and break out to the return of '{status}'")
    return conv


_LOOPS = ("for_statement", "while_statement", "do_statement")


def _break_exit(body, data: bytes, site: int, targets: set[str]) -> str | None:
    """The status variable when a failure at the site should leave like its
    siblings in the innermost switch or loop (`ret = -EINVAL; break;`): the
    break must lead straight to `return ret;`, directly or through the end
    of a loop that stops on a failure status (`while (!ret) { switch ... }`),
    so it does what a direct return does, in the function's own style."""
    node = body.descendant_for_byte_range(site, site)
    breakable = None
    while node is not None and node != body:
        if node.type == "switch_statement" or (node.type in _LOOPS and node.child_by_field_name("body") is not None
                                               and node.child_by_field_name("body").start_byte <= site):
            breakable = node
            break
        node = node.parent
    if breakable is None:
        return None
    locals_ = local_declarations(body.parent, data)
    statuses = set()
    for n in _walk(breakable):
        if n.type != "break_statement" or _innermost_breakable(n, breakable) != breakable:
            continue
        prev = n.prev_named_sibling
        while prev is not None and prev.type == "comment":
            prev = prev.prev_named_sibling
        e = prev.named_children[0] if prev is not None and prev.type == "expression_statement" \
            and prev.named_child_count else None
        if e is None or e.type != "assignment_expression" or _text(e.child_by_field_name("operator"), data) != "=":
            continue
        left, right = e.child_by_field_name("left"), e.child_by_field_name("right")
        if left.type == "identifier" and re.fullmatch(r"-\s*(?:TARGET_)?E[A-Z0-9]+|-1", _text(right, data).strip()):
            statuses.add(_text(left, data))
    if len(statuses) != 1:
        return None
    status = statuses.pop()
    if status not in locals_ or status in targets:
        return None
    return status if _breaks_to_return(breakable, status, data) else None


def _innermost_breakable(node, stop):
    n = node.parent
    while n is not None and n != stop:
        if n.type == "switch_statement" or n.type in _LOOPS:
            return n
        n = n.parent
    return n


def _next_statement(node):
    nxt = node.next_named_sibling
    while nxt is not None and nxt.type == "comment":
        nxt = nxt.next_named_sibling
    return nxt


def _returns_var(node, var: str, data: bytes) -> bool:
    if node is None or node.type != "return_statement":
        return False
    value = [c for c in node.named_children if c.type != "comment"]
    return len(value) == 1 and _text(value[0], data).strip() == var


def _breaks_to_return(breakable, status: str, data: bytes) -> bool:
    """After `breakable`, control reaches `return status;` doing nothing else."""
    nxt = _next_statement(breakable)
    if nxt is not None:
        return _returns_var(nxt, status, data)
    block = breakable.parent
    loop = block.parent if block is not None and block.type == "compound_statement" else None
    if breakable.type != "switch_statement" or loop is None or loop.type != "while_statement" or \
            loop.child_by_field_name("body") != block:
        return False
    cond = loop.child_by_field_name("condition")
    text = re.sub(r"\s+", "", _text(cond, data)) if cond is not None else ""
    s = re.escape(status)
    # The loop goes round again only while the status holds no failure.
    if not re.fullmatch(rf"\((?:!{s}|{s}==0|{s}>=0|0=={s})\)", text):
        return False
    return _returns_var(_next_statement(loop), status, data)


def _convention_at(fn: tree_sitter.Node | None, data: bytes, name: str | None, site_offset: int | None,
                   assigned_at_site) -> ErrorConvention:
    base = _convention(fn, data, name)
    if base.errp:
        base = _replace(base, error_dest=base.errp)
    if fn is None or site_offset is None or base.failure_value is None:
        return base
    choice = choose_label(fn, data, site_offset, assigned_at_site, base.failure_value.startswith("-"))
    # A direct return must still undo what the function's other returns and
    # its cleanup labels undo (a lock taken earlier, a counter, a handle).
    undo = _undo_before_returns(fn, data, site_offset, assigned_at_site)
    if choice is None:
        return _replace(base, undo=undo) if undo else base
    from_label = tuple(u for u in _undo_on_return(choice.chain) if u not in undo)
    undo += from_label
    # A label whose other steps cannot run here (they touch the NULL or
    # what is not set up yet) is a teardown only partly applicable: which
    # of its releases a return needs, and in what order, is for a human.
    partial = from_label if any(s.harmful or s.unheld for s in choice.chain) else ()

    def direct(why: str) -> ErrorConvention:
        return _replace(base, evidence=base.evidence + "; " + why, undo=undo, partial_undo=partial)

    if choice.label is None:
        return direct(f"no cleanup label fits ({choice.why_not})")
    label, status, assigned = choice.label, choice.status, choice.assigned
    body = fn.child_by_field_name("body")
    labels, gotos = _labels_and_gotos(body, data)
    label_node = labels[label]
    value = base.failure_value
    if status is None:
        if value == "":
            pass  # void: the label's code ends the function
        elif assigned is not None and assigned not in _SUCCESS_H and (
                re.fullmatch(_FAILURE_VALUE, assigned) or _NAMED_ERROR_RE.fullmatch(f"return {assigned};".encode())):
            value = assigned  # the label itself returns a failure constant
        else:
            return direct(f"'{label}:' returns {assigned or 'nothing'}, not a failure value")
    elif assigned is not None and value not in ("NULL", "false", "FALSE"):
        family = _integer_value([assigned])
        if family is not None:
            value = family[0]
    chain_labels = {s.label for s in choice.chain} or {label}
    reaching = [s.label for s in choice.chain if s.start >= label_node.start_byte] or [label]
    uninit, why = _label_is_safe(fn, data, label_node, site_offset,
                                 set(assigned_at_site) | ({status} if status else set()))
    # Variables the existing jumps set for the label's code (an errno it
    # stores, a message it reports): the failure block sets them too.
    message = None
    presets: list[tuple[str, str]] = []
    after_text = data[label_node.start_byte : body.end_byte]
    locals_ = local_declarations(fn, data)
    for var, values in _preset_values(body, data, chain_labels).items():
        if var == status or var in assigned_at_site or var not in locals_ or \
                not re.search(rb"\b" + re.escape(var.encode()) + rb"\b", after_text):
            continue
        preset = _preset_for(values, data)
        if preset is None and message is None:
            message = var
        elif preset:
            presets.append((var, preset))
        elif why is None:
            why = f"each jump to it sets '{var}' to a value allocfix cannot choose"
        if var in uninit:
            uninit.remove(var)
    if why is None and uninit:
        why = f"'{uninit[0]}', used after the label, may be uninitialised at this point"
    if why is not None:
        return direct(f"not jumping to '{label}:': {why}")
    jumped_before = any(g < site_offset for l in reaching for g in gotos.get(l, []))
    after = [s for s in choice.chain if s.start >= label_node.start_byte]
    if not jumped_before and after and not any(s.held or s.effects for s in after) \
            and not _in_loop(body, site_offset) and (
                (any(s.frees_target for s in after) and not any(s.unset for s in after))
                or (status is None and value != base.failure_value)
                or _returns_early_before(body, data, site_offset)):
        # Nothing to clean up yet: return directly, as QEMU code does when the
        # label exists to free the pointer this allocation sets, or when the
        # function already fails by returning before this point. A label that
        # only ends the function (`out: return ret;`) or also tears down what
        # is set up later is its common exit: the first failure jumps there
        # like the later ones (3 in 4 such checks in QEMU 7.2), unless the
        # label returns a constant of its own (`return -EFAULT;`) that would
        # replace -ENOMEM for nothing. In a loop, earlier iterations ran the
        # code after the site, so the text before it does not show what is
        # held: jump.
        return _replace(base, evidence=base.evidence + f"; '{label}:' has nothing to clean up yet", undo=undo,
                        partial_undo=partial)
    sets = _direct_sets(body, data, site_offset, after, presets, status, value, base.failure_value) \
        if not jumped_before and after and not any(s.held or s.unset for s in after) \
        and all(s.copies_only or not s.effects for s in after) and not _in_loop(body, site_offset) else None
    if sets:
        # The label would only free NULL and store the error code: return as
        # the function's earlier failures do, storing ENOMEM the way they
        # store theirs (`errno = EINVAL; return NULL;`).
        return _replace(base, evidence=base.evidence + f"; '{label}:' has nothing to clean up yet but stores the "
                        f"error code, which the failure stores itself as {base.function}'s direct returns do",
                        undo=undo, partial_undo=partial, sets=sets)
    dest = base.error_dest
    at_label = False
    if base.errp:
        use, local = _label_errp_use(label_node, body.end_byte, data, base.errp)
        if use == "set" and message is None and not undo:
            return direct(f"not jumping to '{label}:', which sets {base.errp} with its own message")
        if use == "set":
            # The label reports (its own message when a direct return would
            # leave a lock or handle held): error_setg would set errp twice.
            at_label, dest = True, None
        if use == "propagate":
            dest = "&" + local
    return ErrorConvention(base.function, base.return_type, base.errp, value,
                           base.evidence + f"; failures jump to its '{label}:' cleanup", label, status,
                           confident=base.confident or status is not None or assigned is not None,
                           error_dest=dest, message_var=message, errp_at_label=at_label,
                           presets=tuple(presets))


# Values an early return hands back on success: such a return is not how
# the function fails (`if (!len) { return 0; }`).
_SUCCESS_RETURNS = frozenset({"0", "true", "TRUE", "H_SUCCESS"})


def _returns_early_before(body, data: bytes, site: int) -> bool:
    """A failure exit by direct return precedes the site (`if (...) {
    return -EINVAL; }`, `return;` in a void function): QEMU developers keep
    that style for the checks that follow while nothing needs undoing."""
    for n in _walk(body):
        if n.start_byte >= site:
            continue
        if n.type == "return_statement":
            value = [c for c in n.named_children if c.type != "comment"]
            if not value or re.sub(r"\s+", "", _text(value[0], data)) not in _SUCCESS_RETURNS:
                return True
    return False


def _direct_sets(body, data: bytes, site: int, after, presets, status: str | None, value: str,
                 direct_value: str | None) -> tuple[tuple[str, str], ...] | None:
    """What a direct return stores instead of a label whose only effects at
    the site are copies of values the jumps set (`errno = err;` with `err =
    ENOMEM`), when the function's failures before the site return directly
    storing into the same place (`errno = EINVAL; return NULL;`)."""
    known = dict(presets)
    if status is not None:
        known[status] = value
    elif value != direct_value:
        return None  # the label returns a value of its own
    out = []
    before = data[body.start_byte : site]
    for seg in after:
        for target, var in seg.copies:
            if var not in known or not known[var]:
                return None
            if not re.search(rb"(?<![\w>.])" + re.escape(target.encode()) + rb"\s*=[^=;][^;]*;\s*return\b", before):
                return None
            out.append((target, known[var]))
    return tuple(out) or None


def _in_loop(body, site: int) -> bool:
    """The site is inside a loop's body (for, while, do) of the function."""
    n = body.descendant_for_byte_range(site, site)
    while n is not None and n != body:
        if n.type in ("for_statement", "while_statement", "do_statement") and \
                n.child_by_field_name("body") is not None and \
                n.child_by_field_name("body").start_byte <= site < n.child_by_field_name("body").end_byte:
            return True
        n = n.parent
    return False


def _replace(conv: ErrorConvention, **changes) -> ErrorConvention:
    from dataclasses import replace
    return replace(conv, **changes)
