"""Match compiled patterns against a parsed file.

Matching is structural: a pattern node matches a target node of the same
type whose children match in order; metavariables bind target subtrees;
`...` and list metavariables absorb runs of items (statements in a block,
arguments in a call). A match is a set of bindings plus an alignment of
pattern spans to target spans, from which edits are made.

Target bytes are the current (original, unmasked) bytes: token comparison
uses the text the user wrote, so masked macros match by their own names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import tree_sitter

from codemod.cparse import C_LANGUAGE
from codemod.smpl.compile import (
    ANYTYPE,
    COMMA_LISTS,
    EXPRESSION_TYPES,
    STATEMENT_TYPES,
    CompiledRule,
    MetavarSpec,
    Pattern,
    PNode,
    identifiers_needed,
)

LITERAL_TYPES = frozenset({"string_literal", "char_literal", "number_literal", "concatenated_string",
                           "system_lib_string"})
TYPE_TYPES = frozenset({"primitive_type", "type_identifier", "sized_type_specifier", "struct_specifier",
                        "union_specifier", "enum_specifier", "type_descriptor", "identifier"})
CONSTANT_TYPES = frozenset({"number_literal", "char_literal", "string_literal", "concatenated_string"})
IDENTIFIER_TYPES = frozenset({"identifier", "field_identifier", "type_identifier", "statement_identifier"})
CONTAINER_TYPES = frozenset({"compound_statement", "translation_unit", "case_statement",
                             "preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif"})


@dataclass(frozen=True)
class Binding:
    """A metavariable's value: target text (and range) or a script value."""

    kind: str
    text: str
    norm: str  # whitespace/comment-insensitive form, for equality
    start: int | None = None  # current-text range, when bound from the target
    end: int | None = None
    orig: int | None = None  # original-file offset (positions)
    orig_end: int | None = None
    from_script: bool = False

    def key(self):
        if self.kind == "position":
            return ("pos", self.orig, self.orig_end)
        return (self.kind, self.norm)


@dataclass(frozen=True)
class Atom:
    """One aligned pattern piece: pattern span -> target span."""

    pstart: int
    pend: int
    tstart: int
    tend: int
    minus: bool
    is_list: bool = False  # dots or list metavariable (may be empty)


@dataclass
class Match:
    rule: CompiledRule
    pattern: Pattern
    bindings: dict  # local name -> Binding
    atoms: list[Atom]
    start: int  # target range of the whole match
    end: int
    subs: tuple = ()  # further matches made together with this one (other paths, nests)
    # (offset, text, type) of expressions a typed metavariable matched without knowing their
    # type: the match holds only if the type is right, which allocfix cannot tell.
    undecided: tuple = ()


class _Linked:
    __slots__ = ("atom", "prev")

    def __init__(self, atom, prev):
        self.atom, self.prev = atom, prev

    def to_list(self) -> list[Atom]:
        out = []
        node = self
        while node is not None:
            out.append(node.atom)
            node = node.prev
        out.reverse()
        return out


_WS_RE = re.compile(rb"\s+")


_QUERY_TYPES_MAX = 4
_TYPE_QUERIES: dict[str, tree_sitter.Query | None] = {}


def _query_type(tree: tree_sitter.Tree, type_name: str) -> list[tree_sitter.Node] | None:
    """Every named node of `type_name`, in pre-order; None when no query can name the type."""
    query = _TYPE_QUERIES.get(type_name, False)
    if query is False:
        try:
            query = tree_sitter.Query(C_LANGUAGE, f"({type_name}) @n") if re.fullmatch(r"\w+", type_name) else None
        except Exception:  # noqa: BLE001 - an anonymous or unknown type: the walk handles it
            query = None
        _TYPE_QUERIES[type_name] = query
    if query is None:
        return None
    nodes = tree_sitter.QueryCursor(query).captures(tree.root_node).get("n", [])
    nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
    return nodes


class Target:
    """The file being matched: bytes, tree and lazily built indexes."""

    def __init__(self, data: bytes, tree: tree_sitter.Tree, to_original):
        self.data = data
        self.tree = tree
        self.to_original = to_original  # current offset -> original offset or None
        self._by_type: dict[str, list[tree_sitter.Node]] | None = None
        self._norm_cache: dict[tuple[int, int], str] = {}
        self._around: dict[tuple, list[tree_sitter.Node]] = {}
        self._queried: dict[str, list[tree_sitter.Node] | None] = {}
        self._word_counts: dict[str, int] = {}
        self.path: str | None = None  # the file's path: its local headers give types too
        self._headers: list["Target"] | None = None

    def local_headers(self) -> list["Target"]:
        """The headers spatch reads for types by default: `#include "x.h"` found next to
        the file (not those found on an include path, nor headers they include)."""
        if self._headers is None:
            self._headers = []
            if self.path is not None:
                import os

                here = os.path.dirname(self.path)
                for inc in self.nodes_of_type("preproc_include"):
                    arg = inc.child_by_field_name("path")
                    if arg is None or arg.type != "string_literal":
                        continue
                    name = self.text(arg)[1:-1]
                    header = _header_target(os.path.normpath(os.path.join(here, name)))
                    if header is not None:
                        self._headers.append(header)
        return self._headers

    def nodes_of_type(self, type_name: str) -> list[tree_sitter.Node]:
        if self._by_type is None and len(self._queried) < _QUERY_TYPES_MAX:
            # A few types: a query per type runs in C; many: one Python walk indexes all.
            nodes = self._queried.get(type_name)
            if nodes is None:
                nodes = self._queried[type_name] = _query_type(self.tree, type_name)
            if nodes is not None:
                return nodes
        if self._by_type is None:
            index: dict[str, list[tree_sitter.Node]] = {}
            cursor = self.tree.walk()
            down = True
            while True:
                if down:
                    node = cursor.node
                    index.setdefault(node.type, []).append(node)
                    if cursor.goto_first_child():
                        continue
                if cursor.goto_next_sibling():
                    down = True
                    continue
                if not cursor.goto_parent():
                    break
                down = False
            self._by_type = index
        return self._by_type.get(type_name, [])

    def word_count(self, word: str) -> int:
        """Occurrences of `word` in the file's bytes, counted once per file
        (every pattern matched here asks for the counts of its words)."""
        n = self._word_counts.get(word)
        if n is None:
            n = self._word_counts[word] = self.data.count(word.encode())
        return n

    def nodes_around(self, words: tuple[str, ...], types: tuple[str, ...]) -> list[tree_sitter.Node]:
        """Nodes of `types` that hold an occurrence of one of `words`, in the order
        nodes_of_type gives them (by type, then pre-order).

        A node matching a pattern holds the pattern's literal words, so the
        ancestors of their occurrences are all the candidates there are; this
        spares indexing every node of a large file for a handful of calls.
        """
        key = (words, types)
        found = self._around.get(key)
        if found is not None:
            return found
        root = self.tree.root_node
        wanted = set(types)
        seen: set[int] = set()
        picked: list[tree_sitter.Node] = []
        for word in words:
            w = word.encode()
            o = self.data.find(w)
            while o != -1:
                node = root.descendant_for_byte_range(o, o + 1)
                while node is not None and node.id not in seen:
                    seen.add(node.id)
                    if node.type in wanted:
                        picked.append(node)
                    node = node.parent
                o = self.data.find(w, o + 1)
        order = {t: i for i, t in enumerate(types)}
        picked.sort(key=lambda n: (order[n.type], n.start_byte, -n.end_byte))
        self._around[key] = picked
        return picked

    def ancestors_at(self, offset: int) -> list[tree_sitter.Node]:
        """The nodes holding byte `offset`, outermost first (pre-order, like nodes_of_type)."""
        node = self.tree.root_node.descendant_for_byte_range(offset, offset + 1)
        chain = []
        while node is not None:
            chain.append(node)
            node = node.parent
        chain.reverse()
        return chain

    def text(self, node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")

    def expr_type(self, node) -> str | None:
        """The C type of an expression when the file's declarations say it, else None."""
        ty = node.type
        if ty == "parenthesized_expression":
            inner = [c for c in node.named_children if c.type != "comment"]
            return self.expr_type(inner[0]) if len(inner) == 1 else None
        if ty == "number_literal":
            text = self.text(node).lower()
            if "." in text or ("e" in text and not text.startswith("0x")):
                return "float" if text.endswith("f") else "double"
            suffix = text.rstrip("0123456789abcdefx")
            text = text[: len(text) - len(suffix)] if suffix else text
            unsigned = "u" in suffix
            base = "long" if "l" in suffix else "int"
            return ("unsigned " if unsigned else "") + base
        if ty in ("string_literal", "concatenated_string"):
            return "char *"
        if ty == "char_literal":
            return "char"
        if ty == "cast_expression":
            tnode = node.child_by_field_name("type")
            return _norm_type(self.text(tnode)) if tnode is not None else None
        if ty == "pointer_expression":
            op = node.child_by_field_name("operator")
            inner = self.expr_type(node.child_by_field_name("argument"))
            if inner is None or op is None:
                return None
            if op.type == "&":
                return _norm_type(inner + " *")
            return _norm_type(inner[:-1]) if inner.endswith("*") else None
        if ty == "identifier":
            found = self._declared_type(node)
            return found if found is not None else self._macro_type(self.text(node), 0)
        if ty == "field_expression":
            found = self._field_type(node)
            if found is not None and found.endswith(" []") and not (
                    node.parent is not None and node.parent.type == "subscript_expression"
                    and node.parent.child_by_field_name("argument") == node):
                return None  # an array used whole: spatch's array types are not modelled
            return found
        if ty == "subscript_expression":
            arg = node.child_by_field_name("argument")
            if arg is None:
                return None
            if arg.type == "identifier":
                elem = self._array_element_type(arg)
                if elem is not None:
                    return elem
            inner = self.expr_type(arg)
            if inner is not None and inner.endswith(" []"):
                return inner[:-3]
            return _norm_type(inner[:-1]) if inner is not None and inner.endswith("*") else None
        if ty == "binary_expression":
            op = node.child_by_field_name("operator")
            op_text = op.type if op is not None else ""
            if op_text in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
                return "int"
            left = self.expr_type(node.child_by_field_name("left"))
            right = self.expr_type(node.child_by_field_name("right"))
            # spatch takes the known side's type when the other one is unknown.
            # spatch gives arithmetic the type of its left operand when known, else the right's.
            return left if left is not None else right
        return None

    def unknowable(self, node) -> bool:
        """Whether spatch cannot know the expression's type either: it uses a name that no
        declaration in this file or the headers next to it mentions (spatch reads no
        others by default). False means allocfix merely does not model how spatch would
        infer it."""
        ty = node.type
        if ty == "parenthesized_expression":
            inner = [c for c in node.named_children if c.type != "comment"]
            return len(inner) == 1 and self.unknowable(inner[0])
        if ty == "identifier":
            name = self.text(node)
            if name in self._macro_values():
                return True  # its value's type is inferred as spatch does (expr_type)
            return name not in self.declared_names()
        if ty == "field_expression":
            fld = node.child_by_field_name("field")
            arg = node.child_by_field_name("argument")
            if fld is None or arg is None:
                return False
            if self.text(fld) not in self.declared_names() or self.unknowable(arg):
                return True
            # The base's type is known but no visible definition of it has the field.
            base = self.expr_type(arg)
            if base is None:
                return False
            base = re.sub(r"\b(?:const|volatile)\b", " ", base.rstrip("* ")).strip()
            return " ".join(base.split()) not in self._struct_fields()
        if ty in ("pointer_expression", "subscript_expression"):
            arg = node.child_by_field_name("argument")
            return arg is not None and self.unknowable(arg)
        if ty == "call_expression":
            fn = node.child_by_field_name("function")
            return fn is not None and fn.type == "identifier" and self.text(fn) not in self.declared_names()
        if ty == "binary_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            return left is not None and right is not None and self.unknowable(left) and self.unknowable(right)
        return False

    def declared_names(self) -> frozenset[str]:
        """Every name this file or its local headers declare (variables, parameters, fields,
        functions, enumerators, typedefs, macros), wherever they are."""
        if getattr(self, "_declared_names", None) is None:
            names: set[str] = set()

            def declarator_names(d) -> None:
                # The declared name of a declarator (through pointers, arrays, functions,
                # initializers), and of a function declarator's parameters.
                while d is not None:
                    if d.type in ("identifier", "field_identifier", "type_identifier"):
                        names.add(self.text(d))
                        return
                    if d.type == "function_declarator":
                        params = d.child_by_field_name("parameters")
                        for prm in params.named_children if params is not None else ():
                            if prm.type == "parameter_declaration":
                                declarator_names(prm.child_by_field_name("declarator"))
                    inner = d.child_by_field_name("declarator")
                    if inner is None:
                        kids = [c for c in d.named_children if c.type in (
                            "identifier", "field_identifier", "type_identifier", "pointer_declarator",
                            "array_declarator", "function_declarator", "parenthesized_declarator")]
                        inner = kids[0] if kids else None
                    d = inner

            for ty in ("declaration", "field_declaration", "type_definition", "function_definition",
                       "parameter_declaration"):
                for d in self.nodes_of_type(ty):
                    for i, c in enumerate(d.children):
                        if d.field_name_for_child(i) == "declarator":
                            declarator_names(c)
            for ty in ("enumerator", "preproc_def", "preproc_function_def"):
                for d in self.nodes_of_type(ty):
                    n = d.child_by_field_name("name")
                    if n is not None:
                        names.add(self.text(n))
            for header in self.local_headers():
                names |= header.declared_names()
            self._declared_names = frozenset(names)
        return self._declared_names

    def _macro_values(self) -> dict[str, str]:
        if getattr(self, "_macros", None) is None:
            self._macros = {}
            for d in self.nodes_of_type("preproc_def"):
                n, v = d.child_by_field_name("name"), d.child_by_field_name("value")
                if n is not None and v is not None:
                    self._macros[self.text(n)] = self.text(v).strip()
        return self._macros

    def misparsed_sizeof(self) -> list:
        """`sizeof(long)-1` and `sizeof(int) * n`: tree-sitter-c reads a cast there
        (`sizeof((long)-1)`), where C reads `sizeof(long) - 1`. Patterns cannot match
        across such a spot."""
        if getattr(self, "_misparsed", None) is None:
            out = []
            for n in self.nodes_of_type("sizeof_expression"):
                v = n.child_by_field_name("value")
                if v is not None and v.type == "cast_expression" and \
                        not self.data[n.start_byte + 6:v.start_byte].strip():
                    out.append(n)
            self._misparsed = out
        return self._misparsed

    def _field_type(self, node) -> str | None:
        """`a->f` / `a.f`: the field's declared type, when the struct (or the typedef naming
        it) is defined in this file."""
        arg = node.child_by_field_name("argument")
        fld = node.child_by_field_name("field")
        op = node.child_by_field_name("operator")
        if arg is None or fld is None or op is None:
            return None
        base = self.expr_type(arg)
        if base is None:
            return None
        if op.type == "->":
            if not base.endswith("*"):
                return None
            base = _norm_type(base[:-1])
        elif base.endswith("*"):
            return None
        base = re.sub(r"\b(?:const|volatile)\b", " ", base).strip()
        fields = self._struct_fields().get(" ".join(base.split()))
        return fields.get(self.text(fld)) if fields is not None else None

    def _struct_fields(self) -> dict[str, dict[str, str]]:
        """Struct/union name (`struct S`, or a typedef name) -> field name -> type, for the
        definitions in this file."""
        if getattr(self, "_fields", None) is not None:
            return self._fields
        out: dict[str, dict[str, str]] = {}
        for kind in ("struct_specifier", "union_specifier"):
            for spec in self.nodes_of_type(kind):
                body = spec.child_by_field_name("body")
                if body is None:
                    continue
                fields: dict[str, str] = {}
                for fd in body.named_children:
                    if fd.type != "field_declaration":
                        continue
                    ftype = fd.child_by_field_name("type")
                    if ftype is None or ftype.type in ("struct_specifier", "union_specifier") and \
                            ftype.child_by_field_name("body") is not None:
                        continue
                    quals = [self.text(c) for c in fd.named_children if c.type == "type_qualifier"]
                    base_text = " ".join(quals + [self.text(ftype)])
                    for i, c in enumerate(fd.children):
                        if fd.field_name_for_child(i) != "declarator":
                            continue
                        stars, core = 0, c
                        while core is not None and core.type == "pointer_declarator":
                            stars += 1
                            core = core.child_by_field_name("declarator")
                        if core is not None and core.type == "array_declarator":
                            # An array field: only its elements get a type (`s.a[i]`).
                            core = core.child_by_field_name("declarator")
                            if core is not None and core.type == "field_identifier":
                                fields[self.text(core)] = _norm_type(base_text + " " + "*" * stars) + " []"
                            continue
                        if core is not None and core.type == "field_identifier":
                            fields[self.text(core)] = _norm_type(base_text + " " + "*" * stars)
                name = spec.child_by_field_name("name")
                keyword = "struct" if kind == "struct_specifier" else "union"
                if name is not None:
                    out[f"{keyword} {self.text(name)}"] = fields
                parent = spec.parent
                if parent is not None and parent.type == "type_definition":
                    for i, c in enumerate(parent.children):
                        if parent.field_name_for_child(i) == "declarator" and c.type == "type_identifier":
                            out[self.text(c)] = fields
        for td in self.nodes_of_type("type_definition"):
            # `typedef struct S S;` after (or before) `struct S { ... }`.
            ttype = td.child_by_field_name("type")
            if ttype is None or ttype.type not in ("struct_specifier", "union_specifier") or \
                    ttype.child_by_field_name("body") is not None:
                continue
            name = ttype.child_by_field_name("name")
            keyword = "struct" if ttype.type == "struct_specifier" else "union"
            fields = out.get(f"{keyword} {self.text(name)}") if name is not None else None
            if fields is None:
                continue
            for i, c in enumerate(td.children):
                if td.field_name_for_child(i) == "declarator" and c.type == "type_identifier":
                    out.setdefault(self.text(c), fields)
        for header in self.local_headers():
            for name, fields in header._struct_fields().items():
                out.setdefault(name, fields)
        self._fields = out
        return out

    def _array_element_type(self, ident) -> str | None:
        """`T x[N]` in scope: T (with its stars)."""
        name = self.text(ident)
        scope = ident.parent
        while scope is not None:
            if scope.type in ("compound_statement", "translation_unit"):
                for d in scope.named_children:
                    if d.type != "declaration" or d.start_byte >= ident.start_byte:
                        continue
                    base = d.child_by_field_name("type")
                    for i, c in enumerate(d.children):
                        if d.field_name_for_child(i) != "declarator":
                            continue
                        core = c.child_by_field_name("declarator") if c.type == "init_declarator" else c
                        stars = 0
                        while core is not None and core.type == "pointer_declarator":
                            stars += 1
                            core = core.child_by_field_name("declarator")
                        if core is not None and core.type == "array_declarator":
                            inner = core.child_by_field_name("declarator")
                            if inner is not None and inner.type == "identifier" and self.text(inner) == name \
                                    and base is not None:
                                quals = [self.text(q) for q in d.named_children if q.type == "type_qualifier"]
                                return _norm_type(" ".join(quals + [self.text(base)]) + " " + "*" * stars)
            scope = scope.parent
        return None

    def _macro_type(self, name: str, depth: int) -> str | None:
        """Type of an object-like macro whose value is integer arithmetic (as spatch infers)."""
        if depth > 8:
            return None
        value = self._macro_values().get(name)
        if value is None:
            return None
        if re.fullmatch(r'"(?:[^"\\]|\\.)*"', value):
            return "char *"
        if not re.fullmatch(r"[\w\s()+\-*/%<>&|^~]+", value):
            return None
        kind = None
        for tok in re.findall(r"[A-Za-z_]\w*|\d\w*", value):
            if tok[0].isdigit():
                t = "long" if "l" in tok.lower().lstrip("0x").rstrip("0123456789abcdef") else "int"
            else:
                t = self._macro_type(tok, depth + 1)
                if t is None:
                    continue  # unknown operand: the known ones decide
            if t not in _INTEGER_RANKS:
                return None
            kind = t if kind is None else max(kind, t, key=_INTEGER_RANKS.get)
        return kind

    def type_names(self) -> frozenset[str]:
        """Names the file uses as types (typedefs, declarations, casts)."""
        if getattr(self, "_type_names", None) is None:
            self._type_names = frozenset(self.text(n) for n in self.nodes_of_type("type_identifier"))
        return self._type_names

    def declared_as_variable(self, ident) -> bool:
        return self._declared_type(ident) is not None or self._declared_array(ident)

    def _declared_array(self, ident) -> bool:
        name = self.text(ident)
        scope = ident.parent
        while scope is not None:
            if scope.type in ("compound_statement", "translation_unit"):
                for d in scope.named_children:
                    if d.type == "declaration" and d.start_byte < ident.start_byte:
                        for c in d.named_children:
                            if c.type == "array_declarator":
                                core = c.child_by_field_name("declarator")
                                if core is not None and self.text(core) == name:
                                    return True
            scope = scope.parent
        return False

    def is_local(self, ident) -> bool:
        """Declared in the enclosing function (a parameter or a local variable)."""
        name = self.text(ident)
        scope = ident.parent
        while scope is not None and scope.type != "translation_unit":
            if scope.type in ("compound_statement", "function_definition"):
                if self._declared_in(scope, name, ident.start_byte) is not None:
                    return True
            scope = scope.parent
        return False

    def _declared_type(self, ident) -> str | None:
        name = self.text(ident)
        scope = ident.parent
        while scope is not None:
            if scope.type in ("compound_statement", "translation_unit", "function_definition"):
                found = self._declared_in(scope, name, ident.start_byte)
                if found is not None:
                    return found
            scope = scope.parent
        if self._headers is not None or self.path is not None:
            for header in self.local_headers():
                found = header._declared_in(header.tree.root_node, name, len(header.data))
                if found is not None:
                    return found
        return None

    def _declared_in(self, scope, name: str, before: int) -> str | None:
        decls = []
        if scope.type == "function_definition":
            fdecl = scope.child_by_field_name("declarator")
            while fdecl is not None and fdecl.type != "function_declarator":
                fdecl = fdecl.child_by_field_name("declarator")
            params = fdecl.child_by_field_name("parameters") if fdecl is not None else None
            decls = [c for c in params.named_children if c.type == "parameter_declaration"] if params else []
        else:
            decls = [c for c in scope.named_children if c.type == "declaration" and c.start_byte < before]
        for d in decls:
            base = d.child_by_field_name("type")
            if base is None:
                continue
            quals = [self.text(c) for c in d.named_children if c.type == "type_qualifier"]
            base_text = " ".join(quals + [self.text(base)])
            for decl in [c for i, c in enumerate(d.children) if d.field_name_for_child(i) == "declarator"]:
                stars, core = 0, decl
                while core is not None and core.type in ("pointer_declarator", "init_declarator",
                                                         "array_declarator"):
                    if core.type == "pointer_declarator":
                        stars += 1
                    elif core.type == "array_declarator":
                        core = None
                        break
                    core = core.child_by_field_name("declarator")
                if core is not None and core.type == "identifier" and self.text(core) == name:
                    return _norm_type(base_text + " " + "*" * stars)
                if core is None and name in self.text(decl):
                    return None
        return None

    def norm(self, node) -> str:
        key = (node.start_byte, node.end_byte)
        cached = self._norm_cache.get(key)
        if cached is None:
            cached = normalize_tokens(self.data, node)
            self._norm_cache[key] = cached
        return cached


_HEADER_CACHE: dict[str, "Target | None"] = {}


def _header_target(path: str) -> "Target | None":
    """A header parsed once per process (for its declarations only)."""
    if path not in _HEADER_CACHE:
        from codemod.cparse import parser as c_parser

        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = None
        _HEADER_CACHE[path] = Target(data, c_parser().parse(data), lambda o: o) if data is not None else None
    return _HEADER_CACHE[path]


def normalize_tokens(data: bytes, node) -> str:
    """Token texts of a subtree joined by one space (comments dropped)."""
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "comment":
            continue
        if n.child_count == 0 or n.type in LITERAL_TYPES:
            out.append(data[n.start_byte : n.end_byte].decode("utf-8", "surrogateescape"))
        else:
            stack.extend(reversed(n.children))
    return " ".join(out)


_TOKEN_SPLIT_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_]\w*|\d[\w.]*|->|\+\+|--|<<|>>|[<>=!]=|&&|\|\||\S')


def normalize_text(text: str) -> str:
    """The same normal form for text that is not a tree (script values)."""
    return " ".join(_TOKEN_SPLIT_RE.findall(text))


def _children(node) -> list:
    return [c for c in node.children if c.type != "comment"]


# id(pattern node) -> (the node, its identifiers_needed): compiled rules live as long as the process.
_NEEDED: dict[int, tuple[PNode, tuple[frozenset[str], ...]]] = {}


class Matcher:
    def __init__(self, rule: CompiledRule, pattern: Pattern, target: Target):
        self.rule = rule
        self.pattern = pattern
        self.t = target
        self.metavars: dict[str, MetavarSpec] = rule.metavars
        self.dots = {str(d.id): d for d in pattern.dots}

    # -- entry points ------------------------------------------------------

    def matches(self, prebound: dict[str, Binding], near: list[int] | None = None) -> Iterator[Match]:
        nodes = self.pattern.nodes
        kind = self.pattern.kind
        if kind == "expr" or len(nodes) == 1 and nodes[0].kind != "dots":
            p = nodes[0]
            for cand in self._candidates(p, near):
                for env, align in self._node(p, cand, dict(prebound), None):
                    yield self._make(env, align, cand.start_byte, cand.end_byte)
            return
        # Sequences of statements / top-level items.
        first = next((p for p in nodes if p.kind != "dots"), None)
        if first is None:
            return
        seen_containers: set[tuple[int, int]] = set()
        for cand in self._candidates(first, near):
            container = cand.parent
            if container is None:
                continue
            key = (container.start_byte, container.end_byte)
            if key in seen_containers:
                continue
            seen_containers.add(key)
            items = [c for c in _children(container) if c.type not in ("{", "}")]
            starts = range(len(items)) if nodes[0].kind != "dots" else [0]
            for i in starts:
                if nodes[0].kind != "dots" and items[i].type != nodes[0].type and nodes[0].kind != "meta":
                    continue
                for env, align in self._seq(list(nodes), items[i:], dict(prebound), None, allow_rest=True,
                                            list_end=container.end_byte - 1, container=container):
                    atoms = align.to_list() if align else []
                    real = [a for a in atoms if a.tend > a.tstart] or atoms
                    start = min(a.tstart for a in real) if real else items[i].start_byte
                    end = max(a.tend for a in real) if real else items[i].start_byte
                    yield self._make(env, align, start, end)

    def _make(self, env, align, start, end) -> Match:
        extra = env.get(SUBS_KEY, ())
        bindings = {k: v for k, v in env.items() if k[0] != "\0"}
        subs = []
        for item in extra:
            if isinstance(item, Match):
                subs.append(item)
            else:  # another path's match: its own bindings and alignment
                sub_env, sub_align = item
                sub_bindings = {k: v for k, v in sub_env.items() if k[0] != "\0"}
                subs.append(Match(self.rule, self.pattern, sub_bindings, sub_align.to_list() if sub_align else [],
                                  start, end, (), sub_env.get(UNDECIDED_KEY, ())))
        return Match(self.rule, self.pattern, bindings, align.to_list() if align else [], start, end,
                     tuple(subs), env.get(UNDECIDED_KEY, ()))

    def _candidates(self, p: PNode, near: list[int] | None):
        if p.kind == "meta":
            if p.type == "statement":
                types = STATEMENT_TYPES
            elif p.type in ("expression", "idexpression", "local idexpression", "global idexpression", "constant"):
                types = EXPRESSION_TYPES
            else:
                types = IDENTIFIER_TYPES
            iso = False
        elif p.type == "binary_expression" and len(p.children) == 3 and p.children[1].text in ("==", "!=") \
                and _null_or_zero(p.children[2]):
            # The boolean isomorphisms: `X == NULL` is also `!X`, `X != NULL` any test.
            types = (p.type, "unary_expression") if p.children[1].text == "==" else EXPRESSION_TYPES
            iso = True
        else:
            types = (p.type,)
            iso = False
        if near:
            # Only nodes holding every bound position can match: those are
            # ancestors of the token at the first one (no whole-tree index).
            chain = self.t.ancestors_at(near[0])
            cands = [c for t in types for c in chain
                     if c.type == t and all(c.start_byte <= o < c.end_byte for o in near)]
            if iso:
                cands.sort(key=lambda n: (n.start_byte, -n.end_byte))
        elif iso:
            # The isomorphic forms need not hold the pattern's words (`!x` has no NULL).
            cands = [n for t in types for n in self.t.nodes_of_type(t)]
            cands.sort(key=lambda n: (n.start_byte, -n.end_byte))
        else:
            words = self._anchor_words(p)
            if words is None:
                cands = [n for t in types for n in self.t.nodes_of_type(t)]
            else:
                cands = self.t.nodes_around(words, types)
        return [c for c in cands if not _in_if0(c)]

    def _anchor_words(self, p: PNode) -> tuple[str, ...] | None:
        """Words one of which every node matching `p` contains (the rarest such
        group in this file), or None when the pattern names none."""
        groups = _NEEDED.get(id(p))
        if groups is None or groups[0] is not p:
            groups = _NEEDED[id(p)] = (p, identifiers_needed((p,), self.metavars))
        if not groups[1]:
            return None
        count = self.t.word_count
        return tuple(min(groups[1], key=lambda g: sum(count(w) for w in g)))

    # -- node matching -------------------------------------------------------

    def _node(self, p: PNode, t, env: dict, align) -> Iterator[tuple[dict, object]]:
        if p.kind == "meta":
            yield from self._meta(p, t, env, align)
            return
        if p.kind == "leaf":
            if t.child_count != 0 and t.type not in LITERAL_TYPES:
                return
            if p.type in LITERAL_TYPES or p.type in IDENTIFIER_TYPES or p.type == "primitive_type":
                if self.t.text(t) != p.text:
                    return
            elif t.type != p.type or self.t.text(t) != p.text:
                return
            env2 = self._bind_positions(p, t, env)
            if env2 is None:
                return
            yield env2, _Linked(Atom(p.start, p.end, t.start_byte, t.end_byte, p.minus), align)
            return
        if p.kind == "dots":
            # `...` standing for one expression (e.g. `x = ...;`).
            yield env, _Linked(Atom(p.start, p.end, t.start_byte, t.end_byte, p.minus, True), align)
            return
        if p.type == "declaration" and t.type == "declaration":
            yield from self._declaration(p, t, env, align)
            return
        if p.type == "function_definition" and t.type == "function_definition":
            yield from self._function(p, t, env, align)
            return
        if p.type == "sizeof_expression" and t.type == "sizeof_expression" and t.child_by_field_name("type"):
            # `sizeof(T)` with T a type metavariable parses as an expression in the pattern.
            inner = p.children[-1]
            if inner.type == "parenthesized_expression" and len(inner.children) == 3 \
                    and inner.children[1].kind == "meta" and inner.children[1].type == "type":
                ttype = t.child_by_field_name("type")
                for env2, align2 in self._type_meta(inner.children[1], ttype, env, align):
                    yield env2, align2
                return
        if p.type == "type_descriptor" and t.type == "type_descriptor":
            ptype = next((c for c in p.children if c.field_name == "type"), None)
            mv = self.metavars.get(ptype.text) if ptype is not None and ptype.kind == "meta" else None
            if mv is not None and mv.kind == "type" and len(p.children) == 2:
                # `(T *)` against `(void **)`: T is `void *` (the stars the pattern lacks).
                pstars = _abstract_stars(p.children[1])
                tdecl = t.child_by_field_name("declarator")
                tstars = _abstract_stars(tdecl) if tdecl is not None else 0
                if pstars is not None and tstars is not None and tstars > pstars:
                    ttype = t.child_by_field_name("type")
                    quals = [self.t.text(c) for c in _children(t) if c.type == "type_qualifier"]
                    full = " ".join(quals + [self.t.text(ttype)]) + " " + "*" * (tstars - pstars)
                    if mv.constraint is not None and not _constraint_ok(mv.constraint, full):
                        return
                    env2 = self._bind(ptype.text, "type", full, normalize_text(full), None, None, env)
                    if env2 is not None:
                        yield env2, _Linked(Atom(p.start, p.end, t.start_byte, t.end_byte, p.minus), align)
                    return
        if p.type == "parenthesized_expression" and t.type in EXPRESSION_TYPES:
            # spatch's `paren` isomorphism: `(E)` in a pattern also matches a bare E (and
            # `(x)` when E is already bound to `(x)`).
            inner = [c for c in p.children if c.kind != "leaf" or c.text not in ("(", ")")]
            if t.type != p.type:
                if len(inner) == 1:
                    yield from self._node(inner[0], t, env, align)
                return
            if len(inner) == 1 and inner[0].kind == "meta" and inner[0].text in env \
                    and env[inner[0].text].norm == self.t.norm(t):
                yield from self._node(inner[0], t, env, align)
                return
        if p.type == "binary_expression" and len(p.children) == 3 and t.type != "binary_expression" \
                and p.children[1].text in ("==", "!="):
            yield from self._boolean_iso(p, t, env, align)
            return
        if t.type != p.type:
            return
        if p.type == "binary_expression" and len(p.children) == 3 and (
                p.children[1].text in ("*", "+", "|", "&") or
                p.children[1].text in ("==", "!=") and self._constant_like(p.children[2])):
            # spatch's isomorphisms: `A * B`, `A + B`, `A | B`, `A & B` also match `B * A`, ...;
            # `E == C` and `E != C` (C a constant) also match `C == E`, `C != E`.
            tkids = _children(t)
            if len(tkids) == 3 and self.t.text(tkids[1]) == p.children[1].text:
                env2 = self._bind_positions(p, t, env)
                if env2 is None:
                    return
                pl, pop, pr = p.children
                tl, top, tr = tkids
                seen_results = False
                for order in ((tl, tr), (tr, tl)):
                    for e1, a1 in self._node(pl, order[0], env2, align):
                        a1 = _Linked(Atom(pop.start, pop.end, top.start_byte, top.end_byte, pop.minus), a1)
                        for e2, a2 in self._node(pr, order[1], e1, a1):
                            seen_results = True
                            yield e2, a2
                    if seen_results:
                        return
                return
        env2 = self._bind_positions(p, t, env)
        if env2 is None:
            return
        tkids = _children(t)
        pkids = list(p.children)
        if p.type in COMMA_LISTS:
            tkids = [c for c in tkids if c.type != ","]
            pkids = [c for c in pkids if not (c.kind == "leaf" and c.type == ",")]
        container = t if t.type in STATEMENT_LISTS else None
        yield from self._seq(pkids, tkids, env2, align, allow_rest=False, list_end=t.end_byte - 1,
                             container=container)

    def _seq(self, ps: list[PNode], ts: list, env: dict, align, allow_rest: bool, list_end: int,
             container=None):
        if not ps:
            if not ts or allow_rest:
                yield env, align
            return
        p = ps[0]
        if p.kind == "dots" and container is not None:
            spec = self.dots.get(p.text)
            if spec is not None and spec.nest is not None:
                yield from self._nest(spec, p, ps, ts, env, align, allow_rest, list_end, container)
                return
            rest = ps[1:]
            if rest and not _closing(rest[0]) and not p.minus:
                yield from self._flow(p, rest, ts, env, align, allow_rest, list_end, container)
                return
            if allow_rest and all(q.kind == "dots" or _closing(q) for q in rest):
                # Trailing `...` of a statement sequence: to the end of the function.
                stmts = [t for t in ts if t.type not in ("{", "}")]
                if not _after_return(ts) and not self._when_ok(
                        p, stmts + self._continuation(stmts[-1] if stmts else None, container), env):
                    return
                span = (stmts[0].start_byte, stmts[-1].end_byte) if stmts else (list_end, list_end)
                atom = Atom(p.start, p.end, span[0], span[1], p.minus, True)
                yield from self._seq(rest, ts[len(stmts):], env, _Linked(atom, align), allow_rest, list_end,
                                     container)
                return
        if p.kind == "dots" or (p.kind == "meta" and p.type in ("expression list", "parameter list")):
            # Absorb k items. Shortest first, as spatch prefers.
            unreachable = p.kind == "dots" and container is not None and _after_return(ts)
            for k in range(len(ts) + 1):
                if p.kind == "dots" and not unreachable and not self._when_ok(p, ts[:k], env):
                    continue
                if k:
                    span = (ts[0].start_byte, ts[k - 1].end_byte)
                else:
                    anchor = ts[0].start_byte if ts else list_end
                    span = (anchor, anchor)
                env2 = env
                if p.kind == "meta":
                    text = self.t.data[span[0] : span[1]].decode("utf-8", "surrogateescape")
                    norm = " ; ".join(self.t.norm(x) for x in ts[:k])
                    env2 = self._bind(p.text, p.type, text, norm, span[0], span[1], env)
                    if env2 is None:
                        continue
                atom = Atom(p.start, p.end, span[0], span[1], p.minus, True)
                yield from self._seq(ps[1:], ts[k:], env2, _Linked(atom, align), allow_rest, list_end, container)
            return
        if not ts:
            return
        for env2, align2 in self._node(p, ts[0], env, align):
            yield from self._seq(ps[1:], ts[1:], env2, align2, allow_rest, list_end, container)


    # -- `...` along the control flow -------------------------------------------

    def _exists(self) -> bool:
        q = self.rule.quantifier
        if q is not None:
            return q == "exists"
        return not self.rule.transforms  # spatch: context rules exist, transformations hold for all

    def _flow(self, p: PNode, rest: list[PNode], ts: list, env: dict, align, allow_rest, list_end, container):
        """`...` followed by more pattern: the next item is looked for along every path of
        the function from here (into branches and loops, through gotos), stopping at its
        first occurrence on each path. A path that leaves through an `if` branch ending
        in return/goto/break need not reach it unless `when strict`; under `exists` one
        path is enough."""
        spec = self.dots.get(p.text)
        whens = spec.whens if spec is not None else ()
        any_ = any(w.op == "any" for w in whens)
        strict = any(w.op == "strict" for w in whens)
        exists = self._exists() or any(w.op == "exists" for w in whens)
        if any(w.op == "forall" for w in whens):
            exists = False
        target = rest[0]
        trailing = all(q.kind == "dots" or _closing(q) for q in rest[1:])
        stmts = [t for t in ts if t.type not in ("{", "}")]
        items = {(n.start_byte, n.end_byte) for n in stmts}
        escape = allow_rest
        fn_body = _function_body(container)
        hits: list = []  # statement nodes where `target` matched first on some path
        exempt_hits: set = set()  # ... on a path that leaves early (need not match further)
        failed = False
        seen: set = set()
        budget = [20000]

        def hit_at(node) -> bool:
            for _ in self._node(target, node, env, None):
                return True
            return False

        def succ(node):
            n = node
            while True:
                sib = n.next_named_sibling
                while sib is not None and sib.type == "comment":
                    sib = sib.next_named_sibling
                parent = n.parent
                if parent is None:
                    return None
                if parent.type in STATEMENT_LISTS and sib is not None and sib.type not in ("}",):
                    return sib
                if parent.type in ("case_statement",) and sib is not None:
                    return sib
                if parent == container and not escape:
                    return "end"
                if parent.type == "function_definition" or parent.type == "translation_unit" or \
                        (fn_body is not None and parent == fn_body):
                    return None
                if parent.type in ("while_statement", "for_statement", "do_statement") and \
                        parent.child_by_field_name("body") == n:
                    # The end of a loop body goes back to the loop's test (spatch's back edge).
                    return ("loop", parent)
                n = parent

        def walk(node, exempt: bool) -> None:
            nonlocal failed
            budget[0] -= 1
            if budget[0] < 0:
                failed = True
                return
            if node is None or node == "end":
                if not exempt:
                    failed = True
                return
            if isinstance(node, tuple):
                # Back at a loop's test: run it again or leave the loop.
                loop = node[1]
                key = (loop.start_byte, loop.end_byte, "loop-test", exempt)
                if key in seen:
                    return
                seen.add(key)
                heads = [loop.child_by_field_name(f) for f in ("update", "condition")]
                if not self._when_ok(p, [h for h in heads if h is not None], env):
                    if not exempt:
                        failed = True
                    return
                walk(loop.child_by_field_name("body"), exempt)
                walk(succ(loop), exempt)
                return
            key = (node.start_byte, node.end_byte, node.type, exempt)
            if key in seen:
                return
            seen.add(key)
            if hit_at(node):
                hits.append(node)
                if exempt:
                    exempt_hits.add((node.start_byte, node.end_byte))
                if any_:
                    # `when any`: later occurrences on the path match too; the path is satisfied.
                    walk(succ(node), True)
                return
            if not self._when_ok(p, [_header(node)] if _header(node) is not None else [], env):
                if not exempt:
                    failed = True
                return
            ty = node.type
            if ty == "compound_statement":
                kids = [c for c in node.named_children if c.type != "comment"]
                walk(kids[0] if kids else succ(node), exempt)
            elif ty == "if_statement":
                cons = node.child_by_field_name("consequence")
                alt = node.child_by_field_name("alternative")
                body = None
                if alt is not None:
                    body = alt.named_children[-1] if alt.type == "else_clause" else alt
                # A branch that leaves early is an error exit only when the code after the
                # `if` is reached some other way.
                leaves = not strict and _falls_through(node)
                walk(cons, exempt or (leaves and not _falls_through(cons)))
                if body is not None:
                    # spatch: only the `then` branch is an early exit; an `else` that leaves
                    # is a path like any other.
                    walk(body, exempt)
                else:
                    walk(succ(node), exempt)
            elif ty in ("while_statement", "for_statement"):
                body = node.child_by_field_name("body")
                if body is not None:
                    walk(body, exempt)
                walk(succ(node), exempt)
            elif ty == "do_statement":
                walk(node.child_by_field_name("body"), exempt)
            elif ty == "switch_statement":
                body = node.child_by_field_name("body")
                cases = [c for c in body.named_children if c.type == "case_statement"] if body else []
                for c in cases:
                    walk(c, exempt)
                if not any(_case_is_default(c) for c in cases):
                    walk(succ(node), exempt)
            elif ty == "case_statement":
                kids = [c for c in node.named_children if c.type in STATEMENT_TYPES and c != node.child_by_field_name("value")]
                walk(kids[0] if kids else succ(node), exempt)
            elif ty == "labeled_statement":
                inner = [c for c in node.named_children if c.type != "statement_identifier"]
                walk(inner[0] if inner else succ(node), exempt)
            elif ty == "return_statement":
                if not exempt:
                    failed = True
            elif ty == "goto_statement":
                if exempt and not strict:
                    return
                label = node.child_by_field_name("label")
                dest = _find_label(fn_body, self.t.text(label)) if label is not None else None
                walk(dest, exempt)
            elif ty in ("break_statement", "continue_statement"):
                if exempt and not strict:
                    return
                stops = ("while_statement", "for_statement", "do_statement", "function_definition")
                if ty == "break_statement":
                    stops += ("switch_statement",)
                loop = node.parent
                while loop is not None and loop.type not in stops:
                    loop = loop.parent
                if loop is None or loop.type == "function_definition":
                    walk(None, exempt)
                elif ty == "continue_statement":
                    walk(("loop", loop), exempt)
                else:
                    walk(succ(loop), exempt)
            else:
                walk(succ(node), exempt)

        if stmts:
            walk(stmts[0], False)
        elif escape and container is not None:
            kids = [c for c in container.named_children if c.type not in ("comment",)]
            walk(succ(kids[-1]) if kids else None, False)
        else:
            walk("end", False)
        if _DEBUG:
            print("FLOW hits", [(h.type, h.start_byte) for h in hits], "failed", failed, "exists", exists)
        if not hits or (failed and not exists):
            return
        hits.sort(key=lambda n: n.start_byte)
        local = [h for h in hits if (h.start_byte, h.end_byte) in items]
        remote = [h for h in hits if (h.start_byte, h.end_byte) not in items]
        if any_ and trailing:
            remote += local[1:]
            local = local[:1]
        # More pattern after an occurrence in another block: what comes before the final
        # `... }` must follow it there (e.g. `VAR = E; return VAR;` inside a branch).
        cut = len(rest)
        while cut > 1 and (rest[cut - 1].kind == "dots" or _closing(rest[cut - 1])):
            cut -= 1
        middle = rest[:cut]
        if remote and any(q.kind == "dots" for q in middle[1:]):
            if not local or not exists:
                return
            remote = []
        # Each other path's occurrence is matched under the bindings so far.
        env_now = env
        extra = list(env.get(SUBS_KEY, ()))
        remote_aligns = []
        for h in remote:
            siblings = [c for c in _children(h.parent) if c.start_byte >= h.start_byte and c.type not in ("{", "}")]
            # A marker atom keeps removals before the dots apart from those at this occurrence.
            marker = _Linked(Atom(p.start, p.end, h.start_byte, h.start_byte, False, False), align)
            got = next(iter(self._seq(middle, siblings, env_now, marker, True, h.parent.end_byte, h.parent)), None)
            if _DEBUG:
                print("REMOTE", h.type, [c.type for c in siblings], [q.type for q in middle], got is not None)
            if got is None:
                if exists or (h.start_byte, h.end_byte) in exempt_hits:
                    continue
                return
            # Each path has its own bindings for what it matched (spatch: one environment
            # per path); only the bindings from before the dots are shared.
            remote_aligns.append((got[0], got[1]))
        if local:
            h = local[0]
            j = next(k for k, t in enumerate(ts) if t.start_byte == h.start_byte and t.end_byte == h.end_byte)
            skipped = [t for t in ts[:j] if t.type not in ("{", "}")]
            span = (skipped[0].start_byte, skipped[-1].end_byte) if skipped else (h.start_byte, h.start_byte)
            atom = Atom(p.start, p.end, span[0], span[1], p.minus, True)
            env2 = dict(env_now)
            if remote_aligns:
                env2[SUBS_KEY] = tuple(extra + remote_aligns)
            yield from self._seq(rest, ts[j:], env2, _Linked(atom, align), allow_rest, list_end, container)
            return
        if not remote_aligns:
            return
        env2 = dict(remote_aligns[0][0])
        env2.pop(SUBS_KEY, None)
        if len(remote_aligns) > 1 or extra:
            env2[SUBS_KEY] = tuple(extra + remote_aligns[1:])
        closing = [t for t in ts if t.type == "}"]
        yield from self._seq(rest[len(middle):], closing, env2, remote_aligns[0][1], allow_rest, list_end,
                             container)

    def _continuation(self, last, container) -> list:
        """Statements that can run after `last` up to the end of the function (for when-checks
        of trailing dots)."""
        out = []
        n = last
        while n is not None and n.parent is not None and n.parent.type != "function_definition":
            sib = n.next_named_sibling
            while sib is not None:
                if sib.type not in ("comment", "}"):
                    out.append(sib)
                sib = sib.next_named_sibling
            n = n.parent
        return out

    def _nest(self, spec, p: PNode, ps, ts, env, align, allow_rest, list_end, container):
        """`<... P ...>`: skip statements like `...`, matching P wherever it occurs in them."""
        stmts_all = [t for t in ts if t.type not in ("{", "}")]
        rest = ps[1:]
        counts = [len(stmts_all)] if not rest or all(_closing(q) or q.kind == "dots" for q in rest) \
            else range(len(stmts_all) + 1)
        for k in counts:
            skipped = stmts_all[:k]
            if not self._when_ok(p, skipped, env):
                continue
            found = []
            if skipped:
                lo, hi = skipped[0].start_byte, skipped[-1].end_byte
                taken: set = set()
                for nest_pattern in spec.nest:
                    sub = Matcher(self.rule, nest_pattern, self.t)
                    spots = set()
                    for m in sub.matches({k: v for k, v in env.items() if k != SUBS_KEY}):
                        if lo <= m.start and m.end <= hi and (m.start, m.end) not in taken:
                            found.append(m)
                            spots.add((m.start, m.end))
                    taken |= spots
            if spec.nest_required and not found:
                continue
            span = (skipped[0].start_byte, skipped[-1].end_byte) if skipped else (list_end, list_end)
            atom = Atom(p.start, p.end, span[0], span[1], p.minus, True)
            env2 = dict(env)
            if found:
                env2[SUBS_KEY] = tuple(list(env.get(SUBS_KEY, ())) + _outermost(found))
            yield from self._seq(rest, ts[k:], env2, _Linked(atom, align), allow_rest, list_end, container)

    # -- function definitions: `T f(PS) { ... }` --------------------------------------

    def _constant_like(self, p: PNode) -> bool:
        if p.kind == "leaf":
            return p.type in ("number_literal", "char_literal", "string_literal", "null") or p.text == "NULL"
        if p.type == "null":
            return True
        if p.kind == "meta":
            mv = self.metavars.get(p.text)
            return mv is not None and mv.kind == "constant"
        return False

    def _boolean_iso(self, p: PNode, t, env: dict, align):
        """standard.iso: `X == NULL` and `X == 0` also match `!X`; `X != NULL` and `X != 0`
        also match a bare `X` used as a test (an if/while/for condition, an operand of
        `&&`, `||`, `!`, `?:`)."""
        left, op, right = p.children
        if not _null_or_zero(right):
            return
        if op.text == "==":
            if t.type != "unary_expression":
                return
            bang = t.child_by_field_name("operator")
            arg = t.child_by_field_name("argument")
            if bang is None or bang.type != "!" or arg is None:
                return
            env2 = self._bind_positions(p, t, env)
            if env2 is None:
                return
            a = _Linked(Atom(op.start, right.end, bang.start_byte, bang.end_byte, op.minus and right.minus), align)
            yield from self._node(left, _strip_parens(arg), env2, a)
            return
        if not _is_test(t):
            return
        env2 = self._bind_positions(p, t, env)
        if env2 is None:
            return
        for env3, a in self._node(left, t, env2, align):
            yield env3, _Linked(Atom(op.start, right.end, t.end_byte, t.end_byte, op.minus and right.minus), a)

    def _function(self, p: PNode, t, env: dict, align):
        pf = {c.field_name: c for c in p.children if c.field_name}
        ptype, pdecl, pbody = pf.get("type"), pf.get("declarator"), pf.get("body")
        ttype = t.child_by_field_name("type")
        tdecl = t.child_by_field_name("declarator")
        tbody = t.child_by_field_name("body")
        if pdecl is None or pbody is None or tdecl is None or tbody is None:
            return
        pstorage = [_pleaves(c) for c in p.children if c.type == "storage_class_specifier"]
        if pstorage:
            tstorage = [self.t.text(c) for c in _children(t) if c.type == "storage_class_specifier"]
            if pstorage != tstorage:
                return
        # `T f(...)` against `void *f(...)`: the stars belong to the return type.
        pstars, pcore = 0, pdecl
        while pcore.kind == "node" and pcore.type == "pointer_declarator":
            pstars += 1
            pcore = pcore.children[-1]
        tstars, tcore = 0, tdecl
        while tcore.type == "pointer_declarator":
            tstars += 1
            tcore = tcore.child_by_field_name("declarator")
        results = [(env, align)]
        any_type = ptype is None or (ptype.kind == "leaf" and ptype.text == ANYTYPE)
        tmv = self.metavars.get(ptype.text) if ptype is not None and ptype.kind == "meta" else None
        if not any_type and tmv is not None and tmv.kind == "type" and ttype is not None and tstars >= pstars:
            full = self.t.text(ttype) + (" " + "*" * (tstars - pstars) if tstars > pstars else "")
            if tmv.constraint is not None and not _constraint_ok(tmv.constraint, full):
                return
            env2 = self._bind(ptype.text, "type", full, normalize_text(full), ttype.start_byte, ttype.end_byte, env)
            results = [(env2, align)] if env2 is not None else []
        elif not any_type:
            if pstars != tstars:
                return
            results = [r for r in self._node(ptype, ttype, env, align)] if ttype is not None else []
        elif pstars and pstars != tstars:
            return
        for env2, align2 in results:
            for env3, align3 in self._node(pcore, tcore, env2, align2):
                yield from self._node(pbody, tbody, env3, align3)

    def _type_meta(self, p: PNode, t, env, align):
        mv = self.metavars.get(p.text)
        text = self.t.text(t)
        if _C_KEYWORD_TYPE_RE.fullmatch(text) is None and " " not in text.strip() \
                and text.strip() not in self.t.type_names():
            # `sizeof(uint32_t)` where the file never declares uint32_t: spatch reads an
            # expression there, not a type.
            return
        if mv is not None and mv.constraint is not None and not _constraint_ok(mv.constraint, text):
            return
        env2 = self._bind(p.text, "type", text, self.t.norm(t), t.start_byte, t.end_byte, env)
        if env2 is None:
            return
        yield env2, _Linked(Atom(p.start, p.end, t.start_byte, t.end_byte, p.minus), align)

    def _when_ok(self, p: PNode, skipped: list, env: dict) -> bool:
        spec = self.dots.get(p.text)
        if spec is None:
            return True
        for clause in spec.whens:
            if clause.op == "!=" and clause.pattern is not None:
                for item in skipped:
                    if self._contains(clause.pattern, item, env):
                        return False
        return True

    def _contains(self, pattern: Pattern, node, env: dict) -> bool:
        sub = Matcher(self.rule, pattern, self.t)
        p = pattern.nodes[0]
        stack = [node]
        while stack:
            n = stack.pop()
            for _ in sub._node(p, n, dict(env), None):
                return True
            if n.type == "preproc_if" and _is_if0(n):
                # spatch does not see the dead branch of `#if 0`.
                alt = n.child_by_field_name("alternative")
                if alt is not None:
                    stack.append(alt)
                continue
            stack.extend(_children(n))
        return False

    # -- metavariables ---------------------------------------------------------

    def _meta(self, p: PNode, t, env: dict, align):
        mv = self.metavars.get(p.text)
        kind = mv.kind if mv is not None else "expression"
        ttype = t.type
        if kind in ("expression",) and ttype not in EXPRESSION_TYPES:
            return
        if kind.endswith("idexpression"):
            if ttype != "identifier":
                return
            if kind != "idexpression" and self.t.is_local(t) != (kind == "local idexpression"):
                return
        if kind == "identifier" and ttype not in IDENTIFIER_TYPES:
            return
        if kind == "constant" and ttype not in CONSTANT_TYPES:
            return
        if kind == "type" and ttype not in TYPE_TYPES:
            return
        if kind == "type" and ttype == "identifier" and (
                self.t.declared_as_variable(t) or self.t.text(t) not in self.t.type_names()):
            # `sizeof(x)`: x is a type only when the file uses it as one (as spatch decides).
            return
        if kind == "statement" and ttype not in STATEMENT_TYPES:
            return
        if kind == "script":
            kind = "expression"
        text = self.t.text(t)
        if mv is not None and mv.constraint is not None and not _constraint_ok(mv.constraint, text):
            return
        if mv is not None and mv.type_text:
            env = self._typed(mv.type_text, t, env)
            if env is None:
                return
        env2 = self._bind(p.text, kind, text, self.t.norm(t), t.start_byte, t.end_byte, env)
        if env2 is None:
            return
        env2 = self._bind_positions(p, t, env2)
        if env2 is None:
            return
        yield env2, _Linked(Atom(p.start, p.end, t.start_byte, t.end_byte, p.minus), align)

    def _typed(self, type_text: str, t, env: dict):
        """Typed expression metavariables (`char *E;`, `T *E;`): the expression's type,
        as far as declarations in the file tell, must be the declared one. An
        expression of unknown type does not match (as in spatch)."""
        actual = self.t.expr_type(t)
        if actual is None and self.t.unknowable(t):
            return None  # nothing spatch reads declares it: no match there either
        if actual is None:
            # spatch would know the type from headers allocfix does not read: the match goes
            # on, marked undecided, and the rule runner refuses it with a clear message.
            env2 = dict(env)
            shown = re.sub(r"[A-Za-z_]\w*", lambda m: env[m.group()].text if m.group() in env and
                           env[m.group()].kind == "type" else m.group(), type_text.replace("|", " or "))
            env2[UNDECIDED_KEY] = env.get(UNDECIDED_KEY, ()) + ((t.start_byte, self.t.text(t), shown),)
            return env2
        if "|" in type_text:
            for alternative in type_text.split("|"):
                got = self._typed(alternative, t, env)
                if got is not None:
                    return got
            return None
        want = _norm_type(type_text)
        metas = [w for w in re.findall(r"[A-Za-z_]\w*", want)
                 if self.metavars.get(w) is not None and self.metavars[w].kind == "type"]
        if not metas:
            return env if want == actual else None
        rx = re.escape(want)
        for m in metas:
            rx = rx.replace(re.escape(m), r"(?P<%s>.+?)" % m, 1)
        got = re.fullmatch(rx, actual)
        if got is None:
            return None
        for m in metas:
            value = got.group(m).strip()
            env = self._bind(m, "type", value, normalize_text(value), None, None, env)
            if env is None:
                return None
        return env

    def _bind(self, name, kind, text, norm, start, end, env):
        old = env.get(name)
        if old is not None:
            return env if old.norm == norm else None
        env2 = dict(env)
        env2[name] = Binding(kind, text, norm, start, end)
        return env2

    def _bind_positions(self, p: PNode, t, env):
        if not p.positions:
            return env
        orig = self.t.to_original(t.start_byte)
        orig_end = self.t.to_original(t.end_byte)
        env2 = dict(env)
        for name in p.positions:
            old = env2.get(name)
            if old is not None:
                if old.orig != orig or orig is None:
                    return None
                continue
            env2[name] = Binding("position", self.t.text(t), "", t.start_byte, t.end_byte, orig, orig_end)
        return env2

    # -- declarations: `T x = E;` matches `const uint8_t *x = E;` ------------------

    def _declaration(self, p: PNode, t, env: dict, align):
        ptype = next((c for c in p.children if c.field_name == "type"), None)
        pdecls = [c for c in p.children if c.field_name == "declarator"]
        tdecls = [c for c in _children(t) if c.type not in (",", ";") and
                  t.field_name_for_child(t.children.index(c)) == "declarator"]
        if ptype is None or len(pdecls) != 1 or not tdecls or (len(tdecls) > 1 and not self._split_ok(p)):
            # Fall back to plain structural matching.
            if [c.type for c in p.children] and len(_children(t)) == len(p.children):
                yield from self._seq(list(p.children), _children(t), env, align, False, t.end_byte)
            return
        if len(tdecls) == 1:
            yield from self._one_declarator(p, ptype, pdecls[0], t, tdecls[0], env, align)
            return
        # `int i, rc;`: the pattern's one declarator matches each of the target's (spatch
        # splits the declaration). Removing the whole pattern removes just that declarator
        # here; the rule runner then takes commas (or the whole declaration) with it.
        for td in tdecls:
            for env2, align2 in self._one_declarator(p, ptype, pdecls[0], t, td, env, align):
                if not p.minus:
                    yield env2, align2
                    continue
                ttype = t.child_by_field_name("type")
                semi_p, semi_t = p.children[-1], _children(t)[-1]
                a = _Linked(Atom(ptype.start, ptype.end, ttype.start_byte, ttype.end_byte, False), align)
                a = _Linked(Atom(pdecls[0].start, pdecls[0].end, td.start_byte, td.end_byte, True), a)
                a = _Linked(Atom(semi_p.start, semi_p.end, semi_t.start_byte, semi_t.end_byte, False), a)
                yield env2, a

    def _split_ok(self, p: PNode) -> bool:
        """Whether a declaration pattern may match one declarator of several: spatch does not
        when code is added right before or after the declaration (it cannot split it)."""
        text = self.pattern.text
        for chunk in self.pattern.plus:
            if chunk.anchor <= p.start and not text[chunk.anchor:p.start].strip():
                return False
            if chunk.anchor >= p.end and not text[p.end:chunk.anchor].strip():
                return False
        return True

    def _one_declarator(self, p: PNode, ptype: PNode, pdecl: PNode, t, tdecl, env: dict, align):
        ttype = t.child_by_field_name("type")
        # Peel pointer declarators off both sides.
        pstars, pcore = _peel(pdecl)
        tstars, tcore = _peel_node(tdecl)
        if ptype.kind == "meta" and self.metavars.get(ptype.text) and self.metavars[ptype.text].kind == "type":
            if tstars < pstars:
                return
            qualifiers = [c for c in _children(t) if c.type == "type_qualifier"]
            type_text = " ".join([self.t.text(q) for q in qualifiers] + [self.t.text(ttype)])
            extra = tstars - pstars
            full = type_text + (" " + "*" * extra if extra else "")
            tmv = self.metavars[ptype.text]
            if tmv.constraint is not None and not _constraint_ok(tmv.constraint, full):
                return
            env2 = self._bind(ptype.text, "type", full, normalize_text(full), ttype.start_byte, ttype.end_byte, env)
            if env2 is None:
                return
            align2 = _Linked(Atom(ptype.start, ptype.end, ttype.start_byte, ttype.end_byte, ptype.minus), align)
        else:
            if tstars != pstars:
                return
            env2, align2 = env, align
            results = list(self._node(ptype, ttype, env2, align2))
            if not results:
                return
            env2, align2 = results[0]
        # Rest of the pattern declarator (init value) against the target's.
        for env3, align3 in self._declarator_core(pcore, tcore, env2, align2):
            semi_p = p.children[-1]
            semi_t = _children(t)[-1]
            if semi_p.kind == "leaf" and semi_p.text == ";" and semi_t.type == ";":
                align3 = _Linked(Atom(semi_p.start, semi_p.end, semi_t.start_byte, semi_t.end_byte,
                                      semi_p.minus), align3)
            yield env3, align3

    def _declarator_core(self, pcore: PNode, tcore, env, align):
        if pcore.kind == "node" and pcore.type == "init_declarator":
            if tcore.type != "init_declarator":
                return
            pname = pcore.children[0]
            pvalue = pcore.children[-1]
            tname_full = tcore.child_by_field_name("declarator")
            _, tname = _peel_node(tname_full)
            _, pname_core = _peel(pname)
            tvalue = tcore.child_by_field_name("value")
            for env2, align2 in self._node(pname_core, tname, env, align):
                eq_p = pcore.children[1]
                eq_t = next(c for c in tcore.children if c.type == "=")
                align2 = _Linked(Atom(eq_p.start, eq_p.end, eq_t.start_byte, eq_t.end_byte, eq_p.minus), align2)
                yield from self._node(pvalue, tvalue, env2, align2)
            return
        if tcore.type == "init_declarator":
            return
        yield from self._node(pcore, tcore, env, align)


SUBS_KEY = "\0subs"
UNDECIDED_KEY = "\0undecided"
_DEBUG = False
STATEMENT_LISTS = frozenset({"compound_statement", "translation_unit"})


_INTEGER_RANKS = {"char": 0, "short": 1, "int": 2, "unsigned int": 3, "long": 4, "unsigned long": 5}


def _norm_type(text: str) -> str:
    text = " ".join(text.replace("*", " * ").split())
    return text.replace("* *", "**").replace("* *", "**")


_C_KEYWORD_TYPE_RE = re.compile(
    r"(?:(?:const|volatile|signed|unsigned|short|long|int|char|float|double|void|_Bool|bool)\s*)+")


def _null_or_zero(p: PNode) -> bool:
    return p.type == "null" or (p.kind == "leaf" and p.text in ("NULL", "0"))


def _strip_parens(n):
    while n.type == "parenthesized_expression":
        inner = [c for c in n.named_children if c.type != "comment"]
        if len(inner) != 1:
            break
        n = inner[0]
    return n


def _is_test(t) -> bool:
    """Whether the expression is used as a truth value (spatch's TestExpression)."""
    child, n = t, t.parent
    while n is not None and n.type == "parenthesized_expression":
        child, n = n, n.parent
    if n is None:
        return False
    if n.type in ("if_statement", "while_statement", "do_statement", "for_statement", "conditional_expression"):
        return n.child_by_field_name("condition") == child
    if n.type == "binary_expression":
        op = n.child_by_field_name("operator")
        return op is not None and op.type in ("&&", "||")
    if n.type == "unary_expression":
        op = n.child_by_field_name("operator")
        return op is not None and op.type == "!"
    return False


def _abstract_stars(d) -> int | None:
    """Stars of an abstract pointer declarator (PNode or tree node); None for others."""
    stars = 0
    while d is not None:
        if d.type != "abstract_pointer_declarator":
            return None
        stars += 1
        kids = [c for c in d.children if c.type not in ("*", "comment")]
        if any(c.type == "type_qualifier" for c in kids):
            return None
        d = kids[0] if kids else None
    return stars


def _after_return(ts: list) -> bool:
    """Whether the statements ts follow a `return` in their block: no path from the code
    before reaches them (a label's code after a return belongs to other paths)."""
    if not ts:
        return False
    before = ts[0].prev_named_sibling
    while before is not None and before.type == "comment":
        before = before.prev_named_sibling
    return before is not None and before.type == "return_statement"


def _is_if0(n) -> bool:
    cond = n.child_by_field_name("condition")
    return cond is not None and cond.text.strip() == b"0"


def _in_if0(node) -> bool:
    """Inside the dead branch of `#if 0`: spatch does not look there."""
    child, n = node, node.parent
    while n is not None:
        if n.type == "preproc_if":
            cond = n.child_by_field_name("condition")
            alt = n.child_by_field_name("alternative")
            if cond is not None and cond.text.strip() == b"0" and child != alt and child != cond:
                return True
        child, n = n, n.parent
    return False


def _pleaves(p: PNode) -> str:
    if not p.children:
        return p.text
    return " ".join(_pleaves(c) for c in p.children)


def _closing(p: PNode) -> bool:
    return p.kind == "leaf" and p.text == "}"


def _header(node):
    """The part of a statement that runs before its sub-statements (for when-checks along a path)."""
    ty = node.type
    if ty in ("if_statement", "while_statement", "switch_statement"):
        return node.child_by_field_name("condition")
    if ty == "for_statement":
        return None
    if ty in ("compound_statement", "labeled_statement", "case_statement", "do_statement"):
        return None
    return node


def _falls_through(stmt) -> bool:
    """False when a branch always leaves (ends in return, goto, break or continue)."""
    if stmt is None:
        return True
    last = stmt
    while last.type == "compound_statement":
        kids = [c for c in last.named_children if c.type != "comment"]
        if not kids:
            return True
        last = kids[-1]
    if last.type == "if_statement":
        alt = last.child_by_field_name("alternative")
        if alt is None:
            return True
        body = alt.named_children[-1] if alt.type == "else_clause" else alt
        return _falls_through(last.child_by_field_name("consequence")) or _falls_through(body)
    return last.type not in ("return_statement", "goto_statement", "break_statement", "continue_statement")


def _function_body(node):
    n = node
    while n is not None and n.type != "function_definition":
        n = n.parent
    return n.child_by_field_name("body") if n is not None else None


def _find_label(body, name: str):
    if body is None:
        return None
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type == "labeled_statement":
            lab = n.child_by_field_name("label")
            if lab is not None and lab.text.decode("utf-8", "surrogateescape") == name:
                return n
        stack.extend(n.named_children)
    return None


def _case_is_default(case) -> bool:
    return case.child_by_field_name("value") is None


def _outermost(matches: list) -> list:
    """Drop matches nested inside another one (spatch would tag their tokens twice)."""
    out = []
    for m in sorted(matches, key=lambda m: (m.start, -m.end)):
        if out and out[-1].start <= m.start and m.end <= out[-1].end:
            continue
        out.append(m)
    return out


def _peel(p: PNode) -> tuple[int, PNode]:
    stars = 0
    while p.kind == "node" and p.type == "pointer_declarator":
        stars += 1
        p = p.children[-1]
    if p.kind == "node" and p.type == "init_declarator":
        inner_stars, inner = _peel(p.children[0])
        if inner_stars:
            return stars + inner_stars, PNode(p.kind, p.type, p.text, (inner,) + p.children[1:], p.start, p.end,
                                              p.positions, p.minus, p.field_name)
    return stars, p


def _peel_node(t) -> tuple[int, object]:
    stars = 0
    while t.type == "pointer_declarator":
        stars += 1
        t = t.child_by_field_name("declarator")
    if t.type == "init_declarator":
        d = t.child_by_field_name("declarator")
        while d.type == "pointer_declarator":
            stars += 1
            d = d.child_by_field_name("declarator")
    return stars, t


def _constraint_ok(c, text: str) -> bool:
    norm = normalize_text(text)
    if c.op == "in":
        return norm in {normalize_text(v) for v in c.values}
    if c.op == "not in":
        return norm not in {normalize_text(v) for v in c.values}
    if c.op == "=~":
        return re.search(c.regex, text) is not None
    if c.op == "!~":
        return re.search(c.regex, text) is None
    return True


_MACRO_NOISE_RE = re.compile(rb'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|/\*.*?\*/|//[^\n]*|\\\r?\n', re.S)
_MACRO_PREFIX = b"int _(){"  # fits in the shortest `#define X ` before a body
_MACRO_SUFFIX = b";}"


def macro_bodies(target: Target) -> list[tuple[int, int]]:
    """(start, end) of every #define body in the file."""
    out = []
    data = target.data
    for ty in ("preproc_def", "preproc_function_def", "ERROR"):
        for d in target.nodes_of_type(ty):
            if ty == "ERROR" and (not d.children or d.children[0].type != "#define"):
                continue
            v = next((c for c in d.children if c.type == "preproc_arg"), None)
            if v is None:
                continue
            # tree-sitter ends the body at a comment inside it: the body is the logical line.
            end = v.start_byte
            while True:
                nl = data.find(b"\n", end)
                if nl == -1:
                    end = len(data)
                    break
                if data[nl - 1:nl] == b"\\" or data[nl - 2:nl] == b"\\\r":
                    end = nl + 1
                    continue
                end = nl - 1 if data[nl - 1:nl] == b"\r" else nl
                break
            if end > v.start_byte:
                out.append((v.start_byte, end))
    return sorted(set(out))


def macro_view(target: Target, bodies: list[tuple[int, int]], parse) -> Target | None:
    """The #define bodies as code spatch matches in them: a text of the file's length that
    is blank except for each body that parses as statements or an expression, wrapped in
    a function of its own at the body's own offsets (so matches and edits refer to the
    file's bytes). parse(bytes) -> tree."""
    data = target.data
    buf = bytearray(b" " * len(data))
    for k, ch in enumerate(data):
        if ch == 10:
            buf[k] = 10
    cursor = 0
    kept = 0
    for vs, ve in bodies:
        if vs - len(_MACRO_PREFIX) < cursor:
            continue

        def blank(m):
            if m.group().startswith((b'"', b"'")):
                return m.group()
            return bytes(10 if c == 10 else 32 for c in m.group())

        body = _MACRO_NOISE_RE.sub(blank, data[vs:ve])
        if not body.strip():
            continue
        alone = parse(_MACRO_PREFIX + body + _MACRO_SUFFIX)
        if alone.root_node.has_error:
            continue  # not code on its own (a type, a fragment): spatch does not match there either
        buf[vs - len(_MACRO_PREFIX):vs] = _MACRO_PREFIX
        buf[vs:ve] = body
        end = ve + len(_MACRO_SUFFIX)
        if end > len(buf):
            buf.extend(b" " * (end - len(buf)))
        buf[ve:end] = _MACRO_SUFFIX
        cursor = end
        kept += 1
    if not kept:
        return None
    view = bytes(buf)
    return Target(view, parse(view), target.to_original)


def find_matches(rule: CompiledRule, target: Target, prebound: dict[str, Binding],
                 near: list[int] | None = None, kinds: tuple[str, ...] | None = None) -> list[Match]:
    """All matches of the rule's alternatives; earlier alternatives win a spot.
    kinds: only alternatives of these pattern kinds (expr, stmts, toplevel)."""
    out: list[Match] = []
    taken: set[tuple[int, int]] = set()
    seen: set = set()
    for pattern in rule.alternatives:
        if kinds is not None and pattern.kind not in kinds:
            continue
        m = Matcher(rule, pattern, target)
        new_spots = set()
        for match in m.matches(prebound, near):
            spot = (match.start, match.end)
            if spot in taken:
                continue
            key = (spot, tuple(sorted((k, b.key()) for k, b in match.bindings.items())))
            if key in seen:
                continue
            seen.add(key)
            new_spots.add(spot)
            out.append(match)
        taken |= new_spots
    return out
