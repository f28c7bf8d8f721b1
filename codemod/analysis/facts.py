"""Whole-tree facts: what one file defines, calls and registers.

One parse gives one FileFacts. It is a plain, picklable value (the runner
builds it in worker processes and sends it back) that knows nothing of entry
points or phases: which registration means what is data
(rules/entry-points.toml) applied later by the phase index. So a fact cache
stays valid when the entry-point table changes.

Extraction runs tree-sitter queries (the matching happens in C) and touches
only the captured nodes from Python; a whole-tree scan of QEMU stays cheap.
Top-level registration macros (`type_init(f)`, `DEFINE_MACHINE("x", f)`)
are found with a regex over the original bytes, because tree-sitter shapes
them differently depending on the masking and on what follows them (a
declaration, a call expression, or a type specifier swallowing the next
function definition).

Besides functions and refs, a file's facts name the QOM types it declares
(`.name`/`.parent`/`.class_init` of TypeInfo-like initialisers), its
`#define TYPE_FOO "foo"` macros, and its top-level macro names, from which
the call graph derives the type hierarchy and loadable modules.
"""

from __future__ import annotations

import bisect
import gc
import operator
import re
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter

from codemod.cparse import C_LANGUAGE, ParsedFile, _line_matches, function_name


@dataclass(frozen=True)
class Ref:
    """An identifier used as a value: a callback passed, stored or registered.

    The target may name a function or a variable (an ops table passed as
    `&foo_ops`); the phase index decides which, once every file is known.
    """

    target: str
    # arg:   passed to a call      site = called function, index = argument position
    # store: assigned to a field   site = field name, struct_type = type of the object
    # init:  struct initialiser    site = field name, struct_type, var = initialised variable
    # macro: top-level macro       site = macro name, index = argument position
    # value: any other use (returned, assigned to a variable, listed in an array)
    # forward: a parameter of the enclosing function passed on to a call
    #          (target = parameter name, param = its position, site/index as for arg)
    how: str
    site: str | None
    index: int = -1
    struct_type: str | None = None
    var: str | None = None
    function: str | None = None  # enclosing function; None at file scope
    address: bool = False  # written as &target
    offset: int = 0
    param: int = -1  # forward: position of the parameter handed on


@dataclass
class FunctionFact:
    name: str
    static: bool
    start: int
    end: int
    return_type: str
    params: tuple[str, ...]  # each parameter declaration as written (whitespace normalised)
    param_types: tuple[str, ...]  # the same without the parameter names
    has_errp: bool  # takes an `Error **` parameter
    calls: tuple[str, ...]  # identifiers called directly, distinct, in source order
    flags: tuple[str, ...] = ()  # `field=false` assignments in the body (hotpluggable=false, ...)
    # Calls through a function-pointer field, `vgc->process_cmd(...)`, where
    # the object's type is visible: (type, field), distinct, in source order.
    indirect_calls: tuple[tuple[str, str], ...] = ()


@dataclass
class FileFacts:
    path: str  # display path
    functions: list[FunctionFact] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    parse_errors: int = 0
    error: str = ""  # set when extraction failed: the file then contributes nothing
    # QOM types declared here (TypeInfo-like initialisers with a `.parent`):
    # (name, parent, class_init, instance_init, abstract), names as written
    # (`TYPE_FOO` or a string literal), functions by name or None.
    qom_types: list[tuple[str, str, str | None, str | None, bool]] = field(default_factory=list)
    # `#define TYPE_FOO "foo"` (or another TYPE_ name, or a concatenation):
    # macro -> replacement text, to resolve QOM type names across files.
    type_names: dict[str, str] = field(default_factory=dict)
    # Names of the top-level macros the file invokes (`type_init`, `module_obj`).
    macros: tuple[str, ...] = ()

    def function(self, name: str) -> FunctionFact | None:
        for fn in self.functions:
            if fn.name == name:
                return fn
        return None


# One query finds everything; capture names say what each node is.
_QUERY_SRC = r"""
(function_definition) @fn
(call_expression function: (identifier) @call)
(call_expression function: (field_expression field: (field_identifier) @icall))
(argument_list (identifier) @arg)
(argument_list (pointer_expression operator: "&" argument: (identifier) @argaddr))
(argument_list (cast_expression value: (identifier) @arg))
(assignment_expression
   left: (field_expression field: (field_identifier))
   right: (identifier) @store)
(assignment_expression
   left: (field_expression field: (field_identifier))
   right: (pointer_expression operator: "&" argument: (identifier) @storeaddr))
(assignment_expression
   left: (field_expression field: (field_identifier) @flagfield)
   right: (false))
(assignment_expression
   left: (field_expression field: (field_identifier) @flagtrue)
   right: (true))
(initializer_pair value: (identifier) @init)
(initializer_pair value: (pointer_expression operator: "&" argument: (identifier) @initaddr))
(assignment_expression left: [(identifier) (subscript_expression)] right: (identifier) @value)
(init_declarator value: (identifier) @value)
(return_statement (identifier) @value)
(conditional_expression consequence: (identifier) @value)
(conditional_expression alternative: (identifier) @value)
(initializer_list (identifier) @value)
(declaration declarator: (identifier) @local)
(declaration declarator: (array_declarator declarator: (identifier) @local))
(init_declarator declarator: (identifier) @local)
(pointer_declarator declarator: (identifier) @local)
(array_declarator declarator: (pointer_declarator declarator: (identifier) @local))
(init_declarator declarator: (array_declarator declarator: (identifier) @local))
(parenthesized_declarator (pointer_declarator declarator: (identifier) @local))
"""

_QUERY: tree_sitter.Query | None = None


def _query() -> tree_sitter.Query:
    global _QUERY
    if _QUERY is None:
        _QUERY = tree_sitter.Query(C_LANGUAGE, _QUERY_SRC)
    return _QUERY


# A registration macro at file scope: NAME(args) at column 0, args being
# identifiers, strings or numbers (possibly over several lines), nothing but
# `;` after it on the line,
# and not followed by a `{` (which would make it a K&R-style function header).
_MACRO_ARG = rb'(?:[A-Za-z_]\w*|"[^"\n]*"|\d\w*)'
_MACRO_TAIL = (
    rb"([A-Za-z_]\w*)[ \t]*\(\s*(" + _MACRO_ARG + rb"(?:\s*,\s*" + _MACRO_ARG + rb")*)\s*\)"
    rb"[ \t]*;?[ \t]*(?://[^\n]*)?$(?!\s*\{)"
)
_MACRO_RE = re.compile(rb"^" + _MACRO_TAIL, re.MULTILINE)
# The same from the newline before: a literal first byte lets the regex
# engine jump from line to line (see cparse._line_matches).
_MACRO_LINE_RE = re.compile(rb"\n" + _MACRO_TAIL, re.MULTILINE)
_MACRO_ARG_RE = re.compile(rb'"[^"\n]*"|[^,\s]+')
_IDENT_RE = re.compile(r"[A-Za-z_]\w*\Z")
# `#define TYPE_FOO "foo"`, `#define TYPE_FOO TYPE_BAR`, `#define TYPE_FOO TYPE_BAR "-x"`.
_TYPE_DEFINE_TAIL = (
    rb'[ \t]*#[ \t]*define[ \t]+(TYPE_\w+)[ \t]+((?:"[^"\n]*"|TYPE_\w+)(?:[ \t]*(?:"[^"\n]*"|TYPE_\w+))*)[ \t]*(?://[^\n]*|/\*[^\n]*)?$')
_TYPE_DEFINE_RE = re.compile(rb"^" + _TYPE_DEFINE_TAIL, re.MULTILINE)
_TYPE_DEFINE_LINE_RE = re.compile(rb"\n" + _TYPE_DEFINE_TAIL, re.MULTILINE)
_WS_RE = re.compile(r"\s+")


def _norm(text: str) -> str:
    if "  " not in text and text.isprintable():
        return text.strip()  # no whitespace but single spaces: the common case
    return _WS_RE.sub(" ", text).strip()


def extract_facts(parsed: ParsedFile) -> FileFacts:
    """Functions, direct calls and callback references of one parsed file.

    Never raises: a failure is a FileFacts with `error` set (per-file work
    returns values; the runner reports it and goes on)."""
    # Extraction makes hundreds of thousands of short-lived objects (nodes,
    # strings) and no reference cycles: the cyclic collector, which would
    # run many times over them and over everything else alive, is paused
    # (about a tenth of the cost on QEMU).
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return _extract(parsed)
    except Exception as exc:  # noqa: BLE001 - reported as a value, see docstring
        return FileFacts(parsed.source.display, error=f"{parsed.source.display}:1:1: "
                         f"fact extraction failed: {type(exc).__name__}: {exc}")
    finally:
        if collecting:
            gc.enable()


def facts_for_files(files, macro_profile) -> list[FileFacts]:
    """Read, parse and extract facts of `files` (DiscoveredFile-like: .path,
    .display) in this process: for dump commands and tests. The runner does
    the same in worker processes, sharing each parse with the rule engine."""
    from codemod.cparse import parse_source
    from codemod.source import SourceFile

    out = []
    for f in files:
        try:
            with open(f.path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            out.append(FileFacts(f.display, error=f"{f.display}:1:1: unreadable: {exc.strerror}"))
            continue
        out.append(extract_facts(parse_source(SourceFile(f.path, f.display, data), macro_profile)))
    return out


def _extract(parsed: ParsedFile) -> FileFacts:
    # Hot path of the facts pass (millions of captured nodes on QEMU): the
    # loops below bind what they use to locals, find each node's function
    # by a linear sweep over sorted captures instead of a bisect per node,
    # and defer work (argument positions, callee text, callback parameters)
    # until a capture is known to make a Ref.
    data = parsed.source.data
    facts = FileFacts(parsed.source.display, parse_errors=sum(1 for _ in parsed.error_nodes()))
    caps = tree_sitter.QueryCursor(_query()).captures(parsed.tree.root_node)
    caps_get = caps.get

    def text(node: tree_sitter.Node) -> str:
        return data[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")

    # Functions, sorted by start; nested definitions (only possible inside
    # ERROR recovery) are dropped so byte ranges do not overlap.
    fn_nodes = sorted(caps_get("fn", ()), key=_start)
    functions: list[tuple[tree_sitter.Node, str]] = []
    last_end = -1
    for node in fn_nodes:
        if node.start_byte < last_end:
            continue
        name = function_name(node, data)
        if name is None:
            continue
        if _CONST_MATCH(name):
            name = _macro_named_definition(node, name, text) or name
        functions.append((node, name))
        last_end = node.end_byte
    starts = [n.start_byte for n, _ in functions]
    ends = [n.end_byte for n, _ in functions]
    nfun = len(functions)
    # Where each function's own text starts: a macro the parser glued in front
    # (`type_init(f)` taken as the next function's type) is not inside it.
    heads = []
    for node, _ in functions:
        decl = node.child_by_field_name("declarator")
        heads.append(decl.start_byte if decl is not None else node.start_byte)

    def owner(offset: int) -> int:
        i = bisect.bisect_right(starts, offset) - 1
        if i >= 0 and offset < ends[i]:
            return i
        return -1

    def owned(nodes, strict: bool = False):
        """(function index, node, start) of the nodes inside a function, in
        source order: one sweep over the sorted nodes and function starts."""
        out = []
        if not nfun:
            return out
        i = -1
        nxt = starts[0]
        lo = heads if strict else starts
        for node in sorted(nodes, key=_start):
            off = node.start_byte
            while off >= nxt:
                i += 1
                nxt = starts[i + 1] if i + 1 < nfun else _INF
            if i >= 0 and off < ends[i] and off >= lo[i]:
                out.append((i, node, off))
        return out

    fn_names = [name for _, name in functions]
    # Parameters and local variables of each function: a call through a
    # function-pointer variable, or a local passed by address, must not
    # resolve to some function of the same name elsewhere in the tree.
    sigs = [_signature(node, data) for node, _ in functions]
    param_names = [sig.names for sig in sigs]
    param_sets = [frozenset(p) for p in param_names]
    locals_: list[set[str]] = [set(p) for p in param_names]
    for i, node, s in owned(caps_get("local", ()), strict=True):
        locals_[i].add(data[s : node.end_byte].decode("utf-8", "surrogateescape"))

    calls: list[dict[str, None]] = [{} for _ in functions]
    flags: list[dict[str, None]] = [{} for _ in functions]
    for i, node, s in owned(caps_get("call", ())):
        name = data[s : node.end_byte].decode("utf-8", "surrogateescape")
        if name[:1].isupper() and _CONST_MATCH(name):
            name = _macro_named_call(node, name, text) or name
        if name not in locals_[i]:
            calls[i].setdefault(name)
    for cap, suffix in (("flagfield", "=false"), ("flagtrue", "=true")):
        for i, node, s in owned(caps_get(cap, ())):
            flags[i].setdefault(data[s : node.end_byte].decode("utf-8", "surrogateescape") + suffix)

    refs: list[Ref] = []

    # Arguments. Most are variables or constants: decide that from the name
    # first; only the rest look at their argument list (callee, position),
    # which is computed once per list.
    lists: dict[int, tuple[str | None, dict[int, int]] | None] = {}
    arg_nodes = [(n, False) for n in caps_get("arg", ())] + [(n, True) for n in caps_get("argaddr", ())]
    arg_nodes.sort(key=_first_start)
    i = -1
    nxt = starts[0] if nfun else _INF
    for node, address in arg_nodes:
        s = node.start_byte
        while s >= nxt:
            i += 1
            nxt = starts[i + 1] if i + 1 < nfun else _INF
        if i < 0 or s >= ends[i]:
            continue  # file-scope "calls" are macros: found by the regex below
        name = data[s : node.end_byte].decode("utf-8", "surrogateescape")
        variables = locals_[i]
        if name in variables:
            # A parameter handed on (a callback a wrapper passes to the
            # real registrar) is a `forward`, with the parameter's position;
            # any other variable is never a function.
            if address or name not in param_sets[i] or name in _NOT_CALLBACKS:
                continue
        elif name[:1].isupper() and _CONST_MATCH(name):
            continue  # a constant
        parent = node.parent
        holder = parent if parent.type == "argument_list" else parent.parent  # &x or (T)x
        if holder is None or holder.type != "argument_list":
            continue
        hkey = holder.start_byte
        if hkey in lists:
            ctx = lists[hkey]
        else:
            call = holder.parent
            callee_node = call.child_by_field_name("function") if call is not None else None
            callee = text(callee_node) if callee_node is not None and callee_node.type == "identifier" else None
            if callee in _NAME_MACROS:
                ctx = None  # HELPER(foo): a name, not a call
            else:
                ctx = (callee, {c.start_byte: k for k, c in enumerate(holder.named_children)})
            lists[hkey] = ctx
        if ctx is None:
            continue
        callee, positions = ctx
        top = node if parent == holder else parent
        if name in variables:
            if callee is not None and name in sigs[i].callbacks and not _CAST_RE.match(callee):
                refs.append(
                    Ref(name, "forward", callee, positions.get(top.start_byte, -1),
                        function=fn_names[i], param=param_names[i].index(name), offset=s)
                )
            continue
        refs.append(
            Ref(name, "arg", callee, positions.get(top.start_byte, -1),
                function=fn_names[i], address=address, offset=s)
        )

    # Calls through a field of an object whose type is visible: `dk->process(s)`.
    type_cache: dict = {}
    indirect: list[dict[tuple[str, str], None]] = [{} for _ in functions]
    for i, node, _s in owned(caps_get("icall", ())):
        fexpr = node.parent
        t = _object_type(fexpr.child_by_field_name("argument"), i, functions, data, type_cache, text)
        if t is not None:
            indirect[i].setdefault((t, text(node)))

    # Field stores: `dc->realize = foo_realize;`, `s->ops = &foo_ops;`.
    for cap, address in (("store", False), ("storeaddr", True)):
        for node in caps_get(cap, ()):
            assign = node.parent if not address else node.parent.parent
            lhs = assign.child_by_field_name("left") if assign is not None else None
            if lhs is None:
                continue
            fld = lhs.child_by_field_name("field")
            if fld is None:
                continue
            i = owner(node.start_byte)
            struct_type = _object_type(lhs.child_by_field_name("argument"), i, functions, data, type_cache, text)
            refs.append(
                Ref(text(node), "store", text(fld), struct_type=struct_type,
                    function=fn_names[i] if i >= 0 else None, address=address, offset=node.start_byte)
            )

    # Struct initialisers: `.read = foo_read` in `static const MemoryRegionOps foo_ops = {...}`.
    type_parents: list[tree_sitter.Node] = []
    for cap, address in (("init", False), ("initaddr", True)):
        for node in caps_get(cap, ()):
            pair = node.parent if not address else node.parent.parent
            if pair is None or pair.type != "initializer_pair":
                continue
            fld = _designator_field(pair, text)
            if fld is None:
                continue
            if fld == "parent" and not address:
                type_parents.append(pair)
            struct_type, var = _initializer_context(pair.parent, text)
            i = owner(node.start_byte)
            refs.append(
                Ref(text(node), "init", fld, struct_type=struct_type, var=var,
                    function=fn_names[i] if i >= 0 else None, address=address, offset=node.start_byte)
            )

    # Other value uses, inside functions.
    seen_values: set[int] = set()
    for i, node, s in owned(caps_get("value", ())):
        if s in seen_values:
            continue
        seen_values.add(s)
        refs.append(Ref(data[s : node.end_byte].decode("utf-8", "surrogateescape"), "value", None,
                        function=fn_names[i], offset=s))

    # File-scope tables of functions without field names (`{ f, g }`,
    # `[P9_TREAD] = v9fs_read`): `table` refs naming the table variable, and
    # a `tableuse` ref for each function that names the table.
    table_vars: dict[str, None] = {}
    elements = [n for n in caps_get("value", ()) if owner(n.start_byte) < 0 and n.parent.type == "initializer_list"]
    for cap, address in (("init", False), ("initaddr", True)):
        for node in caps_get(cap, ()):
            pair = node.parent if not address else node.parent.parent
            if (pair is not None and pair.type == "initializer_pair" and owner(node.start_byte) < 0
                    and _designator_field(pair, text) is None):
                elements.append(node)
    for node in elements:
        holder = node.parent
        while holder is not None and holder.type != "initializer_list":
            holder = holder.parent
        struct_type, var = _initializer_context(holder, text)
        if var is None:
            continue
        table_vars.setdefault(var)
        refs.append(Ref(text(node), "table", None, struct_type=struct_type, var=var, offset=node.start_byte))
    for var in table_vars:
        used: set[int] = set()
        for at in _word_offsets(data, var):
            i = owner(at)
            if i >= 0 and i not in used and at >= heads[i]:
                used.add(i)
                refs.append(Ref(var, "tableuse", None, function=fn_names[i], offset=at))

    # QOM types: `.parent = TYPE_BAR` in a TypeInfo-like initialiser (QEMU
    # always names the parent with a TYPE_ macro); its sibling fields give
    # the name, class_init, instance_init and abstract.
    for pair in sorted(type_parents, key=_start):
        ilist = pair.parent
        if ilist is None or ilist.type != "initializer_list":
            continue
        fields: dict[str, str] = {}
        for sib in ilist.named_children:
            if sib.type != "initializer_pair":
                continue
            fld = _designator_field(sib, text)
            val = sib.child_by_field_name("value")
            if fld in ("name", "parent", "class_init", "instance_init", "abstract") and val is not None:
                fields[fld] = _norm(text(val))
        if "name" in fields:
            ci = fields.get("class_init")
            ii = fields.get("instance_init")
            facts.qom_types.append((fields["name"], fields["parent"],
                                    ci if ci and _IDENT_RE.match(ci) else None,
                                    ii if ii and _IDENT_RE.match(ii) else None,
                                    fields.get("abstract") == "true"))
    if b"TYPE_" in data:
        for m in _line_matches(_TYPE_DEFINE_RE, _TYPE_DEFINE_LINE_RE, data):
            facts.type_names[m.group(1).decode()] = _norm(m.group(2).decode("utf-8", "surrogateescape"))

    # Top-level registration macros, on the original bytes.
    macro_names: dict[str, None] = {}
    for m in _line_matches(_MACRO_RE, _MACRO_LINE_RE, data):
        at = m.start(1)  # the line start (a _MACRO_LINE_RE match starts at the newline before)
        i = owner(at)
        if i >= 0 and at >= heads[i]:
            continue
        macro = m.group(1).decode()
        macro_names.setdefault(macro)
        args = _MACRO_ARG_RE.findall(m.group(2))
        base = m.start(2)
        for k, raw in enumerate(args):
            arg = raw.decode("utf-8", "surrogateescape")
            if _IDENT_RE.match(arg):
                refs.append(Ref(arg, "macro", macro, k, offset=base + m.group(2).find(raw)))

    for k, (node, name) in enumerate(functions):
        fact = _function_fact(node, name, data, text, tuple(calls[k]), tuple(flags[k]), sigs[k])
        fact.indirect_calls = tuple(indirect[k])
        facts.functions.append(fact)
    by_name = {name: k for k, name in enumerate(fn_names)}
    refs = [
        r for r in refs
        if not _CONST_MATCH(r.target)
        and (r.how == "forward" or r.function is None or r.target not in locals_[by_name[r.function]])
    ]
    refs.sort(key=_ref_order)
    facts.refs = refs
    facts.macros = tuple(macro_names)
    return facts


_INF = float("inf")
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _word_offsets(data: bytes, word: str) -> list[int]:
    """Offsets of `word` as a whole word (as `\\bword\\b` finds it) in order.
    A literal search: far cheaper than a regex led by `\\b`, which the
    regex engine tries at every offset."""
    w = word.encode("utf-8", "surrogateescape")
    if not w or not all(c in _WORD_BYTES for c in w):
        return [m.start() for m in re.finditer(rb"\b" + re.escape(w) + rb"\b", data)]
    out = []
    n, size = len(data), len(w)
    i = data.find(w)
    while i >= 0:
        end = i + size
        if (i == 0 or data[i - 1] not in _WORD_BYTES) and (end == n or data[end] not in _WORD_BYTES):
            out.append(i)
        i = data.find(w, end)
    return out
_start = operator.attrgetter("start_byte")


def _first_start(pair) -> int:
    return pair[0].start_byte


def _ref_order(r: Ref):
    return (r.offset, r.how, r.site or "", r.index)


# Function-name macros: `HELPER(foo)` is `helper_foo` (include/exec/helper-head.h).
# Other NAME(x) definitions keep the name "NAME(x)": distinct, never merged.
_NAME_MACROS = {"HELPER": "helper_"}


def _macro_name(macro: str, arg: str) -> str:
    prefix = _NAME_MACROS.get(macro)
    return prefix + arg if prefix is not None else f"{macro}({arg})"


def _macro_named_definition(node: tree_sitter.Node, macro: str, text) -> str | None:
    """`uint32_t HELPER(vfp_get_fpscr)(CPUARMState *env) {...}`: the parser
    sees a function declarator whose name is itself `HELPER(vfp_get_fpscr)`."""
    decl = node.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    inner = decl.child_by_field_name("declarator") if decl is not None else None
    if inner is None or inner.type != "function_declarator":
        return None
    params = inner.child_by_field_name("parameters")
    args = params.named_children if params is not None else []
    if len(args) != 1 or not _IDENT_RE.match(text(args[0])):
        return None
    return _macro_name(macro, text(args[0]))


def _macro_named_call(node: tree_sitter.Node, macro: str, text) -> str | None:
    """`HELPER(other)(env)`: a call whose callee is `HELPER(other)`."""
    inner = node.parent
    outer = inner.parent if inner is not None else None
    if outer is None or outer.type != "call_expression" or outer.child_by_field_name("function") != inner:
        return None
    args = inner.child_by_field_name("arguments")
    named = args.named_children if args is not None else []
    if len(named) != 1 or named[0].type != "identifier":
        return None
    return _macro_name(macro, text(named[0]))


@dataclass
class _Signature:
    """One walk over a definition's declarator and parameter list, shared by
    the function fact, the parameter names and the callback parameters."""

    stars: int
    names: tuple[str, ...]  # every named child of the parameter list ("" when unnamed)
    params: list[str]
    types: list[str]
    callbacks: frozenset[str]


def _signature(fn: tree_sitter.Node, data: bytes) -> _Signature:
    decl = fn.child_by_field_name("declarator")
    stars = 0
    while decl is not None and decl.type != "function_declarator":
        if decl.type == "pointer_declarator":
            stars += 1
        decl = decl.child_by_field_name("declarator")
    plist = decl.child_by_field_name("parameters") if decl is not None else None
    names: list[str] = []
    params: list[str] = []
    types: list[str] = []
    callbacks = set()
    if plist is not None:
        for p in plist.named_children:
            ptype = p.type
            ident = p.child_by_field_name("declarator")
            explicit = False
            pstars = 0
            while ident is not None and ident.type != "identifier":
                t = ident.type
                if t == "function_declarator":
                    explicit = True
                elif t == "pointer_declarator":
                    pstars += 1
                ident = ident.child_by_field_name("declarator")
            pname = data[ident.start_byte : ident.end_byte].decode("utf-8", "surrogateescape") if ident else ""
            names.append(pname)
            if ptype == "parameter_declaration":
                whole = data[p.start_byte : p.end_byte].decode("utf-8", "surrogateescape")
                params.append(_norm(whole))
                # Declaration text without the declared name: `Error **errp` -> `Error **`.
                if ident is None:
                    types.append(_norm(whole))
                else:
                    # Offsets into the decoded text: the bytes before the name are ASCII in C.
                    s0 = len(data[p.start_byte : ident.start_byte].decode("utf-8", "surrogateescape"))
                    types.append(_norm(whole[:s0] + whole[s0 + len(pname):]))
                    if explicit:
                        callbacks.add(pname)
                    elif pstars <= 1:
                        t = p.child_by_field_name("type")
                        if t is not None and t.type == "type_identifier":
                            callbacks.add(pname)
            elif ptype == "variadic_parameter":
                params.append(_norm(data[p.start_byte : p.end_byte].decode("utf-8", "surrogateescape")))
                types.append("...")
    return _Signature(stars, tuple(names), params, types, frozenset(callbacks))


def _function_fact(node, name, data, text, calls, flags, sig: _Signature) -> FunctionFact:
    static = False
    for c in node.children:
        if c.type == "storage_class_specifier" and data[c.start_byte : c.end_byte] == b"static":
            static = True
            break
    type_node = node.child_by_field_name("type")
    if type_node is None:
        ret = "int"
    elif type_node.type == "macro_type_specifier":
        decl = node.child_by_field_name("declarator")
        if decl is not None:
            # `type_init(f)` glued in front: the real type follows it.
            words = data[type_node.end_byte : decl.start_byte].decode("utf-8", "surrogateescape").split()
            ret = " ".join(w for w in words if w not in ("static", "inline", "extern")) or "int"
        else:
            ret = text(type_node)
    else:
        ret = text(type_node)
    if sig.stars:
        ret = ret + " " + "*" * sig.stars
    params, types = sig.params, sig.types
    has_errp = False
    for t in types:
        if t.replace(" ", "") == "Error**":
            has_errp = True
            break
    if params == ["void"]:
        params, types = [], []
    return FunctionFact(name, static, node.start_byte, node.end_byte, _norm(ret), tuple(params),
                        tuple(types), has_errp, calls, flags)


def _designator_field(pair: tree_sitter.Node, text) -> str | None:
    """Last `.field` of an initializer pair's designator (`.a.b = f` -> b)."""
    fld = None
    for c in pair.children:
        if c.type == "field_designator":
            for cc in c.named_children:
                fld = text(cc)
        elif c.type == "field_identifier":
            fld = text(c)
        elif c.type == "=":
            break
    return fld


def _initializer_context(ilist: tree_sitter.Node | None, text, depth: int = 0) -> tuple[str | None, str | None]:
    """(struct type, variable) of the object an initializer list builds.

    Array elements take the element type; a nested designated list
    `.job_driver = { .run = f }` gets the type path `BlockJobDriver.job_driver`.
    """
    if ilist is None or depth > 8:
        return None, None
    parent = ilist.parent
    if parent is None:
        return None, None
    if parent.type == "init_declarator":
        decl = parent.parent
        var_node = parent.child_by_field_name("declarator")
        while var_node is not None and var_node.type != "identifier":
            var_node = var_node.child_by_field_name("declarator")
        type_node = decl.child_by_field_name("type") if decl is not None else None
        return (_type_name(text(type_node)) if type_node is not None else None,
                text(var_node) if var_node is not None else None)
    if parent.type == "initializer_list":
        return _initializer_context(parent, text, depth + 1)
    if parent.type == "initializer_pair":
        outer, var = _initializer_context(parent.parent, text, depth + 1)
        fld = _designator_field(parent, text)
        if outer is None or fld is None:
            return None, var
        return f"{outer}.{fld}", var
    if parent.type == "compound_literal_expression":
        t = parent.child_by_field_name("type")
        return (_type_name(text(t)) if t is not None else None), None
    return None, None


def _type_name(type_text: str) -> str:
    t = _norm(type_text).replace("[]", "").strip()
    for prefix in ("const ", "struct ", "union "):
        if t.startswith(prefix):
            t = t[len(prefix):]
    return t.strip()


_CAST_RE = re.compile(r"[A-Z][A-Z0-9_]*\Z")
# Parameter names that never carry a callback (QEMU conventions); keeps the
# forward facts small.
_NOT_CALLBACKS = frozenset({"errp", "opaque", "s", "dev", "obj", "bs", "vdev", "d", "n", "len", "size",
                            "buf", "ctx", "mon", "qdict", "name", "addr", "val", "value", "flags",
                            "offset", "bytes", "qiov", "ret", "i", "opts", "options", "data", "cpu",
                            "env", "req", "pdev", "pci_dev", "blk", "job", "v", "sd", "bus", "mr",
                            "as", "fd", "type", "id", "index", "iov", "niov", "state", "nc", "klass",
                            "oc", "k", "dc", "list", "e", "p", "t", "c", "b"})
# ALL_CAPS names are macros and enum constants, not functions (QEMU style).
_CONST_RE = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_CONST_MATCH = _CONST_RE.match


def _object_type(arg, i, functions, data, cache, text) -> str | None:
    """Type of the object in `obj->field`: a local or parameter's declared
    type, or `DEVICE_CLASS()` for a QOM cast macro call."""
    if arg is None:
        return None
    if arg.type == "parenthesized_expression" and arg.named_child_count == 1:
        arg = arg.named_children[0]
    if arg.type == "call_expression":
        fn = arg.child_by_field_name("function")
        if fn is not None and fn.type == "identifier" and _CAST_RE.match(text(fn)):
            return text(fn) + "()"
        return None
    if arg.type != "identifier" or i < 0:
        return None
    name = text(arg)
    key = (i, name)
    if key not in cache:
        node = functions[i][0]
        body = data[node.start_byte : node.end_byte]
        m = _find_declaration(name, body)
        if m is None:
            # Not declared in the function: a file-scope variable
            # (`static const AccelOpsClass *cpus_accel;`), looked up once
            # per file in the text outside function bodies.
            gkey = (-1, name)
            if gkey not in cache:
                outside = cache.get(-1)
                if outside is None:
                    outside = cache[-1] = _outside_functions(functions, data)
                gm = _find_declaration(name, outside)
                gt = gm.group(1).decode("utf-8", "replace") if gm else None
                cache[gkey] = _type_name(gt) if gt and gt not in _NOT_TYPES else None
            cache[key] = cache[gkey]
            return cache[key]
        t = m.group(1).decode("utf-8", "replace") if m else None
        cache[key] = _type_name(t) if t and t not in _NOT_TYPES else None
    return cache[key]


def _outside_functions(functions, data: bytes) -> bytes:
    """The file's text without function bodies (declarations at file scope);
    each body becomes a `;` so no declaration runs across it."""
    parts = []
    pos = 0
    for node, _ in functions:
        parts.append(data[pos : node.start_byte])
        parts.append(b";")
        pos = node.end_byte
    parts.append(data[pos:])
    return b"".join(parts)


_NOT_TYPES = frozenset({"return", "else", "case", "goto"})


@lru_cache(maxsize=8192)
def _decl_patterns(name: str) -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """`T *name` and `T name` followed by `=;,)[`: a declaration of `name`;
    and `name` followed by `=;,)[`, the end every such declaration has.
    Compiled once per name (re's own cache is too small for a whole tree)."""
    n = re.escape(name.encode())
    return (re.compile(rb"\b((?:struct\s+)?[A-Za-z_]\w*)[\s*]*\*\s*" + n + rb"\s*[=;,)\[]"),
            re.compile(rb"\b((?:struct\s+)?[A-Za-z_]\w*)\s+" + n + rb"\s*[=;,)\[]"),
            re.compile(n + rb"\s*[=;,)\[]"))


# What may stand between the start of a declaration match and its name.
_DECL_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_ \t\n\r\f\v*")


def _find_declaration(name: str, text: bytes) -> re.Match[bytes] | None:
    """The first `T *name` declaration in `text`, else the first `T name`
    one (see _decl_patterns), else None.

    Both patterns lead with `\\b`, which the regex engine tries at every
    offset. Every match ends with the name followed by one of `=;,)[` and
    holds only word bytes, white space and `*` before it: so no match starts
    before the run of such bytes that precedes the first `name=;,)[` (a
    literal, fast search), and the search starts there."""
    ptr, plain, end = _decl_patterns(name)
    first = end.search(text)
    if first is None:
        return None
    lo = first.start()
    stop = max(0, lo - 512)
    while lo > stop and text[lo - 1] in _DECL_BYTES:
        lo -= 1
    if lo == stop and stop > 0:
        lo = 0  # a very long run: search from the start, as ever
    return ptr.search(text, lo) or plain.search(text, lo)


__all__ = ["Ref", "FunctionFact", "FileFacts", "extract_facts", "facts_for_files"]
