"""The analysis API rule scripts see as `allocfix`.

Built-in policy rules are ordinary rule files: they ask this API what the
analysis knows about a position (size, phase, error convention, plan) and
turn the answer into metavariable values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A position metavariable's value, shaped like Coccinelle's."""

    file: str
    line: int
    column: int  # 0-based, as Coccinelle gives it
    line_end: int
    column_end: int
    current_element: str
    offset: int  # byte offset in the original file

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column + 1}"


class AllocfixAPI:
    def __init__(self, context) -> None:
        self._ctx = context
        self._group = ""

    def enter_group(self, label: str) -> None:
        """Called by the rule runner before each rule file's rules run."""
        self._group = label

    @staticmethod
    def _offset(p) -> int:
        if isinstance(p, (list, tuple)):
            if not p:
                raise ValueError("empty position")
            p = p[0]
        if isinstance(p, Location):
            return p.offset
        if isinstance(p, int):
            return p
        raise TypeError(f"expected a position, got {type(p).__name__}")

    def site(self, p):
        """The plan for the allocation at position p (the allocator's name)."""
        offset = self._offset(p)
        plan = self._ctx.plan_at(offset)
        if plan is not None:
            self._ctx.inspected_by.setdefault(plan.offset, self._group)
        if plan is None:
            raise LookupError(f"no allocation site at {p}")
        return plan

    def size(self, p):
        return self.site(p).size

    def phase(self, p):
        return self.site(p).phase

    def error_path(self, p):
        return self.site(p).convention
