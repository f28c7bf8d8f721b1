"""Values that flow from the engine to the printers.

A Finding is one allocation site and what allocfix decided about it
(GUIDE §3). A FileResult is everything the engine has to say about one
file; the runner collects them, printers render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Action(str, Enum):
    REWRITE = "rewrite"  # complete, compilable fix proposed
    STUB = "stub"  # fix proposed, a human must finish the failure path
    REPORT = "report"  # finding without a rewrite
    NONE = "none"  # nothing to do


@dataclass(frozen=True)
class SizeInfo:
    cls: str  # large | small | unknown
    max_bytes: int | None
    evidence: str

    def to_json(self) -> dict:
        return {"class": self.cls, "max_bytes": self.max_bytes, "evidence": self.evidence}


@dataclass(frozen=True)
class PhaseInfo:
    cls: str  # runtime | startup | both | unknown
    via: tuple[str, ...] = ()
    chain: tuple[str, ...] = ()
    evidence: str = ""

    def to_json(self) -> dict:
        return {"class": self.cls, "via": list(self.via), "chain": list(self.chain)}


@dataclass
class Finding:
    file: str  # display path
    offset: int  # byte offset of the allocator's name
    line: int
    column: int
    function: str | None
    allocator: str
    policy: str
    rule: str
    size: SizeInfo
    phase: PhaseInfo
    action: Action
    reason: str
    # The error path chosen for a rewrite (e.g. "return -ENOMEM"), for explain/review.
    error_path: str | None = None

    def to_json(self) -> dict:
        out = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "function": self.function,
            "allocator": self.allocator,
            "policy": self.policy,
            "rule": self.rule,
            "size": self.size.to_json(),
            "phase": self.phase.to_json(),
            "action": self.action.value,
            "reason": self.reason,
        }
        if self.error_path is not None:
            out["error_path"] = self.error_path
        return out

    @property
    def needs_action(self) -> bool:
        return self.action is not Action.NONE


class Status(str, Enum):
    OK = "ok"  # scanned; may or may not have changes
    SKIPPED = "skipped"  # not C text (binary, ...), said why
    FAILED = "failed"  # could not be processed, said why


@dataclass
class FileResult:
    """What the engine made of one file. Never an exception."""

    path: str
    display: str
    status: Status
    original: bytes = b""
    rewritten: bytes | None = None  # None: no change proposed
    findings: list[Finding] = field(default_factory=list)
    # Rationale per changed region: (start offset in original, end, rule, reason)
    hunks_info: list[tuple[int, int, str, str]] = field(default_factory=list)
    message: str = ""  # for SKIPPED / FAILED: position and reason
    parse_errors: int = 0
    sites_in_error_functions: int = 0
    sites: int = 0
    dropped: list[str] = field(default_factory=list)  # rewrites refused by verification
    # Other files the result depends on, checked on a cache hit (runner._siblings_unchanged):
    # per directory whose files size analysis read (analysis/siblings.py), its stat key and
    # the answers it gave; and per non-header file read through an #include, its hash.
    sibling_keys: tuple = ()

    @property
    def changed(self) -> bool:
        return self.rewritten is not None and self.rewritten != self.original
