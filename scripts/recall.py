#!/usr/bin/env python3
"""Recall of allocfix against QEMU's own hand-written checks.

    recall.py SRC [--json OUT] [--keep DIR] [--reuse DIR [--findings FILE]]

Reverts every `g_try_*`/`qemu_try_*` site of SRC that has its NULL check
(scripts/revert_try.py) in a copy of the tree, runs
`allocfix --dry-run --format json --all` on the files it touched with
`--tree` at the copy's root (so the phase analysis sees the whole project),
and measures:

  recall      share of reverted sites allocfix flags (action rewrite, stub or
              report); misses grouped by cause;
  error path  for flagged rewrites, whether allocfix's failure path agrees
              with the one QEMU's developers wrote: same return value or same
              goto label, and errp used or not; disagreements by kind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.revert_try import revert_tree  # noqa: E402

FLAGGED = ("rewrite", "stub", "report")


def _norm_value(v: str | None) -> str | None:
    if v is None:
        return None
    v = re.sub(r"\s+", "", v)
    # (void *)0 and friends are NULL; -ENOMEM written with parentheses is -ENOMEM.
    v = v.strip("()") if re.fullmatch(r"\(-?\w+\)", v) else v
    return "NULL" if v in ("NULL", "0L", "(void*)0") else v


def parse_error_path(summary: str | None) -> dict:
    """allocfix's error_path summary ("error_setg(errp); ret = -ENOMEM; goto fail") as fields."""
    out = {"kind": "none", "value": None, "label": None, "errp_used": False, "stub": False}
    if not summary:
        return out
    out["stub"] = "(stub)" in summary
    for part in (p.replace("(stub)", "").strip() for p in summary.split(";")):
        if re.match(r"error_(setg|propagate)\w*\(", part):
            out["errp_used"] = True
        elif m := re.fullmatch(r"goto\s+(\w+)", part):
            out["kind"], out["label"] = "goto", m.group(1)
        elif m := re.fullmatch(r"return\b\s*(.*)", part):
            out["kind"], out["value"] = "return", m.group(1).strip()
        elif part == "break":
            out["kind"] = "break"
        elif m := re.fullmatch(r"[\w.>\-]+\s*=\s*(.+)", part):
            out["value"] = m.group(1).strip()
    return out


def compare_paths(orig: dict, mine: dict) -> tuple[bool, list[str]]:
    """Does allocfix's failure path agree with the original? Returns (agree, disagreement kinds)."""
    kinds: list[str] = []
    if orig["kind"] == "other":
        kinds.append("original path is neither return, goto nor break")
    elif orig["kind"] != mine["kind"]:
        kinds.append(f"original {orig['kind']}, allocfix {mine['kind']}")
    elif orig["kind"] == "goto":
        if orig["label"] != mine["label"]:
            kinds.append("different goto label")
    elif _norm_value(orig["value"]) != _norm_value(mine["value"]):
        kinds.append("different return value" if orig["kind"] == "return" else "different status value")
    if bool(orig["errp_used"] or orig.get("errp_at_label")) != _mine_errp(orig, mine):
        kinds.append("errp used by the original only" if orig["errp_used"] or orig.get("errp_at_label")
                     else "errp used by allocfix only")
    return not kinds, kinds


def _mine_errp(orig: dict, mine: dict) -> bool:
    """allocfix sets errp itself, or jumps to the same label as the original,
    whose code sets it (`err: error_setg(errp, "%s", msg)`)."""
    return bool(mine["errp_used"] or (mine["kind"] == "goto" and mine["label"] == orig["label"]
                                       and orig.get("errp_at_label")))


def same_value(orig: dict, mine: dict) -> bool:
    """Lenient: the caller sees the same failure value (`return V` vs `ret = V; goto out`), errp alike."""
    if orig["kind"] == "break" or mine["kind"] == "break":
        # out of a loop or switch: the status it leaves is what the caller gets
        value_ok = orig["kind"] == mine["kind"] and orig["value"] is not None and \
            _norm_value(orig["value"]) == _norm_value(mine["value"])
        return value_ok and bool(orig["errp_used"] or orig.get("errp_at_label")) == _mine_errp(orig, mine)
    if orig["kind"] not in ("return", "goto") or mine["kind"] not in ("return", "goto"):
        return False
    if orig["kind"] == "goto" and mine["kind"] == "goto" and orig["label"] == mine["label"]:
        value_ok = True
    else:
        value_ok = orig["value"] is not None and _norm_value(orig["value"]) == _norm_value(mine["value"])
    return value_ok and bool(orig["errp_used"] or orig.get("errp_at_label")) == _mine_errp(orig, mine)


# Calls in a failure block that report or free memory; the rest release
# what the function holds (an unlock, a handle close, an unmap).
_NOT_RELEASE_RE = re.compile(r"(error_\w+|warn_\w+|info_report|fprintf|printf|trace_\w+|qemu_log\w*|g_free|"
                             r"qemu_vfree|free|g_clear_pointer|assert|g_assert\w*|monitor_printf)")
_CALL_STMT_RE = re.compile(r"(?:^|[;{}]\s*)(\w+)\s*\(([^;]*)\)\s*(?=;)", re.S)


def release_calls(text: str | None) -> list[str]:
    """Release calls of a failure block or an error_path summary, without
    whitespace: `qemu_mutex_unlock(&s->lock);` -> `qemu_mutex_unlock(&s->lock)`."""
    out = []
    for m in _CALL_STMT_RE.finditer((text or "").replace("(stub)", "") + ";"):
        name = m.group(1)
        if name in ("return", "if", "while", "for", "sizeof") or _NOT_RELEASE_RE.fullmatch(name):
            continue
        out.append(re.sub(r"\s+", "", f"{name}({m.group(2)})"))
    return out


def _index(findings: list[dict]) -> dict:
    idx: dict = {}
    for f in findings:
        idx.setdefault((f["file"], f["line"]), []).append(f)
    return idx


def _match(rec: dict, idx: dict, by_file: dict) -> dict | None:
    for f in idx.get((rec["file"], rec["line"]), []):
        if f["allocator"] == rec["allocator"]:
            return f
    # A site reported on a neighbouring line (multi-line call): same function and allocator, nearest line.
    near = [f for f in by_file.get(rec["file"], []) if f["allocator"] == rec["allocator"]
            and f.get("function") == rec["function"] and abs(f["line"] - rec["line"]) <= 3]
    return min(near, key=lambda f: abs(f["line"] - rec["line"])) if near else None


def miss_cause(f: dict | None) -> str:
    if f is None:
        return "not found as an allocation site (form not matched or parse error)"
    reason = f.get("reason", "")
    if f["size"]["class"] == "small":
        return "size classified small"
    if f["phase"]["class"] == "startup":
        return "phase classified startup"
    return f"action none: {reason[:80]}"


def score(manifest: dict, doc: dict) -> dict:
    """Recall and error-path agreement of a findings document against a revert manifest."""
    findings = doc.get("findings", [])
    idx = _index(findings)
    by_file: dict = {}
    for f in findings:
        by_file.setdefault(f["file"], []).append(f)
    sites = []
    for rec in manifest["reverted"]:
        f = _match(rec, idx, by_file)
        row = {"file": rec["file"], "line": rec["line"], "function": rec["function"],
               "allocator": rec["allocator"], "original": rec["failure"],
               "finding": None if f is None else {k: f.get(k) for k in
                                                  ("action", "size", "phase", "reason", "error_path", "policy")}}
        if f is not None and f["action"] in FLAGGED:
            row["flagged"] = True
        else:
            row["flagged"] = False
            row["miss_cause"] = miss_cause(f)
        if f is not None and f["action"] in ("rewrite", "stub"):
            mine = parse_error_path(f.get("error_path"))
            row["allocfix_path"] = mine
            agree, kinds = compare_paths(rec["failure"], mine)
            if f["action"] == "stub":
                agree, kinds = False, ["allocfix proposes a stub"] + kinds
            row["path_agree"], row["path_disagreements"] = agree, kinds
            row["value_agree"] = f["action"] == "rewrite" and same_value(rec["failure"], mine)
            # Releases done before a direct return (a goto leaves them to the label).
            if rec["failure"].get("kind") == "return" and f["action"] == "rewrite":
                theirs = release_calls(rec["failure"].get("body"))
                ours = release_calls(f.get("error_path")) if mine["kind"] == "return" else []
                if theirs or ours:
                    row["releases"] = {"original": theirs, "allocfix": ours, "agree": sorted(theirs) == sorted(ours)}
        sites.append(row)
    n = len(sites)
    flagged = [s for s in sites if s["flagged"]]
    rewrites = [s for s in sites if s["finding"] and s["finding"]["action"] == "rewrite"]
    agree = [s for s in rewrites if s["path_agree"]]
    return {
        "sites": n,
        "flagged": len(flagged),
        "recall": len(flagged) / n if n else 0.0,
        "actions": dict(Counter(s["finding"]["action"] if s["finding"] else "not found" for s in sites)),
        "misses_by_cause": dict(Counter(s["miss_cause"] for s in sites if not s["flagged"]).most_common()),
        "flagged_by_phase": dict(Counter(s["finding"]["phase"]["class"] for s in flagged)),
        "flagged_by_size": dict(Counter(s["finding"]["size"]["class"] for s in flagged)),
        "rewrites": len(rewrites),
        "path_agree": len(agree),
        "path_agreement": len(agree) / len(rewrites) if rewrites else 0.0,
        "value_agree": sum(1 for s in rewrites if s["value_agree"]),
        "path_disagreements_by_kind": dict(Counter(k for s in rewrites for k in s["path_disagreements"]).most_common()),
        "stubs": sum(1 for s in sites if s["finding"] and s["finding"]["action"] == "stub"),
        "release_sites": sum(1 for s in sites if "releases" in s),
        "release_agree": sum(1 for s in sites if s.get("releases", {}).get("agree")),
        "skipped_reverts": len(manifest.get("skipped", [])),
        "details": sites,
    }


def render(result: dict, out=None) -> None:
    p = lambda *a: print(*a, file=out or sys.stdout)  # noqa: E731
    p(f"reverted sites:            {result['sites']}  (not revertible: {result['skipped_reverts']})")
    p(f"flagged by allocfix:       {result['flagged']}  recall {100 * result['recall']:.1f}%  (target >= 90%)")
    p(f"  by action:               {result['actions']}")
    p(f"  flagged by phase:        {result['flagged_by_phase']}")
    p(f"  flagged by size:         {result['flagged_by_size']}")
    p("misses by cause:")
    for cause, n in result["misses_by_cause"].items():
        p(f"  {n:4d}  {cause}")
    p(f"rewrites compared:         {result['rewrites']}  agree {result['path_agree']}"
      f"  ({100 * result['path_agreement']:.1f}%, target >= 80%)")
    if result["rewrites"]:
        p(f"  lenient (same failure value whether by return or goto, errp alike): {result['value_agree']}"
          f"  ({100 * result['value_agree'] / result['rewrites']:.1f}%)")
    p("error-path disagreements by kind:")
    for kind, n in result["path_disagreements_by_kind"].items():
        p(f"  {n:4d}  {kind}")
    if result.get("release_sites"):
        p(f"releases before a direct return (original or allocfix): {result['release_sites']}"
          f"  same releases {result['release_agree']}")
    if "timing" in result:
        p(f"allocfix wall time: {result['timing']['allocfix_seconds']:.1f} s")


def run_allocfix(tree: Path, files: list[str], code: Path | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code or Path(__file__).resolve().parent.parent))
    cmd = [sys.executable, "-m", "codemod", "--dry-run", "--format", "json", "--all", *files]
    root = Path(env["PYTHONPATH"])
    if "--tree" in (root / "codemod" / "cli.py").read_text():
        # Older checkouts have no whole-tree phase analysis: they run without it.
        cmd[6:6] = ["--tree", str(tree)]
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0 and not proc.stdout.strip():
        raise SystemExit(f"allocfix failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="pristine QEMU tree (never modified)")
    ap.add_argument("--json", help="write the full result (per-site details) here")
    ap.add_argument("--keep", help="revert into this new directory and keep it (default: a temp dir)")
    ap.add_argument("--reuse", help="an already reverted tree with revert-manifest.json")
    ap.add_argument("--findings", help="with --reuse: an allocfix JSON document already made for it")
    ap.add_argument("--allocfix-code", type=Path,
                    help="directory holding the codemod package to measure (default: this checkout)")
    args = ap.parse_args(argv)
    timing = {}
    if args.reuse:
        tree = Path(args.reuse)
        manifest = json.loads((tree / "revert-manifest.json").read_text())
        tmp = None
    else:
        tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="allocfix-recall-")
        tree = Path(args.keep) if args.keep else Path(tmp.name) / "tree"
        manifest = revert_tree(Path(args.src), tree)
        (tree / "revert-manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if args.findings:
        doc = json.loads(Path(args.findings).read_text())
    else:
        files = sorted({r["file"] for r in manifest["reverted"]})
        t0 = time.monotonic()
        doc = run_allocfix(tree, files, args.allocfix_code)
        timing["allocfix_seconds"] = time.monotonic() - t0
    result = score(manifest, doc)
    if timing:
        result["timing"] = timing
    render(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
