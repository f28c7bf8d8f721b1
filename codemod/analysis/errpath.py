"""How the enclosing function reports failure: its error convention.

Learned from the function itself: an `Error **errp` parameter gets
error_setg; the return value follows the function's return type and the
error returns it already has (-ENOMEM for -errno functions, -1, false,
NULL); void functions without errp get a stub a human must finish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

SIGNED_INT_TYPES = frozenset({"int", "long", "ssize_t", "int64_t", "int32_t", "off_t", "long long", "int16_t"})
_ERRNO_RETURN_RE = re.compile(rb"\breturn\s+-E[A-Z0-9]+\s*;")
_MINUS_ONE_RETURN_RE = re.compile(rb"\breturn\s+-1\s*;")


@dataclass(frozen=True)
class ErrorConvention:
    function: str | None
    return_type: str  # as written, pointer stars included
    errp: str | None  # name of the Error ** parameter
    failure_value: str | None  # "-ENOMEM", "false", "NULL", "" (void), None (unknown: stub)
    evidence: str
    # Reuse of the function's own cleanup: `status = value; goto label;`
    label: str | None = None
    status_var: str | None = None

    @property
    def can_fail(self) -> bool:
        return self.failure_value is not None and not (self.failure_value == "" and self.errp is None)


def _return_type(fn: tree_sitter.Node, data: bytes) -> tuple[str, int]:
    """Return type text (without storage class) and pointer depth of the declarator."""
    parts = []
    for child in fn.children:
        if child.type in ("storage_class_specifier", "attribute_specifier", "ms_declspec_modifier"):
            continue
        if child.type == "function_declarator" or child.type == "pointer_declarator" or child == fn.child_by_field_name(
            "declarator"
        ):
            break
        if child.type in ("type_qualifier",) or child == fn.child_by_field_name("type"):
            parts.append(data[child.start_byte : child.end_byte].decode("utf-8", "replace"))
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


def errp_param(fn: tree_sitter.Node, data: bytes) -> str | None:
    for p in _params(fn):
        text = data[p.start_byte : p.end_byte].decode("utf-8", "replace")
        m = re.fullmatch(r"\s*Error\s*\*\s*\*\s*(\w+)\s*", text)
        if m:
            return m.group(1)
    return None


def _text(node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def cleanup_label(fn: tree_sitter.Node, data: bytes, after: int) -> tuple[str, str | None, str | None] | None:
    """The cleanup label failures after `after` should jump to, if the function has one.

    A label counts when it comes after the site, some `goto` reaches it, and
    the code after it returns (or falls off the end). Returns (label, status
    variable returned there or None, value that variable is given before
    existing gotos or None).
    """
    body = fn.child_by_field_name("body")
    if body is None:
        return None
    labels: dict[str, tree_sitter.Node] = {}
    gotos: dict[str, int] = {}
    for n in _walk(body):
        if n.type == "labeled_statement":
            lab = n.child_by_field_name("label")
            if lab is not None:
                labels[_text(lab, data)] = n
        elif n.type == "goto_statement":
            lab = n.child_by_field_name("label")
            if lab is not None:
                gotos[_text(lab, data)] = gotos.get(_text(lab, data), 0) + 1
    candidates = [(gotos[l], -labels[l].start_byte, l) for l in gotos if l in labels and labels[l].start_byte > after]
    if not candidates:
        return None
    _, _, label = max(candidates)
    # What the code after the label returns.
    status = None
    node = labels[label]
    for n in _walk(node.parent):
        if n.type == "return_statement" and n.start_byte > node.start_byte:
            value = [c for c in n.named_children if c.type != "comment"]
            if value and value[0].type == "identifier":
                status = _text(value[0], data)
            break
    assigned = None
    if status:
        m = re.search(rb"\b" + re.escape(status.encode()) + rb"\s*=\s*(-E[A-Z0-9]+|-1|false|NULL)\s*;\s*goto\s+"
                      + re.escape(label.encode()) + rb"\s*;", data[body.start_byte : body.end_byte])
        if m:
            assigned = m.group(1).decode()
    return label, status, assigned


def convention(fn: tree_sitter.Node | None, data: bytes, name: str | None, site_offset: int | None = None) -> ErrorConvention:
    base_conv = _convention(fn, data, name)
    if fn is None or site_offset is None or base_conv.failure_value is None:
        return base_conv
    found = cleanup_label(fn, data, site_offset)
    if found is None:
        return base_conv
    label, status, assigned = found
    if status is None and base_conv.failure_value not in ("", None):
        # The label returns a constant or nothing we can see: jumping is enough
        # only when it returns the failure value itself.
        return base_conv
    value = base_conv.failure_value
    if assigned == "-1" and value == "-ENOMEM":
        value = "-1"
    return ErrorConvention(base_conv.function, base_conv.return_type, base_conv.errp, value,
                           base_conv.evidence + f"; failures jump to its '{label}:' cleanup",
                           label, status)


def _convention(fn: tree_sitter.Node | None, data: bytes, name: str | None) -> ErrorConvention:
    if fn is None:
        return ErrorConvention(None, "", None, None, "not inside a function")
    rtype, stars = _return_type(fn, data)
    errp = errp_param(fn, data)
    body = fn.child_by_field_name("body")
    body_bytes = data[body.start_byte : body.end_byte] if body is not None else b""
    full_type = rtype + (" " + "*" * stars if stars else "")
    if stars:
        return ErrorConvention(name, full_type, errp, "NULL", f"{name} returns a pointer ({full_type})")
    base = rtype.replace("static", "").replace("inline", "").strip()
    if base == "void":
        return ErrorConvention(name, "void", errp, "", f"{name} returns void")
    if base == "bool":
        return ErrorConvention(name, "bool", errp, "false", f"{name} returns bool")
    if base in SIGNED_INT_TYPES:
        if _ERRNO_RETURN_RE.search(body_bytes):
            return ErrorConvention(name, base, errp, "-ENOMEM", f"{name} returns -errno on failure")
        if _MINUS_ONE_RETURN_RE.search(body_bytes):
            return ErrorConvention(name, base, errp, "-1", f"{name} returns -1 on failure")
        return ErrorConvention(name, base, errp, "-ENOMEM", f"{name} returns {base}: -errno convention assumed")
    return ErrorConvention(name, base, errp, None, f"{name} returns {base}: no failure value known")
