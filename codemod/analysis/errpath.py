"""How the enclosing function reports failure: its error convention.

Learned from the function itself, never from path names alone: an
`Error **errp` parameter gets error_setg; the failure value comes from
the return type and the error returns the function already has (-ENOMEM
for -errno functions, -TARGET_ENOMEM where it returns -TARGET_E*,
H_NO_MEM where it returns sPAPR H_* codes, -1, false, NULL); an existing
cleanup label is reused when jumping to it is safe. When the value is
only assumed (no other failure return and no errp), `confident` is False
and the plan makes the site a stub a human must confirm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from codemod.cparse import declarator_identifier

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

    @property
    def can_fail(self) -> bool:
        return self.failure_value is not None and not (self.failure_value == "" and self.errp is None)

    @property
    def is_pointer(self) -> bool:
        return self.return_type.endswith("*")


def _text(node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


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


def _label_is_safe(fn, data: bytes, label: tree_sitter.Node, site: int, assigned_at_site: set[str]) -> str | None:
    """Why jumping from `site` to `label` would be wrong, or None."""
    body = fn.child_by_field_name("body")
    locals_ = local_declarations(fn, data)
    # No automatic-cleanup variable may come into scope between the site and the label.
    for name, decl in locals_.items():
        if site < decl.start_byte < label.start_byte and is_auto_decl(decl, data):
            return f"the jump would skip the initialisation of automatic-cleanup variable '{name}'"
    # Every local the cleanup reads must hold a value when we jump.
    seen = set()
    for n in _walk(body):
        if n.start_byte < label.start_byte or n.type != "identifier":
            continue
        name = _text(n, data)
        if name in seen or name not in locals_ or name in assigned_at_site:
            continue
        seen.add(name)
        decl = locals_[name]
        if decl.start_byte > label.start_byte or _declarator_has_init(decl, name, data):
            continue
        if assigned_before(fn, data, name, site):
            continue
        return f"'{name}', used after the label, may be uninitialised at this point"
    return None


_FREE_LIKE_RE = re.compile(r"g_free|qemu_vfree|g_clear_pointer|\w+_free|\w+_unref|\w+_destroy")


def _label_only_frees_unset(fn, data: bytes, label, site: int, assigned_at_site) -> bool:
    """Does the code after the label only free things not yet set at site?"""
    body = fn.child_by_field_name("body")
    ret, _ = _first_return_after(body, label.start_byte, data)
    end = ret.start_byte if ret is not None else body.end_byte
    before = data[body.start_byte : site]
    for n in _walk(body):
        if not (label.start_byte <= n.start_byte < end) or n.type != "expression_statement":
            continue
        e = n.named_children[0] if n.named_child_count else None
        if e is None or e.type != "call_expression":
            return False
        callee = e.child_by_field_name("function")
        if callee is None or not _FREE_LIKE_RE.fullmatch(_text(callee, data)):
            return False
        args = e.child_by_field_name("arguments")
        for a in (args.named_children if args is not None else []):
            name = _text(a, data).lstrip("&").strip()
            if name in assigned_at_site:
                continue
            if re.search(rb"(?<![\w>.])" + re.escape(name.encode()) + rb"\s*=(?!=)(?!\s*NULL\b)", before) or \
                    re.search(rb"&\s*" + re.escape(name.encode()) + rb"\b", before):
                return False
    return True


def cleanup_label(fn: tree_sitter.Node, data: bytes, after: int) -> tuple[str, str | None, str | None] | None:
    """The cleanup label failures after `after` should jump to, if the function has one.

    A label counts when it comes after the site and some `goto` reaches it.
    Returns (label, status variable returned there or None, value that
    variable is given before existing gotos, or the constant returned there).
    """
    body = fn.child_by_field_name("body")
    if body is None:
        return None
    labels, gotos = _labels_and_gotos(body, data)
    after_site = {l for l, n in labels.items() if n.start_byte > after}
    if not after_site:
        return None
    # The first jump after the site shows the cleanup state at this point
    # (cascades of labels free in reverse order); else the busiest label;
    # else a label only reached by falling through.
    following = sorted((g, l) for l in after_site for g in gotos.get(l, []) if g > after)
    if following:
        label = following[0][1]
    elif any(gotos.get(l) for l in after_site):
        label = max(after_site, key=lambda l: (len(gotos.get(l, [])), -labels[l].start_byte))
    else:
        label = min(after_site, key=lambda l: labels[l].start_byte)
    node = labels[label]
    ret, value = _first_return_after(body, node.start_byte, data)
    status = None
    assigned = None
    if value is not None and value.type == "identifier" and _text(value, data) in local_declarations(fn, data):
        status = _text(value, data)
        pattern = (rb"\b" + re.escape(status.encode()) + rb"\s*=\s*(" + _FAILURE_VALUE.encode() + rb")\s*;\s*goto\s+"
                   + re.escape(label.encode()) + rb"\s*;")
        found = re.findall(pattern, data[body.start_byte : body.end_byte])
        if found:
            assigned = found[0].decode()
    elif value is not None:
        assigned = _text(value, data)
    return label, status, assigned


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


def convention(fn: tree_sitter.Node | None, data: bytes, name: str | None, site_offset: int | None = None,
               assigned_at_site: set[str] | frozenset[str] = frozenset()) -> ErrorConvention:
    """The convention for a failure at site_offset (a label is reused only when safe)."""
    base = _convention(fn, data, name)
    if base.errp:
        base = _replace(base, error_dest=base.errp)
    if fn is None or site_offset is None or base.failure_value is None:
        return base
    found = cleanup_label(fn, data, site_offset)
    if found is None:
        return base
    label, status, assigned = found
    body = fn.child_by_field_name("body")
    labels, _ = _labels_and_gotos(body, data)
    label_node = labels[label]
    value = base.failure_value
    if status is None:
        if value == "":
            pass  # void: the label's code ends the function
        elif assigned is not None and assigned not in _SUCCESS_H and (
                re.fullmatch(_FAILURE_VALUE, assigned) or _NAMED_ERROR_RE.fullmatch(f"return {assigned};".encode())):
            value = assigned  # the label itself returns a failure constant
        else:
            return base
    elif assigned is not None and value not in ("NULL", "false", "FALSE"):
        family = _integer_value([assigned])
        if family is not None:
            value = family[0]
    why = _label_is_safe(fn, data, label_node, site_offset, set(assigned_at_site) | ({status} if status else set()))
    if why is not None:
        return _replace(base, evidence=base.evidence + f"; not jumping to '{label}:': {why}")
    if not any(g < site_offset for g in _labels_and_gotos(body, data)[1].get(label, [])) and \
            _label_only_frees_unset(fn, data, label_node, site_offset, assigned_at_site):
        # Nothing to clean up yet: return directly, as QEMU code does early on.
        return _replace(base, evidence=base.evidence + f"; '{label}:' has nothing to clean up yet")
    dest = base.error_dest
    if base.errp:
        use, local = _label_errp_use(label_node, body.end_byte, data, base.errp)
        if use == "set":
            return _replace(base, evidence=base.evidence + f"; not jumping to '{label}:', which sets {base.errp}")
        if use == "propagate":
            dest = "&" + local
    return ErrorConvention(base.function, base.return_type, base.errp, value,
                           base.evidence + f"; failures jump to its '{label}:' cleanup", label, status,
                           confident=base.confident or status is not None or assigned is not None,
                           error_dest=dest)


def _replace(conv: ErrorConvention, **changes) -> ErrorConvention:
    from dataclasses import replace
    return replace(conv, **changes)
