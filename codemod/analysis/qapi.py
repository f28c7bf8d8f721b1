"""C layouts of QAPI-generated types, from the schema.

QEMU generates qapi-types-*.h from the QAPI schema (qapi/*.json,
qga/qapi-schema.json, ...) at build time, so a source tarball has no
definition of `BlockdevOptionsGluster` or `PciInfo` for sizeof() to use.
The schema has everything the layout depends on, because the generator
(scripts/qapi/types.py) maps it mechanically:

* a struct is `struct Name { <base members> <own members> }`; an
  optional member `*x` is preceded by `bool has_x;` (QEMU 7.2 emits it for
  every optional member); an empty struct gets one char;
* member types: str -> char *, number -> double, int -> int64_t,
  intN/uintN -> intN_t/uintN_t, size -> uint64_t, bool -> bool,
  any -> QObject *, null -> QNull *, an enum -> the enum (int-sized),
  a struct, union or alternate -> a pointer, ['T'] -> TList *;
* a union is its base's members followed by `union { Branch b; ... } u;`
  with each branch's struct embedded by value; an alternate is
  `QType type;` followed by such a union (builtin branches keep their C
  type);
* every type T has `struct TList { TList *next; <T's C type> value; }`;
* an enum is `typedef enum Name { PREFIX_VALUE, ..., NAME__MAX } Name;`,
  so its constants are known too.

Members under 'if' are all kept (the largest layout). The result is a
SizeFacts layer, built once per process and tree.
"""

from __future__ import annotations

import re
from pathlib import Path

from codemod.analysis.size import FieldDef, SizeFacts, TypeRef

_BUILTINS: dict[str, TypeRef] = {
    "str": ("char", 1, ()), "number": ("double", 0, ()), "int": ("int64_t", 0, ()),
    "int8": ("int8_t", 0, ()), "int16": ("int16_t", 0, ()), "int32": ("int32_t", 0, ()),
    "int64": ("int64_t", 0, ()), "uint8": ("uint8_t", 0, ()), "uint16": ("uint16_t", 0, ()),
    "uint32": ("uint32_t", 0, ()), "uint64": ("uint64_t", 0, ()), "size": ("uint64_t", 0, ()),
    "bool": ("bool", 0, ()), "null": ("QNull", 1, ()), "any": ("QObject", 1, ()), "QType": ("int", 0, ()),
}

# Identifiers the generator prefixes with q_ (C/C++ keywords and names that
# system headers define as macros).
_PROTECTED = frozenset("""
auto break case char const continue default do double else enum extern float for goto if int long
register return short signed sizeof static struct switch typedef union unsigned void volatile while
inline restrict _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn
_Static_assert _Thread_local asm typeof bool catch class const_cast delete dynamic_cast explicit
false friend mutable namespace new operator private protected public reinterpret_cast static_cast
template this throw true try typeid typename using virtual wchar_t and and_eq bitand bitor compl not
not_eq or or_eq xor xor_eq unix errno mips sparc i386 linux
""".split())

_SCHEMA_GLOBS = ("qapi/*.json", "qga/*.json", "storage-daemon/qapi/*.json")

_CACHE: dict[str, SizeFacts | None] = {}
_FILE_KEY = " file"  # where a definition was read (not a valid schema key)


class SchemaError(ValueError):
    pass


def c_name(name: str, protect: bool = True) -> str:
    """A schema name as a C identifier: punctuation becomes '_', keywords get 'q_'."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if protect and (out in _PROTECTED or out[:1].isdigit()):
        return "q_" + out
    return out


def camel_to_upper(name: str) -> str:
    """'BlockdevDriver' -> 'BLOCKDEV_DRIVER', 'QCryptoHashAlgorithm' -> 'QCRYPTO_HASH_ALGORITHM'.

    A '_' goes before an upper-case letter that starts a lower-case run or
    follows a digit (never right after another '_'); names already in
    upper case stay as they are."""
    s = c_name(name, False)
    if s.isupper():
        return s
    out = []
    for i, ch in enumerate(s):
        if ch.isupper() and i > 0 and s[i - 1] != "_":
            if (i + 1 < len(s) and s[i + 1].islower()) or s[i - 1].isdigit():
                out.append("_")
        out.append(ch)
    return "".join(out).lstrip("_").upper()


# ---------------------------------------------------------------------------
# Reading the schema language: JSON-like, single-quoted strings, '#' comments.

_TOKEN_RE = re.compile(r"\s+|#[^\n]*|'[^'\n]*'|[{}\[\]:,]|true\b|false\b|\S")


def parse_schema_text(text: str, where: str = "<schema>") -> list:
    """The top-level expressions of one schema file."""
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        tok = m.group(0)
        if tok[0].isspace() or tok[0] == "#":
            continue
        tokens.append(tok)
    pos = 0

    def value():
        nonlocal pos
        if pos >= len(tokens):
            raise SchemaError(f"{where}: unexpected end")
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            out = {}
            if pos < len(tokens) and tokens[pos] == "}":
                pos += 1
                return out
            while True:
                key = value()
                if not isinstance(key, str) or pos >= len(tokens) or tokens[pos] != ":":
                    raise SchemaError(f"{where}: expected 'key': value")
                pos += 1
                out[key] = value()
                if pos < len(tokens) and tokens[pos] == ",":
                    pos += 1
                    continue
                if pos < len(tokens) and tokens[pos] == "}":
                    pos += 1
                    return out
                raise SchemaError(f"{where}: expected ',' or '}}'")
        if tok == "[":
            items = []
            if pos < len(tokens) and tokens[pos] == "]":
                pos += 1
                return items
            while True:
                items.append(value())
                if pos < len(tokens) and tokens[pos] == ",":
                    pos += 1
                    continue
                if pos < len(tokens) and tokens[pos] == "]":
                    pos += 1
                    return items
                raise SchemaError(f"{where}: expected ',' or ']'")
        if tok[0] == "'":
            return tok[1:-1]
        if tok in ("true", "false"):
            return tok == "true"
        raise SchemaError(f"{where}: unexpected {tok!r}")

    exprs = []
    while pos < len(tokens):
        exprs.append(value())
    return exprs


def _load(paths: list[Path]) -> list[dict]:
    """Every definition in the files and the files they include."""
    seen: set[Path] = set()
    defs: list[dict] = []
    queue = list(paths)
    while queue:
        p = queue.pop(0).resolve()
        if p in seen or not p.is_file():
            continue
        seen.add(p)
        try:
            exprs = parse_schema_text(p.read_text(encoding="utf-8", errors="replace"), str(p))
        except SchemaError:
            continue  # a file we cannot read adds nothing; the others still count
        for e in exprs:
            if not isinstance(e, dict):
                continue
            if "include" in e and isinstance(e["include"], str):
                queue.append(p.parent / e["include"])
            else:
                defs.append(dict(e, **{_FILE_KEY: p}))
    return defs


# ---------------------------------------------------------------------------
# Schema -> SizeFacts


def _member_type(t) -> str | list | None:
    if isinstance(t, dict):
        t = t.get("type")
    return t if isinstance(t, (str, list)) else None


def _members(data) -> list[tuple[str, bool, str | list]]:
    """(name, optional, type) of a 'data' dict."""
    out = []
    if not isinstance(data, dict):
        return out
    for key, spec in data.items():
        t = _member_type(spec)
        if t is None:
            continue
        optional = key.startswith("*")
        out.append((key[1:] if optional else key, optional, t))
    return out


def facts_from_definitions(defs: list[dict]) -> SizeFacts:
    facts = SizeFacts()
    kinds: dict[str, str] = {}  # type name -> struct/union/alternate/enum
    by_name: dict[str, dict] = {}
    for d in defs:
        for kind in ("struct", "union", "alternate", "enum"):
            name = d.get(kind)
            if isinstance(name, str):
                kinds.setdefault(name, kind)
                by_name.setdefault(name, d)

    def cref(t: str | list) -> TypeRef | None:
        """The C type of a member of schema type t."""
        if isinstance(t, list):
            return (c_name(t[0]) + "List", 1, ()) if t and isinstance(t[0], str) else None
        if t in _BUILTINS:
            return _BUILTINS[t]
        k = kinds.get(t)
        if k == "enum":
            return ("int", 0, ())
        if k is not None:
            return (c_name(t), 1, ())
        return None

    def unboxed(t: str) -> TypeRef | None:
        """A branch's C type: object types by value."""
        if kinds.get(t) in ("struct", "union"):
            return (c_name(t), 0, ())
        return cref(t)

    def struct_members(name: str, depth: int = 0) -> list[tuple[str, bool, str | list]] | None:
        d = by_name.get(name)
        if d is None or kinds.get(name) != "struct" or depth > 16:
            return None
        own = _members(d.get("data", {}))
        base = d.get("base")
        if isinstance(base, str):
            inherited = struct_members(base, depth + 1)
            if inherited is None:
                return None
            return inherited + own
        return own

    def base_members(d: dict) -> list[tuple[str, bool, str | list]] | None:
        base = d.get("base")
        if isinstance(base, dict):
            return _members(base)
        if isinstance(base, str):
            return struct_members(base)
        return []

    def fields_of(members) -> list[FieldDef] | None:
        out: list[FieldDef] = []
        for mname, optional, t in members:
            ref = cref(t)
            if ref is None:
                return None  # a type the schema does not define: leave the record unknown
            if optional:
                out.append((f"has_{c_name(mname)}", ("bool", 0, ()), ""))
            out.append((c_name(mname), ref, ""))
        return out

    for name, kind in kinds.items():
        d = by_name[name]
        cn = c_name(name)
        if _FILE_KEY in d:
            facts.origins[cn] = f"QAPI {kind} from {d[_FILE_KEY]}"
        fields: list[FieldDef] | None
        if kind == "enum":
            facts.typedefs[cn] = ("int", 0, ())
            prefix = d.get("prefix") if isinstance(d.get("prefix"), str) else name
            values = [v.get("name") if isinstance(v, dict) else v for v in d.get("data", [])]
            values = [v for v in values if isinstance(v, str)]
            upper = camel_to_upper(prefix)
            for i, v in enumerate(values):
                facts.constants.setdefault(f"{upper}_{c_name(v, False).upper()}", [str(i)])
            facts.constants.setdefault(f"{upper}__MAX", [str(len(values))])
        elif kind == "struct":
            members = struct_members(name)
            fields = fields_of(members) if members is not None else None
            if fields is not None:
                if not fields:
                    fields = [("qapi_dummy_for_empty_struct", ("char", 0, ()), "")]
                facts.records[f"struct {cn}"] = (False, fields)
                facts.typedefs[cn] = (f"struct {cn}", 0, ())
        elif kind in ("union", "alternate"):
            if kind == "union":
                members = base_members(d)
                fields = fields_of(members) if members is not None else None
                if "discriminator" not in d:
                    fields = None  # simple unions are gone from QEMU 7.2: not modelled
            else:
                fields = [("type", ("int", 0, ()), "")]
            branches: list[FieldDef] = []
            data = d.get("data", {})
            for bname, spec in (data.items() if isinstance(data, dict) else ()):
                t = _member_type(spec)
                ref = unboxed(t) if isinstance(t, str) else None
                if ref is None:
                    fields = None
                    break
                branches.append((c_name(bname), ref, ""))
            if fields is not None:
                if branches:
                    ukey = f"union <qapi {cn}.u>"
                    facts.records[ukey] = (False, branches)
                    fields = fields + [("u", (ukey, 0, ()), "")]
                facts.records[f"struct {cn}"] = (False, fields)
                facts.typedefs[cn] = (f"struct {cn}", 0, ())
    # TList for every type, builtin or defined
    for t in list(_BUILTINS) + list(kinds):
        ref = cref(t)
        if ref is None:
            continue
        ln = c_name(t) + "List"
        facts.records[f"struct {ln}"] = (False, [("next", (ln, 1, ()), ""), ("value", ref, "")])
        facts.typedefs[ln] = (f"struct {ln}", 0, ())
    return facts


def schema_facts(root: Path, store=None) -> SizeFacts | None:
    """SizeFacts of the QAPI types of the tree at `root` (cached per process); None without a schema.

    `store` (a codemod.cache.Cache, see analysis.headers.store_namespace)
    keeps them between runs, keyed by the schema files' names and bytes:
    reading and hashing ~40 files is a few milliseconds, parsing them a
    good part of a warm re-run's analysis."""
    key = str(Path(root))
    if key in _CACHE:
        return _CACHE[key]
    paths: list[Path] = []
    for pattern in _SCHEMA_GLOBS:
        paths.extend(sorted(Path(root).glob(pattern)))
    resolved = Path(root).resolve()
    store_key = _store_key(store, resolved, paths) if store is not None and paths else None
    if store_key is not None:
        value = store.get(store_key)
        if isinstance(value, SizeFacts):
            _CACHE[key] = value
            return value
    result = facts_from_definitions(_load(paths)) if paths else None
    if result is not None:
        for name, where in list(result.origins.items()):
            try:
                result.origins[name] = where.replace(str(resolved) + "/", "")
            except (AttributeError, TypeError):
                pass
        if store_key is not None:
            store.put(store_key, result)
    _CACHE[key] = result
    return result


def _store_key(store, root: Path, paths: list[Path]) -> str | None:
    from codemod.cache import content_hash

    parts = [str(root)]
    for p in paths:
        try:
            parts += [str(p), content_hash(p.read_bytes())]
        except OSError:
            return None  # unreadable now: _load reports it, nothing is stored
    return store.key("qapi-schema", *parts)
