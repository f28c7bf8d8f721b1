"""Error classes with positions and the exit codes the CLI maps them to.

Exit codes (GUIDE §2): 0 success, 1 findings under --check, 2 usage or
rule-file error, 3 input error.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3


@dataclass(frozen=True)
class Position:
    """A 1-based line:col position in a named file, for messages only."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class AllocfixError(Exception):
    """Base class: a message, an optional position and an exit code."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, position: Position | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.position = position
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.position}: " if self.position else ""
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(AllocfixError):
    exit_code = EXIT_USAGE


class RuleError(AllocfixError):
    """A malformed or unsupported rule file."""

    exit_code = EXIT_USAGE


class InputError(AllocfixError):
    """An input path that cannot be read, decoded or parsed."""

    exit_code = EXIT_INPUT
