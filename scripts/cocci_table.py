#!/usr/bin/env python3
"""Run QEMU's own semantic patches with spatch and with allocfix and compare.

    python scripts/cocci_table.py TREE [--dirs util block ...] [--cache DIR] [--jobs N]

For each TREE/scripts/coccinelle/*.cocci: does allocfix load it (or which
unsupported feature stops it, with file:line), do both tools change the
same files, and are the diffs the same (whitespace ignored)? spatch runs
once per rule and directory; its diffs are cached under --cache because
they take minutes. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codemod.cparse import MacroProfile  # noqa: E402
from codemod.errors import AllocfixError  # noqa: E402
from codemod.smpl.loader import load_rules  # noqa: E402

DEFAULT_DIRS = (".",)  # the whole tree, as QEMU runs these rules


def spatch_diff(tree: Path, rule: Path, sub: str, cache: Path, jobs: int) -> tuple[str, str]:
    """spatch's unified diff for one rule over one directory (cached), and its error text."""
    out = cache / f"{rule.stem}__{sub.replace('/', '_')}.diff"
    err = out.with_suffix(".err")
    if out.exists():
        return out.read_text(errors="replace"), err.read_text(errors="replace") if err.exists() else ""
    macro = tree / "scripts" / "cocci-macro-file.h"
    cmd = ["spatch", "--sp-file", str(rule), "--dir", str(tree / sub), "--very-quiet", "-j", str(jobs),
           "--timeout", "60"]
    if macro.exists():
        cmd += ["--macro-file", str(macro)]
    proc = subprocess.run(cmd, capture_output=True, cwd=tree)
    out.write_bytes(proc.stdout)
    err.write_bytes(proc.stderr + (f"\nexit {proc.returncode}\n".encode() if proc.returncode else b""))
    return proc.stdout.decode("utf-8", "replace"), err.read_text(errors="replace")


_FILE_RE = re.compile(r"^--- (?:a/)?(\S+)")


def split_diff(diff: str, tree: Path) -> dict[str, list[str]]:
    """file (relative to tree) -> its +/- lines, whitespace removed (the comparable content)."""
    files: dict[str, list[str]] = {}
    current = None
    for line in diff.splitlines():
        m = _FILE_RE.match(line)
        if m and not line.startswith("--- a/") or (m and line.startswith("--- a/")):
            path = m.group(1)
            try:
                path = str(Path(path).resolve().relative_to(tree.resolve()))
            except ValueError:
                pass
            current = files.setdefault(path, [])
            continue
        if line.startswith("+++") or current is None:
            continue
        if line[:1] in "+-":
            current.append(line[0] + "".join(line[1:].split()))
    return {f: _net(v) for f, v in files.items() if _net(v)}


def _net(lines: list[str]) -> list[str]:
    """A file's change as removed and added lines, with whitespace ignored: a line
    removed and added again unchanged (re-indented) is no change."""
    minus = Counter(l[1:] for l in lines if l[0] == "-")
    plus = Counter(l[1:] for l in lines if l[0] == "+")
    return sorted(["-" + l for l in (minus - plus).elements()] + ["+" + l for l in (plus - minus).elements()])


def allocfix_diffs(tree: Path, rule: Path, subs, profile) -> tuple[dict[str, list[str]], str]:
    from codemod.testing import run_allocfix_loaded

    try:
        rules = load_rules([rule], profile, set())
    except AllocfixError as exc:
        return {}, str(exc).splitlines()[0]
    files: dict[str, list[str]] = {}
    failures = []
    for sub in subs:
        for c in sorted((tree / sub).rglob("*.c")):
            data = c.read_bytes()
            run = run_allocfix_loaded(rules, profile, c, data)
            if not run.ok:
                failures.append(f"{c.relative_to(tree)}: {run.message.splitlines()[0] if run.message else ''}")
                continue
            if run.output != data:
                rel = str(c.relative_to(tree))
                diff = difflib.unified_diff(data.decode("utf-8", "replace").splitlines(),
                                            run.output.decode("utf-8", "replace").splitlines(), lineterm="")
                net = _net([l[0] + "".join(l[1:].split()) for l in diff
                            if l[:1] in "+-" and not l.startswith(("+++", "---"))])
                if net:
                    files[rel] = net
    return files, ("; ".join(failures[:3]) + (f" (+{len(failures) - 3} more)" if len(failures) > 3 else "")
                   if failures else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree", type=Path)
    ap.add_argument("--dirs", nargs="+", default=list(DEFAULT_DIRS))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/allocfix-cocci-table"))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--rules", nargs="*", help="only these rule stems")
    ap.add_argument("--spatch-only", action="store_true", help="only fill the spatch cache")
    args = ap.parse_args(argv)
    tree = args.tree.resolve()
    args.cache.mkdir(parents=True, exist_ok=True)
    profile = MacroProfile.load(Path(__file__).resolve().parents[1] / "rules" / "qemu-macros.toml")
    rules = sorted((tree / "scripts" / "coccinelle").glob("*.cocci"))
    if args.rules:
        rules = [r for r in rules if r.stem in args.rules]
    rows = []
    for rule in rules:
        t0 = time.time()
        sp_files: dict[str, list[str]] = {}
        sp_err = ""
        for sub in args.dirs:
            diff, err = spatch_diff(tree, rule, sub, args.cache, args.jobs)
            sp_files.update(split_diff(diff, tree))
            if ("exit " in err or "parse error" in err) and not sp_err:
                sp_err = err.strip().splitlines()[0][:80]
        if args.spatch_only:
            print(f"{rule.name}: spatch changed {len(sp_files)} files ({time.time() - t0:.0f} s)", flush=True)
            continue
        af_files, af_err = allocfix_diffs(tree, rule, args.dirs, profile)
        loads = not (af_err and not af_files and af_err.startswith(str(rule)))
        spatch_ok = not sp_err
        if loads and spatch_ok:
            same_files = "yes" if set(sp_files) == set(af_files) else "no"
            same_diff = "yes" if same_files == "yes" and all(sp_files[f] == af_files[f] for f in sp_files) else "no"
        else:
            same_files = same_diff = "n/a"
        note = af_err.replace(str(tree) + "/", "") if af_err else ""
        if not spatch_ok:
            note = f"spatch fails: {sp_err}" + (f"; {note}" if note else "")
        rows.append((rule.name, spatch_ok, loads, len(sp_files), len(af_files), same_files, same_diff, note))
        print(f"{rule.name}: done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    if args.spatch_only:
        return 0
    print(f"Directories: {' '.join(args.dirs)}\n")
    print("| rule | spatch runs? | allocfix loads? | files changed (spatch / allocfix) | same changed files? "
          "| same diff? | note |")
    print("|---|---|---|---|---|---|---|")
    for name, sok, loads, ns, na, sf, sd, note in rows:
        print(f"| {name} | {'yes' if sok else 'no'} | {'yes' if loads else 'no'} | {ns} / {na} | {sf} | {sd} | "
              f"{note.replace('|', '/')[:200]} |")
    print(f"\nsame diff as spatch: {sum(r[6] == 'yes' for r in rows)} of {len(rows)}; "
          f"allocfix loads {sum(r[2] for r in rows)}; spatch runs {sum(r[1] for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
