"""Rich terminal views: coloured diffs with each hunk's rule and reason."""

from __future__ import annotations

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from codemod.findings import Action, FileResult
from codemod.render.diff import hunks, render_hunk
from codemod.source import LineIndex


def hunk_notes(result: FileResult, old_start: int, old_count: int) -> list[str]:
    """Rationale of the edits that fall in (or just after) a hunk's old lines."""
    index = LineIndex.of(result.original)
    lo, hi = old_start, old_start + max(old_count, 1)
    notes: list[str] = []
    for start, end, rule, note in result.hunks_info:
        line, _ = index.line_col(start)
        if lo <= line <= hi and note and f"[{rule}] {note}" not in notes:
            notes.append(f"[{rule}] {note}")
    return notes


def print_dry_run(console: Console, results: list[FileResult]) -> None:
    for r in results:
        if not r.changed:
            continue
        console.rule(Text(r.display, style="bold"))
        for h in hunks(r.original, r.rewritten):
            for note in hunk_notes(r, h.old_start, h.old_count):
                console.print(Text(note, style="cyan"))
            body = render_hunk(h).decode("utf-8", "replace")
            console.print(Syntax(body, "diff", theme="ansi_dark", background_color="default"))


def print_summary(console: Console, results: list[FileResult], applied: bool) -> None:
    counts = {a: 0 for a in Action}
    for r in results:
        for f in r.findings:
            counts[f.action] += 1
    changed = sum(1 for r in results if r.changed)
    verb = "changed" if applied else "would change"
    console.print(
        f"allocfix: {len(results)} files scanned, {verb} {changed}; sites: "
        f"{counts[Action.REWRITE]} rewrite, {counts[Action.STUB]} stub, {counts[Action.REPORT]} report, "
        f"{counts[Action.NONE]} need nothing",
        style="bold" if console.is_terminal else None, highlight=False,
    )
