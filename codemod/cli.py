"""Command line: arguments, wiring and exit codes only (GUIDE §2)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from codemod import __version__
from codemod.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, AllocfixError, UsageError
from codemod.findings import Status
from codemod.rulesdata import builtin_rules_dir

SUBCOMMANDS = ("test",)


def _main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="allocfix",
        description="Find and fix unchecked large allocations in QEMU-style C code "
        "(QEMU's allocation-failure policy, rules R1-R7).",
        epilog="Subcommands: `allocfix test RULES...` runs rule golden tests.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to scan")
    p.add_argument("--dry-run", action="store_true", help="show the changes; write nothing")
    p.add_argument("--format", choices=("diff", "json", "sarif"), default="diff",
                   help="output of --dry-run / --check (default: diff)")
    p.add_argument("--all", action="store_true", help="with --format json/sarif: list sites that need nothing too")
    p.add_argument("--check", action="store_true", help="exit 1 when any site needs action (for CI); writes nothing")
    p.add_argument("--stats", action="store_true", help="print parse and site statistics")
    p.add_argument("--series", metavar="OUTDIR", help="write a git format-patch series to OUTDIR; the tree is untouched")
    p.add_argument("--signoff", metavar="'NAME <MAIL>'", help="Signed-off-by for --series (default: git config)")
    p.add_argument("-v", "--reroll-count", dest="reroll", type=int, metavar="N", help="--series: mark as version N ([PATCH vN n/M])")
    p.add_argument("--subject-prefix", default="PATCH", metavar="PREFIX", help="--series: subject prefix (e.g. RFC)")
    p.add_argument("--base", metavar="COMMIT", help="--series: record the base commit in the cover letter")
    p.add_argument("--rules", action="append", metavar="PATH", help="rule file or directory instead of the built-in rules")
    p.add_argument("--extra-rules", action="append", metavar="PATH", help="rule file or directory beside the built-in rules")
    p.add_argument("--macros", metavar="FILE", help="macro profile (default: the built-in QEMU profile)")
    p.add_argument("-D", dest="virtuals", action="append", default=[], metavar="NAME", help="define a virtual rule name")
    p.add_argument("--small-limit", type=int, default=4096, metavar="BYTES", help="largest 'small' allocation (R3)")
    p.add_argument("--tree", metavar="DIR", help="project root whose call graph decides each site's phase "
                   "(default: the nearest directory above the paths with MAINTAINERS or .git)")
    p.add_argument("--no-phase", action="store_true", help="skip the whole-tree phase analysis (every site's phase "
                   "is then unknown and treated as possibly after startup)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip files matching GLOB")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N", help="parallel jobs (default: all cores)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--version", action="version", version=f"allocfix {__version__}")
    return p


def _test_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allocfix test", description="Run rule golden tests "
                                "(NAME.cocci + NAME.c [+ NAME.res], or RULES/tests/STEM/*.c [+ .res]).")
    p.add_argument("rules", nargs="+", metavar="RULES", help="rule files or directories")
    p.add_argument("--macros", metavar="FILE")
    return p


def _console(args):
    from rich.console import Console

    force = {"always": True, "never": False}.get(getattr(args, "color", "auto"))
    return Console(force_terminal=force, no_color=force is False, highlight=False, soft_wrap=True)


def _err(message: str) -> None:
    print(f"allocfix: {message}", file=sys.stderr)


def _profile_path(args) -> str:
    return args.macros or str(builtin_rules_dir() / "qemu-macros.toml")


def _rule_paths(args) -> list[str]:
    base = args.rules or [str(builtin_rules_dir())]
    return [*base, *(args.extra_rules or [])]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "test":
            return _cmd_test(_test_parser().parse_args(argv[1:]))
        args = _main_parser().parse_args(argv)
        return _cmd_scan(args)
    except AllocfixError as exc:
        _err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        # `allocfix --dry-run | head`: the reader went away; not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK


def _cmd_test(args) -> int:
    from codemod.cparse import MacroProfile
    from codemod.testing import collect, run_case

    profile = MacroProfile.load(args.macros or str(builtin_rules_dir() / "qemu-macros.toml"))
    for r in args.rules:
        if not Path(r).exists():
            raise UsageError(f"{r}: no such rule file or directory")
    cases = collect([Path(r) for r in args.rules])
    if not cases:
        raise UsageError("no golden tests found", hint="expected NAME.cocci + NAME.c [+ NAME.res]")
    failed = 0
    for case in cases:
        outcome = run_case(case, profile)
        print(f"{'ok  ' if outcome.passed else 'FAIL'} {case.name}")
        if not outcome.passed:
            failed += 1
            print(outcome.detail)
    print(f"{len(cases) - failed} passed, {failed} failed")
    return EXIT_OK if not failed else EXIT_FINDINGS


def _cmd_scan(args) -> int:
    from codemod.discover import discover
    from codemod.runner import RunSpec, run

    if not args.paths:
        raise UsageError("no path to scan", hint="e.g. `allocfix --dry-run hw/`; see --help")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    modes = [m for m in ("series", "check", "stats") if getattr(args, m)]
    if len(modes) > 1:
        raise UsageError(f"--{modes[0]} and --{modes[1]} cannot be combined")
    discovery = discover(args.paths, tuple(args.exclude))
    spec = RunSpec(tuple(_rule_paths(args)), _profile_path(args), args.small_limit, tuple(args.virtuals))
    config = spec.build()  # fail fast on rule errors, before any worker starts
    if not args.no_phase and not args.stats:
        spec, config = _with_phase(args, spec, config)
    console = _console(args)
    progress = None
    report = run(discovery, spec, args.jobs, progress, config=config)
    failures = [r for r in report.results if r.status is Status.FAILED]
    skipped = [r for r in report.results if r.status is Status.SKIPPED]
    for r in failures + skipped:
        _err(r.message)
    for r in report.results:
        for why in r.dropped:
            _err(f"{r.display}: {why}")
    explicit_bad = any(r.status is not Status.OK and not Path(p).is_dir()
                       for r in skipped for p in args.paths if os.path.abspath(p) == os.path.abspath(r.path))
    input_exit = EXIT_INPUT if failures or explicit_bad else EXIT_OK

    if args.stats:
        from codemod.render.json_out import dumps, stats_object

        stats = stats_object(report)
        if args.format == "json":
            sys.stdout.write(dumps(stats))
        else:
            sites = stats["sites"] or 1
            files = stats["files"] or 1
            print(f"files: {stats['files']}")
            print(f"files with parse errors: {stats['files_with_parse_errors']} "
                  f"({100 * stats['files_with_parse_errors'] / files:.1f}%)")
            print(f"allocation sites: {stats['sites']}")
            print(f"sites in functions with parse errors: {stats['sites_in_functions_with_parse_errors']} "
                  f"({100 * stats['sites_in_functions_with_parse_errors'] / sites:.2f}%)")
        return input_exit
    if args.series:
        from codemod.series import find_tree_root, write_series

        written = write_series(Path(args.series), [r for r in report.results if r.changed],
                               tree_root=find_tree_root([Path(p) for p in args.paths]), signoff=args.signoff,
                               version=args.reroll, subject_prefix=args.subject_prefix, base=args.base)
        if not written:
            print("allocfix: nothing to send (no changes)")
        for path in written:
            print(path)
        return input_exit
    needs_action = any(f.needs_action for r in report.results for f in r.findings)
    if args.format in ("json", "sarif"):
        from codemod.render.json_out import dumps, findings_document
        from codemod.render.sarif import sarif_document

        doc = (findings_document if args.format == "json" else sarif_document)(report, args.all)
        sys.stdout.write(dumps(doc))
    elif args.dry_run or args.check:
        _print_diffs(console, report.results)
    if args.check:
        return max(input_exit, EXIT_FINDINGS if needs_action else EXIT_OK) if input_exit else (
            EXIT_FINDINGS if needs_action else EXIT_OK)
    if args.dry_run or args.format != "diff":
        return input_exit
    return _apply(console, report.results, input_exit)


def _with_phase(args, spec, config):
    """Add the whole-project phase index (call graph from entry points) to the run."""
    import dataclasses

    from codemod.series import find_tree_root
    from codemod.wholetree import build_phase_index

    if args.tree:
        if not Path(args.tree).is_dir():
            raise UsageError(f"--tree {args.tree}: not a directory")
        root = Path(os.path.abspath(args.tree))
    else:
        root = find_tree_root([Path(p) for p in args.paths])
    index = build_phase_index(root, spec.profile_path, args.jobs or _default_jobs())
    spec = dataclasses.replace(spec, phase_index=index, tree_root=str(root))
    config.phase_index, config.tree_root = index, str(root)
    return spec, config


def _default_jobs() -> int:
    from codemod.runner import default_jobs

    return default_jobs()


def _print_diffs(console, results) -> None:
    from codemod.render.diff import unified_diff
    from codemod.render.terminal import print_dry_run, print_summary

    if console.is_terminal:
        print_dry_run(console, results)
        print_summary(console, results, applied=False)
        return
    out = sys.stdout.buffer
    for r in results:
        if r.changed:
            out.write(unified_diff(r.display, r.original, r.rewritten))
    out.flush()


def _apply(console, results, input_exit: int) -> int:
    from codemod.apply import apply_result
    from codemod.render.terminal import print_summary

    refused = 0
    for r in results:
        outcome = apply_result(r)
        if outcome.message:
            _err(outcome.message)
            refused += 1
    print_summary(console, results, applied=True)
    return EXIT_INPUT if refused else input_exit
