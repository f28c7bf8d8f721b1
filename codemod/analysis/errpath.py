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


def convention(fn: tree_sitter.Node | None, data: bytes, name: str | None) -> ErrorConvention:
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
