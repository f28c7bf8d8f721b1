#!/usr/bin/env python3
"""Precision of allocfix's size and phase classes against hand labels.

    precision.py sample TREE [--seed S] [--n N]     print a random sample of sites to label
    precision.py compare TREE LABELS [--json OUT] [--findings FILE]

`sample` lists every aborting-allocation call in TREE's C files (a plain
regex over the text, outside comments, so the sample does not depend on
allocfix's own site finder), drops tests/, roms/, subprojects/ and
scripts/, sorts them by file and offset and draws N with random.Random(S).

`compare` runs `allocfix --dry-run --format json --all --tree TREE` on the
labelled files and reports agreement on size class and phase class, with
every disagreement listed. Labels (data/labels/qemu-7.2-sites.json) were
made by reading the QEMU source, not allocfix's output.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ABORTING = ("g_malloc", "g_malloc0", "g_malloc_n", "g_malloc0_n", "g_realloc_n", "g_new", "g_new0", "g_renew",
            "g_realloc", "g_memdup2", "qemu_memalign", "qemu_blockalign", "qemu_blockalign0", "blk_blockalign",
            "bitmap_new")
_CALL_RE = re.compile(rb"(?<![\w.>])(" + b"|".join(a.encode() for a in ABORTING) + rb")\s*\(")
_COMMENT_RE = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)
EXCLUDED = ("tests/", "roms/", "subprojects/", "scripts/")


def enumerate_sites(tree: Path) -> list[dict]:
    sites = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".c"):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(tree).as_posix()
            if rel.startswith(EXCLUDED):
                continue
            data = path.read_bytes()
            # Blank comments, keeping offsets, so commented-out calls are not sites.
            blanked = _COMMENT_RE.sub(lambda m: re.sub(rb"[^\n]", b" ", m.group(0)), data)
            for m in _CALL_RE.finditer(blanked):
                line = blanked.count(b"\n", 0, m.start()) + 1
                sites.append({"file": rel, "line": line, "allocator": m.group(1).decode()})
    return sites


def sample(tree: Path, seed: int, n: int) -> list[dict]:
    sites = enumerate_sites(tree)
    picked = random.Random(seed).sample(range(len(sites)), n)
    return [sites[i] for i in sorted(picked)]


def _key(d: dict) -> tuple:
    return d["file"], d["line"], d["allocator"]


def compare(labels: list[dict], findings: list[dict]) -> dict:
    """Agreement of allocfix's size and phase classes with the labels (unmatched sites count as disagreeing)."""
    idx = {}
    for f in findings:
        idx.setdefault((f["file"], f["line"], f["allocator"]), f)
    rows = []
    for lab in labels:
        f = idx.get(_key(lab))
        row = {"file": lab["file"], "line": lab["line"], "allocator": lab["allocator"],
               "function": lab.get("function"), "label_size": lab["size"], "label_phase": lab["phase"]}
        if f is None:
            row.update(found=False, size_agree=False, phase_agree=False)
        else:
            row.update(found=True, allocfix_size=f["size"]["class"], allocfix_phase=f["phase"]["class"],
                       size_evidence=f["size"].get("evidence"), phase_via=f["phase"].get("via"),
                       phase_chain=f["phase"].get("chain"), action=f["action"],
                       size_agree=f["size"]["class"] == lab["size"], phase_agree=f["phase"]["class"] == lab["phase"])
        row["size_reason"] = lab.get("size_reason")
        row["phase_reason"] = lab.get("phase_reason")
        rows.append(row)
    n = len(rows)
    # Labels revised after a first comparison keep their first value: report that agreement too.
    first = sum(1 for lab, r in zip(labels, rows) if r["found"]
                and r["allocfix_phase"] == lab.get("phase_before_comparison", lab["phase"]))
    first_size = sum(1 for lab, r in zip(labels, rows) if r["found"]
                     and r["allocfix_size"] == lab.get("size_before_comparison", lab["size"]))
    not_small = sum(1 for lab, r in zip(labels, rows) if r["found"]
                    and (lab["size"] == "small") == (r["allocfix_size"] == "small"))
    sa = sum(r["size_agree"] for r in rows)
    pa = sum(r["phase_agree"] for r in rows)
    confusion_size: dict = {}
    confusion_phase: dict = {}
    for r in rows:
        if r["found"]:
            k = f"{r['label_size']}->{r['allocfix_size']}"
            confusion_size[k] = confusion_size.get(k, 0) + 1
            k = f"{r['label_phase']}->{r['allocfix_phase']}"
            confusion_phase[k] = confusion_phase.get(k, 0) + 1
    return {"sites": n, "found": sum(r["found"] for r in rows),
            "size_agree": sa, "size_agreement": sa / n if n else 0.0,
            "phase_agree": pa, "phase_agreement": pa / n if n else 0.0,
            "phase_agree_first_labels": first,
            "size_agree_first_labels": first_size,
            # What decides the action: small or not (unknown and large are both checked).
            "small_vs_not_agree": not_small,
            "size_confusion_label_to_allocfix": confusion_size,
            "phase_confusion_label_to_allocfix": confusion_phase,
            "rows": rows}


def render(res: dict, out=None) -> None:
    p = lambda *a: print(*a, file=out or sys.stdout)  # noqa: E731
    p(f"labelled sites: {res['sites']}  found by allocfix: {res['found']}")
    p(f"size class agreement:  {res['size_agree']}/{res['sites']} = {100 * res['size_agreement']:.1f}%  (target >= 90%)")
    p(f"phase class agreement: {res['phase_agree']}/{res['sites']} = {100 * res['phase_agreement']:.1f}%  (target >= 90%)")
    p(f"agreement with the labels as first made: size {res.get('size_agree_first_labels', '?')}/{res['sites']}, "
      f"phase {res['phase_agree_first_labels']}/{res['sites']}")
    p(f"small vs not-small agreement (what decides the action): {res['small_vs_not_agree']}/{res['sites']}")
    p(f"size (label->allocfix):  {res['size_confusion_label_to_allocfix']}")
    p(f"phase (label->allocfix): {res['phase_confusion_label_to_allocfix']}")
    p("size disagreements:")
    for r in res["rows"]:
        if not r["size_agree"]:
            p(f"  {r['file']}:{r['line']} {r['allocator']} in {r['function']}: label {r['label_size']}"
              f" ({r['size_reason']}); allocfix {r.get('allocfix_size', 'not found')} ({r.get('size_evidence')})")
    p("phase disagreements:")
    for r in res["rows"]:
        if not r["phase_agree"]:
            p(f"  {r['file']}:{r['line']} {r['allocator']} in {r['function']}: label {r['label_phase']}"
              f" ({r['phase_reason']}); allocfix {r.get('allocfix_phase', 'not found')}"
              f" via {r.get('phase_via')} chain {' <- '.join(reversed(r.get('phase_chain') or []))}")


def run_allocfix(tree: Path, files: list[str], code: Path | None = None) -> tuple[dict, float]:
    env = dict(os.environ, PYTHONPATH=str(code or Path(__file__).resolve().parent.parent))
    cmd = [sys.executable, "-m", "codemod", "--dry-run", "--format", "json", "--all", "--tree", str(tree), *files]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if not proc.stdout.strip():
        raise SystemExit(f"allocfix failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), time.monotonic() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("tree")
    s.add_argument("--seed", type=int, default=72)
    s.add_argument("--n", type=int, default=55)
    c = sub.add_parser("compare")
    c.add_argument("tree")
    c.add_argument("labels")
    c.add_argument("--json")
    c.add_argument("--allocfix-code", type=Path,
                   help="directory holding the codemod package to measure (default: this checkout)")
    c.add_argument("--findings", help="use this allocfix JSON document instead of running allocfix")
    args = ap.parse_args(argv)
    tree = Path(args.tree).resolve()
    if args.cmd == "sample":
        print(json.dumps(sample(tree, args.seed, args.n), indent=1))
        return 0
    labels = json.loads(Path(args.labels).read_text())["sites"]
    if args.findings:
        doc = json.loads(Path(args.findings).read_text())
    else:
        doc, _ = run_allocfix(tree, sorted({lab["file"] for lab in labels}), args.allocfix_code)
    res = compare(labels, doc["findings"])
    render(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
