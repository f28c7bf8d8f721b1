#!/usr/bin/env python3
"""Check that mask_macros and extract_facts give the same output as at a
git revision, on every .c/.h file of a tree (the QEMU corpus by default).

Speed work on these two functions must not change what they compute:

    python scripts/check_mask_identity.py [TREE] [--ref REV] [--under DIR] [--no-facts]

compares, per file, the masked bytes of old and new mask_macros, and
cache.encode() of old and new extract_facts on the same parse. Prints the
number of files compared and each difference; exit status 1 on any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from codemod import cache, cparse  # noqa: E402
from codemod.analysis import facts  # noqa: E402
from codemod.source import SourceFile  # noqa: E402
from refcode import load_at_revision, tree_files  # noqa: E402

# The last revision before the speed work on mask_macros and extract_facts.
BASELINE = "8eb0fe1"


def compare(tree: Path, ref: str, under: str = "", with_facts: bool = True, out=sys.stdout) -> int:
    """Number of files whose output differs (each is printed)."""
    old_cparse = load_at_revision(ref, "codemod/cparse.py", "_ref_cparse")
    old_profile = old_cparse.MacroProfile.load(REPO / "rules" / "qemu-macros.toml")
    new_profile = cparse.MacroProfile.load(REPO / "rules" / "qemu-macros.toml")
    old_extract = None
    if with_facts:
        old_facts = load_at_revision(ref, "codemod/analysis/facts.py", "_ref_facts")
        # The old code builds the current classes (the same fields), which
        # cache.encode knows.
        old_facts.Ref, old_facts.FunctionFact, old_facts.FileFacts = facts.Ref, facts.FunctionFact, facts.FileFacts
        old_extract = old_facts.extract_facts
        for cls in (facts.Ref, facts.FunctionFact, facts.FileFacts):
            cache.register(cls)  # as the runner does before caching facts
    parser = cparse.parser()
    files = tree_files(tree, under)
    bad = 0
    for path in files:
        data = path.read_bytes()
        new = cparse.mask_macros(data, new_profile)
        old = old_cparse.mask_macros(data, old_profile)
        if new != old:
            bad += 1
            at = next(i for i in range(min(len(new), len(old)) + 1) if new[i : i + 1] != old[i : i + 1])
            print(f"{path}: masked bytes differ first at offset {at}", file=out)
            continue
        if old_extract is None:
            continue
        display = str(path.relative_to(tree))
        parsed = cparse.ParsedFile(SourceFile(str(path), display, data), new, parser.parse(new))
        a = cache.encode(old_extract(parsed))
        b = cache.encode(facts.extract_facts(parsed))
        if a != b:
            bad += 1
            print(f"{path}: facts differ", file=out)
    print(f"{len(files)} files compared against {ref}: {bad} differ", file=out)
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", nargs="?", default="/tmp/allocfix-corpus/qemu-7.2.0")
    ap.add_argument("--ref", default=BASELINE, help=f"git revision to compare with (default {BASELINE})")
    ap.add_argument("--under", default="", help="only files under this subdirectory")
    ap.add_argument("--no-facts", action="store_true", help="compare mask_macros only")
    args = ap.parse_args(argv)
    return 1 if compare(Path(args.tree), args.ref, args.under, not args.no_facts) else 0


if __name__ == "__main__":
    sys.exit(main())
