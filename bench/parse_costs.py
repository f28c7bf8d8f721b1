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
    for index, path in enumerate(files):
        t0 = clock()
        data = path.read_bytes()
        cost["read"] += clock() - t0
        size += len(data)
        # Old and new take turns going first on a file: the second call
        # finds the bytes and the tree warm in the CPU caches.
        for variant in (("new", "ref") if index % 2 == 0 or old_mask is None else ("ref", "new")):
            if variant == "ref":
                if old_mask is None:
                    continue
                t0 = clock()
                old_mask(data)
                cost["mask_macros@ref"] += clock() - t0
                continue
            t0 = clock()
            masked = cparse.mask_macros(data, profile)
            t1 = clock()
            tree = parser.parse(masked)
            cost["mask_macros"] += t1 - t0
            cost["parse"] += clock() - t1
        parsed = cparse.ParsedFile(SourceFile(str(path), str(path), data), masked, tree)
        for variant in (("new", "ref") if index % 2 == 0 or old_facts is None else ("ref", "new")):
            if variant == "ref":
                if old_facts is None:
                    continue
                t0 = clock()
                old_facts(parsed)
                cost["extract_facts@ref"] += clock() - t0
                continue
            t0 = clock()
            facts.extract_facts(parsed)
            cost["extract_facts"] += clock() - t0
    print(f"{len(files)} files, {size / 1e6:.1f} MB under {args.tree}")
    if args.ref:
        print(f"{'stage':<16} {'CPU s now':>10} {'CPU s @' + args.ref:>16} {'ratio':>7}")
    else:
        print(f"{'stage':<16} {'CPU s':>10}")
    for stage in ("read", "mask_macros", "parse", "extract_facts"):
        secs = cost[stage]
        ref = cost.get(stage + "@ref")
        if args.ref and ref:
            print(f"{stage:<16} {secs:10.2f} {ref:16.2f} {secs / ref:7.2f}")
        else:
            print(f"{stage:<16} {secs:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
