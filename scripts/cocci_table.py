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
import tempfile
import re
import subprocess
import sys
import time
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


def split_diff(diff: str, tree: Path) -> dict[str, str]:
    """file (relative to tree) -> its part of a unified diff."""
    files: dict[str, list[str]] = {}
    current = None
    for line in diff.splitlines(True):
        if line.startswith("diff "):
            current = None
            continue
        m = _FILE_RE.match(line)
        if m and line.startswith("--- "):
            path = m.group(1)
            try:
                path = str(Path(path).resolve().relative_to(tree.resolve()))
            except ValueError:
                pass
            current = files.setdefault(path, [])
            current.append(line)
            continue
        if current is not None:
            current.append(line)
    return {f: "".join(v) for f, v in files.items()}


def patched(tree: Path, rel: str, diff: str) -> bytes | None:
    """The file as spatch's diff leaves it (applied to a copy with patch(1))."""
    with tempfile.TemporaryDirectory(prefix="allocfix-table-") as tmp:
        out = Path(tmp) / "out"
        body = re.sub(r"^--- .*$", f"--- {rel}", diff, count=1, flags=re.M)
        body = re.sub(r"^\+\+\+ .*$", f"+++ {rel}", body, count=1, flags=re.M)
        proc = subprocess.run(["patch", "-s", "-p0", "-o", str(out), str(tree / rel)], input=body.encode(),
                              capture_output=True)
        return out.read_bytes() if proc.returncode == 0 and out.exists() else None


def squash(data: bytes) -> str:
    """The text without whitespace (a backslash-newline splice counts as whitespace)."""
    return "".join(data.replace(b"\\\n", b"").decode("utf-8", "replace").split())


_PARSE_CACHE: dict[str, bool] = {}


def spatch_parse_trouble(tree: Path, rel: str) -> bool:
    """Whether spatch's C parser gives up on part of the file (its rules cannot match there)."""
    if rel not in _PARSE_CACHE:
        cmd = ["spatch", "--parse-c", str(tree / rel)]
        macro = tree / "scripts" / "cocci-macro-file.h"
        if macro.exists():
            cmd += ["--macro-file", str(macro)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=120)
            out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
            m = re.search(r"badcount: (\d+)", out)
            _PARSE_CACHE[rel] = bool(m and int(m.group(1)) > 0)
        except subprocess.TimeoutExpired:
            _PARSE_CACHE[rel] = True
    return _PARSE_CACHE[rel]


def allocfix_diffs(tree: Path, rule: Path, subs, profile, refused: dict | None = None
                   ) -> tuple[dict[str, bytes], str]:
    """allocfix's output per changed file, and a summary of its refusals (refused, when
    given, collects file -> message)."""
    from codemod.testing import run_allocfix_loaded

    try:
        rules = load_rules([rule], profile, set())
    except AllocfixError as exc:
        return {}, str(exc).splitlines()[0]
    files: dict[str, bytes] = {}
    failures = []
    refused = {} if refused is None else refused
    for sub in subs:
        for c in sorted((tree / sub).rglob("*.c")):
            data = c.read_bytes()
            run = run_allocfix_loaded(rules, profile, c, data, c.relative_to(tree).as_posix())
            if not run.ok:
                first = run.message.splitlines()[0] if run.message else ""
                failures.append(first if first.startswith(c.relative_to(tree).as_posix()) else f"{c.relative_to(tree)}: {first}")
                refused[str(c.relative_to(tree))] = first
                continue
            output = run.output
            if run.starred:
                # A `*` rule: spatch shows marked lines as removed; compare the same way.
                lines = data.split(b"\n")
                marked = set(run.starred)
                output = b"\n".join(l for i, l in enumerate(lines, 1) if i not in marked)
            if output != data and squash(output) != squash(data):
                files[str(c.relative_to(tree))] = output
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
        sp_files: dict[str, bytes] = {}
        sp_err = ""
        for sub in args.dirs:
            diff, err = spatch_diff(tree, rule, sub, args.cache, args.jobs)
            for rel, part in split_diff(diff, tree).items():
                new = patched(tree, rel, part)
                if new is None:
                    sp_err = sp_err or f"cannot apply spatch's diff of {rel}"
                elif squash(new) != squash((tree / rel).read_bytes()):
                    sp_files[rel] = new
            if ("exit " in err or "parse error" in err) and not sp_err:
                sp_err = err.strip().splitlines()[0][:80]
        if args.spatch_only:
            print(f"{rule.name}: spatch changed {len(sp_files)} files ({time.time() - t0:.0f} s)", flush=True)
            continue
        refused: dict[str, str] = {}
        af_files, af_err = allocfix_diffs(tree, rule, args.dirs, profile, refused)
        loads = not (af_err and not af_files and af_err.startswith(str(rule)))
        spatch_ok = not sp_err
        if loads and spatch_ok:
            same_files = "yes" if set(sp_files) == set(af_files) else "no"
            differ = sorted(f for f in set(sp_files) & set(af_files) if squash(sp_files[f]) != squash(af_files[f]))
            same_diff = "yes" if same_files == "yes" and not differ else "no"
        else:
            same_files = same_diff = "n/a"
        note = af_err.replace(str(tree) + "/", "") if af_err else ""
        if loads and spatch_ok:
            only_sp = sorted(set(sp_files) - set(af_files))
            only_af = sorted(set(af_files) - set(sp_files))
            def show(files):
                return ", ".join(f + (" (spatch cannot parse parts of it)" if spatch_parse_trouble(tree, f) else "")
                                 for f in files[:3]) + (" ..." if len(files) > 3 else "")
            parts = [f"{label}: {show(v)}" for label, v in
                     (("only spatch", only_sp), ("only allocfix", only_af), ("differ", differ)) if v]
            note = "; ".join(parts + ([note] if note else []))
        else:
            parts = []
        if not spatch_ok:
            note = f"spatch fails: {sp_err}" + (f"; {note}" if note else "")
        same_parsed = same_diff
        silent: list[str] = []
        if same_diff == "no":
            odd = set(sp_files) ^ set(af_files) | set(differ)
            same_parsed = "yes" if all(spatch_parse_trouble(tree, f) for f in odd) else "no"
            # A difference allocfix does not announce: neither spatch's parse trouble nor an
            # allocfix refusal ("unsupported: ...") explains it.
            silent = sorted(f for f in odd if f not in refused and not spatch_parse_trouble(tree, f))
        if refused and loads and spatch_ok:
            # The refusals replace allocfix's failure summary in the note.
            kinds = sorted({re.sub(r"^.*?unsupported: ", "", m).split(":")[0][:60] for m in refused.values()})
            note = "; ".join([f"allocfix refuses {len(refused)} files (unsupported: {', '.join(kinds)})"] +
                             ([f"silent differences: {', '.join(silent[:3])}"] if silent else []) + parts)
        rows.append((rule.name, spatch_ok, loads, len(sp_files), len(af_files), same_files, same_diff, same_parsed,
                     len(refused), len(silent) if same_diff == "no" else 0, note))
        print(f"{rule.name}: done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    if args.spatch_only:
        return 0
    print(f"Directories: {' '.join(args.dirs)}\n")
    print("| rule | spatch runs? | allocfix loads? | files changed (spatch / allocfix) | same changed files? "
          "| same diff? | same diff where spatch parses the file? | files allocfix refuses | silent differences "
          "| note |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, sok, loads, ns, na, sf, sd, sp, nref, nsilent, note in rows:
        print(f"| {name} | {'yes' if sok else 'no'} | {'yes' if loads else 'no'} | {ns} / {na} | {sf} | {sd} | "
              f"{sp} | {nref} | {nsilent} | {note.replace('|', '/')[:300]} |")
    print(f"\nsame diff as spatch: {sum(r[6] == 'yes' for r in rows)} of {len(rows)}; "
          f"same where spatch parses the file: {sum(r[7] == 'yes' for r in rows)}; "
          f"allocfix loads {sum(r[2] for r in rows)}; spatch runs {sum(r[1] for r in rows)}; "
          f"rules with silent differences (files spatch parses, allocfix neither agrees nor refuses): "
          f"{sum(1 for r in rows if r[9])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
