#!/usr/bin/env python3
"""Parse-quality statistics for the C front end on a source tree.

    parse_stats.py TREE [--profile FILE | --no-profile] [--jobs N] [--top N]
                   [--files N] [--exclude GLOB]... [--json]

Parses every .c file below TREE (macro masking with the profile, default
rules/qemu-macros.toml) and counts files with ERROR/MISSING nodes, allocation
sites, and allocation sites whose enclosing function (or, outside functions,
top-level node) has parse errors. `--top N` lists the commonest error contexts
(the identifier at or just before each ERROR node) to guide profile work.
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import json
import multiprocessing
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codemod.analysis.sites import find_sites  # noqa: E402
from codemod.cparse import MacroProfile, ParsedFile, default_profile, iter_errors, parse_source, parser  # noqa: E402
from codemod.errors import RuleError  # noqa: E402
from codemod.rulesdata import load_allocators  # noqa: E402
from codemod.source import SourceFile  # noqa: E402

_IDENT_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_TAIL_IDENT_RE = re.compile(rb"([A-Za-z_][A-Za-z0-9_]*)[^A-Za-z0-9_]*\Z")

_PROFILE: MacroProfile | None = None  # None: raw tree-sitter-c


def _init(profile_path: str | None, no_profile: bool) -> None:
    global _PROFILE
    if no_profile:
        _PROFILE = None  # raw tree-sitter-c: no masking at all
    elif profile_path:
        _PROFILE = MacroProfile.load(profile_path)
    else:
        _PROFILE = default_profile()


def _error_context(data: bytes, node) -> str:
    """A short name for what an ERROR node is about: the first identifier in
    it, else the identifier just before it (usually the unknown macro)."""
    text = data[node.start_byte : min(node.end_byte, node.start_byte + 200)]
    m = _IDENT_RE.search(text)
    if m and node.is_error:
        return m.group().decode("ascii", "replace")
    before = data[max(0, node.start_byte - 200) : node.start_byte]
    t = _TAIL_IDENT_RE.search(before)
    label = t.group(1).decode("ascii", "replace") if t else "?"
    return ("missing-before:" if node.is_missing else "before:") + label


def _toplevel_of(node):
    while node.parent is not None and node.parent.parent is not None:
        node = node.parent
    return node


def _count_functions(root) -> tuple[int, int]:
    """(function definitions, those with errors); bodies are not searched."""
    total = bad = 0
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "function_definition":
            total += 1
            bad += n.has_error
        else:
            stack.extend(n.children)
    return total, bad


def stat_file(path: str) -> dict:
    """Per-file figures; never raises (an unreadable file is reported)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return {"path": path, "error": str(exc)}
    t0 = time.perf_counter()
    source = SourceFile(path, path, data)
    if _PROFILE is None:
        parsed = ParsedFile(source, data, parser().parse(data))
    else:
        parsed = parse_source(source, _PROFILE)
    parse_s = time.perf_counter() - t0
    sites = find_sites(parsed, load_allocators())
    bad_sites = 0
    for s in sites:
        scope = s.function if s.function is not None else _toplevel_of(s.call)
        if scope.has_error:
            bad_sites += 1
    functions, bad_functions = _count_functions(parsed.root)
    contexts: list[str] = []
    if parsed.has_errors:
        for err in iter_errors(parsed.root):
            ctx = _error_context(data, err)
            contexts.append(ctx)
    return {
        "path": path,
        "errors": parsed.has_errors,
        "error_nodes": len(contexts),
        "contexts": contexts,
        "sites": len(sites),
        "bad_sites": bad_sites,
        "functions": functions,
        "bad_functions": bad_functions,
        "parse_seconds": parse_s,
    }


def c_files(tree: str, excludes: list[str] = ()) -> list[str]:
    """Every .c file below `tree`, sorted; `excludes` are fnmatch globs on
    the path relative to `tree` (a directory glob excludes what is below it)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(tree):
        rel_dir = os.path.relpath(dirpath, tree)
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and not _excluded(os.path.normpath(os.path.join(rel_dir, d)), excludes)
        )
        out.extend(
            os.path.join(dirpath, f) for f in sorted(filenames)
            if f.endswith(".c") and not _excluded(os.path.normpath(os.path.join(rel_dir, f)), excludes)
        )
    return out


def _excluded(rel: str, excludes) -> bool:
    return any(fnmatch.fnmatch(rel, pat) for pat in excludes)


def pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.2f}%" if b else "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--profile", help="macro profile TOML (default: rules/qemu-macros.toml)")
    g.add_argument("--no-profile", action="store_true", help="raw tree-sitter-c: no masking at all (the baseline)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--top", type=int, default=0, help="list the N commonest error contexts")
    ap.add_argument("--files", type=int, default=0, help="list N files with most error nodes")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                    help="skip paths (relative to TREE) matching GLOB, e.g. 'roms' (repeatable)")
    args = ap.parse_args(argv)

    if args.profile:
        try:
            MacroProfile.load(args.profile)  # report a bad profile once, here
        except RuleError as exc:
            print(f"parse_stats: {exc}", file=sys.stderr)
            return 2
    if not os.path.isdir(args.tree):
        print(f"parse_stats: {args.tree}: not a directory", file=sys.stderr)
        return 3
    files = c_files(args.tree, args.exclude)
    t0 = time.perf_counter()
    initargs = (args.profile, args.no_profile)
    if args.jobs > 1:
        with multiprocessing.Pool(args.jobs, initializer=_init, initargs=initargs) as pool:
            results = pool.map(stat_file, files, chunksize=16)
    else:
        _init(*initargs)
        results = [stat_file(f) for f in files]
    wall = time.perf_counter() - t0

    ok = [r for r in results if "error" not in r]
    n_err = sum(1 for r in ok if r["errors"])
    sites = sum(r["sites"] for r in ok)
    bad = sum(r["bad_sites"] for r in ok)
    ctx = collections.Counter(c for r in ok for c in r["contexts"])
    # Contexts weighted by allocation sites hurt: which errors cost sites.
    site_ctx = collections.Counter(c for r in ok if r["bad_sites"] for c in set(r["contexts"]))
    summary = {
        "tree": args.tree,
        "profile": "none" if args.no_profile else (args.profile or "builtin"),
        "files": len(results),
        "unreadable": len(results) - len(ok),
        "files_with_errors": n_err,
        "error_nodes": sum(r["error_nodes"] for r in ok),
        "functions": sum(r["functions"] for r in ok),
        "functions_with_errors": sum(r["bad_functions"] for r in ok),
        "sites": sites,
        "sites_in_error_functions": bad,
        "parse_seconds_cpu": round(sum(r["parse_seconds"] for r in ok), 2),
        "wall_seconds": round(wall, 2),
    }
    if args.top:
        summary["top_contexts"] = ctx.most_common(args.top)
        summary["top_contexts_in_files_with_bad_sites"] = site_ctx.most_common(args.top)
    if args.files:
        worst = sorted(ok, key=lambda r: (-r["bad_sites"], -r["error_nodes"]))[: args.files]
        summary["worst_files"] = [(r["path"], r["bad_sites"], r["error_nodes"]) for r in worst]
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
        return 0
    print(f"profile:                   {summary['profile']}")
    print(f"files:                     {len(results)}" + (f" ({summary['unreadable']} unreadable)" if summary["unreadable"] else ""))
    print(f"files with parse errors:   {n_err} ({pct(n_err, len(ok))})")
    print(f"error nodes:               {summary['error_nodes']}")
    nf, bf = summary["functions"], summary["functions_with_errors"]
    print(f"functions:                 {nf}, with parse errors: {bf} ({pct(bf, nf)})")
    print(f"allocation sites:          {sites}")
    print(f"sites in erroneous funcs:  {bad} ({pct(bad, sites)})")
    print(f"parse time (cpu, masking+parse): {summary['parse_seconds_cpu']:.2f}s; wall {wall:.2f}s with {args.jobs} jobs")
    if args.top:
        print(f"\ntop {args.top} error contexts (count):")
        for name, n in summary["top_contexts"]:
            print(f"  {n:6d}  {name}")
        print(f"\ntop {args.top} error contexts in files with sites in erroneous functions (files):")
        for name, n in summary["top_contexts_in_files_with_bad_sites"]:
            print(f"  {n:6d}  {name}")
    if args.files:
        print("\nfiles (bad sites, error nodes):")
        for p, b, e in summary["worst_files"]:
            print(f"  {b:4d} {e:5d}  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
