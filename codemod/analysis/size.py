"""Size class of an allocation: small (provably <= limit), large, unknown.

First version: folds integer literals, sizeof of scalar types and simple
arithmetic. The analysis issue deepens it (struct sizes, bounds, provenance).
"""

from __future__ import annotations

from codemod.analysis.sites import Site
from codemod.cparse import ParsedFile
from codemod.findings import SizeInfo

SCALAR_SIZES = {
    "char": 1, "signed char": 1, "unsigned char": 1, "bool": 1, "_Bool": 1,
    "short": 2, "unsigned short": 2, "int": 4, "unsigned": 4, "unsigned int": 4, "long": 8,
    "unsigned long": 8, "long long": 8, "unsigned long long": 8, "float": 4, "double": 8,
    "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
    "int64_t": 8, "uint64_t": 8, "size_t": 8, "ssize_t": 8, "hwaddr": 8, "ram_addr_t": 8,
    "gsize": 8, "gssize": 8, "guint8": 1, "guint16": 2, "guint32": 4, "guint64": 8, "gchar": 1,
    "guchar": 1, "gint": 4, "guint": 4, "gboolean": 4, "uintptr_t": 8, "intptr_t": 8,
}


def _fold(node, data: bytes) -> int | None:
    t = node.type
    text = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    if t == "number_literal":
        digits = text.rstrip("uUlL")
        try:
            return int(digits, 0)
        except ValueError:
            return None
    if t == "parenthesized_expression":
        return _fold(node.named_children[0], data) if node.named_child_count == 1 else None
    if t == "sizeof_expression":
        inner = node.child_by_field_name("type") or node.child_by_field_name("value")
        if inner is None:
            return None
        itext = data[inner.start_byte : inner.end_byte].decode("utf-8", "replace").strip("() ")
        if itext.endswith("*"):
            return 8
        return SCALAR_SIZES.get(" ".join(itext.split()))
    if t == "binary_expression":
        left = _fold(node.child_by_field_name("left"), data)
        right = _fold(node.child_by_field_name("right"), data)
        op = node.child_by_field_name("operator").type
        if left is None or right is None:
            return None
        if op == "*":
            return left * right
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "/" and right:
            return left // right
        if op == "<<":
            return left << right
        return None
    if t == "identifier":
        return SCALAR_SIZES.get(text)
    return None


def _args(site: Site):
    args = site.call.child_by_field_name("arguments")
    return [c for c in args.named_children if c.type != "comment"] if args else []


def classify_size(site: Site, parsed: ParsedFile, *, limit: int = 4096, facts=None) -> SizeInfo:
    data = parsed.source.data
    args = _args(site)
    how = site.allocator.size
    terms: list = []
    if how in ("arg0",) and args:
        terms = [args[0]]
    elif how in ("n*size", "type*n") and len(args) >= 2:
        terms = [args[0], args[1]]
    elif how in ("realloc", "align,size", "bs,size", "memdup") and len(args) >= 2:
        terms = [args[1]]
    elif how == "renew" and len(args) >= 3:
        terms = [args[0], args[2]]
    elif how == "realloc_n" and len(args) >= 3:
        terms = [args[1], args[2]]
    elif how == "bits" and args:
        terms = [args[0]]
    if not terms:
        return SizeInfo("unknown", None, "size arguments not recognised")
    values = [_fold(t, data) for t in terms]
    expr = " * ".join(data[t.start_byte : t.end_byte].decode("utf-8", "replace") for t in terms)
    if any(v is None for v in values):
        return SizeInfo("unknown", None, f"{expr}: not a constant")
    total = 1
    for v in values:
        total *= v
    if how == "bits":
        total = (total + 7) // 8
    if total <= limit:
        return SizeInfo("small", total, f"constant: {expr} = {total} bytes")
    return SizeInfo("large", total, f"constant: {expr} = {total} bytes")
