#!/usr/bin/env python3
"""Check a patch series the way a QEMU maintainer's tooling would.

    check_series.py [--keep] [--cc-sample N] TREE OUTDIR

For every *.patch in OUTDIR (in name order): run TREE/scripts/checkpatch.pl
on it, then `git am` the patches in order on a throwaway git repository:
a shared clone of TREE when TREE is a git repository (its committed HEAD),
otherwise a fresh repository under /tmp holding a copy of the files the
series touches plus MAINTAINERS. TREE itself is never modified.

With --cc-sample N, N patches spread evenly over the series (all when N
is 0 or exceeds their number) are also run through TREE's
scripts/get_maintainer.pl --norolestats --nogit-fallback; the addresses it
prints must equal the patch's To: and Cc: (compared as a set of
lower-cased addresses).

Prints a table (errors, warnings, applied, cc) and exits 1 on any
checkpatch error or warning, any patch that does not apply or any Cc
disagreement, 2 on a usage problem, else 0.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path

_TOTAL = re.compile(r"^total: (\d+) errors?, (\d+) warnings?", re.M)
_DIFF_PATH = re.compile(rb"^diff --git a/(\S+) b/(\S+)$", re.M)


@dataclass
class PatchCheck:
    name: str
    errors: int | None = None  # None: checkpatch could not be run or parsed
    warnings: int | None = None
    applied: bool | None = None  # None: not a patch to apply (cover letter)
    checkpatch_output: str = ""
    am_output: str = ""
    cc_same: bool | None = None  # None: not in the Cc sample
    cc_detail: str = ""

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.warnings == 0 and self.applied is not False and self.cc_same is not False


def is_cover_letter(path: Path) -> bool:
    return path.name.endswith("0000-cover-letter.patch")


def run_checkpatch(tree: Path, patch: Path) -> tuple[int | None, int | None, str]:
    """(errors, warnings, output) of QEMU's checkpatch.pl on one patch."""
    script = tree / "scripts" / "checkpatch.pl"
    proc = subprocess.run(
        ["perl", str(script), "--color=never", str(patch.resolve())],
        cwd=tree,
        capture_output=True,
        text=True,
        errors="replace",
    )
    output = proc.stdout + proc.stderr
    m = _TOTAL.search(output)
    if not m:
        return None, None, output
    return int(m.group(1)), int(m.group(2)), output


def patch_recipients(patch: Path) -> set[str]:
    """The lower-cased addresses of a patch's To: and Cc: headers."""
    msg = email.message_from_bytes(patch.read_bytes(), policy=email.policy.default)
    out: set[str] = set()
    for header in ("To", "Cc"):
        for value in msg.get_all(header) or []:
            for _, addr in getaddresses([str(value)]):
                if addr:
                    out.add(addr.lower())
    return out


def get_maintainer(tree: Path, patch: Path) -> tuple[set[str] | None, str]:
    """The addresses scripts/get_maintainer.pl gives for a patch."""
    proc = subprocess.run(
        ["perl", str(tree / "scripts" / "get_maintainer.pl"), "--norolestats", "--nogit-fallback",
         str(patch.resolve())],
        cwd=tree, capture_output=True, text=True, errors="replace",
    )
    if proc.returncode != 0:
        return None, proc.stderr
    addrs = {addr.lower() for _, addr in getaddresses(proc.stdout.splitlines()) if "@" in addr}
    return addrs, proc.stdout


def sample(items: list, n: int) -> list:
    """n items spread evenly (first and last included); all when n is 0 or large."""
    if n <= 0 or n >= len(items):
        return list(items)
    if n == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def check_cc(tree: Path, checks: list[PatchCheck], patches: list[Path], n: int) -> None:
    pairs = [(c, p) for c, p in zip(checks, patches) if not is_cover_letter(p)]
    for check, patch in sample(pairs, n):
        expected, output = get_maintainer(tree, patch)
        if expected is None:
            check.cc_same, check.cc_detail = False, f"get_maintainer.pl failed: {output.strip()[:300]}"
            continue
        got = patch_recipients(patch)
        check.cc_same = got == expected
        if not check.cc_same:
            check.cc_detail = (f"missing: {', '.join(sorted(expected - got)) or '-'}; "
                               f"extra: {', '.join(sorted(got - expected)) or '-'}")


def touched_files(patches: list[Path]) -> list[str]:
    out: set[str] = set()
    for p in patches:
        for a, b in _DIFF_PATH.findall(p.read_bytes()):
            out.add(a.decode("utf-8", "surrogateescape"))
            out.add(b.decode("utf-8", "surrogateescape"))
    return sorted(out)


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # git am and commit need a committer; the author comes from the patch.
    env.setdefault("GIT_COMMITTER_NAME", "check-series")
    env.setdefault("GIT_COMMITTER_EMAIL", "check-series@localhost")
    env.setdefault("GIT_AUTHOR_NAME", "check-series")
    env.setdefault("GIT_AUTHOR_EMAIL", "check-series@localhost")
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, errors="replace", env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}:\n{proc.stderr}{proc.stdout}")
    return proc


def is_git_toplevel(tree: Path) -> bool:
    proc = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    return proc.returncode == 0 and Path(proc.stdout.strip()).resolve() == tree.resolve()


def prepare_repo(tree: Path, patches: list[Path], workdir: Path) -> tuple[Path, str]:
    """A git repository under `workdir` holding the tree's base state, and
    a word on how it was made."""
    repo = workdir / "repo"
    if is_git_toplevel(tree):
        _git(workdir, "clone", "-q", "--shared", str(tree.resolve()), str(repo))
        return repo, "shared clone of the tree's HEAD"
    repo.mkdir()
    touched = touched_files(patches)
    copied = 0
    for rel in [*touched, "MAINTAINERS"]:
        src = tree / rel
        if src.is_file() and not (repo / rel).exists():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
            copied += rel in touched
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "base")
    return repo, f"new repository with the {copied} files the series touches (of {len(touched)}) and MAINTAINERS"


def apply_series(repo: Path, patches: list[Path]) -> list[tuple[bool, str]]:
    """`git am` each patch in order; a patch that fails is skipped (am
    --abort) so the later ones are still tried."""
    out = []
    for p in patches:
        proc = _git(repo, "am", "-q", str(p.resolve()), check=False)
        if proc.returncode != 0:
            _git(repo, "am", "--abort", check=False)
        out.append((proc.returncode == 0, proc.stdout + proc.stderr))
    return out


def check_series(tree: Path, outdir: Path, keep: bool = False,
                 cc_sample: int | None = None) -> tuple[list[PatchCheck], str]:
    patches = sorted(outdir.glob("*.patch"))
    checks = [PatchCheck(p.name) for p in patches]
    for check, patch in zip(checks, patches):
        check.errors, check.warnings, check.checkpatch_output = run_checkpatch(tree, patch)
    if cc_sample is not None:
        check_cc(tree, checks, patches, cc_sample)
    to_apply = [(c, p) for c, p in zip(checks, patches) if not is_cover_letter(p)]
    workdir = Path(tempfile.mkdtemp(prefix="check-series-"))
    try:
        repo, how = prepare_repo(tree, [p for _, p in to_apply], workdir)
        for (check, _), (ok, output) in zip(to_apply, apply_series(repo, [p for _, p in to_apply])):
            check.applied = ok
            check.am_output = output
        if keep:
            how += f", kept at {repo}"
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return checks, how


def format_table(checks: list[PatchCheck]) -> str:
    width = max([len("patch")] + [len(c.name) for c in checks])
    lines = [f"{'patch'.ljust(width)}  errors  warnings  applied  cc"]
    for c in checks:
        err = "?" if c.errors is None else str(c.errors)
        warn = "?" if c.warnings is None else str(c.warnings)
        applied = "-" if c.applied is None else ("yes" if c.applied else "NO")
        cc = "-" if c.cc_same is None else ("same" if c.cc_same else "DIFF")
        lines.append(f"{c.name.ljust(width)}  {err:>6}  {warn:>8}  {applied:>7}  {cc}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree", type=Path, help="the source tree the series is for")
    ap.add_argument("outdir", type=Path, help="directory holding the *.patch files")
    ap.add_argument("--keep", action="store_true", help="keep the throwaway git repository")
    ap.add_argument("--cc-sample", type=int, metavar="N",
                    help="compare To:/Cc: of N patches (0: all) with scripts/get_maintainer.pl")
    ap.add_argument("-v", "--verbose", action="store_true", help="print checkpatch and git am output")
    args = ap.parse_args(argv)
    if not (args.tree / "scripts" / "checkpatch.pl").is_file():
        print(f"check_series: {args.tree}/scripts/checkpatch.pl not found", file=sys.stderr)
        return 2
    if shutil.which("perl") is None or shutil.which("git") is None:
        print("check_series: needs perl and git on PATH", file=sys.stderr)
        return 2
    if not sorted(args.outdir.glob("*.patch")):
        print(f"check_series: no *.patch files in {args.outdir}", file=sys.stderr)
        return 2
    if args.cc_sample is not None and not (args.tree / "scripts" / "get_maintainer.pl").is_file():
        print(f"check_series: {args.tree}/scripts/get_maintainer.pl not found", file=sys.stderr)
        return 2
    checks, how = check_series(args.tree, args.outdir, keep=args.keep, cc_sample=args.cc_sample)
    print(format_table(checks))
    print(f"applied on: {how}")
    failed = [c for c in checks if not c.ok]
    for c in checks:
        if args.verbose or not c.ok:
            if c.errors != 0 or c.warnings != 0 or args.verbose:
                print(f"\n== checkpatch {c.name}\n{c.checkpatch_output.rstrip()}")
            if c.applied is False or (args.verbose and c.am_output):
                print(f"\n== git am {c.name}\n{c.am_output.rstrip()}")
            if c.cc_same is False:
                print(f"\n== Cc {c.name}\n{c.cc_detail}")
    sampled = [c for c in checks if c.cc_same is not None]
    if sampled:
        same = sum(1 for c in sampled if c.cc_same)
        print(f"Cc agrees with get_maintainer.pl on {same}/{len(sampled)} sampled patches")
    print(f"\n{len(checks) - len(failed)}/{len(checks)} patches clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
