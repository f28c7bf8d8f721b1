"""Rich views for the interactive review: one hunk with its evidence.

The hunk's lines are C-highlighted, with red/green backgrounds for the
removed/added lines; above them, per site: rule, policy id, action, size
and phase evidence, and the chosen error path.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from codemod.findings import FileResult, Finding

_BG = {"-": "on #3a0d0d", "+": "on #0d3a14", " ": ""}


def _site_table(f: Finding) -> Table:
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    where = f"{f.file}:{f.line}:{f.column}"
    t.add_row("site", Text(f"{where}  {f.allocator}() in {f.function or 'file scope'}()"))
    t.add_row("rule", Text(f"{f.rule or '-'}  policy {f.policy}  action {f.action.value}"))
    size = f"{f.size.cls}"
    if f.size.max_bytes is not None:
        size += f", up to {f.size.max_bytes} bytes"
    if f.size.evidence:
        size += f": {f.size.evidence}"
    t.add_row("size", Text(size))
    phase = f.phase.cls
    if f.phase.via:
        phase += f" via {', '.join(f.phase.via)}"
    if f.phase.chain:
        phase += ": " + " -> ".join(f.phase.chain)
    if f.phase.evidence:
        phase += f" ({f.phase.evidence})"
    t.add_row("phase", Text(phase))
    if f.error_path:
        t.add_row("failure", Text(f.error_path))
    return t


def hunk_lines(result: FileResult, hunk) -> Text:
    """The hunk as a C-highlighted, diff-marked block of text."""
    a = result.original.splitlines(keepends=True)
    b = (result.rewritten or b"").splitlines(keepends=True)
    rows: list[tuple[str, bytes]] = []
    for tag, a1, a2, b1, b2 in hunk.opcodes:
        if tag == "equal":
            rows += [(" ", x) for x in a[a1:a2]]
            continue
        if tag in ("replace", "delete"):
            rows += [("-", x) for x in a[a1:a2]]
        if tag in ("replace", "insert"):
            rows += [("+", x) for x in b[b1:b2]]
    code = "".join(x.decode("utf-8", "replace").rstrip("\r\n") + "\n" for _, x in rows)
    highlighted = Syntax(code, "c", theme="ansi_dark", background_color="default").highlight(code)
    out = Text()
    for (mark, _), line in zip(rows, highlighted.split("\n", allow_blank=True)):
        row = Text(mark + " ", style="bold red" if mark == "-" else "bold green" if mark == "+" else "dim")
        row.append_text(line)
        if _BG[mark]:
            row.stylize(_BG[mark])
        out.append_text(row)
        out.append("\n")
    return out


def print_hunk(console: Console, result: FileResult, hunk, n: int, total: int) -> None:
    title = f"{hunk.file}  hunk {hunk.index + 1}, line {hunk.old_line}  ({n} of {total})"
    parts = [_site_table(f) for f in hunk.findings] or [Text("supporting change", style="italic")]
    if len(hunk.findings) == 1 and hunk.findings[0].reason:
        parts.append(Text(hunk.findings[0].reason, style="dim"))
    parts.append(Text(""))
    parts.append(hunk_lines(result, hunk))
    console.print(Panel(Group(*parts), title=Text(title), title_align="left", border_style="blue"),
                  soft_wrap=False)


def print_review_summary(console: Console, outcome) -> None:
    bits = [f"{outcome.accepted} accepted", f"{outcome.edited} edited", f"{outcome.skipped} skipped"]
    if outcome.skipped_always:
        bits.append(f"{outcome.skipped_always} skipped always")
    if outcome.known:
        bits.append(f"{outcome.known} decided earlier")
    console.print("allocfix review: " + ", ".join(bits) + (" (quit early)" if outcome.quit else ""),
                  highlight=False)
    if outcome.stale:
        console.print(f"{len(outcome.stale)} stale decision(s) dropped (change no longer proposed): "
                      + ", ".join(outcome.stale[:5]), highlight=False)
    console.print(f"decisions saved in {outcome.path}; `allocfix PATH` applies the accepted hunks, "
                  "`allocfix --series DIR PATH` mails them", highlight=False)
