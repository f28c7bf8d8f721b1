"""The whole-tree call graph and its entry points.

Nodes are functions: a static function is identified by (file, name), an
extern one by its name alone (one node for all its definitions: stubs and
per-target copies merge). A call resolves to the static of the calling file
first, then to the extern, then to static inline functions of headers.

Edges are of two strengths:
  call      a direct call; a callback handed to a call known to run it
            before returning ([sync] in rules/entry-points.toml); a call
            through a function-pointer field, `vgc->process_cmd(...)`, to the
            functions stored in that field of that type (the type visible on
            both sides; fields that are registrations are left to the rules);
  deferred  the caller hands the callee's address somewhere (an unknown
            call, a struct field no rule names, a variable): the callee may
            run any time later. Only runtime crosses such an edge.

Entry points come from the registration rules in rules/entry-points.toml
(EntryProfile); the graph records, for each entry, the kinds and the reason.
A callback handed to a wrapper that passes its parameter on to a registrar
(virtio_scsi_common_realize(..., cmd) -> virtio_add_queue(..., cmd)) is an
entry of the registrar's kinds, through up to four wrappers. A file-scope
table of functions (`{ f, g }`, `[OP] = f`) is a deferred edge from each
function that names the table. Whether a realize is hot-pluggable comes from
the QOM type hierarchy (_qom_not_hotpluggable).
"""

from __future__ import annotations

import bisect
import fnmatch
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from codemod.analysis.facts import FileFacts, Ref
from codemod.errors import Position, RuleError
from codemod.rulesdata import builtin_rules_dir

PHASES = ("startup", "runtime")
_TYPE_TOKEN_RE = re.compile(r'"[^"]*"|[A-Za-z_]\w*')


@dataclass(frozen=True)
class FieldRule:
    fields: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]  # field names written as "^regex"
    types: frozenset[str] | None
    kinds: tuple[str, ...]
    not_hotpluggable: tuple[str, ...] | None

    def matches(self, fld: str, struct_type: str | None) -> bool:
        if self.types is not None and struct_type not in self.types:
            return False
        return fld in self.fields or any(p.search(fld) for p in self.patterns)


@dataclass(frozen=True)
class CallRule:
    args: frozenset[int]
    kinds: tuple[str, ...]
    not_hotpluggable: tuple[str, ...] | None


@dataclass(frozen=True)
class FollowRule:
    """Functions of a struct table that take the kinds of what the table's
    class function registers (instance_init follows the class's realize)."""

    fields: frozenset[str]
    types: frozenset[str] | None
    class_field: str
    class_registrations: frozenset[str]  # field names or registrar call names


@dataclass(frozen=True)
class EntryProfile:
    """rules/entry-points.toml, checked and compiled."""

    kinds: dict[str, str]  # kind -> "startup" | "runtime"
    kind_order: tuple[str, ...]
    # (pattern, kinds, extern only, file globs or ())
    names: tuple[tuple[re.Pattern[str], tuple[str, ...], bool, tuple[str, ...]], ...]
    fields: tuple[FieldRule, ...]
    calls: dict[str, CallRule]
    sync: frozenset[str]
    startup_stop: frozenset[str]
    root_exclude: tuple[str, ...]
    follows: tuple[FollowRule, ...] = ()
    # Files that are not part of the program (firmware sources under roms/).
    ignore_files: tuple[str, ...] = ()
    # Extern names defined once per program (main): one node per file, not merged.
    per_file_names: frozenset[str] = frozenset()
    # Loadable modules: files invoking one of `module_markers` at top level;
    # registrations of `module_fields` there take `module_kinds` (a module's
    # types are registered, and their class_init run, when it is loaded).
    module_markers: frozenset[str] = frozenset()
    module_fields: frozenset[str] = frozenset()
    module_kinds: tuple[str, ...] = ()
    # Field registrations whose indirect calls (`drv->bdrv_open(...)`) are
    # call edges too: (field rule index) of rules with `indirect_calls = true`.
    indirect_rules: frozenset[int] = frozenset()
    # Kinds whose walk follows call edges only (never deferred ones).
    calls_only: frozenset[str] = frozenset()
    source: str = "<builtin>"

    def phase_of(self, kind: str) -> str:
        return self.kinds[kind]

    def field_kinds(self, fld: str, struct_type: str | None, not_hotpluggable: bool) -> tuple[str, ...] | None:
        for rule in self.fields:
            if rule.matches(fld, struct_type):
                if not_hotpluggable and rule.not_hotpluggable is not None:
                    return rule.not_hotpluggable
                return rule.kinds
        return None

    def field_called_indirectly(self, fld: str, struct_type: str | None) -> bool:
        """Whether `obj->fld(...)` calls what the first matching rule registers."""
        for k, rule in enumerate(self.fields):
            if rule.matches(fld, struct_type):
                return k in self.indirect_rules
        return False

    def call_kinds(self, callee: str | None, index: int, not_hotpluggable: bool) -> tuple[str, ...] | None:
        rule = self.calls.get(callee) if callee else None
        if rule is None or index not in rule.args:
            return None
        if not_hotpluggable and rule.not_hotpluggable is not None:
            return rule.not_hotpluggable
        return rule.kinds

    def name_kinds(self, name: str, static: bool = False, path: str | None = None) -> tuple[str, ...]:
        out: list[str] = []
        for pattern, kinds, extern_only, files in self.names:
            if files and (path is None or not any(fnmatch.fnmatch(path, g) for g in files)):
                continue
            if (not static or not extern_only) and pattern.search(name):
                out.extend(k for k in kinds if k not in out)
        return tuple(out)

    def excluded_root(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, g) for g in self.root_exclude)

    def ignored(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, g) for g in self.ignore_files)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "EntryProfile":
        return _load_profile(str(path) if path else str(builtin_rules_dir() / "entry-points.toml"))


@lru_cache(maxsize=4)
def _load_profile(path: str) -> EntryProfile:
    raw = Path(path).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+), column (\d+)", str(exc))
        pos = Position(path, int(m.group(1)), int(m.group(2))) if m else Position(path, 1, 1)
        raise RuleError(f"malformed entry-point table: {exc}", pos) from None

    def where(needle: str) -> Position:
        i = raw.find(needle)
        line = raw.count("\n", 0, i) + 1 if i >= 0 else 1
        return Position(path, line, 1)

    kinds = dict(data.get("kinds", {}))
    for kind, phase in kinds.items():
        if phase not in PHASES:
            raise RuleError(f"kind '{kind}': phase must be startup or runtime, not '{phase}'", where(kind))

    def check_kinds(ks, ctx: str) -> tuple[str, ...]:
        if not isinstance(ks, list) or not ks:
            raise RuleError(f"{ctx}: 'kinds' must be a non-empty list", where(ctx))
        for k in ks:
            if k not in kinds:
                raise RuleError(f"{ctx}: unknown entry kind '{k}' (declare it under [kinds])", where(ctx))
        return tuple(ks)

    names = []
    for spec in data.get("names", []):
        pat = spec.get("pattern", "")
        try:
            names.append((re.compile(pat), check_kinds(spec.get("kinds"), pat), bool(spec.get("extern_only")),
                          tuple(spec.get("files", ()))))
        except re.error as exc:
            raise RuleError(f"bad name pattern {pat!r}: {exc}", where(pat)) from None
    fields = []
    indirect_rules = set()
    for spec in data.get("fields", []):
        if spec.get("indirect_calls"):
            indirect_rules.add(len(fields))
        flds = spec.get("fields", [])
        ctx = flds[0] if flds else "fields"
        plain = frozenset(f for f in flds if not f.startswith("^"))
        pats = tuple(re.compile(f) for f in flds if f.startswith("^"))
        types = frozenset(spec["types"]) if "types" in spec else None
        nh = spec.get("not_hotpluggable")
        fields.append(
            FieldRule(plain, pats, types, check_kinds(spec.get("kinds"), ctx),
                      check_kinds(nh, ctx) if nh is not None else None)
        )
    calls: dict[str, CallRule] = {}
    for spec in data.get("calls", []):
        ctx = (spec.get("names") or ["calls"])[0]
        nh = spec.get("not_hotpluggable")
        rule = CallRule(frozenset(spec.get("args", [])), check_kinds(spec.get("kinds"), ctx),
                        check_kinds(nh, ctx) if nh is not None else None)
        for name in spec.get("names", []):
            calls[name] = rule
    follows = []
    for spec in data.get("follows", []):
        flds = spec.get("fields", [])
        if not flds or "class_field" not in spec or not spec.get("class_registrations"):
            raise RuleError("[[follows]] needs fields, class_field and class_registrations",
                            where("[[follows]]"))
        follows.append(FollowRule(frozenset(flds), frozenset(spec["types"]) if "types" in spec else None,
                                  spec["class_field"], frozenset(spec["class_registrations"])))
    startup = data.get("startup", {})
    modules = data.get("modules", {})
    module_kinds = check_kinds(modules["kinds"], "[modules]") if "kinds" in modules else ()
    return EntryProfile(
        kinds=kinds,
        kind_order=tuple(kinds),
        names=tuple(names),
        fields=tuple(fields),
        calls=calls,
        sync=frozenset(data.get("sync", {}).get("names", [])),
        startup_stop=frozenset(startup.get("stop", [])),
        root_exclude=tuple(startup.get("root_exclude", [])),
        follows=tuple(follows),
        ignore_files=tuple(data.get("graph", {}).get("ignore_files", [])),
        per_file_names=frozenset(data.get("graph", {}).get("per_file_names", [])),
        module_markers=frozenset(modules.get("markers", [])),
        module_fields=frozenset(modules.get("fields", [])),
        module_kinds=module_kinds,
        indirect_rules=frozenset(indirect_rules),
        calls_only=frozenset(check_kinds(data["walk"]["calls_only"], "[walk]")
                             if data.get("walk", {}).get("calls_only") else ()),
        source=path,
    )


# Flags a class_init sets that make its realize a startup-only entry.
NOT_HOTPLUGGABLE_FLAGS = frozenset({"hotpluggable=false", "user_creatable=false"})


@dataclass
class Entry:
    kind: str
    reason: str  # e.g. "MemoryRegionOps.read in hw/scsi/lsi53c895a.c"


def span_at(spans, offset: int) -> int | None:
    """The node of the (start, end, node) span, sorted by start, that holds `offset`."""
    if not spans:
        return None
    i = bisect.bisect_right(spans, (offset, float("inf"), 0)) - 1
    if i >= 0 and spans[i][0] <= offset < spans[i][1]:
        return spans[i][2]
    return None


@dataclass
class CallGraph:
    names: list[str] = field(default_factory=list)  # node -> function name
    files: list[str] = field(default_factory=list)  # node -> first defining file
    static: list[bool] = field(default_factory=list)
    calls: list[list[int]] = field(default_factory=list)  # node -> callees (call edges)
    deferred: list[list[int]] = field(default_factory=list)  # node -> deferred callees
    entries: dict[int, list[Entry]] = field(default_factory=dict)
    # node -> how its address escapes without a known registration (for evidence)
    escapes: dict[int, str] = field(default_factory=dict)
    statics: dict[tuple[str, str], int] = field(default_factory=dict)
    externs: dict[str, int] = field(default_factory=dict)
    header_statics: dict[str, list[int]] = field(default_factory=dict)
    # display path -> sorted (start, end, node) of the functions defined there
    ranges: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    _callers: list[list[tuple[int, bool]]] | None = None
    # node -> (field or registrar, kinds) of the registrations its body makes
    _registered: dict[int, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    # (node, parameter position) -> (file, callee, argument position) it is passed on to
    _forwards: dict[tuple[int, int], list[tuple[str, str, int]]] = field(default_factory=dict)
    _sinks: dict[tuple[int, int], list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    # (struct type, field) -> functions stored there (fields no entry rule names,
    # and entry fields whose rule says indirect calls are calls)
    _field_targets: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    # class_init functions whose every instantiable type is neither
    # user-creatable nor hot-pluggable (from the QOM type hierarchy) -> why
    not_hotpluggable: dict[int, str] = field(default_factory=dict)
    module_files: set[str] = field(default_factory=set)

    def forwarded_kinds(self, node: int, index: int, profile: "EntryProfile", depth: int = 0):
        """Registrations reached when `node` gets a callback as argument
        `index` and hands it on: [(kinds, "registrar()")]. Follows wrappers
        of wrappers a few levels deep."""
        key = (node, index)
        done = self._sinks.get(key)
        if done is not None:
            return done
        self._sinks[key] = []  # cycle guard
        out: list[tuple[tuple[str, ...], str]] = []
        if depth < 4:
            for path, callee, i in self._forwards.get(key, ()):
                kinds = profile.call_kinds(callee, i, False)
                if kinds is not None:
                    out.append((kinds, f"{callee}()"))
                    continue
                for t in self.resolve(path, callee):
                    for kinds, via in self.forwarded_kinds(t, i, profile, depth + 1):
                        out.append((kinds, f"{callee}() -> {via}"))
        self._sinks[key] = out
        return out

    def __len__(self) -> int:
        return len(self.names)

    def lookup(self, path: str, name: str) -> int | None:
        """The node of function `name` as seen from file `path`."""
        node = self.statics.get((path, name))
        if node is not None:
            return node
        node = self.externs.get(name)
        if node is not None:
            return node
        hs = self.header_statics.get(name)
        return hs[0] if hs else None

    def at(self, path: str, offset: int) -> int | None:
        """The node of the function whose definition in `path` holds `offset`."""
        return span_at(self.ranges.get(path), offset)

    def resolve(self, path: str, name: str) -> tuple[int, ...]:
        node = self.statics.get((path, name))
        if node is not None:
            return (node,)
        node = self.externs.get(name)
        if node is not None:
            return (node,)
        return tuple(self.header_statics.get(name, ()))

    def callers(self, node: int) -> list[tuple[int, bool]]:
        """(caller, deferred?) pairs; built on first use."""
        if self._callers is None:
            rev: list[list[tuple[int, bool]]] = [[] for _ in self.names]
            for a, outs in enumerate(self.calls):
                for b in outs:
                    rev[b].append((a, False))
            for a, outs in enumerate(self.deferred):
                for b in outs:
                    rev[b].append((a, True))
            self._callers = rev
        return self._callers[node]

    def label(self, node: int) -> str:
        return f"{self.names[node]} ({self.files[node]})" if self.static[node] else self.names[node]

    def _add_entry(self, node: int, kinds: Iterable[str], reason: str) -> None:
        lst = self.entries.setdefault(node, [])
        for k in kinds:
            if not any(e.kind == k for e in lst):
                lst.append(Entry(k, reason))

    @classmethod
    def build(cls, facts: Iterable[FileFacts], profile: EntryProfile) -> "CallGraph":
        g = cls()
        facts = [ff for ff in facts if not profile.ignored(ff.path)]
        per_file = profile.per_file_names
        # Pass 1: nodes.
        defined: list[list[int]] = []
        for ff in facts:
            ids = []
            is_header = ff.path.endswith(".h")
            for fn in ff.functions:
                if fn.static or fn.name in per_file:
                    key = (ff.path, fn.name)
                    node = g.statics.get(key)
                    if node is None:
                        node = g._new(fn.name, ff.path, True)  # shown with its file
                        g.statics[key] = node
                        if is_header:
                            g.header_statics.setdefault(fn.name, []).append(node)
                else:
                    node = g.externs.get(fn.name)
                    if node is None:
                        node = g._new(fn.name, ff.path, False)
                        g.externs[fn.name] = node
                ids.append(node)
                g.ranges.setdefault(ff.path, []).append((fn.start, fn.end, node))
            defined.append(ids)
        for spans in g.ranges.values():
            spans.sort()
        node_flags: dict[int, set[str]] = {}
        for ff, ids in zip(facts, defined):
            for fn, node in zip(ff.functions, ids):
                if fn.flags:
                    node_flags.setdefault(node, set()).update(fn.flags)
        g.not_hotpluggable = g._qom_not_hotpluggable(facts, node_flags)
        if profile.module_markers:
            g.module_files = {ff.path for ff in facts if profile.module_markers.intersection(ff.macros)}
        # Pass 1b: parameters functions hand on to other calls (wrappers
        # around registrars: virtio_scsi_common_realize -> virtio_add_queue).
        for ff, ids in zip(facts, defined):
            by_name = {fn.name: node for fn, node in zip(ff.functions, ids)}
            for ref in ff.refs:
                if ref.how == "forward" and ref.function in by_name and ref.site and ref.index >= 0:
                    g._forwards.setdefault((by_name[ref.function], ref.param), []).append(
                        (ff.path, ref.site, ref.index))
        # Pass 2: edges and registrations.
        excluded = {ff.path: profile.excluded_root(ff.path) for ff in facts}
        call_sets = [set() for _ in g.names]
        deferred_sets = [set() for _ in g.names]
        for ff, ids in zip(facts, defined):
            path = ff.path
            local: dict[str, int] = {}
            flags: dict[str, tuple[str, ...]] = {}
            for fn, node in zip(ff.functions, ids):
                local[fn.name] = node
                flags[fn.name] = fn.flags
                out = call_sets[node]
                for callee in fn.calls:
                    out.update(g.resolve(path, callee))
            tables: dict[str, list[Ref]] = defaultdict(list)  # initialised variable -> its refs
            for ref in ff.refs:
                if ref.how == "init" and ref.var:
                    tables[ref.var].append(ref)
            root_ok = not excluded[path]
            fn_tables: dict[str, set[int]] = defaultdict(set)  # table variable -> its functions
            for ref in ff.refs:
                if ref.how == "table" and ref.var:
                    fn_tables[ref.var].update(g.resolve(path, ref.target))
            for ref in ff.refs:
                if ref.how == "table":
                    continue
                if ref.how == "tableuse":
                    # A function naming a table of functions may call any of
                    # them later (`handler = pdu_co_handlers[id]`): deferred.
                    src = local.get(ref.function) if ref.function else None
                    if src is not None and fn_tables.get(ref.target):
                        deferred_sets[src].update(fn_tables[ref.target])
                        for t in fn_tables[ref.target]:
                            g.escapes.setdefault(t, f"listed in table {ref.target} used by {ref.function}")
                    continue
                g._apply_ref(ref, path, local, flags, tables, profile, call_sets, deferred_sets, root_ok)
            if profile.follows and root_ok:
                g._apply_follows(path, tables, profile)
        # Calls through function-pointer fields: `vgc->process_cmd(g, cmd)`
        # calls whatever was stored in VirtIOGPUClass.process_cmd. Matched on
        # (type, field) with the type visible on both sides; fields that are
        # registrations (entries) are left to the entry rules.
        if g._field_targets:
            for ff, ids in zip(facts, defined):
                for fn, node in zip(ff.functions, ids):
                    for key in fn.indirect_calls:
                        targets = g._field_targets.get(key)
                        if targets:
                            call_sets[node].update(targets)
        g.calls = [sorted(s) for s in call_sets]
        g.deferred = [sorted(s - call_sets[i]) for i, s in enumerate(deferred_sets)]
        # Name patterns (generated registrations: QAPI, HMP tables).
        for node, name in enumerate(g.names):
            kinds = profile.name_kinds(name, g.static[node], g.files[node])
            if kinds and not profile.excluded_root(g.files[node]):
                g._add_entry(node, kinds, f"name matches an entry pattern ({g.files[node]})")
        return g

    def _qom_not_hotpluggable(self, facts: list[FileFacts], node_flags: dict[int, set[str]]) -> dict[int, str]:
        """class_init functions that only ever set up types no user can
        create or hot-plug. A type's `user_creatable`/`hotpluggable` is the
        value the nearest class_init on its `.parent` chain assigns (a
        subclass's class_init runs after its parent's): a sysbus device is
        not user-creatable because sys_bus_device_class_init says so, unless
        its own class_init sets `user_creatable = true`. A class_init also
        serves every subtype, so it counts only when no instantiable type
        below it can be created by a user."""
        macros: dict[str, str] = {}
        for ff in facts:
            for k, v in ff.type_names.items():
                macros.setdefault(k, v)

        def canon(expr: str, depth: int = 0) -> str:
            out = []
            for tok in _TYPE_TOKEN_RE.findall(expr):
                if tok.startswith('"'):
                    out.append(tok[1:-1])
                elif tok in macros and depth < 8:
                    out.append(canon(macros[tok], depth + 1))
                else:
                    out.append(tok)
            return "".join(out)

        types: dict[str, tuple[str, tuple[int, ...], bool]] = {}  # name -> (parent, class_init nodes, abstract)
        for ff in facts:
            for name, parent, class_init, _ii, abstract in ff.qom_types:
                key = canon(name)
                if key in types:
                    continue
                nodes = self.resolve(ff.path, class_init) if class_init else ()
                types[key] = (canon(parent), nodes, abstract)

        def setting(t: str, attr: str) -> tuple[bool | None, str]:
            seen = 0
            while t in types and seen < 64:
                seen += 1
                parent, nodes, _ = types[t]
                for n in nodes:
                    fl = node_flags.get(n, ())
                    if f"{attr}=false" in fl:
                        return False, f"{attr} = false in {self.names[n]} ({t})"
                    if f"{attr}=true" in fl:
                        return True, ""
                t = parent
            return None, ""

        creatable: dict[int, bool] = {}
        why: dict[int, str] = {}
        for t, (_parent, _nodes, abstract) in types.items():
            if abstract:
                continue
            uc, uc_why = setting(t, "user_creatable")
            hp, hp_why = setting(t, "hotpluggable")
            user = uc is not False and hp is not False
            a, seen = t, 0
            while a in types and seen < 64:
                seen += 1
                for n in types[a][1]:
                    creatable[n] = creatable.get(n, False) or user
                    if not user:
                        why.setdefault(n, f"type {t}: {uc_why or hp_why}")
                a = types[a][0]
        return {n: why[n] for n, user in creatable.items() if not user}

    def _apply_follows(self, path: str, tables: dict[str, list[Ref]], profile: EntryProfile) -> None:
        for var, refs in tables.items():
            for rule in profile.follows:
                if rule.types is not None and refs[0].struct_type not in rule.types:
                    continue
                klass = [t for r in refs if r.site == rule.class_field for t in self.resolve(path, r.target)]
                members = [(r, t) for r in refs if r.site in rule.fields for t in self.resolve(path, r.target)]
                if not klass or not members:
                    continue
                kinds: list[str] = []
                what = ""
                for c in klass:
                    for site, ks in self._registered.get(c, ()):
                        if site in rule.class_registrations:
                            kinds.extend(k for k in ks if k not in kinds)
                            what = what or f"{site} registered by {self.names[c]}"
                if not kinds:
                    continue
                for r, t in members:
                    self._add_entry(t, kinds, f"{var}.{r.site} follows {what} in {path}")

    def _new(self, name: str, path: str, static: bool) -> int:
        self.names.append(name)
        self.files.append(path)
        self.static.append(static)
        return len(self.names) - 1

    def _apply_ref(self, ref, path, local, flags, tables, profile, call_sets, deferred_sets, root_ok) -> None:
        targets = self.resolve(path, ref.target)
        from_node = local.get(ref.function) if ref.function else None
        nh = bool(ref.function and NOT_HOTPLUGGABLE_FLAGS.intersection(flags.get(ref.function, ())))
        nh = nh or (from_node is not None and from_node in self.not_hotpluggable)
        if ref.how == "forward":
            return  # used by pass 1b
        if ref.how in ("arg", "macro"):
            kinds = profile.call_kinds(ref.site, ref.index, nh)
            if kinds is not None:
                if not root_ok:
                    return
                where = f"{ref.site}() argument {ref.index + 1} in {path}"
                if from_node in self.not_hotpluggable and kinds != profile.call_kinds(ref.site, ref.index, False):
                    where += f"; not hot-pluggable: {self.not_hotpluggable[from_node]}"
                if from_node is not None:
                    self._registered.setdefault(from_node, []).append((ref.site or "", kinds))
                if targets:
                    for t in targets:
                        self._add_entry(t, kinds, where)
                elif ref.target in tables:
                    # `&foo_ops`: every function of the table is an entry.
                    for tref in tables[ref.target]:
                        for t in self.resolve(path, tref.target):
                            self._add_entry(t, kinds, f"{ref.target}.{tref.site} via {where}")
                return
            if not targets or from_node is None:
                return
            if ref.how == "arg" and ref.site and ref.index >= 0 and self._forwards:
                sinks = [
                    sink for c in self.resolve(path, ref.site)
                    for sink in self.forwarded_kinds(c, ref.index, profile)
                ]
                if sinks:
                    if root_ok:
                        for kinds, via in sinks:
                            for t in targets:
                                self._add_entry(t, kinds, f"passed to {ref.site}() -> {via} in {path}")
                    return
            if ref.how == "arg" and ref.site in profile.sync:
                call_sets[from_node].update(targets)
            else:
                deferred_sets[from_node].update(targets)
                for t in targets:
                    self.escapes.setdefault(t, f"address passed to {ref.site or 'a call'}() in {ref.function}")
            return
        if not targets:
            return
        if ref.how in ("store", "init"):
            kinds = profile.field_kinds(ref.site or "", ref.struct_type, nh)
            if kinds is not None and path in self.module_files and ref.site in profile.module_fields:
                kinds = profile.module_kinds
            if kinds is not None and ref.struct_type and ref.site and profile.field_called_indirectly(
                    ref.site, ref.struct_type):
                self._field_targets.setdefault((ref.struct_type, ref.site), set()).update(targets)
            if kinds is not None:
                if from_node is not None:
                    self._registered.setdefault(from_node, []).append((ref.site or "", kinds))
                if root_ok:
                    owner = ref.struct_type or "?"
                    reason = f"{owner}.{ref.site} in {path}"
                    if (from_node in self.not_hotpluggable
                            and kinds != profile.field_kinds(ref.site or "", ref.struct_type, False)):
                        reason += f"; not hot-pluggable: {self.not_hotpluggable[from_node]}"
                    for t in targets:
                        self._add_entry(t, kinds, reason)
                return
            if from_node is not None:
                deferred_sets[from_node].update(targets)
            if ref.struct_type and ref.site:
                self._field_targets.setdefault((ref.struct_type, ref.site), set()).update(targets)
            for t in targets:
                self.escapes.setdefault(
                    t, f"stored in field {ref.struct_type + '.' if ref.struct_type else ''}{ref.site} in {path}"
                )
            return
        # value: returned, assigned to a variable, listed in an array.
        if from_node is not None:
            deferred_sets[from_node].update(targets)
        for t in targets:
            self.escapes.setdefault(t, f"used as a value in {ref.function or path}")


__all__ = ["EntryProfile", "CallGraph", "Entry", "FieldRule", "CallRule", "FollowRule", "NOT_HOTPLUGGABLE_FLAGS"]
