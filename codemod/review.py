"""Hunk-by-hunk review, the review file, and the accepted subset of a run.

A *hunk* is one hunk of the unified diff allocfix shows for a file
(three lines of context, so nearby edits form one hunk). Reviewing means
deciding, per hunk: accept, skip, skip always, or edit. Decisions are
kept in a review file so a re-run does not ask again, and `--series` and
apply use only the accepted hunks while that file exists.

The review file
---------------
`<tree>/.allocfix/review.json` (tree = the nearest directory at or above
the scanned paths with a MAINTAINERS file or a .git; `--review-file`
overrides). UTF-8 JSON, written atomically after every decision:

    {
      "format": "allocfix-review", "version": 1,
      "files": {"hw/misc/mini-dma.c": "sha256:<hex of the file's bytes when reviewed>"},
      "hunks": {
        "<key>": {"decision": "accept" | "skip" | "edit",
                  "file": "hw/misc/mini-dma.c", "function": "mini_dma_realize",
                  "allocator": "g_new0", "rule": "large-alloc", "policy": "R5",
                  "line": 152,                    # where it was, for people only
                  "replacement": "...",           # "edit" only: the hunk's new lines
                  "encoding": "utf-8" | "latin-1"}# how "replacement" maps to bytes
      },
      "skip_always": [{"rule": "large-alloc", "function": "mini_board_init"}]
    }

Keys. A hunk's key is
`<file>::<function>::<allocator>::<digest>#<n>`: the tree-relative path,
the function and allocator of the sites it changes ("-" for a hunk that
only adds an #include), a 12-digit SHA-1 of the removed and added lines
with whitespace normalised (context lines excluded), and the occurrence
index among hunks of that file with the same first three parts. No line
numbers: an unrelated edit elsewhere in the file (or inside the context
lines) leaves every key unchanged. A key no longer proposed in a file that
was scanned is *stale*: reported, and dropped at the next interactive save.
(If an unrelated edit lands within three lines of two proposals so that
their hunks merge, the merged hunk has a new key and is asked again.)

Skip always. `s` records {"rule", "function"}: every hunk of that rule
whose sites are all in a function of that name, in any file, is skipped
without asking, now and in later runs (static functions of the same name
in different files share the entry: it names a kind of site, not a place).

Hashes. `files` records each reviewed file's bytes. Apply and `--series`
refuse to use decisions for a file whose bytes changed since (the
decisions might no longer mean what the reviewer saw); re-running
`--interactive` shows only what is new and records the new bytes.

Partial application. A file's text is re-derived from its original and
the accepted subset: an accepted hunk takes its new lines (or the edited
ones), any other hunk keeps its old lines. A hunk that adds `#include`
lines another accepted hunk needs (qapi/error.h for `error_setg` and
friends; any other header whenever some hunk of the file is accepted)
contributes those lines even when it is not accepted itself, so a
partial result still compiles. With a macro profile the result is
re-parsed: a file whose partial result has more syntax errors than its
original is left out and reported.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from codemod.errors import InputError
from codemod.findings import Action, FileResult, Finding, Status

FORMAT = "allocfix-review"
VERSION = 1
REVIEW_DIR = ".allocfix"
REVIEW_NAME = "review.json"
CONTEXT = 3  # as the diffs allocfix prints

_INCLUDE = re.compile(rb'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
# What qapi/error.h declares that a rewrite uses.
_ERROR_API = re.compile(rb"\berror_(setg|setg_errno|propagate|prepend|append_hint|free)\b|\bError\s*\*|&error_")

DECISIONS = ("accept", "skip", "edit")


# ---------------------------------------------------------------- hunks


@dataclass(frozen=True)
class ReviewHunk:
    """One diff hunk of one file, with the sites it changes."""

    file: str  # tree-relative, "/"-separated
    index: int  # position among the file's hunks
    i1: int  # old lines [i1, i2), 0-based
    i2: int
    j1: int  # new lines [j1, j2)
    j2: int
    opcodes: tuple[tuple[str, int, int, int, int], ...]
    findings: tuple[Finding, ...]
    rule: str
    key: str
    includes: tuple[str, ...]  # headers its added lines #include

    @property
    def function(self) -> str | None:
        names = sorted({f.function for f in self.findings if f.function})
        return ",".join(names) if names else None

    @property
    def allocator(self) -> str | None:
        names = sorted({f.allocator for f in self.findings})
        return ",".join(names) if names else None

    @property
    def supporting(self) -> bool:
        """Only adds #include lines (and blank lines): never asked about."""
        return not self.findings and bool(self.includes)

    @property
    def old_line(self) -> int:
        return self.i1 + 1


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _norm(line: bytes) -> bytes:
    return b" ".join(line.split())


def _digest(removed: list[bytes], added: list[bytes]) -> str:
    h = hashlib.sha1()
    for tag, group in ((b"-", removed), (b"+", added)):
        for line in group:
            n = _norm(line)
            if n:
                h.update(tag + n + b"\n")
    return h.hexdigest()[:12]


def _group_rule(result: FileResult, findings: list[Finding], lo: int, hi: int, original: bytes) -> str:
    rules = sorted({f.rule for f in findings if f.rule})
    if rules:
        return ",".join(rules)
    starts = [0]
    for line in _lines(original):
        starts.append(starts[-1] + len(line))
    for start, _end, rule, _note in result.hunks_info:
        if starts[min(lo, len(starts) - 1)] <= start <= starts[min(hi, len(starts) - 1)]:
            return rule.split(":", 1)[0]
    return ""


def file_hunks(result: FileResult, rel: str) -> list[ReviewHunk]:
    """The diff hunks of one changed file, keyed (see the module doc)."""
    if not result.changed:
        return []
    a, b = _lines(result.original), _lines(result.rewritten or b"")
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    acting = [f for f in result.findings if f.action in (Action.REWRITE, Action.STUB)]
    out: list[ReviewHunk] = []
    seen: dict[str, int] = {}
    for n, group in enumerate(matcher.get_grouped_opcodes(CONTEXT)):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        removed = [x for t, a1, a2, _, _ in group if t in ("replace", "delete") for x in a[a1:a2]]
        added = [x for t, _, _, b1, b2 in group if t in ("replace", "insert") for x in b[b1:b2]]
        # A site belongs to the hunk whose changed old lines hold its allocator.
        changed_old = {ln for t, a1, a2, _, _ in group if t != "equal" for ln in range(a1 + 1, a2 + 1)}
        findings = tuple(f for f in acting if f.line in changed_old)
        includes = tuple(m.group(1).decode("utf-8", "replace") for x in added if (m := _INCLUDE.match(x)))
        probe = ReviewHunk(rel, n, i1, i2, j1, j2, tuple(group), findings, "", "", includes)
        base = f"{rel}::{probe.function or '-'}::{probe.allocator or '-'}::{_digest(removed, added)}"
        occ = seen.get(base, 0)
        seen[base] = occ + 1
        rule = _group_rule(result, list(findings), i1, i2, result.original)
        out.append(dataclasses.replace(probe, rule=rule, key=f"{base}#{occ}"))
    return out


# ---------------------------------------------------------------- review file


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ReviewFile:
    path: Path
    files: dict[str, str] = field(default_factory=dict)
    hunks: dict[str, dict] = field(default_factory=dict)
    skip_always: list[dict] = field(default_factory=list)
    exists: bool = False

    @classmethod
    def load(cls, path: Path) -> ReviewFile:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read the review file ({exc.strerror})") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}",
                             hint="fix or delete the review file, then re-run --interactive") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(f"{path}:1:1: not an allocfix review file (\"format\": {FORMAT!r} missing)")
        if doc.get("version") != VERSION:
            raise InputError(f"{path}:1:1: review file version {doc.get('version')!r}; this allocfix reads {VERSION}")
        hunks = doc.get("hunks") or {}
        for key, entry in hunks.items():
            if not isinstance(entry, dict) or entry.get("decision") not in DECISIONS:
                raise InputError(f"{path}:1:1: entry {key!r}: decision must be one of {', '.join(DECISIONS)}")
        return cls(path, dict(doc.get("files") or {}), dict(hunks), list(doc.get("skip_always") or []), True)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "files": dict(sorted(self.files.items())),
            "hunks": dict(sorted(self.hunks.items())),
            "skip_always": self.skip_always,
        }

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8")
        from codemod.apply import write_atomically

        write_atomically(str(self.path), data)
        self.exists = True

    def always_skipped(self, hunk: ReviewHunk) -> bool:
        if not hunk.findings:
            return False
        for entry in self.skip_always:
            if entry.get("rule") and entry.get("rule") not in hunk.rule.split(","):
                continue
            if all(f.function == entry.get("function") for f in hunk.findings):
                return True
        return False

    def decision(self, hunk: ReviewHunk) -> str | None:
        entry = self.hunks.get(hunk.key)
        if entry is not None:
            return entry["decision"]
        if self.always_skipped(hunk):
            return "skip"
        return None

    def record(self, hunk: ReviewHunk, decision: str, replacement: bytes | None = None) -> None:
        entry = {
            "decision": decision,
            "file": hunk.file,
            "function": hunk.function,
            "allocator": hunk.allocator,
            "rule": hunk.rule,
            "policy": ",".join(sorted({f.policy for f in hunk.findings})) or None,
            "line": hunk.old_line,
        }
        if replacement is not None:
            try:
                entry["replacement"], entry["encoding"] = replacement.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                entry["replacement"], entry["encoding"] = replacement.decode("latin-1"), "latin-1"
        self.hunks[hunk.key] = entry

    def replacement(self, hunk: ReviewHunk) -> bytes | None:
        entry = self.hunks.get(hunk.key) or {}
        if entry.get("decision") != "edit" or "replacement" not in entry:
            return None
        return entry["replacement"].encode(entry.get("encoding", "utf-8"))


def default_review_path(paths: list[str | Path]) -> Path:
    from codemod.discover import find_tree_root

    return find_tree_root([Path(p) for p in paths]) / REVIEW_DIR / REVIEW_NAME


def tree_root_for(paths: list[str | Path]) -> Path:
    from codemod.discover import find_tree_root

    return find_tree_root([Path(p) for p in paths])


def rel_path(result: FileResult, tree_root: Path) -> str:
    from codemod.series import tree_relative

    return tree_relative(result, tree_root)


# ---------------------------------------------------------------- selection


@dataclass
class FileSelection:
    rel: str
    result: FileResult  # with rewritten = the accepted subset only
    accepted: int
    skipped: int
    unreviewed: int


@dataclass
class Selection:
    """What a run may write or mail once the review file is honoured."""

    files: list[FileSelection] = field(default_factory=list)
    changed_since_review: list[str] = field(default_factory=list)  # tree-relative paths
    stale: list[str] = field(default_factory=list)  # keys no longer proposed
    invalid: list[str] = field(default_factory=list)  # messages: partial result does not parse
    review_used: bool = False

    @property
    def results(self) -> list[FileResult]:
        return [f.result for f in self.files]

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def unreviewed(self) -> int:
        return sum(f.unreviewed for f in self.files)

    def notes(self) -> list[str]:
        out = []
        if self.review_used:
            skipped = sum(f.skipped for f in self.files)
            out.append(f"review file: {self.accepted} accepted, {skipped} skipped, "
                       f"{self.unreviewed} not reviewed (not used; run --interactive)")
        if self.stale:
            out.append(f"{len(self.stale)} stale review entr{'ies' if len(self.stale) != 1 else 'y'} "
                       "(no longer proposed): " + ", ".join(self.stale[:5]) + (" ..." if len(self.stale) > 5 else ""))
        out += self.invalid
        return out


def needed_headers(accepted: list[ReviewHunk], lines_of) -> set[str]:
    """Headers the accepted hunks need: qapi/error.h when they call the
    Error API; None-specific headers are handled by the caller."""
    need: set[str] = set()
    for h in accepted:
        if any(_ERROR_API.search(x) for x in lines_of(h)):
            need.add("qapi/error.h")
    return need


def rebuild(original: bytes, rewritten: bytes, hunks: list[ReviewHunk], chosen: dict[int, str],
            replacements: dict[int, bytes] | None = None) -> bytes:
    """The file's text with only some hunks applied.

    `chosen` maps a hunk index to "full" (its new lines), "edit" (the
    bytes in `replacements`) or "includes" (only its inserted #include
    lines); hunks not in `chosen` keep their old lines."""
    a, b = _lines(original), _lines(rewritten)
    replacements = replacements or {}
    out: list[bytes] = []
    pos = 0
    for h in hunks:
        out += a[pos:h.i1]
        how = chosen.get(h.index)
        if how == "full":
            out += b[h.j1:h.j2]
        elif how == "edit":
            out.append(replacements[h.index])
        elif how == "includes":
            for tag, a1, a2, b1, b2 in h.opcodes:
                ins = b[b1:b2]
                only_includes = ins and all(_INCLUDE.match(x) or not x.strip() for x in ins)
                if tag == "insert" and only_includes and any(_INCLUDE.match(x) for x in ins):
                    out += ins
                else:
                    out += a[a1:a2]
        else:
            out += a[h.i1:h.i2]
        pos = h.i2
    out += a[pos:]
    return b"".join(out)


def derive(result: FileResult, hunks: list[ReviewHunk], accepted: list[ReviewHunk],
           replacements: dict[int, bytes] | None = None) -> FileResult:
    """`result` with only the `accepted` hunks applied (the edited text
    for those in `replacements`), plus the #include lines they need, and
    only their sites among the findings that act."""
    replacements = replacements or {}
    b = _lines(result.rewritten or b"")
    chosen = {h.index: ("edit" if h.index in replacements else "full") for h in accepted}

    def lines_of(h: ReviewHunk) -> list[bytes]:
        if h.index in replacements:
            return _lines(replacements[h.index])
        return b[h.j1:h.j2]

    need = needed_headers(accepted, lines_of)
    for h in hunks:
        if h.index in chosen or not h.includes or not accepted:
            continue
        if any(inc in need or inc != "qapi/error.h" for inc in h.includes):
            chosen[h.index] = "includes"
    new = rebuild(result.original, result.rewritten or result.original, hunks, chosen, replacements)
    kept_lines = {ln for h in accepted for ln in range(h.i1 + 1, h.i2 + 1)}
    findings = [f for f in result.findings
                if f.action not in (Action.REWRITE, Action.STUB) or f.line in kept_lines]
    return dataclasses.replace(result, rewritten=new if new != result.original else None, findings=findings)


def without_hunks(result: FileResult, rel: str, dropped: set[int]) -> FileResult:
    """`result` minus the hunks whose index is in `dropped` (keeping the
    #include lines the remaining ones need)."""
    hunks = file_hunks(result, rel)
    return derive(result, hunks, [h for h in hunks if h.index not in dropped and not h.supporting])


def _select_file(result: FileResult, rel: str, review: ReviewFile) -> tuple[FileSelection, list[str]]:
    hunks = file_hunks(result, rel)
    replacements: dict[int, bytes] = {}
    accepted_h: list[ReviewHunk] = []
    skipped = unreviewed = 0
    for h in hunks:
        if h.supporting:
            continue
        d = review.decision(h)
        if d in ("accept", "edit"):
            rep = review.replacement(h) if d == "edit" else None
            if rep is not None:
                replacements[h.index] = rep
            accepted_h.append(h)
        elif d == "skip":
            skipped += 1
        else:
            unreviewed += 1
    sub = derive(result, hunks, accepted_h, replacements)
    live = {h.key for h in hunks}
    stale = [k for k, e in review.hunks.items() if e.get("file") == rel and k not in live]
    return FileSelection(rel, sub, len(accepted_h), skipped, unreviewed), stale


def select_accepted(results: list[FileResult], review: ReviewFile | None, tree_root: Path,
                    profile=None) -> Selection:
    """The results restricted to what the review file accepts.

    Without a review file (None or not on disk) every proposed change is
    selected unchanged. With one, each file's rewritten text is re-derived
    from its accepted hunks (see the module doc); files whose bytes differ
    from those recorded at review time are listed in
    `changed_since_review` and their changes are not selected."""
    sel = Selection()
    if review is None or not review.exists:
        for r in results:
            if r.status is Status.OK and r.changed:
                sel.files.append(FileSelection(rel_path(r, tree_root), r, len(file_hunks(r, r.display)), 0, 0))
        return sel
    sel.review_used = True
    for r in results:
        if r.status is not Status.OK:
            continue
        rel = rel_path(r, tree_root)
        recorded = review.files.get(rel)
        if recorded is not None and recorded != sha256(r.original):
            if r.changed:
                sel.changed_since_review.append(rel)
            continue
        if not r.changed:
            sel.stale += [k for k, e in review.hunks.items() if e.get("file") == rel]
            continue
        fs, stale = _select_file(r, rel, review)
        sel.stale += stale
        if fs.result.changed and profile is not None:
            problem = _parse_regression(r.original, fs.result.rewritten, profile)
            if problem:
                sel.invalid.append(f"{r.display}:1:1: the accepted hunks alone {problem}; file left out "
                                   "(accept the hunks it depends on, or edit)")
                continue
        sel.files.append(fs)
    return sel


def _parse_regression(old: bytes, new: bytes, profile) -> str | None:
    from codemod.cparse import iter_errors, parse_bytes

    def errors(data: bytes) -> int:
        return sum(1 for _ in iter_errors(parse_bytes(data, profile)[1].root_node))

    if errors(new) > errors(old):
        return "do not parse cleanly"
    return None


def accepted_results(results: list[FileResult], paths: list[str], review_file: str | None = None,
                     profile=None) -> tuple[list[FileResult], list[str]]:
    """For --series and apply: the results to use and notes to print.

    Raises InputError (exit 3) when a file changed since it was reviewed."""
    tree_root = tree_root_for(paths)
    path = Path(review_file) if review_file else tree_root / REVIEW_DIR / REVIEW_NAME
    review = ReviewFile.load(path)
    sel = select_accepted(results, review, tree_root, profile)
    if sel.changed_since_review:
        names = ", ".join(sel.changed_since_review[:5]) + (" ..." if len(sel.changed_since_review) > 5 else "")
        raise InputError(f"{names}: changed since the review recorded in {path}; nothing written",
                         hint="re-run allocfix --interactive to confirm the decisions for the new text")
    return [r for r in sel.results if r.changed], sel.notes()


# ---------------------------------------------------------------- interactive


@dataclass
class ReviewOutcome:
    asked: int = 0
    accepted: int = 0
    edited: int = 0
    skipped: int = 0
    skipped_always: int = 0
    known: int = 0  # decided in an earlier run
    quit: bool = False
    stale: list[str] = field(default_factory=list)
    path: Path | None = None


HELP = """y - accept this change
n - skip it (ask no more about this hunk)
s - skip always: this rule in this function, in every file, now and later
e - edit the proposed lines in $EDITOR, then accept the edited text
q - quit; decisions made so far are kept
? - this help"""


def edit_in_editor(text: bytes, editor: str | None = None, suffix: str = ".c") -> bytes | None:
    """Open `text` in $VISUAL/$EDITOR; the edited bytes, or None when the
    editor failed. Bytes in, bytes out: encodings and CRLF untouched."""
    cmd = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    fd, tmp = tempfile.mkstemp(prefix="allocfix-hunk-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        proc = subprocess.run([*shlex.split(cmd), tmp])
        if proc.returncode != 0:
            return None
        with open(tmp, "rb") as f:
            return f.read()
    finally:
        os.unlink(tmp)


def run_interactive(console, results: list[FileResult], paths: list[str], review_file: str | None = None,
                    *, input_fn=None, editor: str | None = None, profile=None) -> ReviewOutcome:
    """Ask about every proposed hunk not decided before; save after each
    answer. `input_fn(prompt) -> str` reads an answer (default: the
    console); EOF counts as quit."""
    from codemod.render.review import print_hunk, print_review_summary

    tree_root = tree_root_for(paths)
    path = Path(review_file) if review_file else tree_root / REVIEW_DIR / REVIEW_NAME
    review = ReviewFile.load(path)
    outcome = ReviewOutcome(path=path)
    ask = input_fn or (lambda prompt: console.input(prompt, markup=False))
    work = []
    for r in results:
        if r.status is not Status.OK:
            continue
        rel = rel_path(r, tree_root)
        hunks = file_hunks(r, rel)
        live = {h.key for h in hunks}
        outcome.stale += [k for k, e in review.hunks.items() if e.get("file") == rel and k not in live]
        work.append((r, rel, hunks))
    for key in outcome.stale:
        review.hunks.pop(key, None)
    touched = bool(outcome.stale)
    # Re-running the review confirms earlier decisions for a file's current
    # bytes: record them for files with nothing left to ask.
    for r, rel, hunks in work:
        asked = [h for h in hunks if not h.supporting]
        if asked and all(review.decision(h) is not None for h in asked) and review.files.get(rel) != sha256(r.original):
            review.files[rel] = sha256(r.original)
            touched = True
    pending = [(r, rel, h) for r, rel, hunks in work for h in hunks
               if not h.supporting and review.decision(h) is None]
    outcome.known = sum(1 for _, _, hunks in work for h in hunks if not h.supporting) - len(pending)
    if touched:
        review.save()
    total = len(pending)
    for n, (r, rel, h) in enumerate(pending, 1):
        if review.decision(h) is not None:  # a skip-always given meanwhile
            outcome.skipped_always += 1
            continue
        review.files[rel] = sha256(r.original)
        print_hunk(console, r, h, n, total)
        while True:
            try:
                answer = ask(f"[{n}/{total}] Accept this change [y,n,s,e,q,?]? ").strip().lower()
            except EOFError:
                answer = "q"
            if answer in ("y", "yes"):
                review.record(h, "accept")
                outcome.accepted += 1
            elif answer in ("n", "no"):
                review.record(h, "skip")
                outcome.skipped += 1
            elif answer == "s":
                entry = {"rule": h.rule.split(",")[0], "function": h.function}
                if h.function is None or "," in h.function:
                    console.print("This hunk changes sites in several functions; skip-always needs one. "
                                  "Skipping this hunk only.")
                    review.record(h, "skip")
                    outcome.skipped += 1
                else:
                    if entry not in review.skip_always:
                        review.skip_always.append(entry)
                    outcome.skipped_always += 1
                    console.print(f"Skipping {entry['rule']} in {entry['function']}() from now on.")
            elif answer == "e":
                b = _lines(r.rewritten or b"")
                edited = edit_in_editor(b"".join(b[h.j1:h.j2]), editor, suffix=Path(rel).suffix or ".c")
                if edited is None:
                    console.print("The editor failed; the hunk is unchanged. Choose again.")
                    continue
                review.record(h, "edit", edited)
                if profile is not None:
                    sel = select_accepted([r], review, tree_root, profile)
                    if sel.invalid:
                        console.print("The edited hunk does not parse; choose again (e to re-edit).")
                        del review.hunks[h.key]
                        continue
                outcome.edited += 1
            elif answer == "q":
                outcome.quit = True
            else:
                console.print(HELP)
                continue
            break
        outcome.asked += 1 if not outcome.quit else 0
        review.save()
        if outcome.quit:
            break
    print_review_summary(console, outcome)
    return outcome


def cli_interactive(console, results: list[FileResult], paths: list[str], review_file: str | None = None,
                    editor: str | None = None, profile=None) -> int:
    """--interactive as the CLI runs it: review, then exit 0."""
    run_interactive(console, results, paths, review_file, editor=editor, profile=profile)
    return 0


# ---------------------------------------------------------------- CLI modes (cli.py calls these)


def cli_series(results: list[FileResult], args, profile=None, err=None) -> int:
    """--series as the CLI runs it, on the accepted hunks when a review
    file exists. `args` needs: paths, series, signoff, reroll,
    subject_prefix, base, review_file."""
    from codemod.discover import find_tree_root
    from codemod.series import write_series

    chosen, notes = accepted_results(results, args.paths, getattr(args, "review_file", None), profile)
    for note in notes:
        (err or print)(note)
    left_out: list[str] = []
    written = write_series(Path(args.series), chosen, tree_root=find_tree_root([Path(p) for p in args.paths]),
                           signoff=args.signoff, version=args.reroll, subject_prefix=args.subject_prefix,
                           base=args.base, left_out=left_out)
    if left_out:
        (err or print)(f"{len(left_out)} change(s) left out of the series: the tree's checkpatch.pl objects "
                       "(listed in the cover letter):")
        for item in left_out:
            (err or print)(f"  {item}")
    if not written:
        print("allocfix: nothing to send (no changes)")
    for path in written:
        print(path)
    return 0
