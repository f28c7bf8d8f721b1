#!/usr/bin/env python3
"""Allocation sites of a tree by size class x phase class x action, and what the phase analysis costs.

    site_table.py TREE [PATH ...] [--json OUT] [--no-timing] [--findings FILE]

Runs `allocfix --dry-run --no-cache --format json --all` on PATHs (default: the whole
TREE) with `--tree TREE`, once with the whole-tree phase analysis and once
with `--no-phase`, and prints the table of the first run and both wall
times. --findings reuses a document already made (no runs, no timing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SIZES = ("small", "large", "unknown")
PHASES = ("startup", "runtime", "both", "unknown")
ACTIONS = ("none", "report", "stub", "rewrite")


def run(tree: Path, paths: list[str], *, phase: bool, jobs: int | None = None,
        code: Path | None = None) -> tuple[dict, float]:
    env = dict(os.environ, PYTHONPATH=str(code or Path(__file__).resolve().parent.parent))
    cmd = [sys.executable, "-m", "codemod", "--dry-run", "--no-cache", "--format", "json", "--all", "--tree", str(tree)]
    if not phase:
        cmd.append("--no-phase")
    if jobs:
        cmd += ["--jobs", str(jobs)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd + paths, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if not proc.stdout.strip():
        raise SystemExit(f"allocfix failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), wall


def is_site(f: dict) -> bool:
    """An allocation-site finding; R1/R2 policy checks are about other calls (malloc, abort ...)."""
    return not (f.get("rule") == "policy-checks" and f.get("policy") in ("R1", "R2"))


def table(all_findings: list[dict]) -> dict:
    """Counts keyed "size/phase/action", plus the margins, over allocation sites only."""
    findings = [f for f in all_findings if is_site(f)]
    cells = Counter((f["size"]["class"], f["phase"]["class"], f["action"]) for f in findings)
    return {
        "cells": {"/".join(k): v for k, v in sorted(cells.items())},
        "by_size": dict(Counter(f["size"]["class"] for f in findings)),
        "by_phase": dict(Counter(f["phase"]["class"] for f in findings)),
        "by_action": dict(Counter(f["action"] for f in findings)),
        "by_via": dict(Counter(v for f in findings for v in f["phase"].get("via", []))),
        "sites": len(findings),
        "by_policy": dict(Counter(f.get("policy") for f in findings)),
        "policy_checks": dict(Counter(f["policy"] for f in all_findings if not is_site(f))),
    }


def render(t: dict, out=None) -> None:
    p = lambda *a: print(*a, file=out or sys.stdout)  # noqa: E731
    cells = Counter({tuple(k.split("/")): v for k, v in t["cells"].items()})
    head = f"{'size':8} {'phase':8} " + " ".join(f"{a:>8}" for a in ACTIONS) + f" {'total':>8}"
    p(head)
    p("-" * len(head))
    for s in SIZES:
        for ph in PHASES:
            row = [cells[(s, ph, a)] for a in ACTIONS]
            if sum(row):
                p(f"{s:8} {ph:8} " + " ".join(f"{n:8d}" for n in row) + f" {sum(row):8d}")
    p("-" * len(head))
    p(f"{'total':17} " + " ".join(f"{t['by_action'].get(a, 0):8d}" for a in ACTIONS) + f" {t['sites']:8d}")
    p(f"by size:  {t['by_size']}")
    p(f"by phase: {t['by_phase']}")
    p(f"by via:   {t['by_via']}")
    p(f"by policy: {t['by_policy']}")
    p(f"other policy findings (not allocation sites): {t['policy_checks']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree")
    ap.add_argument("paths", nargs="*", help="paths below TREE to scan (default: all of it)")
    ap.add_argument("--json", help="write the table and timings here")
    ap.add_argument("--findings", help="use this allocfix JSON document instead of running")
    ap.add_argument("--no-timing", action="store_true", help="skip the --no-phase run")
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--skip", action="append", default=[], metavar="PREFIX",
                    help="leave sites in files under PREFIX out of the table (e.g. tests/)")
    ap.add_argument("--save-findings", help="write the phase run's allocfix JSON document here")
    ap.add_argument("--allocfix-code", type=Path,
                    help="directory holding the codemod package to measure (default: this checkout)")
    args = ap.parse_args(argv)
    tree = Path(args.tree).resolve()
    paths = args.paths or ["."]
    result: dict = {"tree": str(tree), "paths": paths}
    if args.findings:
        doc = json.loads(Path(args.findings).read_text())
    else:
        doc, wall = run(tree, paths, phase=True, jobs=args.jobs, code=args.allocfix_code)
        result["seconds_with_phase"] = round(wall, 1)
        result["stats_with_phase"] = doc.get("stats")
        if args.save_findings:
            Path(args.save_findings).write_text(json.dumps(doc) + "\n")
        if not args.no_timing:
            doc2, wall2 = run(tree, paths, phase=False, jobs=args.jobs, code=args.allocfix_code)
            result["seconds_without_phase"] = round(wall2, 1)
            result["stats_without_phase"] = doc2.get("stats")
            result["table_without_phase"] = table([f for f in doc2["findings"]
                                                   if not f["file"].startswith(tuple(args.skip))])
    kept = [f for f in doc["findings"] if not f["file"].startswith(tuple(args.skip))]
    result["skipped_prefixes"] = args.skip
    result["table"] = table(kept)
    result["stats"] = doc.get("stats")
    render(result["table"])
    if "seconds_with_phase" in result:
        print(f"wall time with phase analysis:    {result['seconds_with_phase']:.1f} s")
    if "seconds_without_phase" in result:
        print(f"wall time with --no-phase:        {result['seconds_without_phase']:.1f} s")
        print(f"added by the phase analysis:      "
              f"{result['seconds_with_phase'] - result['seconds_without_phase']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
