"""Write rewritten files safely.

Guarantees:
- Per file, atomic: the new bytes go to a temp file in the same directory
  (fsynced, the old file's mode copied), which then replaces the file with
  one rename. A reader, a crash or SIGKILL sees the old or the new file,
  never a mix. (A SIGKILL can leave a `.allocfix-*.tmp` file behind; it is
  never the file itself.)
- Per run, all or nothing where the process survives: every file is
  checked before the first write; if a write fails or SIGINT arrives
  midway, the files already written are put back to their old bytes
  (again atomically) before the error is reported.
- A file is written only if its bytes are still those the scan read; with
  a review file, only if they are those recorded when it was reviewed.
- In a git work tree, files allocfix would write that have uncommitted
  changes (or are untracked) are refused unless `force`: after apply,
  `git diff` then shows allocfix's changes alone and `git checkout` undoes
  them. Dirty files allocfix does not touch do not matter.
- Bytes are written as produced: encodings, CRLF endings and a missing
  final newline are whatever the original had.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from codemod.findings import Action, FileResult


@dataclass(frozen=True)
class WriteOutcome:
    display: str
    written: bool
    message: str = ""


@dataclass
class ApplyReport:
    written: list[FileResult] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # messages; nothing was written when non-empty
    rolled_back: list[str] = field(default_factory=list)  # displays put back after a failure
    error: str = ""  # why the run stopped midway

    @property
    def ok(self) -> bool:
        return not self.refused and not self.error


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: str, data: bytes) -> None:
    """Replace (or create) `path` with `data` in one rename; an existing file keeps its mode."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=".allocfix-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def apply_result(result: FileResult) -> WriteOutcome:
    """One file on its own (kept for callers that write file by file)."""
    if not result.changed:
        return WriteOutcome(result.display, False)
    try:
        current = _read(result.path)
    except OSError as exc:
        return WriteOutcome(result.display, False, f"{result.display}: cannot read back ({exc.strerror})")
    if current != result.original:
        return WriteOutcome(result.display, False,
                            f"{result.display}:1:1: changed on disk since it was scanned; not written (re-run allocfix)")
    try:
        write_atomically(result.path, result.rewritten)
    except OSError as exc:
        return WriteOutcome(result.display, False, f"{result.display}: cannot write ({exc.strerror})")
    return WriteOutcome(result.display, True)


# ---------------------------------------------------------------- checks


def git_toplevel(path: str | Path) -> Path | None:
    d = Path(path)
    d = d if d.is_dir() else d.parent
    try:
        proc = subprocess.run(["git", "-C", str(d), "rev-parse", "--show-toplevel"],
                              capture_output=True, text=True)
    except OSError:
        return None
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None


def dirty_files(paths: list[str]) -> list[str]:
    """Those of `paths` (files) with uncommitted changes or untracked, in
    their git work trees; [] outside git."""
    by_top: dict[Path, list[str]] = {}
    for p in paths:
        top = git_toplevel(p)
        if top is not None:
            by_top.setdefault(top.resolve(), []).append(p)
    dirty: list[str] = []
    for top, files in by_top.items():
        rels = {os.path.relpath(os.path.realpath(f), top): f for f in files}
        proc = subprocess.run(["git", "-C", str(top), "status", "--porcelain=v1", "-z",
                               "--untracked-files=all", "--", *rels],
                              capture_output=True)
        if proc.returncode != 0:
            continue
        for entry in proc.stdout.split(b"\0"):
            if len(entry) > 3:
                rel = entry[3:].decode("utf-8", "surrogateescape")
                if rel in rels:
                    dirty.append(rels[rel])
    return sorted(dirty)


def preflight(results: list[FileResult], force: bool = False) -> list[str]:
    """Why nothing may be written (empty: go ahead)."""
    problems: list[str] = []
    todo = [r for r in results if r.changed]
    for r in todo:
        try:
            current = _read(r.path)
        except OSError as exc:
            problems.append(f"{r.display}: cannot read back ({exc.strerror})")
            continue
        if current != r.original:
            problems.append(f"{r.display}:1:1: changed on disk since it was scanned (re-run allocfix)")
        elif not os.access(r.path, os.W_OK):
            problems.append(f"{r.display}: not writable")
    if not force:
        by_path = {r.path: r.display for r in todo}
        for p in dirty_files(list(by_path)):
            problems.append(f"{by_path[p]}: has uncommitted changes; commit or stash them, "
                            "or pass --force")
    return problems


# ---------------------------------------------------------------- apply


class _DeferSigint:
    """Hold SIGINT while a rollback runs, deliver it afterwards."""

    def __enter__(self):
        self.pending = False
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, *_):
        self.pending = True

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
        return False


def apply_all(results: list[FileResult], *, force: bool = False) -> ApplyReport:
    """Write every changed result, all or nothing (see the module doc)."""
    report = ApplyReport()
    report.refused = preflight(results, force)
    if report.refused:
        return report
    done: list[FileResult] = []
    try:
        for r in results:
            if not r.changed:
                continue
            if _read(r.path) != r.original:
                raise _Changed(f"{r.display}:1:1: changed on disk while allocfix was writing")
            write_atomically(r.path, r.rewritten)
            done.append(r)
    except (OSError, _Changed, KeyboardInterrupt) as exc:
        with _DeferSigint():
            report.rolled_back = _roll_back(done)
        if isinstance(exc, KeyboardInterrupt):
            raise
        report.error = str(exc) if isinstance(exc, _Changed) else (
            f"{getattr(exc, 'filename', None) or 'write'}: {exc.strerror or exc}")
        return report
    report.written = done
    return report


class _Changed(Exception):
    pass


def _roll_back(done: list[FileResult]) -> list[str]:
    back = []
    for r in reversed(done):
        try:
            if _read(r.path) == r.rewritten:
                write_atomically(r.path, r.original)
                back.append(r.display)
        except OSError:
            pass
    return back


def summary_lines(report: ApplyReport) -> list[str]:
    """What was written, one line per file, for the terminal."""
    lines = []
    for r in report.written:
        sites = [f for f in r.findings if f.action in (Action.REWRITE, Action.STUB)]
        stubs = sum(1 for f in sites if f.action is Action.STUB)
        extra = f", {stubs} to finish by hand (marked 'allocfix:')" if stubs else ""
        lines.append(f"  wrote {r.display}: {len(sites)} site{'s' if len(sites) != 1 else ''}{extra}")
    lines.append(f"allocfix: wrote {len(report.written)} file{'s' if len(report.written) != 1 else ''}")
    return lines


def cli_apply(console, results: list[FileResult], paths: list[str], *, force: bool = False,
              review_file: str | None = None, profile=None, input_exit: int = 0, err=None) -> int:
    """Apply as the CLI runs it (`allocfix PATH...`): honour the review
    file, check, write all or nothing, print a summary, return the exit
    code (3 when anything was refused or failed). Records the written
    files' new bytes in the review file so a later run accepts them."""
    import sys

    from codemod.errors import EXIT_INPUT
    from codemod.review import REVIEW_DIR, REVIEW_NAME, ReviewFile, accepted_results, sha256, tree_root_for

    def say(msg: str) -> None:
        (err or (lambda m: print(f"allocfix: {m}", file=sys.stderr)))(msg)

    chosen, notes = accepted_results(results, paths, review_file, profile)
    for note in notes:
        say(note)
    report = apply_all(chosen, force=force)
    for msg in report.refused:
        say(msg)
    if report.refused:
        say("nothing written")
        return EXIT_INPUT
    if report.error:
        say(report.error)
        say(f"stopped; {len(report.rolled_back)} file(s) already written were restored: nothing changed")
        return EXIT_INPUT
    review_path = Path(review_file) if review_file else tree_root_for(paths) / REVIEW_DIR / REVIEW_NAME
    review = ReviewFile.load(review_path)
    if review.exists and report.written:
        from codemod.review import rel_path

        root = tree_root_for(paths)
        for r in report.written:
            rel = rel_path(r, root)
            if rel in review.files:
                review.files[rel] = sha256(r.rewritten)
            # Accepted hunks are now in the file: their entries are done.
            for key in [k for k, e in review.hunks.items()
                        if e.get("file") == rel and e["decision"] in ("accept", "edit")]:
                del review.hunks[key]
        review.save()
    for line in summary_lines(report):
        console.print(line, highlight=False, markup=False)
    return input_exit
