"""Allocation sites: calls of an aborting allocator (GUIDE §1 table)."""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

from codemod.cparse import ParsedFile, calls_named, enclosing_function, function_name, iter_errors
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
    for call, fn in calls_named(parsed, frozenset(allocators)):
        alloc = allocators[data[fn.start_byte : fn.end_byte].decode("utf-8", "replace")]
        sites.append(Site(call, fn, alloc, enclosing_function(call)))
    return sites


def site_function_name(site: Site, parsed: ParsedFile) -> str | None:
    return function_name(site.function, parsed.source.data) if site.function is not None else None


def function_has_errors(fn: tree_sitter.Node | None) -> bool:
    return fn is not None and fn.has_error


__all__ = ["Site", "find_sites", "site_function_name", "function_has_errors", "iter_errors"]
