"""Size classification of allocation sites (GUIDE §1, R3/R5).

An allocation is "small" when its byte count is provably <= the limit
(4096 by default), "large" when it can exceed the limit (a constant above
it, a bound admitted by a check, or a count derived from guest/untrusted
data), and "unknown" otherwise. The engine treats unknown like large.

How: the byte count is formed from the call's arguments as the allocator
table says (rules/allocators.toml `size`), then evaluated to an interval
[lo, hi] of possible values:

* constants fold (literals, sizeof of scalars, pointers, records and
  typedefs, enum constants, object-like #defines, MIN/MAX, casts, ...);
* a local variable takes the union of every value assigned to it in the
  function (flow-insensitive; a parameter also keeps its entry value);
* checks that dominate the call narrow the interval: an `if (COND)` whose
  body always leaves (return/goto/break/continue/exit), an `assert`, the
  condition of an enclosing if/while/for/ternary, or `if (x > K) x = K;`;
* guest data marks the value: MemoryRegionOps-style write handlers' value
  parameter, ld*_p/virtio_ld*/qemu_get_be*/pci_get_* results, variables and
  structs filled by dma_memory_read, pci_dma_read, address_space_read,
  bdrv_pread, ..., and byte-swapped fields (be32_to_cpu(h.x)).

* provenance across the functions of the file: a parameter takes what its
  callers pass (one tainted caller taints it; a bound needs every caller of
  a static function), a field what any function assigns to a field of that
  struct type or reads into such a struct from the guest or an image, a
  call of a one-line helper (`return EXPR;`, from the file or a header) its
  expression; each step is named in the evidence;
* user-controlled values: integer device properties (DEFINE_PROP_*,
  codemod.analysis.props), QMP command handler arguments, QDict values;
* `x += e` with e >= 1 in an endless loop (`for (;;)`) around the read and
  no reset there: the data alone decides how far x grows.
* other untrusted sources: sizes of files the user names (get_file_size,
  load_image*), options parsed by cvtnum/qemu_strto*/qemu_opt_get_*, the
  kernel's answers (ioctl, read), linux-user syscall arguments (abi_long
  parameters), packet and I/O vector lengths, snapshot counts of an image;
  a value a helper of the file stores through `&x`;
* across files: callers of a non-static function and writes of a field in
  the other C files of the directory (codemod.analysis.siblings), for
  guest/user data or a value above the limit only (other callers are not seen);
* a global assigned just before the allocation with no call between; sizeof
  of a type only partly known is at least the size of its known members;
* a call's result: the union of the called function's `return` values when
  it is defined in the file (or, a getter, in exactly one other C file of
  the directory), scalar parameters bound to the arguments; a counter grown
  by a constant in a loop that runs while `n < K` reaches at most K (the
  data decides how many trips run, so the bound is reachable); a system
  function's documented limit for a count it stores through `&x`
  (rules/system-types.toml [outputs]); a counter grown once per vCPU
  (CPU_FOREACH) reaches the `mc->max_cpus` of the machine the file defines;
  one grown at most once per trip of a counted `for` loop, its trip count;
* function-like macros expand with the argument texts (no #, ##, ...).

Unknown variables are assumed non-negative (sizes are size_t). Everything
here works on the tree of one file plus SizeFacts (types, constants,
helpers and properties of that file, its headers, the QAPI schema and
rules/system-types.toml); nothing raises for odd input: what cannot be
understood is "unknown" with a reason.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections import ChainMap, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import tree_sitter

from codemod.cparse import C_LANGUAGE, ParsedFile, function_name
from codemod.cparse import parser as c_parser
from codemod.findings import SizeInfo

if TYPE_CHECKING:
    from codemod.analysis.sites import Site

DEFAULT_LIMIT = 4096

# ---------------------------------------------------------------------------
# Scalar types (x86_64, LP64): name -> (size, alignment)

_SCALARS: dict[str, int] = {
    "char": 1, "signed char": 1, "unsigned char": 1, "_Bool": 1, "bool": 1,
    "short": 2, "unsigned short": 2, "int": 4, "unsigned int": 4, "unsigned": 4, "signed": 4,
    "long": 8, "unsigned long": 8, "long long": 8, "unsigned long long": 8,
    "float": 4, "double": 8, "long double": 16, "__int128": 16, "unsigned __int128": 16,
    "Int128": 16,
    "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
    "int64_t": 8, "uint64_t": 8, "intptr_t": 8, "uintptr_t": 8, "ptrdiff_t": 8,
    "size_t": 8, "ssize_t": 8, "off_t": 8, "time_t": 8,
    "hwaddr": 8, "ram_addr_t": 8, "vaddr": 8, "dma_addr_t": 8, "target_ulong": 8,
}

# Value ranges of narrow types: a value of this type can be no larger.
_TYPE_MAX: dict[str, int] = {
    "bool": 1, "_Bool": 1, "uint8_t": 0xFF, "unsigned char": 0xFF, "guint8": 0xFF, "guchar": 0xFF,
    "int8_t": 0x7F, "signed char": 0x7F, "char": 0xFF, "gchar": 0xFF, "gint8": 0x7F,
    "uint16_t": 0xFFFF, "unsigned short": 0xFFFF, "guint16": 0xFFFF, "gushort": 0xFFFF,
    "int16_t": 0x7FFF, "short": 0x7FFF, "gint16": 0x7FFF, "gshort": 0x7FFF,
}

# Unsigned types a negative constant wraps around in when cast: `(size_t)-1`.
_UNSIGNED_MAX: dict[str, int] = {
    **{n: (1 << 64) - 1 for n in ("size_t", "uint64_t", "unsigned long", "unsigned long long", "hwaddr",
                                  "ram_addr_t", "gsize", "guint64", "uintptr_t", "gulong", "vaddr")},
    **{n: (1 << 32) - 1 for n in ("uint32_t", "unsigned", "unsigned int", "guint", "guint32")},
    **{n: v for n, v in _TYPE_MAX.items() if n.startswith(("u", "gu")) or n in ("unsigned char", "unsigned short")},
}

# Layouts of types defined in system and library headers (never scanned):
# data in rules/system-types.toml, with where each number comes from.


@lru_cache(maxsize=1)
def system_types() -> tuple[dict[str, tuple[int, int]], dict[str, dict[str, int]]]:
    """(name -> (size, align), name -> {field: offset}) from rules/system-types.toml."""
    from codemod.rulesdata import builtin_rules_dir

    data = tomllib.loads((builtin_rules_dir() / "system-types.toml").read_text(encoding="utf-8"))
    layouts: dict[str, tuple[int, int]] = {}
    offsets: dict[str, dict[str, int]] = {}
    for name, spec in data.get("types", {}).items():
        layouts[name] = (int(spec["size"]), int(spec["align"]))
        if "fields" in spec:
            offsets[name] = {k: int(v) for k, v in spec["fields"].items()}
    return layouts, offsets


@lru_cache(maxsize=1)
def system_constants() -> dict[str, tuple[int, str]]:
    """name -> (value, where it is defined) from rules/system-types.toml [constants]:
    macros of system headers (the Xen libraries, ...) the tree uses but does not define."""
    from codemod.rulesdata import builtin_rules_dir

    data = tomllib.loads((builtin_rules_dir() / "system-types.toml").read_text(encoding="utf-8"))
    return {name: (int(spec["value"]), str(spec["from"])) for name, spec in data.get("constants", {}).items()}


@lru_cache(maxsize=1)
def system_outputs() -> dict[str, tuple[int, int, str]]:
    """name -> (pointer argument index, largest value stored, where documented) from
    rules/system-types.toml [outputs]: system functions storing a bounded count through `&x`."""
    from codemod.rulesdata import builtin_rules_dir

    data = tomllib.loads((builtin_rules_dir() / "system-types.toml").read_text(encoding="utf-8"))
    return {name: (int(spec["arg"]), int(spec["max"]), str(spec["from"]))
            for name, spec in data.get("outputs", {}).items()}


# qemu/queue.h heads and links used as field types: QTAILQ_HEAD(, T) ...
_QUEUE_RE = re.compile(r"^(QLIST|QSLIST|QSIMPLEQ|QTAILQ)_(HEAD|ENTRY)\s*\(")
_QUEUE_LAYOUTS = {
    ("QLIST", "HEAD"): (8, 8), ("QLIST", "ENTRY"): (16, 8),
    ("QSLIST", "HEAD"): (8, 8), ("QSLIST", "ENTRY"): (8, 8),
    ("QSIMPLEQ", "HEAD"): (16, 8), ("QSIMPLEQ", "ENTRY"): (8, 8),
    ("QTAILQ", "HEAD"): (16, 8), ("QTAILQ", "ENTRY"): (16, 8),
}

_QUALIFIERS = {"const", "volatile", "restrict", "static", "extern", "register", "inline",
               "__restrict", "__restrict__"}

# Well-known constants of the platform and of QEMU's own headers that every
# file may use without the header being scanned.
_BUILTIN_CONSTANTS: dict[str, int] = {
    "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50, "EiB": 1 << 60,
    "CHAR_BIT": 8, "BITS_PER_BYTE": 8, "BITS_PER_LONG": 64,
    "UINT8_MAX": 0xFF, "UINT16_MAX": 0xFFFF, "UINT32_MAX": 0xFFFFFFFF,
    "UINT64_MAX": (1 << 64) - 1, "INT8_MAX": 0x7F, "INT16_MAX": 0x7FFF, "INT32_MAX": 0x7FFFFFFF,
    "INT64_MAX": (1 << 63) - 1, "INT_MAX": 0x7FFFFFFF, "UINT_MAX": 0xFFFFFFFF,
    "LONG_MAX": (1 << 63) - 1, "SIZE_MAX": (1 << 64) - 1, "G_MAXUINT": 0xFFFFFFFF,
    "G_MAXINT": 0x7FFFFFFF, "G_MAXSIZE": (1 << 64) - 1, "PATH_MAX": 4096,
    "BDRV_SECTOR_BITS": 9, "BDRV_SECTOR_SIZE": 512,
}


# ---------------------------------------------------------------------------
# Facts: picklable (plain dicts of strings and tuples) so worker processes
# can build them per file and the runner can merge them.

# A declared type: (base key, pointer depth, array dimension expressions).
# Base keys: scalar names ("unsigned int"), typedef names ("Foo"),
# "struct Foo" / "union Foo", or "struct <anon@file:offset>".
TypeRef = tuple[str, int, tuple[str, ...]]
# A record field: (name or "" for an anonymous member, type, bit width text or "").
FieldDef = tuple[str, TypeRef, str]


# A function whose body is `return EXPR;`: parameters (name, type) and EXPR.
InlineFn = tuple[tuple[tuple[str, TypeRef], ...], str]


class _UnionChain(Mapping):
    """Constants seen through several layers: every layer's variants, unioned."""

    def __init__(self, maps: list):
        self.maps = maps

    def __getitem__(self, key: str) -> list[str]:
        found: list[str] | None = None
        for m in self.maps:
            texts = m.get(key)
            if texts:
                found = list(texts) if found is None else found + [t for t in texts if t not in found]
        if found is None:
            raise KeyError(key)
        return found

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key) -> bool:
        return any(key in m for m in self.maps)

    def __iter__(self):
        seen: set[str] = set()
        for m in self.maps:
            for k in m:
                if k not in seen:
                    seen.add(k)
                    yield k

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class SizeFacts:
    """File-independent knowledge: constants, type layouts, helpers, properties.

    constants:  name -> list of C expression texts (one per #define/enum
        occurrence; conditional variants are all kept and unioned).
    typedefs:   name -> TypeRef.
    records:    "struct X"/"union X" -> (packed, [FieldDef...]).
    functions:  name -> InlineFn, for functions whose body is one return.
    properties: "Type.field" -> [(DEFINE_PROP_x, property name, "file:line")]
        for integer device properties (codemod.analysis.props).
    """

    constants: dict[str, list[str]] = field(default_factory=dict)
    typedefs: dict[str, TypeRef] = field(default_factory=dict)
    records: dict[str, tuple[bool, list[FieldDef]]] = field(default_factory=dict)
    functions: dict[str, InlineFn] = field(default_factory=dict)
    properties: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)  # type name -> where its layout comes from

    @classmethod
    def from_parsed(cls, files: list[ParsedFile]) -> "SizeFacts":
        facts = cls()
        for parsed in files:
            _collect_facts(parsed, facts)
        return facts

    def merge(self, other: "SizeFacts") -> "SizeFacts":
        """A new SizeFacts with both; for types `self` wins, constants are unioned."""
        out = SizeFacts(
            {k: list(v) for k, v in self.constants.items()}, dict(self.typedefs), dict(self.records),
            dict(self.functions), dict(self.properties), dict(self.origins),
        )
        out.absorb(other)
        return out

    def absorb(self, other: "SizeFacts") -> None:
        """Add `other` in place (merge's meaning, without copying self): types
        already here win, constants are unioned."""
        for name, texts in other.constants.items():
            cur = self.constants.get(name)
            if cur is None:
                self.constants[name] = list(texts)
            else:
                cur.extend(t for t in texts if t not in cur)
        for mine, theirs in ((self.typedefs, other.typedefs), (self.records, other.records),
                             (self.functions, other.functions), (self.properties, other.properties),
                             (self.origins, other.origins)):
            for name, value in theirs.items():
                mine.setdefault(name, value)

    def layered(self, *others: "SizeFacts") -> "SizeFacts":
        """A view of self over `others` (merge's meaning) that copies nothing."""
        layers = [self, *others]
        return SizeFacts(
            _UnionChain([f.constants for f in layers]),  # type: ignore[arg-type]
            ChainMap(*[f.typedefs for f in layers]),  # type: ignore[arg-type]
            ChainMap(*[f.records for f in layers]),  # type: ignore[arg-type]
            ChainMap(*[f.functions for f in layers]),  # type: ignore[arg-type]
            ChainMap(*[f.properties for f in layers]),  # type: ignore[arg-type]
            ChainMap(*[f.origins for f in layers]),  # type: ignore[arg-type]
        )


def _text(data: bytes, node: tree_sitter.Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


_COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


_FACTS_QUERY_SRC = """
(preproc_def) @def
(function_definition) @fn
(enumerator_list) @enum
(struct_specifier body: (field_declaration_list)) @rec
(union_specifier body: (field_declaration_list)) @rec
(type_definition) @td
(preproc_function_def) @mac
"""
_FACTS_QUERY: tree_sitter.Query | None = None


def _collect_facts(parsed: ParsedFile, facts: SizeFacts) -> None:
    """Constants, typedefs, records and one-line helpers of one file.

    The nodes are found by a query (matched in C: headers are many and
    large) and handled in source order, outer before inner, so the first
    definition of a name wins as in a walk of the tree."""
    global _FACTS_QUERY
    if _FACTS_QUERY is None:
        _FACTS_QUERY = tree_sitter.Query(C_LANGUAGE, _FACTS_QUERY_SRC)
    data = parsed.source.data
    caps = tree_sitter.QueryCursor(_FACTS_QUERY).captures(parsed.root)
    nodes = [(n.start_byte, -n.end_byte, kind, n) for kind, ns in caps.items() for n in ns]
    nodes.sort(key=lambda x: (x[0], x[1]))
    for _, _, kind, node in nodes:
        if kind == "def":
            name = node.child_by_field_name("name")
            value = node.child_by_field_name("value")
            if name is not None and value is not None:
                body = _COMMENT_RE.sub(" ", _text(data, value)).replace("\\\n", " ").strip()
                if body:
                    lst = facts.constants.setdefault(_text(data, name), [])
                    if body not in lst:
                        lst.append(body)
        elif kind == "fn":
            _collect_inline_fn(parsed, node, facts)
        elif kind == "mac":
            _collect_macro(parsed, node, facts)
        elif kind == "enum":
            # Implicit values count up from the last explicit one: "(ANCHOR) + k".
            anchor, k = "0", -1
            for e in node.named_children:
                if e.type != "enumerator":
                    continue
                name = e.child_by_field_name("name")
                value = e.child_by_field_name("value")
                if name is None:
                    continue
                if value is not None:
                    anchor, k = _COMMENT_RE.sub(" ", _text(data, value)).strip(), 0
                    expr = anchor
                else:
                    k += 1
                    expr = f"({anchor}) + {k}" if anchor != "0" else str(k)
                lst = facts.constants.setdefault(_text(data, name), [])
                if expr not in lst:
                    lst.append(expr)
        elif kind == "rec":
            _record_key(parsed, node, facts)  # registers the record
        elif kind == "td":
            type_node = node.child_by_field_name("type")
            if type_node is not None:
                base = _type_key(parsed, type_node, facts)
                for decl in node.children_by_field_name("declarator"):
                    name, ptr, dims = _unwrap_declarator(data, decl)
                    if name and base:
                        facts.typedefs.setdefault(name, (base, ptr, dims))


def _collect_inline_fn(parsed: ParsedFile, fn: tree_sitter.Node, facts: SizeFacts) -> None:
    """Record `T name(params) { return EXPR; }` so calls of it can be evaluated."""
    body = fn.child_by_field_name("body")
    if body is None:
        return
    stmts = [c for c in body.named_children if c.type != "comment"]
    if len(stmts) != 1 or stmts[0].type != "return_statement" or not stmts[0].named_children:
        return
    data = parsed.source.data
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return
    name_node = decl.child_by_field_name("declarator")
    plist = decl.child_by_field_name("parameters")
    if name_node is None or name_node.type != "identifier" or plist is None:
        return
    params: list[tuple[str, TypeRef]] = []
    for p in plist.named_children:
        if p.type == "comment":
            continue
        if p.type != "parameter_declaration":
            return  # variadic or K&R: not a plain function of its arguments
        tnode = p.child_by_field_name("type")
        d = p.child_by_field_name("declarator")
        if tnode is None:
            return
        if d is None:
            if _text(data, tnode) == "void":
                continue
            return
        pname, ptr, dims = _unwrap_declarator(data, d)
        if not pname:
            return
        params.append((pname, (_type_key(parsed, tnode, None), ptr + (1 if dims else 0), ())))
    expr = _COMMENT_RE.sub(" ", _text(data, stmts[0].named_children[0])).strip()
    if expr and len(expr) <= 400:
        facts.functions.setdefault(_text(data, name_node), (tuple(params), expr))


# Function-like macros share SizeFacts.functions with one-line helpers: their
# parameter list starts with this pseudo-parameter, and a call expands the
# body with the argument texts (C's own substitution) instead of binding values.
_MACRO_MARK: tuple[str, TypeRef] = ("#define", ("", 0, ()))


def _collect_macro(parsed: ParsedFile, node: tree_sitter.Node, facts: SizeFacts) -> None:
    """Record `#define NAME(a, b) EXPR` (no #, ## or variadic arguments) for expansion."""
    data = parsed.source.data
    name = node.child_by_field_name("name")
    plist = node.child_by_field_name("parameters")
    value = node.child_by_field_name("value")
    if name is None or plist is None or value is None:
        return
    params = []
    for p in plist.named_children:
        if p.type != "identifier":
            return  # `...`: variadic
        params.append((_text(data, p), _MACRO_MARK[1]))
    if b"..." in data[plist.start_byte:plist.end_byte]:
        return
    body = _COMMENT_RE.sub(" ", _text(data, value)).replace("\\\n", " ").strip()
    if body and "#" not in body and len(body) <= 400:
        facts.functions.setdefault(_text(data, name), ((_MACRO_MARK, *params), body))


def _implicit_tag(name: str) -> str:
    """`Foo` used as a type with no typedef in sight but a `struct Foo`: QEMU
    declares `typedef struct Foo Foo;` through macros (OBJECT_DECLARE_TYPE,
    OBJECT_DECLARE_SIMPLE_TYPE) or in qemu/typedefs.h, so Foo is struct Foo."""
    return f"struct {name}" if name and " " not in name and not name.startswith("<") else ""


def _record_key(parsed: ParsedFile, node: tree_sitter.Node, facts: SizeFacts | None) -> str:
    """Key of a struct/union specifier; registers its layout when it has a body."""
    data = parsed.source.data
    kind = "union" if node.type == "union_specifier" else "struct"
    name = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name is not None:
        key = f"{kind} {_text(data, name)}"
    else:
        key = f"{kind} <anon@{parsed.source.display}:{node.start_byte}>"
    if body is not None and facts is not None and key not in facts.records:
        # QEMU_PACKED is masked away before parsing: look in the original text.
        tail_end = data.find(b";", body.end_byte)
        tail = data[node.start_byte : body.start_byte] + data[body.end_byte : tail_end if tail_end >= 0 else body.end_byte]
        packed = b"PACKED" in tail or b"packed" in tail
        fields: list[FieldDef] = []
        facts.records[key] = (packed, fields)  # placed first: recursion through pointers is fine
        for fd in body.named_children:
            if fd.type != "field_declaration":
                continue
            type_node = fd.child_by_field_name("type")
            if type_node is None:
                continue
            base = _type_key(parsed, type_node, facts)
            bits_node = next((c for c in fd.named_children if c.type == "bitfield_clause"), None)
            bits = _text(data, bits_node).lstrip(":").strip() if bits_node is not None else ""
            decls = fd.children_by_field_name("declarator")
            if not decls:
                fields.append(("", (base, 0, ()), bits))
            for decl in decls:
                fname, ptr, dims = _unwrap_declarator(data, decl)
                fields.append((fname or "", (base, ptr, dims), bits))
    return key


def _type_key(parsed: ParsedFile | None, node: tree_sitter.Node, facts: SizeFacts | None, data: bytes | None = None) -> str:
    data = parsed.source.data if parsed is not None else data
    t = node.type
    if t in ("struct_specifier", "union_specifier"):
        if parsed is None:
            kind = "union" if t == "union_specifier" else "struct"
            name = node.child_by_field_name("name")
            return f"{kind} {_text(data, name)}" if name is not None else ""
        return _record_key(parsed, node, facts)
    if t == "enum_specifier":
        return "int"
    if t == "sized_type_specifier":
        return _normalize_scalar(_text(data, node))
    return _normalize_scalar(_text(data, node))


def _normalize_scalar(text: str) -> str:
    words = [w for w in text.replace("*", " ").split() if w not in ("const", "volatile")]
    if not words:
        return ""
    unsigned = "unsigned" in words
    rest = [w for w in words if w not in ("unsigned", "signed")]
    if rest.count("long") >= 2:
        base = "long long"
    elif "long" in rest and "double" in rest:
        base = "long double"
    elif "long" in rest:
        base = "long"
    elif "short" in rest:
        base = "short"
    elif "char" in rest:
        base = "char"
    elif not rest or rest == ["int"]:
        base = "int"
    else:
        return " ".join(rest)
    if base == "char" and "signed" in words and not unsigned:
        return "signed char"
    if unsigned:
        return f"unsigned {base}"
    return base


def _unwrap_declarator(data: bytes, decl: tree_sitter.Node) -> tuple[str | None, int, tuple[str, ...]]:
    """(name, pointer depth, array dims) of a declarator; dims outermost first."""
    ptr = 0
    dims: list[str] = []
    node: tree_sitter.Node | None = decl
    while node is not None:
        t = node.type
        if t in ("identifier", "field_identifier", "type_identifier", "primitive_type"):
            return _text(data, node), ptr, tuple(dims)
        if t == "pointer_declarator" or t == "abstract_pointer_declarator":
            ptr += 1
        elif t in ("array_declarator", "abstract_array_declarator"):
            size = node.child_by_field_name("size")
            if ptr == 0:
                dims.append(_text(data, size) if size is not None else "")
            # an array of pointers is a pointer-sized element: dims stay
        elif t == "function_declarator" or t == "abstract_function_declarator":
            # a function pointer declarator: (*fp)(...) — pointer to function
            inner = node.child_by_field_name("declarator")
            name, p, d = _unwrap_declarator(data, inner) if inner is not None else (None, 0, ())
            return name, max(p, 1) + ptr, d
        elif t == "parenthesized_declarator":
            node = node.named_children[0] if node.named_children else None
            continue
        elif t == "init_declarator":
            pass
        node = node.child_by_field_name("declarator")
    return None, ptr, tuple(dims)


def _open_array_dims(data: bytes, decl: tree_sitter.Node, dims: tuple[str, ...]) -> tuple[str, ...]:
    """`T a[] = {...}` / `char s[] = "..."`: the initializer gives the bound.

    An open bound left as "" would read as a flexible array member (0 bytes);
    here it becomes the element count, or "?" (not known) when it cannot be
    counted (designated initializers)."""
    if not dims or dims[0] != "":
        return dims
    value = decl.child_by_field_name("value") if decl.type == "init_declarator" else None
    count: int | None = None
    if value is not None and value.type == "initializer_list":
        items = [c for c in value.named_children if c.type != "comment"]
        if not any(c.type == "initializer_pair" for c in items):
            count = len(items)
    elif value is not None and value.type in ("string_literal", "concatenated_string"):
        parts = [value] if value.type == "string_literal" else [c for c in value.named_children if c.type == "string_literal"]
        count = sum(len(_c_string_bytes(_text(data, p))) for p in parts) + 1
    return (str(count) if count is not None else "?",) + dims[1:]


def _typeref_from_text(text: str) -> TypeRef | None:
    """A type written as text (g_new's first argument): 'struct Foo', 'char *', 'Foo'."""
    text = _COMMENT_RE.sub(" ", text).strip()
    if not text or not re.fullmatch(r"[A-Za-z_][\w\s\*]*", text):
        return None
    ptr = text.count("*")
    words = [w for w in text.replace("*", " ").split() if w not in _QUALIFIERS]
    if not words:
        return None
    if words[0] in ("struct", "union") and len(words) == 2:
        return (f"{words[0]} {words[1]}", ptr, ())
    if words[0] == "enum":
        return ("int", ptr, ())
    return (_normalize_scalar(" ".join(words)), ptr, ())


# ---------------------------------------------------------------------------
# Values: intervals with reasons


@dataclass(frozen=True)
class Val:
    lo: int | None  # None: unknown lower bound
    hi: int | None  # None: unbounded
    reach: bool = True  # hi is a value the program admits (constant, check, cap)
    notes: tuple[str, ...] = ()  # how bounds were found
    taint: str | None = None  # guest/untrusted data source, for evidence
    why: str | None = None  # why unbounded

    @property
    def exact(self) -> int | None:
        return self.lo if self.lo is not None and self.lo == self.hi else None


def _const(v: int) -> Val:
    return Val(v, v)


def _unknown(why: str, taint: str | None = None) -> Val:
    return Val(0, None, True, (), taint, why)


def _join(*vals: Val) -> tuple[tuple[str, ...], str | None, str | None]:
    notes: list[str] = []
    for v in vals:
        notes.extend(n for n in v.notes if n not in notes)
    taint = next((v.taint for v in vals if v.taint), None)
    why = next((v.why for v in vals if v.why), None)
    return tuple(notes[:4]), taint, why


def _combine(lo: int | None, hi: int | None, reach: bool, *vals: Val) -> Val:
    notes, taint, why = _join(*vals)
    return Val(lo, hi, reach, notes, taint, why if hi is None else None)


def v_add(a: Val, b: Val) -> Val:
    lo = a.lo + b.lo if a.lo is not None and b.lo is not None else None
    hi = a.hi + b.hi if a.hi is not None and b.hi is not None else None
    return _combine(lo, hi, a.reach and b.reach, a, b)


def v_sub(a: Val, b: Val) -> Val:
    lo = a.lo - b.hi if a.lo is not None and b.hi is not None else None
    hi = a.hi - b.lo if a.hi is not None and b.lo is not None else None
    return _combine(lo, hi, a.reach and b.reach, a, b)


def v_mul(a: Val, b: Val) -> Val:
    if a.exact == 0 or b.exact == 0:
        return _combine(0, 0, True, a, b)
    if a.lo is not None and a.hi is not None and b.lo is not None and b.hi is not None:
        ps = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        return _combine(min(ps), max(ps), a.reach and b.reach, a, b)
    lo = a.lo * b.lo if a.lo is not None and b.lo is not None and a.lo >= 0 and b.lo >= 0 else None
    return _combine(lo, None, a.reach and b.reach, a, b)


def v_div(a: Val, b: Val) -> Val:
    if b.exact == 0:
        return _unknown("division by zero")
    dlo = max(b.lo or 1, 1)
    hi = a.hi // dlo if a.hi is not None and a.hi >= 0 else None
    lo = a.lo // b.hi if a.lo is not None and a.lo >= 0 and b.hi and b.hi > 0 else (0 if a.lo is not None and a.lo >= 0 else None)
    # a.hi / dlo is reached only when the divisor can be that small: known only for a constant
    return _combine(lo, hi, a.reach and b.exact is not None, a, b)


def v_mod(a: Val, b: Val) -> Val:
    if b.hi is not None and b.hi > 0:
        hi = b.hi - 1 if a.hi is None else min(a.hi, b.hi - 1)
        if a.exact is not None and b.exact:
            return _combine(a.exact % b.exact, a.exact % b.exact, True, a, b)
        return _combine(0, hi, False, a, b)
    return _combine(0, a.hi, False, a, b)


def v_shl(a: Val, b: Val) -> Val:
    if b.lo is not None and b.lo < 0 or (b.hi is not None and b.hi > 127):
        return _combine(None, None, False, a, b)
    lo = a.lo << b.lo if a.lo is not None and a.lo >= 0 and b.lo is not None else None
    hi = a.hi << b.hi if a.hi is not None and a.hi >= 0 and b.hi is not None else None
    return _combine(lo, hi, a.reach and b.reach, a, b)


def v_shr(a: Val, b: Val) -> Val:
    lo = a.lo >> b.hi if a.lo is not None and a.lo >= 0 and b.hi is not None and 0 <= b.hi < 128 else 0
    hi = a.hi >> max(b.lo or 0, 0) if a.hi is not None and a.hi >= 0 else None
    return _combine(lo, hi, a.reach and b.reach, a, b)


def v_and(a: Val, b: Val) -> Val:
    if a.exact is not None and b.exact is not None:
        return _combine(a.exact & b.exact, a.exact & b.exact, True, a, b)
    his = [h for h, v in ((a.hi, a), (b.hi, b)) if h is not None and h >= 0 and (v.lo or 0) >= 0]
    return _combine(0, min(his) if his else None, False, a, b)


def v_or(a: Val, b: Val, op: str) -> Val:
    if a.exact is not None and b.exact is not None:
        r = a.exact | b.exact if op == "|" else a.exact ^ b.exact
        return _combine(r, r, True, a, b)
    if a.hi is not None and b.hi is not None and a.hi >= 0 and b.hi >= 0:
        return _combine(0, (1 << max(a.hi, b.hi).bit_length()) - 1, False, a, b)
    return _combine(0, None, False, a, b)


def v_union(a: Val, b: Val) -> Val:
    lo = min(a.lo, b.lo) if a.lo is not None and b.lo is not None else None
    hi = max(a.hi, b.hi) if a.hi is not None and b.hi is not None else None
    reach = (a.reach if a.hi is not None and (b.hi is None or a.hi >= b.hi) else b.reach)
    return _combine(lo, hi, reach, a, b)


def v_min(a: Val, b: Val) -> Val:
    lo = min(a.lo, b.lo) if a.lo is not None and b.lo is not None else None
    his = [h for h in (a.hi, b.hi) if h is not None]
    hi = min(his) if his else None
    reach = a.reach if a.hi == hi else b.reach
    notes, taint, why = _join(a, b)
    if hi is not None:
        taint = None  # capped: the guest can no longer exceed the cap
    return Val(lo, hi, reach, notes, taint, None if hi is not None else why)


def v_max(a: Val, b: Val) -> Val:
    los = [x for x in (a.lo, b.lo) if x is not None]
    hi = max(a.hi, b.hi) if a.hi is not None and b.hi is not None else None
    return _combine(max(los) if los else None, hi, a.reach and b.reach, a, b)


def v_bool(*vals: Val) -> Val:
    return _combine(0, 1, True, *vals)


def v_with_note(v: Val, note: str) -> Val:
    return Val(v.lo, v.hi, v.reach, (v.notes + (note,))[:4], v.taint, v.why)


# ---------------------------------------------------------------------------
# Literals

_INT_RE = re.compile(r"(0[xX][0-9a-fA-F']+|0[bB][01']+|0[0-7']*|[1-9][0-9']*)([uUlLzZ]*)$")


def parse_int_literal(text: str) -> int | None:
    text = text.strip()
    sign = 1
    if text[:1] in "+-" and text[1:]:
        sign, text = (-1 if text[0] == "-" else 1), text[1:].strip()
    m = _INT_RE.match(text)
    if not m:
        return None
    try:
        return sign * _int_digits(m)
    except ValueError:  # a lone separator such as 0x'
        return None


def _int_digits(m: re.Match[str]) -> int:
    digits = m.group(1).replace("'", "")
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if digits[:2] in ("0b", "0B"):
        return int(digits[2:], 2)
    if len(digits) > 1 and digits[0] == "0":
        return int(digits[1:], 8)
    return int(digits)


_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7, "b": 8,
            "f": 12, "v": 11, "?": 63, "e": 27}


def parse_char_literal(text: str) -> int | None:
    m = re.fullmatch(r"[LuU]?'(.*)'", text.strip(), re.DOTALL)
    if not m:
        return None
    body = m.group(1)
    if len(body) == 1:
        return ord(body)
    if body.startswith("\\"):
        rest = body[1:]
        if rest[:1] == "x":
            return int(rest[1:], 16) if rest[1:] else None
        if rest and rest[0] in "01234567" and len(rest) > 1:
            return int(rest, 8)
        return _ESCAPES.get(rest)
    return None


# ---------------------------------------------------------------------------
# Provenance tables: functions whose result, or whose buffer argument, holds
# guest-controlled or untrusted data.

_RESULT_SOURCES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^ld(u?b|u?w|l|q|sw|sb|uw|ub)_(le_|be_|he_)?p$"), "guest data decoded by {f}"),
    (re.compile(r"^(address_space_|virtio_)?ld\w*_phys$"), "read from guest memory by {f}"),
    (re.compile(r"^virtio_(ld\w+|tswap\d+)$"), "guest value from {f}"),
    (re.compile(r"^qemu_get_(s?be\d+|byte|sbyte|be16|counted_string)$"), "read from the migration stream by {f}"),
    (re.compile(r"^pci_get_(byte|word|long|quad)$"), "read from guest-written PCI config space by {f}"),
    (re.compile(r"^(be|le)(16|32|64)_to_cpu(p|_p)?$"), "external (on-disk/wire) field decoded by {f}"),
    (re.compile(r"^(lduw|ldl|ldq|ldub)_(le_|be_)?(pci_)?dma$"), "read from guest memory by {f}"),
    # QDicts hold monitor command (HMP) and command line arguments
    (re.compile(r"^qdict_get_(try_)?(int|uint)$"), "monitor/command-line argument read by {f}"),
    (re.compile(r"^qemu_opt_get_(number|size)(_del)?$"), "user option read by {f}"),
    # qemu-img / qemu-io parse their size arguments with cvtnum
    (re.compile(r"^cvtnum(_full)?$"), "user argument parsed by {f}"),
    # the size of a file the user names (-kernel, -initrd, -dtb, -bios, image files)
    (re.compile(r"^(get_image_size|get_file_size|load_image(_size|_targphys\w*|_mr|_gzipped\w*)?|load_elf\w*|"
                r"load_uimage\w*|load_ramdisk\w*)$"), "size of a file the user names, from {f}"),
    (re.compile(r"^bdrv_snapshot_list$"), "number of snapshots in the disk image, from {f}"),
    # the total length of an I/O vector: guest request or network packet data
    (re.compile(r"^iov_size$"), "total length of an I/O vector (guest or peer data), from {f}"),
]

# function -> (buffer argument index, description)
_FILL_SOURCES: dict[str, tuple[int, str]] = {
    "dma_memory_read": (2, "read from guest memory by {f}"),
    "pci_dma_read": (2, "read from guest memory by {f}"),
    "address_space_read": (3, "read from guest memory by {f}"),
    "address_space_read_full": (3, "read from guest memory by {f}"),
    "cpu_physical_memory_read": (1, "read from guest memory by {f}"),
    "iov_to_buf": (3, "copied from guest buffers by {f}"),
    "iov_to_buf_full": (3, "copied from guest buffers by {f}"),
    "qemu_get_buffer": (1, "read from the migration stream by {f}"),
    "qemu_get_be16s": (1, "read from the migration stream by {f}"),
    "qemu_get_be32s": (1, "read from the migration stream by {f}"),
    "qemu_get_be64s": (1, "read from the migration stream by {f}"),
    "qemu_get_8s": (1, "read from the migration stream by {f}"),
    "bdrv_pread": (3, "read from the disk image by {f}"),
    "bdrv_co_pread": (3, "read from the disk image by {f}"),
    "blk_pread": (3, "read from the disk image by {f}"),
    "blk_co_pread": (3, "read from the disk image by {f}"),
    "parse_uint_full": (1, "parsed from text (user option or external input) by {f}"),
    "parse_uint": (1, "parsed from text (user option or external input) by {f}"),
    # what the kernel, a device or a file answers: not bounded by QEMU
    "ioctl": (2, "answer of the kernel/device to {f}"),
    "read": (1, "read from a file descriptor by {f}"),
    "pread": (1, "read from a file descriptor by {f}"),
    "be16_to_cpus": (0, "external field decoded in place by {f}"),
    "be32_to_cpus": (0, "external field decoded in place by {f}"),
    "be64_to_cpus": (0, "external field decoded in place by {f}"),
    "le16_to_cpus": (0, "external field decoded in place by {f}"),
    "le32_to_cpus": (0, "external field decoded in place by {f}"),
    "le64_to_cpus": (0, "external field decoded in place by {f}"),
}
_FILL_DMA_RE = re.compile(r"^ld(u?b|u?w|l|q)_(le_|be_)?(pci_)?dma$")

# Calls that never return: an if-body ending in one leaves the path.
_NORETURN = {"exit", "abort", "_exit", "g_assert_not_reached", "hw_error", "qemu_abort",
             "error_exit", "g_error", "__builtin_unreachable", "cpu_abort", "qemu_build_not_reached"}
_ASSERTS = {"assert", "g_assert", "qemu_assert"}


def _result_source(fname: str) -> str | None:
    for rx, desc in _RESULT_SOURCES:
        if rx.match(fname):
            return desc.format(f=fname)
    return None


# string-to-number parsers with an out-parameter: user options, monitor
# arguments, text from files and the environment
_FILL_PARSE_RE = re.compile(r"^qemu_strto(i|ui|l|ul|i64|u64|sz|sz_MiB|sz_metric)$")
_FILL_PARSE_IDX = {"qemu_strtosz": 2, "qemu_strtosz_MiB": 2, "qemu_strtosz_metric": 2}


def _fill_source(fname: str) -> tuple[int, str] | None:
    if _FILL_PARSE_RE.match(fname):
        return _FILL_PARSE_IDX.get(fname, 3), f"parsed from text (user option or external input) by {fname}"
    if fname in _FILL_SOURCES:
        idx, desc = _FILL_SOURCES[fname]
        return idx, desc.format(f=fname)
    if _FILL_DMA_RE.match(fname):
        return 2, f"read from guest memory by {fname}"
    return None


# ---------------------------------------------------------------------------
# Per-file and per-function context


_WS_RE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS_RE.sub("", text)


def _path_overlaps(written: str, read: str) -> bool:
    """Does writing lvalue path `written` change the value at path `read`?"""
    if written == read:
        return True
    short, long_ = (written, read) if len(written) < len(read) else (read, written)
    return long_.startswith(short) and long_[len(short)] in ".-["


@dataclass
class _Write:
    offset: int  # start of the writing expression
    end: int
    path: str  # normalized lvalue text
    kind: str  # "=", "op=", "++", "&", "fill", "decl", "param"
    value: tree_sitter.Node | None = None
    op: str = ""
    source: str | None = None  # taint description for fills
    line: int = 0


@dataclass
class _Decl:
    name: str
    type: TypeRef
    offset: int
    is_param: bool = False


class _FunctionIndex:
    """Declarations and writes of one function, found in one walk."""

    def __init__(self, ctx: "_FileContext", fn: tree_sitter.Node):
        self.fn = fn
        self.name = function_name(fn, ctx.data) or "?"
        self.decls: dict[str, list[_Decl]] = {}
        self.writes: list[_Write] = []
        self.params: list[_Decl] = []
        self.calls: list[tuple[int, str, str]] = []  # (offset, callee, argument text) of every call
        self.is_static = any(c.type == "storage_class_specifier" and _text(ctx.data, c) == "static" for c in fn.children)
        data = ctx.data
        decl = fn.child_by_field_name("declarator")
        rtype, rptr = fn.child_by_field_name("type"), 0
        while decl is not None and decl.type == "pointer_declarator":
            rptr += 1
            decl = decl.child_by_field_name("declarator")
        self.returns: TypeRef | None = (_type_key(ctx.parsed, rtype, None), rptr, ()) if rtype is not None else None
        while decl is not None and decl.type != "function_declarator":
            decl = decl.child_by_field_name("declarator")
        if decl is not None:
            plist = decl.child_by_field_name("parameters")
            for p in plist.named_children if plist is not None else []:
                if p.type != "parameter_declaration":
                    continue
                tnode = p.child_by_field_name("type")
                d = p.child_by_field_name("declarator")
                if tnode is None or d is None:
                    continue
                name, ptr, dims = _unwrap_declarator(data, d)
                if not name:
                    continue
                # array parameters decay to pointers
                ref = (_type_key(ctx.parsed, tnode, None), ptr + (1 if dims else 0), ())
                dd = _Decl(name, ref, p.start_byte, True)
                self.params.append(dd)
                self.decls.setdefault(name, []).append(dd)
        body = fn.child_by_field_name("body")
        if body is not None:
            self._walk(ctx, body)

    def _walk(self, ctx: "_FileContext", body: tree_sitter.Node) -> None:
        data = ctx.data
        stack = [body]
        while stack:
            n = stack.pop()
            t = n.type
            if t == "declaration":
                tnode = n.child_by_field_name("type")
                base = _type_key(ctx.parsed, tnode, None) if tnode is not None else ""
                for d in n.children_by_field_name("declarator"):
                    name, ptr, dims = _unwrap_declarator(data, d)
                    if not name:
                        continue
                    dims = _open_array_dims(data, d, dims)
                    self.decls.setdefault(name, []).append(_Decl(name, (base, ptr, dims), d.start_byte))
                    if d.type == "init_declarator":
                        v = d.child_by_field_name("value")
                        if v is not None and v.type != "initializer_list":
                            self.writes.append(_Write(d.start_byte, d.end_byte, name, "decl", v))
            elif t == "assignment_expression":
                left = n.child_by_field_name("left")
                op = n.child_by_field_name("operator")
                optext = _text(data, op) if op is not None else "="
                if left is not None:
                    self.writes.append(_Write(n.start_byte, n.end_byte, _norm(_text(data, left)),
                                              "=" if optext == "=" else "op=",
                                              n.child_by_field_name("right"), optext))
            elif t == "update_expression":
                arg = n.child_by_field_name("argument")
                if arg is not None:
                    self.writes.append(_Write(n.start_byte, n.end_byte, _norm(_text(data, arg)), "++"))
            elif t == "call_expression":
                self._call_writes(ctx, n)
                args = n.child_by_field_name("arguments")
                self.calls.append((n.start_byte, _callee(data, n) or "", _text(data, args) if args is not None else ""))
            elif t == "pointer_expression" and n.child_count and _text(data, n.children[0]) == "&":
                arg = n.child_by_field_name("argument")
                parent = n.parent
                # &x passed to a fill function is recorded by _call_writes
                in_call = parent is not None and parent.type == "argument_list"
                if arg is not None and not (in_call and _fill_source(_callee(data, parent.parent) or "")):
                    # the call it is handed to (value) is where an out-parameter write is looked up
                    self.writes.append(_Write(n.start_byte, n.end_byte, _norm(_text(data, arg)), "&",
                                              parent.parent if in_call else None))
            stack.extend(n.children)
        self.writes.sort(key=lambda w: w.offset)

    def _call_writes(self, ctx: "_FileContext", call: tree_sitter.Node) -> None:
        data = ctx.data
        fname = _callee(data, call)
        if not fname:
            return
        fill = _fill_source(fname)
        if fill is None:
            return
        idx, desc = fill
        args = call.child_by_field_name("arguments")
        named = [a for a in args.named_children if a.type != "comment"] if args is not None else []
        if idx >= len(named):
            return
        a = named[idx]
        while a.type in ("parenthesized_expression", "cast_expression"):
            a = a.child_by_field_name("value") or a.named_children[-1]
        if a.type == "pointer_expression" and _text(data, a.children[0]) == "&":
            a = a.child_by_field_name("argument")
        path = _norm(_text(data, a))
        # A buffer pointer `buf` (not &x) receives data at *buf / buf[i] / buf->f.
        line = ctx.parsed.source.line_col(call.start_byte)[0]
        self.writes.append(_Write(call.start_byte, call.end_byte, path, "fill", None, "",
                                  f"{desc} at line {line}", line))

    def decl_of(self, name: str, at: int) -> _Decl | None:
        ds = self.decls.get(name)
        if not ds:
            return None
        before = [d for d in ds if d.offset <= at]
        return (before or ds)[-1]

    def mmio_size_param(self) -> "_Decl | None":
        """`size` of (void *opaque, hwaddr addr[, uint64_t val], unsigned size)."""
        p = self.params
        if len(p) == 4 and self.is_mmio_write_handler():
            return p[3]
        if (len(p) == 3 and p[0].type[:2] == ("void", 1) and p[1].type[0] == "hwaddr"
                and p[2].type[0] in ("unsigned int", "unsigned") and p[2].type[1] == 0):
            return p[2]
        return None

    def is_mmio_write_handler(self) -> bool:
        """(void *opaque, hwaddr addr, uint64_t val, unsigned size)."""
        p = self.params
        if len(p) != 4:
            return False
        return (p[0].type[0] == "void" and p[0].type[1] == 1 and p[1].type[0] in ("hwaddr", "target_ulong", "uint64_t")
                and p[2].type[0] in ("uint64_t", "uint32_t") and p[2].type[1] == 0
                and p[3].type[0] in ("unsigned int", "int", "unsigned", "uint32_t") and p[3].type[1] == 0)


def _callee(data: bytes, call: tree_sitter.Node | None) -> str | None:
    if call is None or call.type != "call_expression":
        return None
    f = call.child_by_field_name("function")
    if f is None or f.type != "identifier":
        return None
    return _text(data, f)


_INDEX_QUERY_SRC = """
(call_expression function: (identifier)) @call
(assignment_expression left: (field_expression field: (field_identifier))) @assign
(function_definition) @fn
(preproc_function_def) @macro
(preproc_def) @macro
"""
_INDEX_QUERY: tree_sitter.Query | None = None


def _index_query() -> tree_sitter.Query:
    global _INDEX_QUERY
    if _INDEX_QUERY is None:
        _INDEX_QUERY = tree_sitter.Query(C_LANGUAGE, _INDEX_QUERY_SRC)
    return _INDEX_QUERY


class _FileIndex:
    """Who calls what and who writes which field, over the whole file (one
    tree-sitter query, matched in C).

    Used for provenance across functions of the file: a parameter takes the
    values its callers pass, a field the values any function assigns to it.
    """

    def __init__(self, ctx: "_FileContext"):
        self.ctx = ctx
        data = ctx.data
        caps = tree_sitter.QueryCursor(_index_query()).captures(ctx.parsed.root)
        fns = sorted(caps.get("fn", ()), key=lambda n: n.start_byte)
        self._fn_starts = [n.start_byte for n in fns]
        self._fns = fns
        self.calls: dict[str, list[tuple[tree_sitter.Node, tree_sitter.Node | None]]] = {}
        self.fills: list[tuple[tree_sitter.Node, tree_sitter.Node]] = []
        for call in sorted(caps.get("call", ()), key=lambda n: n.start_byte):
            name = _text(data, call.child_by_field_name("function"))
            fn = self.enclosing(call.start_byte)
            self.calls.setdefault(name, []).append((call, fn))
            if fn is not None and _fill_source(name) is not None:
                self.fills.append((call, fn))
        self.field_writes: dict[str, list[tuple[tree_sitter.Node, tree_sitter.Node]]] = {}
        for assign in sorted(caps.get("assign", ()), key=lambda n: n.start_byte):
            fn = self.enclosing(assign.start_byte)
            fld = assign.child_by_field_name("left").child_by_field_name("field")
            if fn is not None and fld is not None:
                self.field_writes.setdefault(_text(data, fld), []).append((assign, fn))
        self.macro_text = [_text(data, m) for m in caps.get("macro", ())]
        self._seen: dict[str, bool] = {}
        self._defs: dict[str, list[tree_sitter.Node]] | None = None

    def definitions(self, name: str) -> list[tree_sitter.Node]:
        """Function definitions of this file named `name`."""
        if self._defs is None:
            self._defs = {}
            for fn in self._fns:
                n = function_name(fn, self.ctx.data)
                if n:
                    self._defs.setdefault(n, []).append(fn)
        return self._defs.get(name, [])

    def enclosing(self, offset: int) -> tree_sitter.Node | None:
        i = bisect.bisect_right(self._fn_starts, offset) - 1
        if i >= 0 and offset < self._fns[i].end_byte:
            return self._fns[i]
        return None

    def all_calls_seen(self, fn: tree_sitter.Node, name: str) -> bool:
        """Is every use of function `name` (defined by `fn`) in this file a
        direct call: static, no pointer taken, not named in a macro body?"""
        hit = self._seen.get(name)
        if hit is not None:
            return hit
        data = self.ctx.data
        ok = any(c.type == "storage_class_specifier" and _text(data, c) == "static" for c in fn.children)
        if ok:
            rx = re.compile(rf"\b{re.escape(name)}\b")
            ok = not any(rx.search(m) for m in self.macro_text)
        if ok:
            q = tree_sitter.Query(C_LANGUAGE, f'((identifier) @id (#eq? @id "{name}"))')
            for n in tree_sitter.QueryCursor(q).captures(self.ctx.parsed.root).get("id", ()):
                p = n.parent
                if (p is not None and ((p.type == "call_expression" and p.child_by_field_name("function") == n)
                                       or (p.type == "function_declarator" and p.child_by_field_name("declarator") == n))):
                    continue
                ok = False
                break
        self._seen[name] = ok
        return ok


class _FileContext:
    def __init__(self, parsed: ParsedFile, facts: SizeFacts):
        self.parsed = parsed
        self.data = parsed.source.data
        self.facts = facts
        self.functions: dict[tuple[int, int], _FunctionIndex] = {}
        self.globals: dict[str, TypeRef] | None = None
        self.global_consts: dict[str, tree_sitter.Node] = {}  # `static const int n = 16;`
        self._type_memo: dict[str, tuple[int, int] | None] = {}
        self._const_memo: dict[str, Val | None] = {}
        self._const_active: set[str] = set()
        self._cond_memo: dict[tuple[int, int], list] = {}
        self._missing: dict[str, str] = {}  # type -> the innermost type or bound that is not known
        self.last_missing = ""
        self._loop_memo: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._index: _FileIndex | None = None
        self._filled: dict[str, tuple[int, str, str]] | None = None
        self._var_memo: dict[tuple[int, str, int, int], Val] = {}
        self.budget = 0  # evaluations across functions left for the current site
        self.limit = DEFAULT_LIMIT  # the site's small/large limit
        self._param_memo: dict[tuple[int, int, int], Val] = {}
        self._field_memo: dict[tuple[str, str, int], Val | None] = {}
        self._fn_by_node: dict[int, tree_sitter.Node] = {}
        self._max_cpus: tuple[tuple[int, int] | None] | None = None

    def machine_max_cpus(self) -> tuple[int, int] | None:
        """(largest value, line) of `mc->max_cpus = K` in this file: the vCPU
        limit of the machine types the file defines (MachineClass.max_cpus,
        which -smp may reach and never exceed). None when the file sets none."""
        if self._max_cpus is None:
            best: tuple[int, int] | None = None
            for assign, wfn in self.index.field_writes.get("max_cpus", []):
                left, right = assign.child_by_field_name("left"), assign.child_by_field_name("right")
                base = left.child_by_field_name("argument") if left is not None else None
                op = assign.child_by_field_name("operator")
                if base is None or right is None or (op is not None and _text(self.data, op) != "="):
                    continue
                ev = _Evaluator(self, self.data, self.function(wfn), assign.start_byte)
                t = ev.type_of(base)
                if t is None or self.resolve_typedef(t)[0] not in ("MachineClass", "struct MachineClass"):
                    continue
                v = ev.eval(right)
                if v.exact is not None and (best is None or v.exact > best[0]):
                    best = (v.exact, self.parsed.source.line_col(assign.start_byte)[0])
            self._max_cpus = (best,)
        return self._max_cpus[0]

    def filled_records(self) -> dict[str, tuple[int, str, str]]:
        """Record types that some call in the file fills from guest memory or
        an image (`bdrv_pread(..., &s->hdr, ...)`): record -> (line, how, type name)."""
        if self._filled is None:
            self._filled = {}
            for call, wfn in self.index.fills:
                fill = _fill_source(_callee(self.data, call) or "")
                args = call.child_by_field_name("arguments")
                nodes = [a for a in args.named_children if a.type != "comment"] if args is not None else []
                if fill is None or fill[0] >= len(nodes):
                    continue
                target = nodes[fill[0]]
                while target.type in ("parenthesized_expression", "cast_expression") and target.named_children:
                    target = target.child_by_field_name("value") or target.named_children[-1]
                ev = _Evaluator(self, self.data, self.function(wfn), call.start_byte, 2, hops=_MAX_HOPS)
                if target.type == "pointer_expression" and ev.text(target.children[0]) == "&":
                    t = ev.type_of(target.child_by_field_name("argument"))
                else:
                    t = ev.type_of(target)
                    t = ev._deref(t) if t is not None else None
                rec = self.record_of(t) if t is not None else None
                if rec is not None and rec not in self._filled:
                    # name it as the code does (a typedef of an anonymous struct has no tag)
                    shown = t[0].split(" ", 1)[-1] if "<" not in t[0] else "struct"
                    self._filled[rec] = (self.parsed.source.line_col(call.start_byte)[0], fill[1], shown)
        return self._filled

    @property
    def index(self) -> _FileIndex:
        if self._index is None:
            self._index = _FileIndex(self)
        return self._index

    def function(self, fn: tree_sitter.Node) -> _FunctionIndex:
        key = (fn.start_byte, fn.end_byte)
        idx = self.functions.get(key)
        if idx is None:
            idx = self.functions[key] = _FunctionIndex(self, fn)
        return idx

    def sized(self, size: int, ref: TypeRef | None) -> Val:
        """sizeof's value; a note says where the layout of a type the tree does
        not define comes from (the QAPI schema, rules/system-types.toml)."""
        if ref is None or ref[1]:
            return _const(size)
        base = ref[0]
        origin = self.facts.origins.get(base)
        if origin is None and base in system_types()[0]:
            origin = "rules/system-types.toml"
        if origin is None:
            return _const(size)
        return Val(size, size, True, (f"{base}: {origin}",))

    def partly_sized(self, shown: str, ref: TypeRef | None) -> Val:
        """sizeof of a type whose layout is not fully known: unknown, but at
        least as large as its known members."""
        why = self.unknown_size(shown, ref)
        lo = self.min_size_ref(ref) if ref is not None else 0
        if lo <= 0:
            return _unknown(why)
        return Val(lo, None, True, (f"{shown} >= {lo} from its known members; {why.split(': ', 1)[-1]}",), None, why)

    def unknown_size(self, shown: str, ref: TypeRef | None) -> str:
        if ref is None:
            return f"{shown}: type of the operand not known"
        if not ref[0]:
            return f"{shown}: size of an unnamed type not known"
        leaf = self._missing.get(ref[0], self.last_missing or ref[0])
        if leaf and leaf != ref[0]:
            return f"{shown}: size of type not known ({leaf} not defined in the file or its headers)"
        return f"{shown}: size of type not known ({ref[0]} not defined in the file or its headers)"

    def conditions(self, fn: _FunctionIndex, at: int):
        key = (fn.fn.start_byte, at)
        hit = self._cond_memo.get(key)
        if hit is None:
            hit = self._cond_memo[key] = _dominating_conditions(self, fn, at)
        return hit

    def loops_around(self, fn: _FunctionIndex, at: int) -> list[tuple[int, int]]:
        key = (fn.fn.start_byte, at)
        hit = self._loop_memo.get(key)
        if hit is None:
            hit = []
            node = fn.fn.named_descendant_for_byte_range(at, at) if at >= 0 else None
            while node is not None and node != fn.fn:
                if node.type in ("for_statement", "while_statement", "do_statement"):
                    hit.append((node.start_byte, node.end_byte))
                node = node.parent
            self._loop_memo[key] = hit
        return hit

    def global_type(self, name: str) -> TypeRef | None:
        if self.globals is None:
            self.globals = {}
            for n in self.parsed.root.named_children:
                if n.type != "declaration":
                    continue
                tnode = n.child_by_field_name("type")
                if tnode is None:
                    continue
                base = _type_key(self.parsed, tnode, None)
                const = any(c.type == "type_qualifier" and _text(self.data, c) == "const" for c in n.children)
                for d in n.children_by_field_name("declarator"):
                    nm, ptr, dims = _unwrap_declarator(self.data, d)
                    if nm and d.type != "function_declarator":
                        self.globals.setdefault(nm, (base, ptr, _open_array_dims(self.data, d, dims)))
                        value = d.child_by_field_name("value") if d.type == "init_declarator" else None
                        if const and not ptr and not dims and value is not None:
                            self.global_consts.setdefault(nm, value)
        return self.globals.get(name)

    # -- constants -------------------------------------------------------
    def constant(self, name: str) -> Val | None:
        if name in self._const_memo:
            return self._const_memo[name]
        texts = self.facts.constants.get(name)
        if texts is None:
            v = _BUILTIN_CONSTANTS.get(name)
            if v is None and name in system_constants():
                v, origin = system_constants()[name]
                return Val(v, v, True, (f"{name} = {v}: {origin} (rules/system-types.toml)",))
            return _const(v) if v is not None else None
        if name in self._const_active:
            return None
        self._const_active.add(name)
        try:
            result: Val | None = None
            for text in texts[:8]:
                v = self.eval_text(text)
                if v is None or v.hi is None:
                    result = None
                    break
                result = v if result is None else v_union(result, v)
        finally:
            self._const_active.discard(name)
        if result is not None:
            result = Val(result.lo, result.hi, True, (), None, None)
        self._const_memo[name] = result
        return result

    def eval_text(self, text: str) -> Val | None:
        snippet = _parse_snippet(text)
        if snippet is None:
            return None
        data, node, _tree = snippet
        ev = _Evaluator(self, data, None, -1, depth=6)
        v = ev.eval(node)
        return v if v.hi is not None and not v.taint else None

    # -- types ---------------------------------------------------------------
    def sizeof_ref(self, ref: TypeRef, depth: int = 0) -> int | None:
        sa = self.size_align_ref(ref, depth)
        return sa[0] if sa else None

    def size_align_ref(self, ref: TypeRef, depth: int = 0) -> tuple[int, int] | None:
        base, ptr, dims = ref
        if ptr:
            elem = (8, 8)
        else:
            elem = self.size_align(base, depth)
            if elem is None:
                self.last_missing = self._missing.get(base, base)
                return None
        size = elem[0]
        for d in dims:
            if d == "":
                size *= 0  # flexible array member
                continue
            v = self.eval_text(d)
            if v is None or v.hi is None or v.hi < 0:
                self.last_missing = f"array bound {d}"
                return None
            size *= v.hi  # variants of a #define: the largest layout counts
        return size, elem[1]

    def min_size_ref(self, ref: TypeRef, depth: int = 0) -> int:
        """A lower bound of sizeof(ref) when the exact layout is not known:
        the known members alone (`uint8_t buf[0x8000]` beside a member of a
        type defined nowhere the analysis looks). 0 when nothing is known."""
        if depth > 24:
            return 0
        exact = self.sizeof_ref(ref, depth)
        if exact is not None:
            return exact
        base, ptr, dims = ref
        if ptr:
            size = 8
        elif base in self.facts.typedefs:
            size = self.min_size_ref(self.facts.typedefs[base], depth + 1)
        else:
            rec = base if base in self.facts.records else _implicit_tag(base)
            if rec not in self.facts.records:
                return 0
            union = rec.startswith("union ")
            parts = [0 if bits else self.min_size_ref(fref, depth + 1) for _n, fref, bits in self.facts.records[rec][1]]
            size = max(parts, default=0) if union else sum(parts)
        for d in dims:
            v = self.eval_text(d) if d else None
            if v is None or v.lo is None or v.lo < 0:
                return 0
            size *= v.lo
        return size

    def size_align(self, key: str, depth: int = 0) -> tuple[int, int] | None:
        if key in _SCALARS:
            s = _SCALARS[key]
            return s, min(s, 16)
        system = system_types()[0].get(key)
        if system is not None:
            return system
        m = _QUEUE_RE.match(key)
        if m:
            return _QUEUE_LAYOUTS[(m.group(1), m.group(2))]
        if depth > 24:
            return None
        if key in self._type_memo:
            return self._type_memo[key]
        self._type_memo[key] = None  # recursion guard
        result: tuple[int, int] | None = None
        if key in self.facts.typedefs:
            result = self.size_align_ref(self.facts.typedefs[key], depth + 1)
        elif key in self.facts.records:
            result = self._layout(key, depth)
        elif key in ("void",):
            result = (1, 1)  # GNU: sizeof(void) == 1
        elif _implicit_tag(key) in self.facts.records:
            result = self._layout(_implicit_tag(key), depth)
        if result is None:
            self._missing[key] = self.last_missing if key in self.facts.typedefs or key in self.facts.records else key
        self._type_memo[key] = result
        return result

    def _layout(self, key: str, depth: int, offsets: dict[str, int] | None = None) -> tuple[int, int] | None:
        """(size, align) of a record; fills `offsets` (field -> byte offset) when given."""
        packed, fields = self.facts.records[key]
        union = key.startswith("union ")
        offset = 0  # in bits, to place bit-fields
        size = 0
        align = 1
        for _name, ref, bits in fields:
            if offsets is not None and not bits:
                sa0 = self.size_align_ref(ref, depth + 1)
                if sa0 is not None and not union:
                    a0 = 1 if packed else sa0[1]
                    here = -(-offset // (a0 * 8)) * a0
                else:
                    here = 0 if union else None
                if here is not None:
                    if _name:
                        offsets.setdefault(_name, here)
                    else:  # members of an anonymous struct/union are members of this one
                        rec = self.record_of(ref)
                        inner: dict[str, int] = {}
                        if rec is not None and self._layout(rec, depth + 1, inner) is not None:
                            for k, v in inner.items():
                                offsets.setdefault(k, here + v)
            sa = self.size_align_ref(ref, depth + 1)
            if sa is None:
                return None  # last_missing says which
            fsize, falign = sa
            if packed:
                falign = 1
            if bits:
                v = self.eval_text(bits)
                if v is None or v.exact is None:
                    self.last_missing = f"bit-field width {bits}"
                    return None
                width = v.exact
                unit = fsize * 8
                if union:
                    size = max(size, fsize)
                else:
                    # a bit-field starts a new unit when it would straddle one
                    if width == 0 or (unit and offset // unit != (offset + width - 1) // unit):
                        offset = -(-offset // (falign * 8)) * (falign * 8)
                    offset += width
                align = max(align, falign)
                continue
            align = max(align, falign)
            if union:
                size = max(size, fsize)
            else:
                offset = -(-offset // (falign * 8)) * (falign * 8)
                offset += fsize * 8
        if not union:
            size = -(-offset // 8)
        size = -(-size // align) * align
        return size, align

    def offset_of(self, type_text: str, member: str) -> int | None:
        """offsetof(type, a.b.c) for records known from the facts."""
        ref = _typeref_from_text(type_text)
        off = 0
        for part in member.split("."):
            if ref is None:
                return None
            base = self.resolve_typedef(ref)[0]
            if base in system_types()[1]:
                hit = system_types()[1][base].get(part)
                if hit is None:
                    return None
                off += hit
                ref = None
                continue
            rec = self.record_of(ref)
            offsets: dict[str, int] = {}
            if rec is None or self._layout(rec, 0, offsets) is None or part not in offsets:
                return None
            off += offsets[part]
            ref = self.field_type(ref, part)
        return off

    def record_of(self, ref: TypeRef) -> str | None:
        """Record key a (non-pointer) type refers to, through typedefs."""
        base, ptr, dims = ref
        seen = 0
        while base in self.facts.typedefs and seen < 16 and not ptr and not dims:
            base, ptr, dims = self.facts.typedefs[base]
            seen += 1
        if ptr or dims:
            return None
        if base not in self.facts.records and _implicit_tag(base) in self.facts.records:
            return _implicit_tag(base)
        return base if base in self.facts.records else None

    def field_type(self, ref: TypeRef, name: str, depth: int = 0) -> TypeRef | None:
        rec = self.record_of(ref)
        if rec is None or depth > 8:
            return None
        for fname, fref, _bits in self.facts.records[rec][1]:
            if fname == name:
                return fref
            if fname == "":
                inner = self.field_type(fref, name, depth + 1)
                if inner is not None:
                    return inner
        return None

    def resolve_typedef(self, ref: TypeRef) -> TypeRef:
        base, ptr, dims = ref
        seen = 0
        while base in self.facts.typedefs and seen < 16:
            b2, p2, d2 = self.facts.typedefs[base]
            if dims and p2:
                break
            base, ptr, dims = b2, ptr + p2, d2 + dims if not ptr else dims
            seen += 1
        return base, ptr, dims


@lru_cache(maxsize=4096)
def _parse_snippet(text: str) -> tuple[bytes, tree_sitter.Node, tree_sitter.Tree] | None:
    """Parse a C expression given as text (#define bodies, array bounds, arguments)."""
    if len(text) > 2000:
        return None
    data = b"long __allocfix_v = (" + text.encode() + b"\n);"
    tree = c_parser().parse(data)
    root = tree.root_node
    if root.has_error:
        return None
    try:
        decl = root.named_children[0]
        init = decl.child_by_field_name("declarator")
        value = init.child_by_field_name("value")
    except (IndexError, AttributeError):
        return None
    if value is None:
        return None
    return data, value, tree  # the tree rides along so the cached node stays valid


# ---------------------------------------------------------------------------
# The evaluator


class _Evaluator:
    """Evaluates an expression node to a Val at program point `at`."""

    def __init__(self, ctx: _FileContext, data: bytes, fn: _FunctionIndex | None, at: int, depth: int = 0,
                 hops: int = 0, bindings: dict[str, tuple[Val, TypeRef | None]] | None = None):
        self.ctx = ctx
        self.data = data
        self.fn = fn
        self.at = at
        self.depth = depth
        self.active: set[tuple[str, int]] = set()
        self.hops = hops  # steps taken across functions (caller, field writer, helper) to get here
        self.bindings = bindings or {}  # parameters of a helper being evaluated inline
        self.inlining: frozenset[str] = frozenset()

    def text(self, node: tree_sitter.Node) -> str:
        return _text(self.data, node)

    def line(self, offset: int) -> int:
        if self.data is not self.ctx.data and self.at >= 0:
            offset = self.at  # a snippet (macro expansion, argument text): it stands at the call
        return self.ctx.parsed.source.line_col(offset)[0]

    def eval(self, node: tree_sitter.Node | None) -> Val:
        if node is None:
            return _unknown("missing operand")
        if self.depth > 40:
            return _unknown("expression too deep")
        self.depth += 1
        try:
            v = self._eval(node)
        finally:
            self.depth -= 1
        # dominating checks on this very expression (`s->len`, `n * 2`)
        if self.fn is not None and node.type not in ("number_literal", "char_literal", "sizeof_expression",
                                                     "parenthesized_expression") and v.exact is None:
            v = self._refine(node, v)
        return v

    def _eval(self, node: tree_sitter.Node) -> Val:
        t = node.type
        if t == "number_literal":
            n = parse_int_literal(self.text(node))
            return _const(n) if n is not None else _unknown(f"{self.text(node)}: not an integer")
        if t == "char_literal":
            n = parse_char_literal(self.text(node))
            return _const(n) if n is not None else _unknown("character literal")
        if t in ("true", "false"):
            return _const(1 if t == "true" else 0)
        if t == "parenthesized_expression":
            inner = [c for c in node.named_children if c.type != "comment"]
            return self.eval(inner[-1]) if inner else _unknown("empty parentheses")
        if t == "comma_expression":
            return self.eval(node.child_by_field_name("right"))
        if t == "cast_expression":
            v = self.eval(node.child_by_field_name("value"))
            ref = self._typeref(node.child_by_field_name("type"))
            if ref is not None and not ref[1]:
                umax = _UNSIGNED_MAX.get(self.ctx.resolve_typedef(ref)[0])
                if umax is not None and v.lo is not None and v.lo < 0:
                    # Conversion to an unsigned type wraps: (size_t)-1 is SIZE_MAX.
                    if v.lo == v.hi:
                        return _const(v.lo % (umax + 1))
                    return Val(0, umax, False, v.notes, v.taint, None)
                tmax = _TYPE_MAX.get(self.ctx.resolve_typedef(ref)[0])
                if tmax is not None and (v.hi is None or v.hi > tmax):
                    return Val(0, tmax, False, v.notes, v.taint, None)
            return v
        if t == "sizeof_expression":
            return self._sizeof(node)
        if t == "offsetof_expression":
            # the grammar knows offsetof; split its text (a.b member paths parse oddly)
            inner = self.text(node)
            inner = inner[inner.index("(") + 1 : inner.rindex(")")] if "(" in inner and ")" in inner else ""
            return self._offsetof([a.strip() for a in _split_text_args(inner)])
        if t == "alignof_expression":
            ref = self._typeref(node.child_by_field_name("type"))
            sa = self.ctx.size_align_ref(ref) if ref else None
            return _const(sa[1]) if sa else _unknown("alignof: unknown type")
        if t == "binary_expression":
            return self._binary(node)
        if t == "unary_expression":
            op = self.text(node.children[0])
            v = self.eval(node.child_by_field_name("argument"))
            if op == "+":
                return v
            if op == "-":
                return _combine(-v.hi if v.hi is not None else None, -v.lo if v.lo is not None else None,
                                v.reach, v)
            if op == "!":
                if v.exact is not None:
                    return _const(0 if v.exact else 1)
                return v_bool(v)
            if op == "~" and v.exact is not None:
                return _const(~v.exact)
            return _combine(None, None, False, v)
        if t == "conditional_expression":
            cond = self.eval(node.child_by_field_name("condition"))
            cons = node.child_by_field_name("consequence")
            # GNU `x ?: y` yields x itself when x is non-zero
            a = self.eval(cons) if cons is not None else cond
            b = self.eval(node.child_by_field_name("alternative"))
            if cond.exact is not None:
                return a if cond.exact else b
            return v_union(a, b)
        if t == "identifier":
            return self._identifier(node)
        if t == "call_expression":
            return self._call(node)
        if t in ("field_expression", "subscript_expression", "pointer_expression"):
            return self._lvalue(node)
        if t == "assignment_expression":
            return self.eval(node.child_by_field_name("right"))
        if t == "update_expression":
            # ++n / n++ as an argument: the value is n or n + 1 (n - 1 for --)
            arg = self.eval(node.child_by_field_name("argument"))
            inc = "++" in self.text(node)
            return v_union(arg, v_add(arg, _const(1)) if inc else v_sub(arg, _const(1)))
        if t == "string_literal" or t == "concatenated_string":
            return _unknown("a string is not a size")
        return _unknown(f"{self._short(node)}: not understood")

    def _short(self, node: tree_sitter.Node) -> str:
        s = _WS_RE.sub(" ", self.text(node)).strip()
        return s if len(s) <= 48 else s[:45] + "..."

    def _binary(self, node: tree_sitter.Node) -> Val:
        op = self.text(node.child_by_field_name("operator"))
        a = self.eval(node.child_by_field_name("left"))
        b = self.eval(node.child_by_field_name("right"))
        if op == "+":
            return v_add(a, b)
        if op == "-":
            return v_sub(a, b)
        if op == "*":
            return v_mul(a, b)
        if op == "/":
            return v_div(a, b)
        if op == "%":
            return v_mod(a, b)
        if op == "<<":
            return v_shl(a, b)
        if op == ">>":
            return v_shr(a, b)
        if op == "&":
            return v_and(a, b)
        if op in ("|", "^"):
            return v_or(a, b, op)
        if op in ("<", ">", "<=", ">=", "==", "!=", "&&", "||"):
            if a.exact is not None and b.exact is not None:
                x, y = a.exact, b.exact
                r = {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y, "==": x == y,
                     "!=": x != y, "&&": bool(x and y), "||": bool(x or y)}[op]
                return _const(int(r))
            return v_bool(a, b)
        return _unknown(f"operator {op}")

    # -- sizeof ----------------------------------------------------------------
    def _sizeof(self, node: tree_sitter.Node) -> Val:
        tnode = node.child_by_field_name("type")
        if tnode is not None:
            ref = self._typeref(tnode)
            size = self.ctx.sizeof_ref(ref) if ref else None
            if size is None:
                return self.ctx.partly_sized(self._short(node), ref)
            return self.ctx.sized(size, ref)
        expr = node.child_by_field_name("value")
        while expr is not None and expr.type == "parenthesized_expression" and expr.named_children:
            expr = expr.named_children[0]
        if expr is None:
            return _unknown("sizeof: no operand")
        ref = self.type_of(expr)
        if ref is None and expr.type == "identifier":
            # sizeof(Foo) parses as an expression when Foo is a typedef name
            ref = (self.text(expr), 0, ())
        if ref is None and expr.type == "string_literal":
            return _const(len(_c_string_bytes(self.text(expr))) + 1)
        size = self.ctx.sizeof_ref(ref) if ref else None
        if size is None:
            return self.ctx.partly_sized(self._short(node), ref)
        return self.ctx.sized(size, ref)

    def _typeref(self, tnode: tree_sitter.Node | None) -> TypeRef | None:
        if tnode is None:
            return None
        if tnode.type == "type_descriptor":
            base_node = tnode.child_by_field_name("type")
            if base_node is None:
                return None
            base = _type_key(None, base_node, None, self.data)
            d = tnode.child_by_field_name("declarator")
            if d is None:
                return (base, 0, ())
            ptr = 0
            dims: list[str] = []
            node = d
            while node is not None:
                if node.type == "abstract_pointer_declarator":
                    ptr += 1
                elif node.type == "abstract_array_declarator":
                    size = node.child_by_field_name("size")
                    if ptr == 0:
                        dims.append(self.text(size) if size is not None else "")
                elif node.type == "abstract_function_declarator":
                    ptr = max(ptr, 1)
                node = node.child_by_field_name("declarator") or (
                    node.named_children[0] if node.type == "abstract_parenthesized_declarator" and node.named_children else None)
            return (base, ptr, tuple(dims))
        return _typeref_from_text(self.text(tnode))

    def type_of(self, expr: tree_sitter.Node) -> TypeRef | None:
        t = expr.type
        if t == "parenthesized_expression":
            return self.type_of(expr.named_children[-1]) if expr.named_children else None
        if t == "identifier":
            name = self.text(expr)
            if name in self.bindings:
                return self.bindings[name][1]
            if self.fn is not None:
                d = self.fn.decl_of(name, self.at)
                if d is not None:
                    return d.type
            return self.ctx.global_type(name)
        if t == "pointer_expression":
            op = self.text(expr.children[0])
            inner = self.type_of(expr.child_by_field_name("argument"))
            if inner is None:
                return None
            if op == "&":
                return (inner[0], inner[1] + 1, ()) if not inner[2] else None
            return self._deref(inner)
        if t == "subscript_expression":
            inner = self.type_of(expr.child_by_field_name("argument"))
            return self._deref(inner) if inner is not None else None
        if t == "field_expression":
            arrow = self.text(expr.child_by_field_name("operator")) == "->"
            inner = self.type_of(expr.child_by_field_name("argument"))
            fname = expr.child_by_field_name("field")
            if inner is None or fname is None:
                return None
            if arrow:
                inner = self._deref(inner)
                if inner is None:
                    return None
            return self.ctx.field_type(inner, self.text(fname))
        if t == "cast_expression":
            return self._typeref(expr.child_by_field_name("type"))
        return None

    def _deref(self, ref: TypeRef) -> TypeRef | None:
        base, ptr, dims = self.ctx.resolve_typedef(ref)
        if dims:
            return (base, ptr, dims[1:])
        if ptr:
            return (base, ptr - 1, ())
        return None

    # -- names -----------------------------------------------------------------
    def _identifier(self, node: tree_sitter.Node) -> Val:
        name = self.text(node)
        if name in self.bindings:
            return self.bindings[name][0]
        local = self.fn.decl_of(name, self.at) if self.fn is not None else None
        if local is None:
            c = self.ctx.constant(name)
            if c is not None:
                return c
            if self.fn is None:
                return _unknown(f"{name}: not a known constant")
            gtype = self.ctx.global_type(name)
            init = self.ctx.global_consts.get(name)
            if init is not None and name not in {p for p, _ in self.active}:
                self.active.add((name, -1))
                try:
                    v = self._eval_at(init, -1)
                finally:
                    self.active.discard((name, -1))
                if v.hi is not None:
                    return v_with_note(v, f"{name}: const global")
            if gtype is not None and (name, self.at) not in self.active:
                # `len = sizeof(uint16_t); p = g_malloc0(len);`: an assignment just before,
                # with no call between that could change the global
                self.active.add((name, self.at))
                try:
                    local = self._global_value(name)
                finally:
                    self.active.discard((name, self.at))
                if local is not None:
                    return self._type_bound(local, gtype)
            v = _unknown(f"{name}: global variable, not bounded" if gtype else f"{name}: not a known constant")
            return self._type_bound(v, gtype)
        return self._variable(name, local)

    def _type_bound(self, v: Val, ref: TypeRef | None) -> Val:
        if ref is None or ref[1] or ref[2]:
            return v
        tmax = _TYPE_MAX.get(self.ctx.resolve_typedef(ref)[0])
        if tmax is not None and (v.hi is None or v.hi > tmax):
            return Val(0, tmax, False, v.notes + (f"its type holds at most {tmax}",), v.taint, None)
        return v

    def _variable(self, path: str, decl: _Decl | None) -> Val:
        """Value of a local/parameter (path is a plain name) from its writes."""
        fn = self.fn
        assert fn is not None
        # `size = (size + 15) & ~15` reads the value before this write: keyed by point
        key = (path, self.at)
        if key in self.active or len(self.active) > 12:
            return _unknown(f"{path}: depends on itself")
        # a value at a point is asked for again and again (x += a; x += b; ...): once
        # (values bound to a called function's parameters change what its locals hold)
        memo_key = (fn.fn.start_byte, path, self.at, self.hops,
                    tuple((k, b[0].lo, b[0].hi, b[0].taint) for k, b in sorted(self.bindings.items())))
        hit = self.ctx._var_memo.get(memo_key)
        if hit is not None:
            return hit
        self.active.add(key)
        try:
            v = self._variable_uncached(path, decl)
        finally:
            self.active.discard(key)
        self.ctx._var_memo[memo_key] = v
        return v

    def _variable_uncached(self, path: str, decl: _Decl | None) -> Val:
        fn = self.fn
        assert fn is not None
        vals: list[Val] = []
        # Writes that can reach `at`: those before it, and any inside a loop around it.
        loops = self.ctx.loops_around(fn, self.at)
        loop = loops[-1] if loops else None
        writes = [w for w in fn.writes if w.path == path and (
            w.offset < self.at or (loop is not None and loop[0] <= w.offset < loop[1]))]
        # The last plain assignment on every path to `at` hides the entry
        # value and all earlier writes (but not writes later in a loop it precedes).
        killer = None
        for w in writes:
            if w.offset < self.at and w.kind in ("=", "decl", "fill") and _dominates(fn.fn, w, self.at):
                if killer is None or w.offset > killer.offset:
                    killer = w
        if killer is not None:
            writes = [w for w in writes if w.offset >= killer.offset and (
                w.offset < self.at or any(lo > killer.offset and lo <= w.offset < hi for lo, hi in loops))]
        elif decl is not None and decl.is_param:
            if fn.mmio_size_param() is decl:
                vals.append(Val(1, 8, False, (f"{path}: access size of MMIO handler {fn.name}, at most 8",)))
            elif fn.is_mmio_write_handler() and fn.params[2] is decl:
                src = f"{path}: value written by the guest, parameter of MMIO/PIO write handler {fn.name}"
                vals.append(_unknown(src, taint=src))
            elif fn.name.startswith("qmp_") and not fn.is_static and decl.type[1] == 0:
                # QAPI command handlers get their arguments from the QMP (or guest agent) client
                src = f"{path}: argument of the QMP command handler {fn.name}, chosen by the client"
                vals.append(_unknown(src, taint=src))
            else:
                pv = self._param_from_callers(fn, decl, path)
                if pv.hi is None and not pv.taint:
                    pv = self._param_source(fn, decl, path) or pv
                vals.append(pv)
        for w in writes:
            vals.append(self._write_value(w, path))
        if decl is not None and not decl.is_param and not writes:
            vals.append(_unknown(f"{path}: never assigned"))
        if not vals:
            return _unknown(f"{path}: not bounded")
        v = vals[0]
        for x in vals[1:]:
            v = v_union(v, x)
        if decl is not None:
            v = self._type_bound(v, decl.type)
        return v

    def _eval_at(self, node: tree_sitter.Node, at: int) -> Val:
        """Evaluate a node of the file itself at program point `at` (this
        evaluator may be reading a snippet, whose bytes are not the file's)."""
        ev = self
        if self.data is not self.ctx.data:
            ev = _Evaluator(self.ctx, self.ctx.data, self.fn, at, self.depth)
            ev.active = self.active
        saved = ev.at
        ev.at = at
        try:
            return ev.eval(node)
        finally:
            ev.at = saved

    def _write_value(self, w: _Write, path: str) -> Val:
        line = self.line(w.offset)
        if w.kind == "fill":
            return _unknown(f"{path}: {w.source}", taint=f"{path}: {w.source}")
        if w.kind in ("=", "decl") and w.value is not None:
            v = self._eval_at(w.value, w.offset)
            if v.exact is not None and not v.notes:
                v = v_with_note(v, f"{path} = {v.exact} at line {line}")
            elif v.hi is not None and not v.notes:
                v = v_with_note(v, f"{path} <= {v.hi} by its assignment at line {line}")
            if v.taint and not v.taint.startswith(f"{path}:"):
                v = Val(v.lo, v.hi, v.reach, v.notes, f"{path}: {v.taint}", v.why)
            return v
        if w.kind == "op=" and w.value is not None and w.op in ("&=", "%=", ">>=", "/="):
            # narrowing compound assignments keep the old value's bound at worst
            rhs = self._eval_at(w.value, w.offset)
            if w.op == "&=" and rhs.hi is not None:
                return Val(0, rhs.hi, False, (f"{path} masked at line {line}",))
            return _unknown(f"{path}: updated at line {line}")
        if w.kind == "&":
            known = self._system_output(w, path, line) if w.value is not None else None
            if known is not None:
                return known
            out = self._out_param(w, path) if w.value is not None else None
            if out is not None:
                return out
            return _unknown(f"{path}: address taken at line {line}, written elsewhere")
        grows = self._growth(w, path, line)
        if grows is not None:
            return grows
        return _unknown(f"{path}: updated at line {line} ({w.op or w.kind})")

    def _system_output(self, w: _Write, path: str, line: int) -> Val | None:
        """`f(&x, ...)` with f a system function known to store at most N there
        (rules/system-types.toml [outputs])."""
        call = w.value
        fname = _callee(self.ctx.data, call)
        spec = system_outputs().get(fname or "")
        if spec is None:
            return None
        idx, top, where = spec
        args = call.child_by_field_name("arguments")
        nodes = [a for a in args.named_children if a.type != "comment"] if args is not None else []
        if idx >= len(nodes) or not (nodes[idx].start_byte <= w.offset < nodes[idx].end_byte):
            return None
        return Val(0, top, True, (f"{path}: set by {fname}() at line {line}, at most {top} ({where})",))

    def _out_param(self, w: _Write, path: str) -> Val | None:
        """`f(..., &x)` with f defined in this file: what f stores through that
        parameter (`*result = be32_to_cpu(buf);`). Only guest/image/user data
        is taken from there (that path exists); anything else stays unknown,
        since f may also leave x untouched."""
        ctx = self.ctx
        call = w.value
        fname = _callee(ctx.data, call)
        if not fname or self.hops >= _MAX_HOPS or ctx.budget <= 0:
            return None
        args = call.child_by_field_name("arguments")
        nodes = [a for a in args.named_children if a.type != "comment"] if args is not None else []
        idx = next((i for i, a in enumerate(nodes) if a.start_byte <= w.offset < a.end_byte), None)
        defs = ctx.index.definitions(fname)
        if idx is None or len(defs) != 1:
            return None
        callee = ctx.function(defs[0])
        if idx >= len(callee.params) or len(callee.params) != len(nodes):
            return None
        pname = callee.params[idx].name
        for cw in callee.writes:
            if cw.kind not in ("=", "fill") or cw.path not in (f"*{pname}", f"{pname}[0]", f"(*{pname})"):
                continue
            ctx.budget -= 1
            if cw.kind == "fill":
                v = _unknown(cw.source or "", taint=cw.source)
            else:
                ev = _Evaluator(ctx, ctx.data, callee, cw.offset, self.depth + 2, hops=self.hops + 1)
                v = ev.eval(cw.value)
            if v.taint:
                why = (f"{path}: stored by {fname}() at line {self.line(cw.offset)} "
                       f"(called at line {self.line(call.start_byte)}); {v.taint}")
                return Val(v.lo, v.hi, v.reach, v.notes, why, None)
        return None

    def _growth(self, w: _Write, path: str, line: int) -> Val | None:
        """`x += e` / `x++`: the value before the write combined with e.

        In an endless loop (`for (;;)`, `while (1)`) around both the write
        and the read, x grows by at least e on every trip, and only the data
        decides how many trips there are: no bound exists, x is large."""
        if w.kind == "++":
            if b"--" in self.ctx.data[w.offset : w.end]:
                return None
            op, rhs, shown = "+=", _const(1), "1"
        elif w.kind == "op=" and w.value is not None and w.op in ("+=", "*=", "<<=", "|=", "-="):
            op, rhs, shown = w.op, self._eval_at(w.value, w.offset), _WS_RE.sub(" ", _text(self.ctx.data, w.value))
        else:
            return None
        fn = self.fn
        assert fn is not None
        if op == "+=" and rhs.lo is not None and rhs.lo >= 1:
            loop = _endless_loop(fn.fn, w.offset, self.at)
            # a reset inside the loop (`x = 0` on wrap-around) bounds the growth
            if loop is not None and not any(
                    x.path == path and x.kind in ("=", "decl", "fill", "&") and loop.start_byte <= x.offset < loop.end_byte
                    for x in fn.writes):
                why = (f"{path} grows by {shown} (at least {rhs.lo}) on every trip of the endless loop at line "
                       f"{self.line(loop.start_byte)}, which only the data ends")
                return Val(rhs.lo, None, True, (), why, None)
        if not _IDENT_RE.fullmatch(path):
            return None
        capped = self._loop_capped(w, path, op, rhs, shown)
        if capped is not None:
            return capped
        ev = _Evaluator(self.ctx, self.ctx.data, fn, w.offset, self.depth + 1, hops=self.hops)
        ev.active = self.active
        prev = ev._variable(path, fn.decl_of(path, w.offset))
        new = {"+=": v_add, "-=": v_sub, "*=": v_mul, "<<=": v_shl}.get(op)
        if new is not None:
            v = new(prev, rhs)
        else:
            v = v_or(prev, rhs, "|")
        if v.hi is None and not v.taint:
            return None
        return v_with_note(v, f"{path} {op} {shown} at line {line}") if v.hi is not None else v

    def _loop_capped(self, w: _Write, path: str, op: str, rhs: Val, shown: str) -> Val | None:
        """`n++` / `n += c` (c >= 0) as the only write of n in the innermost
        loop around it, whose condition requires `n < K` (or `n <= K`): every
        trip starts with n within the check, so n stays below K + c. The
        check admits that value: how many trips run is the data's choice
        (a descriptor chain, a list read from the guest)."""
        if op != "+=" or rhs.lo is None or rhs.lo < 0 or rhs.hi is None:
            return None
        fn = self.fn
        assert fn is not None
        loop = fn.fn.named_descendant_for_byte_range(w.offset, w.end)
        while loop is not None and loop != fn.fn and loop.type not in ("for_statement", "while_statement",
                                                                          "do_statement"):
            loop = loop.parent
        if loop is None or loop == fn.fn:
            return None
        cond = loop.child_by_field_name("condition")
        if cond is None or any(x is not w and x.path == path and loop.start_byte <= x.offset < loop.end_byte
                               for x in fn.writes):
            return None
        if _VCPU_LOOP_RE.match(self.ctx.data, loop.start_byte):
            return self._per_vcpu(w, loop, path, rhs, shown)
        cap = self._cap_of(cond, path, loop)
        if cap is None:
            return self._per_trip(w, loop, path, rhs, shown)
        bound, check = cap
        # the value just before the loop (at its first byte the loop's own writes would count)
        before = loop.start_byte - 1
        ev = _Evaluator(self.ctx, self.ctx.data, fn, before, self.depth + 1, hops=self.hops)
        ev.active = self.active
        entry = ev._variable(path, fn.decl_of(path, before))
        top = bound
        if loop.type == "do_statement":
            # the first trip runs before the check: it starts from the entry value
            if entry.hi is None:
                return None
            top = max(bound, entry.hi)
        lo = entry.lo + rhs.lo if entry.lo is not None else None
        line = self.line(cond.start_byte)
        note = f"{path} grows by {shown} in a loop that runs while {check} (line {line})"
        return Val(lo, top + rhs.hi, True, (note,), None, None)

    def _per_trip(self, w: _Write, loop: tree_sitter.Node, path: str, rhs: Val, shown: str) -> Val | None:
        """`n++` at most once per trip of `for (i = A; i < K; i += c)` (i written
        only by the update): n grows by at most the step (K - A) / c times.
        The bound is reachable only when every trip increments n (no branch
        around the write, no early exit from the loop)."""
        fn = self.fn
        assert fn is not None
        data = self.ctx.data
        if loop.type != "for_statement":
            return None
        cond, upd, body = (loop.child_by_field_name(f) for f in ("condition", "update", "body"))
        if cond is None or upd is None or body is None:
            return None
        if upd.type == "update_expression" and b"++" in data[upd.start_byte:upd.end_byte]:
            ivar, step = _norm(_text(data, upd.child_by_field_name("argument"))), 1
        elif upd.type == "assignment_expression" and _text(data, upd.child_by_field_name("operator")) == "+=":
            ivar = _norm(_text(data, upd.child_by_field_name("left")))
            st = self._eval_at(upd.child_by_field_name("right"), upd.start_byte)
            if st.lo is None or st.lo < 1:
                return None
            step = st.lo
        else:
            return None
        if not _IDENT_RE.fullmatch(ivar) or ivar == path or any(
                x.path == ivar and body.start_byte <= x.offset < body.end_byte for x in fn.writes):
            return None
        cap = self._cap_of(cond, ivar, loop)
        if cap is None:
            return None
        bound, check = cap
        init = loop.child_by_field_name("initializer")
        start = None
        if init is not None:
            iw = [x for x in fn.writes if x.path == ivar and init.start_byte <= x.offset < init.end_byte]
            if iw:
                start = self._write_value(iw[-1], ivar)
        before = loop.start_byte - 1
        ev = _Evaluator(self.ctx, data, fn, before, self.depth + 1, hops=self.hops)
        ev.active = self.active
        if start is None:
            start = ev._variable(ivar, fn.decl_of(ivar, before))
        entry = ev._variable(path, fn.decl_of(path, before))
        if start.lo is None or entry.lo is None or entry.hi is None:
            return None
        trips = max(0, (bound - start.lo) // step + 1)
        note = (f"{path} grows by {shown} at most once per trip of the loop at line {self.line(loop.start_byte)}, "
                f"which runs at most {trips} times ({check})")
        return Val(entry.lo, entry.hi + trips * rhs.hi, _every_trip(fn.fn, w, body), (note,), None, None)

    def _per_vcpu(self, w: _Write, loop: tree_sitter.Node, path: str, rhs: Val, shown: str) -> Val | None:
        """`n++` in a CPU_FOREACH loop (no loop nested between): n grows by at
        most the step once per vCPU, and the user picks the vCPU count with
        -smp up to the limit of the machine the file defines."""
        cap = self.ctx.machine_max_cpus()
        if cap is None:
            return None
        fn = self.fn
        assert fn is not None
        before = loop.start_byte - 1
        ev = _Evaluator(self.ctx, self.ctx.data, fn, before, self.depth + 1, hops=self.hops)
        ev.active = self.active
        entry = ev._variable(path, fn.decl_of(path, before))
        if entry.hi is None or entry.lo is None:
            return None
        k, line = cap
        note = (f"{path} grows by {shown} per vCPU (CPU_FOREACH at line {self.line(loop.start_byte)}); "
                f"the machine allows {k} vCPUs (max_cpus at line {line})")
        body = loop.child_by_field_name("body")
        reach = body is not None and _every_trip(fn.fn, w, body)
        return Val(entry.lo, entry.hi + k * rhs.hi, reach, (note,), None, None)

    def _cap_of(self, cond: tree_sitter.Node, path: str, loop: tree_sitter.Node) -> tuple[int, str] | None:
        """The largest value of `path` for which the condition of `loop` holds,
        with the check's text; the limit must not change inside the loop."""
        while cond.type == "parenthesized_expression" and cond.named_children:
            cond = cond.named_children[-1]
        if cond.type != "binary_expression":
            return None
        opn = cond.child_by_field_name("operator")
        left, right = cond.child_by_field_name("left"), cond.child_by_field_name("right")
        if opn is None or left is None or right is None:
            return None
        op = _text(self.ctx.data, opn)
        if op == "&&":
            return self._cap_of(left, path, loop) or self._cap_of(right, path, loop)
        if _norm(_text(self.ctx.data, right)) == path:
            left, right = right, left
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, "")
        if op not in ("<", "<=") or _norm(_text(self.ctx.data, left)) != path:
            return None
        fn = self.fn
        assert fn is not None
        names = set(_IDENT_RE.findall(_text(self.ctx.data, right)))
        if any(loop.start_byte <= w.offset < loop.end_byte and _IDENT_RE.match(w.path)
               and _IDENT_RE.match(w.path).group(0) in names for w in fn.writes):
            return None  # `i < len` with len changed in the loop
        k = _Evaluator(self.ctx, self.ctx.data, fn, loop.start_byte - 1, self.depth + 2, hops=self.hops).eval(right)
        if k.hi is None:
            return None
        return k.hi - (1 if op == "<" else 0), _WS_RE.sub(" ", _text(self.ctx.data, cond))

    def _lvalue(self, node: tree_sitter.Node) -> Val:
        """s->len, hdr.size, buf[i], *p: taint from fills of the base; writes of the path;
        for fields, where the field's values come from in the rest of the file."""
        path = _norm(self.text(node))
        ref = self.type_of(node)
        kind = "field" if node.type == "field_expression" else "array element" if node.type == "subscript_expression" else "memory"
        assigned_here = False
        if self.fn is not None:
            taint = None
            for w in self.fn.writes:
                if w.kind == "fill" and (_path_overlaps(w.path, path) or _base_of(path) == w.path):
                    taint = f"{path}: {w.source}"
                elif w.path == path and w.kind in ("=", "decl"):
                    assigned_here = True
            if taint is not None:
                return self._type_bound(_unknown(taint, taint=taint), ref)
            local = self._local_path_value(path)
            if local is not None:
                return self._type_bound(local, ref)
            # an assignment here on some path from guest/image data: that path exists
            for w in self.fn.writes:
                if w.path == path and w.kind == "=" and w.offset < self.at:
                    v = self._write_value(w, path)
                    if v.taint:
                        return self._type_bound(v, ref)
        if node.type == "field_expression":
            prov = None
            if not self._local_struct(path):
                prov = self._field_provenance(node, path)
            elif self._handed_out(path):
                prov = self._field_provenance(node, path, writes_only=True)
            if prov is not None:
                return self._type_bound(prov, ref)
        if self.fn is None:
            return self._type_bound(_unknown(f"{path}: not a constant"), ref)
        if assigned_here:
            # assigned here, not on every path; other functions may write it too
            return self._type_bound(_unknown(f"{path}: field, written elsewhere too"), ref)
        return self._type_bound(_unknown(f"{path}: {kind}, not bounded"), ref)

    def _local_struct(self, path: str) -> bool:
        """`hdr.len` of a struct variable local to this function: only this
        function writes it, so other functions' writes of the type say nothing."""
        if self.fn is None or "->" in path:
            return False
        d = self.fn.decl_of(_base_of(path), self.at)
        return d is not None and not d.is_param and d.type[1] == 0 and not d.type[2]

    def _handed_out(self, path: str) -> bool:
        """`&in` of a local struct handed to a call (an option parser through a
        function pointer): functions that assign the field through a pointer
        may be writing this very struct."""
        base = _base_of(path)
        if self.fn is None:
            return False
        loops = self.ctx.loops_around(self.fn, self.at)
        # handed out before the read, or anywhere in a loop around it
        return any(w.kind == "&" and w.path == base and w.value is not None
                   and (w.offset < self.at or any(lo <= w.offset < hi for lo, hi in loops))
                   for w in self.fn.writes)

    # Calls that cannot change a structure they are handed a member of.
    _HARMLESS_CALLS = re.compile(r"^(g_free|qemu_vfree|free|g_assert|assert|trace_\w+|qemu_log\w*|error_\w+|warn_report\w*|info_report\w*)$")

    def _global_value(self, name: str) -> Val | None:
        """A global's value from the assignment in this function that dominates
        the read, when no write and no call (which may write any global) lies between."""
        fn = self.fn
        assert fn is not None
        killer = None
        for w in fn.writes:
            if w.offset >= self.at:
                break
            if w.path == name and w.kind == "=" and _dominates(fn.fn, w, self.at):
                killer = w
        if killer is None or any(lo <= killer.offset < hi for lo, hi in self.ctx.loops_around(fn, self.at)):
            return None
        if any(killer.end <= w.offset < self.at and _path_overlaps(w.path, name) for w in fn.writes):
            return None
        if any(killer.end <= off < self.at and not self._HARMLESS_CALLS.match(callee) for off, callee, _ in fn.calls):
            return None
        # the allocation itself is a call after the write: only calls strictly before `at` count
        return self._write_value(killer, name)

    def _local_path_value(self, path: str) -> Val | None:
        """`s->n = X; ... g_malloc(s->n)`: the value of the assignment that
        dominates the read, when nothing between can change the path."""
        fn = self.fn
        assert fn is not None
        loops = self.ctx.loops_around(fn, self.at)
        killer = None
        for w in fn.writes:
            if w.offset >= self.at:
                break
            if w.path == path and w.kind == "=" and _dominates(fn.fn, w, self.at):
                killer = w
        if killer is None:
            return None
        after = [w for w in fn.writes if killer.offset <= w.offset < self.at and _path_overlaps(w.path, path)]
        if any(w.path != path or w.kind not in ("=", "op=") for w in after):
            return None  # a whole-struct write, an address taken, a fill: not followed
        # a loop around the read that writes the path changes it on a later trip
        if any(lo <= w.offset < hi and _path_overlaps(w.path, path) for lo, hi in loops for w in fn.writes):
            return None
        for off, callee, args in fn.calls:
            if killer.end <= off < self.at and _hands_over(path, args) and not self._HARMLESS_CALLS.match(callee):
                return None  # a call handed the structure may change the field
        v = self._write_value(after[0], path)
        for w in after[1:]:
            v = v_union(v, self._write_value(w, path))
        return v

    def _param_source(self, fn: _FunctionIndex, decl: _Decl, path: str) -> Val | None:
        """Parameters whose kind says where their values come from, when the
        callers in this file do not bound them."""
        base, ptr, _dims = decl.type
        if ptr == 0 and base in ("abi_long", "abi_ulong"):
            # linux-user/bsd-user: abi_long values are the guest program's syscall arguments
            src = f"{path}: guest syscall argument ({base} parameter of {fn.name})"
            return _unknown(src, taint=src)
        p = fn.params
        if (ptr == 0 and len(p) == 3 and decl is p[2] and p[0].type[:2] == ("NetClientState", 1)
                and p[1].type[1] == 1 and base in ("size_t", "ssize_t", "int", "unsigned int")):
            # NetClientInfo.receive(nc, buf, size): size is the length of a packet from the peer
            src = f"{path}: length of a network packet, parameter of the receive handler {fn.name}"
            return _unknown(src, taint=src)
        return None

    def _param_from_callers(self, fn: _FunctionIndex, decl: _Decl, path: str) -> Val:
        """A parameter's entry value from the calls of its function in this file.

        One caller passing guest/image/user data makes the parameter tainted
        (that path exists). A bound needs every caller: the function must be
        static with no other use of its name (no pointer to it, no macro)."""
        ctx = self.ctx
        plain = _unknown(f"{path}: parameter of {fn.name}, not bounded")
        if self.hops >= _MAX_HOPS or ctx.budget <= 0 or decl not in fn.params:
            return plain
        idx = fn.params.index(decl)
        key = (fn.fn.start_byte, idx, self.hops)
        memo = ctx._param_memo.get(key)
        if memo is not None:
            return memo
        ctx._param_memo[key] = plain  # a recursive call sees the plain answer
        calls = ctx.index.calls.get(fn.name, [])
        complete = 0 < len(calls) <= _MAX_CALLERS and ctx.index.all_calls_seen(fn.fn, fn.name)
        seen: list[tuple[Val, int]] = []
        result = plain
        for call, caller in calls[:_MAX_CALLERS]:
            args = call.child_by_field_name("arguments")
            nodes = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            if caller is None or len(nodes) != len(fn.params) or ctx.budget <= 0:
                complete = False
                continue
            ctx.budget -= 1
            ev = _Evaluator(ctx, ctx.data, ctx.function(caller), call.start_byte, self.depth + 2, hops=self.hops + 1)
            v = ev.eval(nodes[idx])
            line = self.line(call.start_byte)
            if v.taint:
                why = f"{path}: parameter of {fn.name}, given {ev._short(nodes[idx])} at line {line}; {v.taint}"
                result = Val(v.lo, v.hi, v.reach, v.notes, why, None)
                break
            seen.append((v, line))
        else:
            if complete and seen and all(v.hi is not None for v, _ in seen):
                u = seen[0][0]
                for v, _ in seen[1:]:
                    u = v_union(u, v)
                lines = ", ".join(str(ln) for _, ln in seen[:4]) + (", ..." if len(seen) > 4 else "")
                note = f"{path}: parameter of static {fn.name}, at most {u.hi} from every call (line {lines})"
                result = Val(u.lo, u.hi, u.reach, (note,), None, None)
        if not result.taint and result.hi is None and not fn.is_static and self.hops <= 1:
            result = self._param_from_siblings(fn, idx, path) or result
        ctx._param_memo[key] = result
        return result

    def _param_from_siblings(self, fn: _FunctionIndex, idx: int, path: str) -> Val | None:
        """Callers of a non-static function in the other C files of its
        directory (codemod.analysis.siblings): one passing guest/image/user
        data taints the parameter. Bounds are not taken from there (callers
        elsewhere in the tree are not seen)."""
        from codemod.analysis import siblings

        ctx = self.ctx
        for sparsed in siblings.sibling_callers(ctx.parsed.source.path, ctx.parsed.source.display, fn.name):
            sctx = _FileContext(sparsed, file_facts(sparsed).layered(ctx.facts))
            shown = sparsed.source.display
            for call, caller in sctx.index.calls.get(fn.name, [])[:_MAX_CALLERS]:
                args = call.child_by_field_name("arguments")
                nodes = [a for a in args.named_children if a.type != "comment"] if args is not None else []
                if caller is None or len(nodes) != len(fn.params) or ctx.budget <= 0:
                    continue
                ctx.budget -= 1
                sctx.budget = ctx.budget
                ev = _Evaluator(sctx, sctx.data, sctx.function(caller), call.start_byte, self.depth + 2,
                                hops=self.hops + 1)
                v = ev.eval(nodes[idx])
                ctx.budget = min(ctx.budget, sctx.budget)
                if v.taint:
                    line = sparsed.source.line_col(call.start_byte)[0]
                    why = (f"{path}: parameter of {fn.name}, given {ev._short(nodes[idx])} at {shown}:{line}; "
                           f"{v.taint}")
                    return Val(v.lo, v.hi, v.reach, v.notes, why, None)
        return None

    def _field_provenance(self, node: tree_sitter.Node, path: str, writes_only: bool = False) -> Val | None:
        """Where a field's value comes from outside the reading function.

        A user-settable device property (codemod.analysis.props), a struct
        read wholesale from guest memory or a disk image somewhere in the
        file, or an assignment anywhere in the file from such data: each
        makes the field tainted, with the way there as evidence. None when
        none of these is found (the field stays unknown)."""
        ctx = self.ctx
        fld = node.child_by_field_name("field")
        arg = node.child_by_field_name("argument")
        op = node.child_by_field_name("operator")
        if fld is None or arg is None:
            return None
        fname = self.text(fld)
        inner = self.type_of(arg)
        if inner is not None and op is not None and self.text(op) == "->":
            inner = self._deref(inner)
        if (fname == "iov_len" and not writes_only and inner is not None
                and ctx.resolve_typedef(inner)[:2] == ("struct iovec", 0)):
            # I/O vectors describe guest requests and network packets: their lengths are the data's
            why = f"{path}: length of an I/O vector element (guest or peer data)"
            return _unknown(why, taint=why)
        rec = ctx.record_of(inner) if inner is not None else None
        if rec is None:
            return None
        if writes_only:
            key = (rec, fname, self.hops + 100)
            if key not in ctx._field_memo:
                ctx._field_memo[key] = None
                ctx._field_memo[key] = self._field_writes(rec, fname, node, path) if self.hops < _MAX_HOPS else None
            return ctx._field_memo[key]
        names = [inner[0]]
        tag = rec.split(" ", 1)[1] if " " in rec else rec
        if not tag.startswith("<") and tag not in names:
            names.append(tag)
        for prop_key in [f"{n}.{fname}" for n in names] + self._nested_property_keys(node):
            props = ctx.facts.properties.get(prop_key)
            if props:
                macro, pname, loc = props[0]
                why = f"{path}: user-settable device property {pname} ({macro} at {loc})"
                return _unknown(why, taint=why)
        key = (rec, fname, self.hops)
        if key in ctx._field_memo:
            return ctx._field_memo[key]
        ctx._field_memo[key] = None
        result = None
        if self.hops < _MAX_HOPS:
            result = self._field_fills(rec, path) or self._field_writes(rec, fname, node, path)
        ctx._field_memo[key] = result
        return result

    def _nested_property_keys(self, node: tree_sitter.Node) -> list[str]:
        """Property keys for a member of a member, `s->conf.num_queues`: properties
        name such fields by their path from the device's state struct
        (DEFINE_PROP_UINT32("num-queues", VirtIOBlock, conf.num_queues, 1)), so
        the key is "VirtIOBlock.conf.num_queues" and names the outermost type."""
        fields: list[str] = []
        cur = node
        while cur is not None and cur.type == "field_expression":
            fld = cur.child_by_field_name("field")
            arg = cur.child_by_field_name("argument")
            op = cur.child_by_field_name("operator")
            if fld is None or arg is None:
                return []
            fields.insert(0, self.text(fld))
            if arg.type != "field_expression":
                break
            cur = arg
        else:
            return []
        if len(fields) < 2:
            return []
        base = self.type_of(arg)
        if base is not None and op is not None and self.text(op) == "->":
            base = self._deref(base)
        if base is None:
            return []
        names = [base[0]]
        rec = self.ctx.record_of(base)
        tag = rec.split(" ", 1)[1] if rec and " " in rec else rec
        if tag and not tag.startswith("<") and tag not in names:
            names.append(tag)
        member_path = ".".join(fields)
        return [f"{n}.{member_path}" for n in names]

    def _field_fills(self, rec: str, path: str) -> Val | None:
        """A struct of this type filled from guest memory / an image somewhere in the file."""
        hit = self.ctx.filled_records().get(rec)
        if hit is None:
            return None
        line, desc, shown = hit
        why = f"{path}: field of a {shown} {desc} at line {line}"
        return _unknown(why, taint=why)

    def _field_writes(self, rec: str, fname: str, node: tree_sitter.Node, path: str) -> Val | None:
        """An assignment to this field (of this struct type) anywhere in the
        file, or in the other C files of its directory when the type is not
        private to the file, from tainted data or of a value above the limit."""
        hit = self._field_writes_in(self.ctx, rec, fname, node, path, "")
        # other files only for a field read at the allocation itself (hops 0): deeper
        # chains across files cost more than they tell
        if hit is not None or self.hops > 0 or rec in file_facts(self.ctx.parsed).records or self.ctx.budget <= 0:
            return hit
        from codemod.analysis import siblings

        disp = self.ctx.parsed.source.display
        for sparsed in siblings.sibling_field_writers(self.ctx.parsed.source.path, disp, fname):
            sctx = _FileContext(sparsed, file_facts(sparsed).layered(self.ctx.facts))
            sctx.budget, sctx.limit = self.ctx.budget, self.ctx.limit
            shown = sparsed.source.display
            hit = self._field_writes_in(sctx, rec, fname, node, path, shown)
            self.ctx.budget = min(self.ctx.budget, sctx.budget)
            if hit is not None or self.ctx.budget <= 0:
                return hit
        return None

    def _field_writes_in(self, ctx: _FileContext, rec: str, fname: str, node: tree_sitter.Node, path: str,
                         where: str) -> Val | None:
        big: Val | None = None
        for assign, wfn in ctx.index.field_writes.get(fname, []):
            if ctx.budget <= 0:
                return big
            if ctx is self.ctx and self.data is ctx.data and assign.start_byte <= node.start_byte < assign.end_byte:
                continue
            left = assign.child_by_field_name("left")
            right = assign.child_by_field_name("right")
            base = left.child_by_field_name("argument") if left is not None else None
            lop = left.child_by_field_name("operator") if left is not None else None
            if base is None or right is None:
                continue
            ev = _Evaluator(ctx, ctx.data, ctx.function(wfn), assign.start_byte, self.depth + 2, hops=self.hops + 1)
            t = ev.type_of(base)
            if t is not None and lop is not None and ev.text(lop) == "->":
                t = ev._deref(t)
            if t is None or ctx.record_of(t) != rec:
                continue
            ctx.budget -= 1
            v = ev.eval(right)
            aop = assign.child_by_field_name("operator")
            op = ev.text(aop) if aop is not None else "="
            line = ctx.parsed.source.line_col(assign.start_byte)[0]
            at = f"{where}:{line}" if where else f"line {line}"
            if v.taint:
                if op != "=":
                    # `f += x`: x is what is added, not the field's value, which has no bound
                    why = f"{path}: field {fname} grows by {ev._short(right)} at {at}; {v.taint}"
                    return Val(None, None, True, v.notes, why, None)
                why = f"{path}: field {fname} is set from {ev._short(right)} at {at}; {v.taint}"
                return Val(v.lo, v.hi, v.reach, v.notes, why, None)
            if big is None and op == "=" and v.lo is not None and v.lo > ctx.limit:
                # that assignment alone makes the field hold more than the limit
                # (kept while a write from guest/image data, the stronger evidence, is looked for)
                note = f"{path}: field {fname} is set to {ev._short(right)} (>= {v.lo}) at {at}"
                big = Val(v.lo, v.hi, v.reach, (note,), None, None)
        return big

    def _offsetof(self, texts: list[str]) -> Val:
        off = self.ctx.offset_of(texts[0], _norm(texts[1])) if len(texts) == 2 else None
        if off is not None:
            return _const(off)
        return _unknown(f"offsetof({', '.join(texts)}): layout not known")

    # -- calls -----------------------------------------------------------------
    def _call(self, node: tree_sitter.Node) -> Val:
        fname = _callee(self.data, node) or ""
        args_node = node.child_by_field_name("arguments")
        args = [a for a in args_node.named_children if a.type != "comment"] if args_node is not None else []
        line = self.line(node.start_byte) if self.fn is not None else 0
        if fname in ("MIN", "MIN_CONST", "MIN_NON_ZERO", "g_min", "QEMU_MIN") and len(args) == 2:
            a, b = self.eval(args[0]), self.eval(args[1])
            v = v_min(a, b)
            if v.hi is not None and not (a.exact is not None and b.exact is not None):
                v = v_with_note(v, f"capped by {fname}(..., {v.hi})")
            return v
        if fname in ("MAX", "MAX_CONST", "QEMU_MAX") and len(args) == 2:
            return v_max(self.eval(args[0]), self.eval(args[1]))
        if fname in ("DIV_ROUND_UP", "QEMU_DIV_ROUND_UP") and len(args) == 2:
            a, b = self.eval(args[0]), self.eval(args[1])
            return v_div(v_add(a, v_sub(b, _const(1))), b)
        if fname in ("QEMU_ALIGN_UP", "ROUND_UP", "ALIGN_UP") and len(args) == 2:
            a, b = self.eval(args[0]), self.eval(args[1])
            return v_mul(v_div(v_add(a, v_sub(b, _const(1))), b), b)
        if fname in ("QEMU_ALIGN_DOWN", "ROUND_DOWN") and len(args) == 2:
            a, b = self.eval(args[0]), self.eval(args[1])
            return v_mul(v_div(a, b), b)
        if fname == "BITS_TO_LONGS" and len(args) == 1:
            a = self.eval(args[0])
            return v_div(v_add(a, _const(63)), _const(64))
        if fname in ("BIT", "BIT_ULL") and len(args) == 1:
            return v_shl(_const(1), self.eval(args[0]))
        if fname in ("INT64_C", "UINT64_C", "INT32_C", "UINT32_C", "INT8_C", "UINT8_C", "INT16_C", "UINT16_C") and len(args) == 1:
            return self.eval(args[0])
        if fname in ("offsetof", "__builtin_offsetof") and args_node is not None:
            return self._offsetof(_split_args(self.data, args_node))
        if fname == "ARRAY_SIZE" and len(args) == 1:
            ref = self.type_of(args[0])
            if ref is not None:
                ref = self.ctx.resolve_typedef(ref)
                if ref[2]:
                    elem = self.ctx.sizeof_ref((ref[0], ref[1], ref[2][1:]))
                    whole = self.ctx.sizeof_ref(ref)
                    if elem and whole is not None:
                        return _const(whole // elem)
            return _unknown(f"ARRAY_SIZE({self._short(args[0])}): array size not known")
        if fname in ("pow2ceil", "pow2floor") and len(args) == 1:
            a = self.eval(args[0])
            if a.hi is None:
                return _combine(0, None, a.reach, a)
            hi = 1 << max(a.hi - 1, 0).bit_length() if fname == "pow2ceil" else a.hi
            return _combine(0, hi, a.reach, a)
        if fname in ("getpagesize", "qemu_real_host_page_size") and not args:
            # 4 KiB pages at least on every host QEMU runs on (64 KiB on some arm64/ppc64 hosts)
            return Val(4096, None, True, (f"{fname}(): a host page, at least 4096",), None,
                       f"{fname}(): host page size, not one value")
        src = _result_source(fname)
        if src is not None:
            ev = f"{src} at line {line}" if line else src
            return _unknown(ev, taint=ev)
        helper = self.ctx.facts.functions.get(fname)
        if helper is not None and helper[0][:1] == (_MACRO_MARK,):
            if (args_node is not None and len(helper[0]) - 1 == len(args) and fname not in self.inlining
                    and len(self.inlining) < 4):
                return self._expand(fname, helper, _split_args(self.data, args_node))
            helper = None
        if helper is not None and len(helper[0]) == len(args) and fname not in self.inlining and len(self.inlining) < 3:
            return self._inline(fname, helper, args)
        if fname in ("strlen", "strnlen") and len(args) == 2 and fname == "strnlen":
            b = self.eval(args[1])
            return _combine(0, b.hi, b.reach, b)
        ret = self._returned(fname, args)
        if ret is not None:
            return ret
        return _unknown(f"{fname or self._short(node)}(): result not bounded")

    def _returned(self, fname: str, args: list[tree_sitter.Node]) -> Val | None:
        """A call of a function defined in this file (or, when not here, in
        another C file of its directory: a getter beside its callers): the
        union of what its `return` statements give, each evaluated where it
        stands, with scalar parameters the function never assigns bound to
        this call's arguments. One tainted return makes the result tainted;
        a bound needs every return bounded."""
        ctx = self.ctx
        if (not fname or self.fn is None or self.hops >= _MAX_HOPS or ctx.budget <= 0
                or fname in self.inlining or len(self.inlining) >= 3):
            return None
        defs = ctx.index.definitions(fname)
        sctx, where = ctx, ""
        if not defs and self.hops == 0:
            from codemod.analysis import siblings

            found = []
            for sparsed in siblings.sibling_definitions(ctx.parsed.source.path, ctx.parsed.source.display, fname):
                other = _FileContext(sparsed, file_facts(sparsed).layered(ctx.facts))
                # a static function of another file is not the one called here
                if any(not other.function(d).is_static for d in other.index.definitions(fname)):
                    found.append(other)
            # defined in two files (commands-posix.c / commands-win32.c): one per build, not known which
            if len(found) == 1:
                sctx, where = found[0], found[0].parsed.source.display
                defs = sctx.index.definitions(fname)
        if len(defs) != 1:
            return None
        callee = sctx.function(defs[0])
        if len(callee.params) != len(args) or callee.returns is None or callee.returns[1] or callee.returns[0] == "void":
            return None
        body = defs[0].child_by_field_name("body")
        returns: list[tree_sitter.Node] = []
        stack = [body] if body is not None else []
        while stack and len(returns) <= _MAX_RETURNS:
            n = stack.pop()
            if n.type == "return_statement":
                returns.append(n)
            else:
                stack.extend(n.named_children)
        exprs = [r.named_children[0] for r in returns if r.named_children and r.named_children[0].type != "comment"]
        if not exprs or len(exprs) != len(returns) or len(returns) > _MAX_RETURNS:
            return None
        bindings: dict[str, tuple[Val, TypeRef | None]] = {}
        for p, a in zip(callee.params, args):
            if p.type[1] == 0 and not p.type[2] and not any(w.path == p.name for w in callee.writes):
                bindings[p.name] = (self.eval(a), p.type)
        if sctx is not ctx:
            sctx.budget, sctx.limit = ctx.budget, ctx.limit
        vals: list[tuple[Val, int]] = []
        for e in sorted(exprs, key=lambda n: n.start_byte):
            if sctx.budget <= 0:
                return None
            sctx.budget -= 1
            ev = _Evaluator(sctx, sctx.data, callee, e.start_byte, self.depth + 2, hops=self.hops + 1,
                            bindings=bindings)
            ev.inlining = self.inlining | {fname}
            v = ev._type_bound(ev.eval(e), callee.returns)
            line = sctx.parsed.source.line_col(e.start_byte)[0]
            if v.taint:
                ctx.budget = min(ctx.budget, sctx.budget)
                at = f"{where}:{line}" if where else f"line {line}"
                why = f"{fname}() returns {ev._short(e)} at {at}; {v.taint}"
                return Val(v.lo, v.hi, v.reach, v.notes, why, None)
            vals.append((v, line))
        ctx.budget = min(ctx.budget, sctx.budget)
        if any(v.hi is None for v, _ in vals):
            why = next((v.why for v, _ in vals if v.hi is None and v.why), None)
            return _unknown(f"{fname}(): result not bounded" + (f" ({why})" if why else ""))
        u = vals[0][0]
        for v, _ in vals[1:]:
            u = v_union(u, v)
        lines = ", ".join(str(ln) for _, ln in vals[:4]) + (", ..." if len(vals) > 4 else "")
        note = f"{fname}() returns at most {u.hi} ({where + ' ' if where else ''}line {lines})"
        return Val(u.lo, u.hi, u.reach, (u.notes + (note,))[-4:], None, None)

    def _expand(self, fname: str, macro: InlineFn, args: list[str]) -> Val:
        """A function-like macro: its body with each parameter replaced by the
        argument's text, evaluated where the call stands (as the preprocessor
        would have it: `(s)->len` reads the caller's s)."""
        params, body = macro
        names = {p: f"({a})" for (p, _), a in zip(params[1:], args)}
        if names:
            rx = re.compile(r"\b(" + "|".join(re.escape(p) for p in names) + r")\b")
            text = rx.sub(lambda m: names[m.group(1)], body)
        else:
            text = body
        snippet = _parse_snippet(text)
        if snippet is None:
            return _unknown(f"{fname}(): macro not understood")
        sub = _Evaluator(self.ctx, snippet[0], self.fn, self.at, self.depth + 2, hops=self.hops,
                         bindings=self.bindings)
        sub.active = self.active
        sub.inlining = self.inlining | {fname}
        v = sub.eval(snippet[1])
        if v.hi is None and not v.taint:
            return _unknown(f"{fname}(): result not bounded ({v.why})" if v.why else f"{fname}(): result not bounded")
        if v.exact is not None and not v.notes:
            return v
        short = _WS_RE.sub(" ", body)
        short = short if len(short) <= 48 else short[:45] + "..."
        if v.taint:
            return v
        return v_with_note(v, f"{fname}() is {short}")

    def _inline(self, fname: str, helper: InlineFn, args: list[tree_sitter.Node]) -> Val:
        """A call of a one-line helper (`return ns->lbaf.ms * lba;`): its
        expression with the parameters bound to the arguments' values."""
        params, expr = helper
        snippet = _parse_snippet(expr)
        if snippet is None:
            return _unknown(f"{fname}(): result not bounded")
        bindings = {pname: (self.eval(a), ptype) for (pname, ptype), a in zip(params, args)}
        sub = _Evaluator(self.ctx, snippet[0], None, -1, self.depth + 2, hops=self.hops, bindings=bindings)
        sub.inlining = self.inlining | {fname}
        v = sub.eval(snippet[1])
        if v.hi is None and not v.taint:
            return _unknown(f"{fname}(): result not bounded ({v.why})" if v.why else f"{fname}(): result not bounded")
        short = _WS_RE.sub(" ", expr)
        short = short if len(short) <= 48 else short[:45] + "..."
        if v.taint and not v.taint.startswith(f"{fname}("):
            return Val(v.lo, v.hi, v.reach, v.notes, f"{fname}() returns {short}; {v.taint}", None)
        return v_with_note(v, f"{fname}() returns {short}")

    # -- dominating checks ---------------------------------------------------------
    def _refine(self, node: tree_sitter.Node, v: Val) -> Val:
        """Narrow v by checks on the same expression that hold at self.at."""
        path = _norm(self.text(node))
        if not path:
            return v
        for cond, holds, off, cdata in self.ctx.conditions(self.fn, self.at):
            if any(w.offset > off and w.offset < self.at and _path_overlaps(w.path, path) for w in self.fn.writes):
                continue
            # a loop entered after the check may change the value on a later trip
            if any(lo > off and lo <= w.offset < hi and _path_overlaps(w.path, path)
                   for lo, hi in self.ctx.loops_around(self.fn, self.at) for w in self.fn.writes):
                continue
            v = self._apply_condition(cond, holds, path, v, off, cdata)
        return v

    def _apply_condition(self, cond: tree_sitter.Node, holds: bool, path: str, v: Val, off: int, cdata: bytes) -> Val:
        def text(n: tree_sitter.Node) -> str:
            return _text(cdata, n)

        while cond.type == "parenthesized_expression" and cond.named_children:
            cond = cond.named_children[-1]
        t = cond.type
        if t == "unary_expression" and text(cond.children[0]) == "!":
            return self._apply_condition(cond.child_by_field_name("argument"), not holds, path, v, off, cdata)
        if t != "binary_expression":
            return v
        op = text(cond.child_by_field_name("operator"))
        left, right = cond.child_by_field_name("left"), cond.child_by_field_name("right")
        if op in ("&&", "||"):
            # (A && B) holds -> both hold; (A || B) fails -> both fail
            if (op == "&&") == holds:
                v = self._apply_condition(left, holds, path, v, off, cdata)
                return self._apply_condition(right, holds, path, v, off, cdata)
            return v
        if op not in ("<", ">", "<=", ">=", "==", "!="):
            return v
        if not holds:
            op = {"<": ">=", ">": "<=", "<=": ">", ">=": "<", "==": "!=", "!=": "=="}[op]
        if _norm(text(right)) == path and _norm(text(left)) != path:
            left, right = right, left
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}[op]
        if _norm(text(left)) != path:
            return v
        # the bound is evaluated where the check is, without further refinement
        k = _Evaluator(self.ctx, cdata, None if cdata is not self.data else self.fn, off, self.depth + 4).eval(right)
        line = self.line(cond.start_byte if cdata is self.data else off)
        lo, hi = v.lo, v.hi
        if op in ("<=", "<") and k.hi is not None:
            bound = k.hi - (1 if op == "<" else 0)
            if hi is None or bound < hi:
                note = f"{path} <= {bound} (check at line {line})"
                return Val(lo, bound, True, (v.notes + (note,))[-4:], None, None)
        elif op == "==" and k.hi is not None:
            if hi is None or k.hi < hi:
                return Val(lo, k.hi, True, (v.notes + (f"{path} == {k.hi} (check at line {line})",))[-4:], None, None)
        elif op in (">=", ">") and k.lo is not None:
            bound = k.lo + (1 if op == ">" else 0)
            if lo is None or bound > lo:
                return Val(bound, hi, v.reach, v.notes + (f"{path} >= {bound} (check at line {line})",), v.taint, v.why)
        return v


# Limits of the analysis across functions of a file (per allocation site).
_MAX_HOPS = 3  # caller -> caller's caller -> ... / field writer / helper
_MAX_CALLERS = 16
_BUDGET = 64  # evaluations in other functions
_MAX_RETURNS = 12  # return statements of a called function evaluated for its result


_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
# loops over the vCPUs (include/hw/core/cpu.h)
_VCPU_LOOP_RE = re.compile(rb"CPU_FOREACH(?:_SAFE|_REVERSE)?\s*\(")


def _every_trip(fn: tree_sitter.Node, w: "_Write", body: tree_sitter.Node) -> bool:
    """Does every trip of the loop with this body run the write: no branch
    around it, no way out of the loop (break, continue, return, goto)?"""
    node = fn.named_descendant_for_byte_range(w.offset, w.end)
    while node is not None and node != body:
        if node.type not in ("update_expression", "assignment_expression", "expression_statement",
                             "compound_statement", "identifier", "field_expression", "subscript_expression",
                             "parenthesized_expression"):
            return False
        node = node.parent
    if node is None:
        return False
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type in ("break_statement", "continue_statement", "return_statement", "goto_statement"):
            return False
        stack.extend(n.named_children)
    return True


def _endless_loop(fn: tree_sitter.Node, offset: int, at: int) -> tree_sitter.Node | None:
    """The innermost `for (;;)` / `while (1)` / `do ... while (1)` around both offsets."""
    node = fn.named_descendant_for_byte_range(offset, offset)
    while node is not None and node != fn:
        if node.type in ("for_statement", "while_statement", "do_statement") and node.start_byte <= at < node.end_byte:
            cond = node.child_by_field_name("condition")
            if node.type == "for_statement":
                endless = cond is None
            else:
                while cond is not None and cond.type == "parenthesized_expression" and cond.named_children:
                    cond = cond.named_children[0]
                endless = cond is not None and cond.type in ("number_literal", "true") and (
                    cond.type == "true" or parse_int_literal(cond.text.decode()) not in (None, 0))
            return node if endless else None
        node = node.parent
    return None


_CONDITIONAL = {"conditional_expression", "if_statement", "while_statement", "for_statement",
                "do_statement", "switch_statement", "case_statement"}


def _dominates(fn: tree_sitter.Node, w: "_Write", at: int) -> bool:
    """Is write `w` executed on every path to `at` (an unconditional statement
    earlier in a block that encloses `at`)?"""
    node = fn.named_descendant_for_byte_range(w.offset, w.end)
    while node is not None and node != fn:
        parent = node.parent
        if parent is None:
            return False
        if parent.type == "compound_statement":
            return node.end_byte <= at and parent.start_byte <= at < parent.end_byte
        if parent.type in _CONDITIONAL or parent.type == "labeled_statement":
            return False
        if parent.type == "binary_expression":
            op = parent.child_by_field_name("operator")
            if op is not None and op.type in ("&&", "||") and node != parent.child_by_field_name("left"):
                return False
        node = parent
    return False


def _hands_over(path: str, args: str) -> bool:
    """Do call arguments `args` give the callee a way to change `path`:
    the base itself (`s`, `&hdr`) or the address of a prefix (`&s->hdr`)?"""
    base = _base_of(path)
    # the base not followed by a member access: `s`, `&hdr`, `(void *)s`
    if re.search(rf"(?<![\w.>]){re.escape(base)}\b(?!\s*(?:\.|->|\[))", args):
        return True
    flat = _norm(args)
    prefixes = [m.start() for m in re.finditer(r"\.|->|\[", path)] + [len(path)]
    # `&s->hdr` hands over s->hdr.n; `&s->hdrx` and `&s->hdr.m` do not
    return any(re.search(re.escape(f"&{path[:i]}") + r"(?![\w.\[]|->)", flat) for i in prefixes if i)


def _base_of(path: str) -> str:
    """`hdr.len` -> `hdr`, `s->x[3]` -> `s`, `*p` -> `p`."""
    m = re.match(r"[\*\(]*([A-Za-z_]\w*)", path)
    return m.group(1) if m else path


def _c_string_bytes(text: str) -> bytes:
    m = re.fullmatch(r'[LuU8]*"(.*)"', text, re.DOTALL)
    body = m.group(1) if m else ""
    return re.sub(r"\\(x[0-9a-fA-F]+|[0-7]{1,3}|.)", "_", body).encode()


_LEAVES = {"return_statement", "goto_statement", "break_statement", "continue_statement"}


def _always_leaves(data: bytes, stmt: tree_sitter.Node | None) -> bool:
    if stmt is None:
        return False
    t = stmt.type
    if t in _LEAVES:
        return True
    if t == "compound_statement":
        body = [c for c in stmt.named_children if c.type != "comment"]
        return bool(body) and any(_always_leaves(data, c) for c in body)
    if t == "expression_statement" and stmt.named_children:
        e = stmt.named_children[0]
        return e.type == "call_expression" and (_callee(data, e) or "") in _NORETURN
    if t == "if_statement":
        alt = stmt.child_by_field_name("alternative")
        if alt is None:
            return False
        alt_stmt = alt.named_children[0] if alt.type == "else_clause" and alt.named_children else alt
        return _always_leaves(data, stmt.child_by_field_name("consequence")) and _always_leaves(data, alt_stmt)
    return False


def _dominating_conditions(ctx: _FileContext, fn: _FunctionIndex, at: int):
    """(condition node, holds?, offset) for checks on every path to `at`.

    Walks from the innermost node at `at` up to the function body. At each
    enclosing block, preceding `if (C) <leave>;` gives !C, and
    `assert(C)` gives C; an enclosing if/while/for/?: gives its condition
    (negated in an else branch). A label between a check and `at` (a goto
    may enter there) stops checks before it from counting.
    """
    data = ctx.data
    node = fn.fn.named_descendant_for_byte_range(at, at) if at >= 0 else None
    out: list[tuple[tree_sitter.Node, bool, int, bytes]] = []
    body = fn.fn.child_by_field_name("body")
    blocked = False
    while node is not None and body is not None and node.start_byte >= body.start_byte:
        parent = node.parent
        if parent is None:
            break
        if node.type == "labeled_statement":
            blocked = True
        if not blocked:
            pt = parent.type
            if pt == "if_statement":
                cond = parent.child_by_field_name("condition")
                if node == parent.child_by_field_name("consequence"):
                    out.append((cond, True, cond.start_byte, data))
                elif node.type == "else_clause" and node == parent.child_by_field_name("alternative"):
                    out.append((cond, False, cond.start_byte, data))
            elif pt in ("while_statement", "for_statement") and node == parent.child_by_field_name("body"):
                cond = parent.child_by_field_name("condition")
                if cond is not None:
                    out.append((cond, True, cond.start_byte, data))
            elif pt == "conditional_expression":
                cond = parent.child_by_field_name("condition")
                if node == parent.child_by_field_name("consequence"):
                    out.append((cond, True, cond.start_byte, data))
                elif node == parent.child_by_field_name("alternative"):
                    out.append((cond, False, cond.start_byte, data))
            elif pt in ("compound_statement", "case_statement"):
                sib = node.prev_named_sibling
                while sib is not None:
                    if sib.type == "labeled_statement" or (sib.type == "case_statement"):
                        blocked = True
                        break
                    if sib.type == "if_statement" and sib.child_by_field_name("alternative") is None:
                        cond = sib.child_by_field_name("condition")
                        cons = sib.child_by_field_name("consequence")
                        if cond is not None and _always_leaves(data, cons):
                            out.append((cond, False, sib.end_byte, data))
                        elif cond is not None:
                            clamp = _clamp(data, cond, cons)
                            if clamp is not None:
                                out.append((clamp[1], True, sib.end_byte, clamp[0]))
                    elif sib.type == "expression_statement" and sib.named_children:
                        e = sib.named_children[0]
                        if e.type == "call_expression" and (_callee(data, e) or "") in _ASSERTS:
                            args = e.child_by_field_name("arguments")
                            if args is not None and args.named_children:
                                out.append((args.named_children[0], True, sib.end_byte, data))
                    sib = sib.prev_named_sibling
        if node == body:
            break
        node = parent
    return out


def _clamp(data: bytes, cond: tree_sitter.Node, cons: tree_sitter.Node | None):
    """`if (x > K) x = K;` -> the condition `x > K` reread as a bound `x <= K`.

    Returns a binary_expression node whose meaning after the if is the bound,
    or None. Only the exact shape `x > K` / `x >= K` with body `x = K` counts.
    """
    if cons is None:
        return None
    stmt = cons
    if stmt.type == "compound_statement":
        inner = [c for c in stmt.named_children if c.type != "comment"]
        if len(inner) != 1:
            return None
        stmt = inner[0]
    if stmt.type != "expression_statement" or not stmt.named_children:
        return None
    e = stmt.named_children[0]
    if e.type != "assignment_expression" or _text(data, e.child_by_field_name("operator")) != "=":
        return None
    c = cond
    while c.type == "parenthesized_expression" and c.named_children:
        c = c.named_children[-1]
    if c.type != "binary_expression" or _text(data, c.child_by_field_name("operator")) not in (">", ">="):
        return None
    if (_norm(_text(data, c.child_by_field_name("left"))) == _norm(_text(data, e.child_by_field_name("left")))
            and _norm(_text(data, c.child_by_field_name("right"))) == _norm(_text(data, e.child_by_field_name("right")))):
        # after the if, x <= K holds either way; reuse the snippet parser for the node
        snippet = _parse_snippet(f"{_text(data, c.child_by_field_name('left'))} <= {_text(data, c.child_by_field_name('right'))}")
        return snippet  # (bytes, node) pair: handled by the caller
    return None


# ---------------------------------------------------------------------------
# Public API

# Small LRU caches: the engine classifies all sites of one file before the
# next, so a few entries suffice; entries hold their keys' objects, so an id
# cannot be reused while cached.
_CACHE_SIZE = 4
_CONTEXTS: OrderedDict[tuple[int, int], tuple[ParsedFile, SizeFacts | None, _FileContext]] = OrderedDict()
_FILE_FACTS: OrderedDict[int, tuple[ParsedFile, SizeFacts]] = OrderedDict()


def file_facts(parsed: ParsedFile) -> SizeFacts:
    """SizeFacts of one parsed file (cached for the last few files)."""
    hit = _FILE_FACTS.get(id(parsed))
    if hit is not None and hit[0] is parsed:
        _FILE_FACTS.move_to_end(id(parsed))
        return hit[1]
    facts = SizeFacts.from_parsed([parsed])
    _FILE_FACTS[id(parsed)] = (parsed, facts)
    while len(_FILE_FACTS) > _CACHE_SIZE:
        _FILE_FACTS.popitem(last=False)
    return facts


def _context(parsed: ParsedFile, facts: SizeFacts | None) -> _FileContext:
    key = (id(parsed), id(facts))
    hit = _CONTEXTS.get(key)
    if hit is not None and hit[0] is parsed and hit[1] is facts:
        _CONTEXTS.move_to_end(key)
        return hit[2]
    own = file_facts(parsed)
    merged = own.layered(facts) if facts is not None else own
    ctx = _FileContext(parsed, merged)
    _CONTEXTS[key] = (parsed, facts, ctx)
    while len(_CONTEXTS) > _CACHE_SIZE:
        _CONTEXTS.popitem(last=False)
    return ctx


_TYPEOF_RE = re.compile(r"^(?:typeof|__typeof__|__typeof)\s*\((.*)\)$", re.DOTALL)


def _split_args(data: bytes, args: tree_sitter.Node) -> list[str]:
    """Argument texts split at top-level commas (robust to types as arguments)."""
    return _split_text_args(data[args.start_byte + 1 : args.end_byte - 1].decode("utf-8", "replace"))


def _split_text_args(text: str) -> list[str]:
    out, depth, cur, i = [], 0, [], 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while j < len(text) and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i : j + 1])
            i = j + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return [a.strip() for a in out] if text.strip() else []


def _arg_nodes(data: bytes, args: tree_sitter.Node) -> list[tree_sitter.Node] | None:
    nodes = [a for a in args.named_children if a.type != "comment"]
    # errors inside one argument (offsetof(T, a.b)) are that argument's business
    if any(n.type == "ERROR" or n.is_missing for n in nodes):
        return None
    return nodes


def classify_size(site: "Site", parsed: ParsedFile, *, limit: int = DEFAULT_LIMIT,
                  facts: SizeFacts | None = None) -> SizeInfo:
    """Classify the byte count of one allocation site (see module doc).

    `facts` adds types and constants from other files (the file's headers);
    the file's own are always used. Never raises: what cannot be analysed is
    "unknown" with the reason as evidence.
    """
    try:
        return _classify(site, parsed, limit, facts)
    except RecursionError:
        return SizeInfo("unknown", None, "size expression too deeply nested to analyse")
    except Exception as exc:  # a bug here must not stop the file: say so in the finding
        return SizeInfo("unknown", None, f"internal error in size analysis: {type(exc).__name__}: {exc}")


def _classify(site, parsed: ParsedFile, limit: int, facts: SizeFacts | None) -> SizeInfo:
    ctx = _context(parsed, facts)
    ctx.budget = _BUDGET
    ctx.limit = limit
    data = ctx.data
    fn = ctx.function(site.function) if site.function is not None else None
    at = site.call.start_byte
    args_node = site.call.child_by_field_name("arguments")
    if args_node is None:
        return SizeInfo("unknown", None, "call has no argument list")
    texts = _split_args(data, args_node)
    nodes = _arg_nodes(data, args_node)
    ev = _Evaluator(ctx, data, fn, at)

    def arg(i: int) -> Val:
        # nodes are trusted only where they line up with the text split:
        # `g_new(const char *, n + 1)` confuses tree-sitter's argument list
        if (nodes is not None and len(nodes) == len(texts) and i < len(nodes)
                and _norm(_text(data, nodes[i])) == _norm(texts[i])):
            return ev.eval(nodes[i])
        if i >= len(texts):
            return _unknown(f"argument {i + 1} missing")
        snippet = _parse_snippet(texts[i])
        if snippet is None:
            return _unknown(f"{texts[i]}: not understood")
        sub = _Evaluator(ctx, snippet[0], fn, at)
        return sub.eval(snippet[1])

    def type_arg(i: int) -> Val:
        ref = _typeref_from_text(texts[i]) if i < len(texts) else None
        m = _TYPEOF_RE.match(texts[i]) if i < len(texts) else None
        if m:
            snippet = _parse_snippet(m.group(1))
            ref = _Evaluator(ctx, snippet[0], fn, at).type_of(snippet[1]) if snippet else None
        size = ctx.sizeof_ref(ref) if ref is not None else None
        if size is None:
            return ctx.partly_sized(f"sizeof({texts[i] if i < len(texts) else '?'})", ref)
        return ctx.sized(size, ref)

    kind = site.allocator.size
    if kind == "arg0":
        v, shown = arg(0), texts[:1]
    elif kind == "n*size":
        v, shown = v_mul(arg(0), arg(1)), texts[:2]
    elif kind == "type*n":
        v, shown = v_mul(type_arg(0), arg(1)), [f"sizeof({texts[0]})" if texts else "?"] + texts[1:2]
    elif kind == "renew":
        v, shown = v_mul(type_arg(0), arg(2)), [f"sizeof({texts[0]})" if texts else "?"] + texts[2:3]
    elif kind == "realloc_n":
        v, shown = v_mul(arg(1), arg(2)), texts[1:3]
    elif kind in ("realloc", "align,size", "bs,size", "memdup"):
        v, shown = arg(1), texts[1:2]
    elif kind == "bits":
        v = v_mul(v_div(v_add(arg(0), _const(63)), _const(64)), _const(8))
        shown = [f"BITS_TO_LONGS({texts[0] if texts else '?'}) * 8"]
    else:
        return SizeInfo("unknown", None, f"allocator {site.allocator.name}: unknown size form '{kind}'")
    expr = " * ".join(f"({s})" if len(shown) > 1 and re.search(r"[+\-?<>|&]", s) else s for s in shown)
    expr = _WS_RE.sub(" ", expr)
    if len(expr) > 80:
        expr = expr[:77] + "..."
    return _decide(v, expr, limit)


def _decide(v: Val, expr: str, limit: int) -> SizeInfo:
    hi = v.hi
    why = "; ".join(v.notes)
    if v.exact is not None:
        cls = "small" if v.exact <= limit else "large"
        return SizeInfo(cls, v.exact, f"constant: {expr} = {v.exact} bytes" + (f" ({why})" if why else ""))
    if hi is not None and hi <= limit:
        return SizeInfo("small", max(hi, 0), f"{expr} <= {hi} bytes" + (f" ({why})" if why else ""))
    if v.lo is not None and v.lo > limit:
        return SizeInfo("large", hi, f"{expr} >= {v.lo} bytes, above the {limit}-byte limit" + (f" ({why})" if why else ""))
    if v.taint:
        extra = f"; at most {hi} bytes" if hi is not None else ""
        return SizeInfo("large", hi, f"{v.taint}{extra}")
    if hi is not None and v.reach:
        return SizeInfo("large", hi, f"{expr} can reach {hi} bytes, above the {limit}-byte limit" + (f" ({why})" if why else ""))
    if hi is not None:
        return SizeInfo("unknown", hi, f"{expr} <= {hi} bytes" + (f" ({why})" if why else "") + f", not shown to stay within {limit}")
    return SizeInfo("unknown", None, v.why or f"{expr}: not bounded")


__all__ = ["SizeFacts", "classify_size", "file_facts", "parse_int_literal", "parse_char_literal", "DEFAULT_LIMIT"]
