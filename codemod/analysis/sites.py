"""Allocation sites: calls of an aborting allocator (GUIDE §1 table)."""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

from codemod.cparse import ParsedFile, enclosing_function, function_name, iter_errors
from codemod.rulesdata import Allocator, load_allocators


@dataclass(frozen=True)
class Site:
    call: tree_sitter.Node  # the call_expression
    name_node: tree_sitter.Node  # the allocator identifier
    allocator: Allocator
    function: tree_sitter.Node | None  # enclosing function_definition

    @property
    def offset(self) -> int:
        return self.name_node.start_byte


def find_sites(parsed: ParsedFile, allocators: dict[str, Allocator] | None = None) -> list[Site]:
    """Every call of an aborting allocator in the file, in source order."""
    allocators = allocators or load_allocators()
    data = parsed.source.data
    if not any(name.encode() in data for name in allocators):
        return []
    sites: list[Site] = []
    cursor = parsed.tree.walk()
    # Iterative pre-order walk; tree-sitter cursors are much faster than children lists.
    visited_children = False
    while True:
        node = cursor.node
        if not visited_children:
            if node.type == "call_expression":
                fn = node.child_by_field_name("function")
                if fn is not None and fn.type == "identifier":
                    name = data[fn.start_byte : fn.end_byte].decode("utf-8", "replace")
                    alloc = allocators.get(name)
                    if alloc is not None:
                        sites.append(Site(node, fn, alloc, enclosing_function(node)))
            if cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
            continue
        if not cursor.goto_parent():
            break
        visited_children = True
    return sites


def site_function_name(site: Site, parsed: ParsedFile) -> str | None:
    return function_name(site.function, parsed.source.data) if site.function is not None else None


def function_has_errors(fn: tree_sitter.Node | None) -> bool:
    return fn is not None and fn.has_error


__all__ = ["Site", "find_sites", "site_function_name", "function_has_errors", "iter_errors"]
