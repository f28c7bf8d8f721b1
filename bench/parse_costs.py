#!/usr/bin/env python3
"""CPU cost of the per-file stages of a cold whole-tree scan (issue 7).

For every .c/.h file under the tree: read, mask_macros, tree-sitter parse,
extract_facts, each timed with process CPU time in this one process.
With --ref REV, mask_macros and extract_facts as they were at git revision
REV are timed too (on the same bytes and trees), so one run shows before
and after:

    python bench/parse_costs.py [TREE] [--ref REV] [--limit N] [--under SUBDIR]

Output is a table of CPU seconds per stage.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from codemod import cparse  # noqa: E402
from codemod.analysis import facts  # noqa: E402
from codemod.source import SourceFile  # noqa: E402
from refcode import load_at_revision, tree_files  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", nargs="?", default="/tmp/allocfix-corpus/qemu-7.2.0")
    ap.add_argument("--ref", help="also time the functions at this git revision")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    ap.add_argument("--under", default="", help="only files under this subdirectory")
    args = ap.parse_args(argv)
    files = tree_files(Path(args.tree), args.under)
    if args.limit:
        files = files[: args.limit]
    profile = cparse.default_profile()
    old_mask = old_facts = None
    if args.ref:
        old_cparse = load_at_revision(args.ref, "codemod/cparse.py", "_old_cparse")
        old_facts = load_at_revision(args.ref, "codemod/analysis/facts.py", "_old_facts").extract_facts
        old_profile = old_cparse.MacroProfile.load(REPO / "rules" / "qemu-macros.toml")
        old_mask = lambda data: old_cparse.mask_macros(data, old_profile)  # noqa: E731
    cost = dict.fromkeys(("read", "mask_macros", "parse", "extract_facts", "mask_macros@ref", "extract_facts@ref"), 0.0)
    clock = time.process_time
    size = 0
    parser = cparse.parser()
    for path in files:
        t0 = clock()
        data = path.read_bytes()
        t1 = clock()
        masked = cparse.mask_macros(data, profile)
        t2 = clock()
        tree = parser.parse(masked)
        t3 = clock()
        parsed = cparse.ParsedFile(SourceFile(str(path), str(path), data), masked, tree)
        facts.extract_facts(parsed)
        t4 = clock()
        cost["read"] += t1 - t0
        cost["mask_macros"] += t2 - t1
        cost["parse"] += t3 - t2
        cost["extract_facts"] += t4 - t3
        size += len(data)
        if old_mask is not None:
            t5 = clock()
            old_mask(data)
            t6 = clock()
            old_facts(parsed)
            t7 = clock()
            cost["mask_macros@ref"] += t6 - t5
            cost["extract_facts@ref"] += t7 - t6
    print(f"{len(files)} files, {size / 1e6:.1f} MB under {args.tree}")
    print(f"{'stage':<24} {'CPU s':>8}")
    for stage, secs in cost.items():
        if stage.endswith("@ref") and not args.ref:
            continue
        label = stage.replace("@ref", f" @{args.ref}")
        print(f"{label:<24} {secs:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
