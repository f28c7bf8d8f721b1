"""Command line: arguments, wiring and exit codes only (GUIDE §2)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from codemod import __version__
from codemod.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, AllocfixError, RuleError, UsageError
from codemod.findings import Status
from codemod.rulesdata import builtin_rules_dir

SUBCOMMANDS = ("test", "explain", "dump")


def _main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="allocfix",
        description="Find and fix unchecked large allocations in QEMU-style C code "
        "(QEMU's allocation-failure policy, rules R1-R7).",
        epilog="Subcommands: `allocfix test RULES...` runs rule golden tests; `allocfix explain FILE:LINE` "
        "says why a site was (or was not) flagged; `allocfix dump parse|pattern|callgraph ...` shows "
        "intermediate forms.",
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
    p.add_argument("--interactive", action="store_true",
                   help="review each proposed hunk (accept, skip, skip always, edit, quit); "
                   "decisions are kept in the review file")
    p.add_argument("--review-file", metavar="FILE",
                   help="review decisions (default: TREE/.allocfix/review.json); while it exists, "
                   "apply and --series use only its accepted hunks")
    p.add_argument("--force", action="store_true",
                   help="apply even when files allocfix would write have uncommitted git changes")
    p.add_argument("--rules", action="append", metavar="PATH", help="rule file or directory instead of the built-in rules")
    p.add_argument("--extra-rules", action="append", metavar="PATH", help="rule file or directory beside the built-in rules")
    p.add_argument("--macros", metavar="FILE", help="macro profile (default: the built-in QEMU profile)")
    p.add_argument("-D", dest="virtuals", action="append", default=[], metavar="NAME", help="define a virtual rule name")
    p.add_argument("--small-limit", type=int, default=4096, metavar="BYTES", help="largest 'small' allocation (R3)")
    p.add_argument("--startup-exit", action="store_true", help="R2: large allocations that run only at startup "
                   "exit with a message (error_report + exit) instead of aborting")
    p.add_argument("--tree", metavar="DIR", help="project root whose call graph decides each site's phase "
                   "(default: the nearest directory above the paths with MAINTAINERS or .git)")
    p.add_argument("--no-phase", action="store_true", help="skip the whole-tree phase analysis (every site's phase "
                   "is then unknown and treated as possibly after startup)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip files matching GLOB")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N", help="parallel jobs (default: all cores)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="where to keep the result cache (default: .allocfix/cache of the checkout, "
                        "else $XDG_CACHE_HOME/allocfix)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the result cache")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress bar on stderr (auto: when stderr is a terminal)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--version", action="version", version=f"allocfix {__version__}")
    return p


def _test_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allocfix test", description="Run rule golden tests "
                                "(NAME.cocci + NAME.c [+ NAME.res], or RULES/tests/STEM/*.c [+ .res]).")
    p.add_argument("rules", nargs="+", metavar="RULES", help="rule files or directories")
    p.add_argument("--macros", metavar="FILE")
    return p


def _explain_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allocfix explain", description="Why the allocation site(s) on a line "
                                "were (or were not) flagged: size evidence, phase chain, error path, change.")
    p.add_argument("location", metavar="FILE:LINE")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--rules", action="append", metavar="PATH")
    p.add_argument("--extra-rules", action="append", metavar="PATH")
    p.add_argument("--macros", metavar="FILE")
    p.add_argument("--small-limit", type=int, default=4096)
    p.add_argument("--tree", metavar="DIR")
    p.add_argument("--no-phase", action="store_true")
    p.add_argument("--jobs", "-j", type=int, default=None)
    p.add_argument("-D", dest="virtuals", action="append", default=[])
    return p


def _dump_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="allocfix dump", description="Show intermediate forms, to see why a rule "
                                "did or did not match.")
    sub = p.add_subparsers(dest="what", required=True)
    parse = sub.add_parser("parse", help="the tree-sitter parse tree of a C file after macro masking")
    parse.add_argument("file")
    parse.add_argument("--macros", metavar="FILE")
    parse.add_argument("--masked", action="store_true", help="print the masked source instead of the tree")
    pattern = sub.add_parser("pattern", help="the compiled patterns of a rule file")
    pattern.add_argument("rule_file")
    pattern.add_argument("--macros", metavar="FILE")
    cg = sub.add_parser("callgraph", help="callers of a function up to its entry points")
    cg.add_argument("location", metavar="FILE:FUNCTION")
    cg.add_argument("--macros", metavar="FILE")
    cg.add_argument("--tree", metavar="DIR")
    cg.add_argument("--jobs", "-j", type=int, default=None)
    return p


def _surely_not_terminal(stream, mode: str) -> bool:
    """Whether rich would find no terminal behind `stream` (its own test:
    a forced mode, then TTY_COMPATIBLE and FORCE_COLOR, then isatty).
    A warm re-run piped into a file or a pager then never imports rich
    (about a fifth of its start-up)."""
    if mode == "never":
        return True
    if mode == "always" or os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR") is not None:
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return isatty is None or not isatty()
    except (OSError, ValueError):
        return True


def _progress_console(args):
    """The console the progress bar draws on: stderr, so piped stdout stays clean."""
    mode = getattr(args, "progress", "auto")
    if mode == "never" or _surely_not_terminal(sys.stderr, mode):
        return None
    from rich.console import Console

    return Console(stderr=True, force_terminal=True if mode == "always" else None)


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
        if argv and argv[0] == "explain":
            return _cmd_explain(_explain_parser().parse_args(argv[1:]))
        if argv and argv[0] == "dump":
            return _cmd_dump(_dump_parser().parse_args(argv[1:]))
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


def _split_location(text: str, what: str) -> tuple[str, str]:
    path, sep, rest = text.rpartition(":")
    if not sep or not path or not rest:
        raise UsageError(f"expected {what}, got '{text}'")
    if not Path(path).is_file():
        raise _input_error(f"{path}: no such file")
    return path, rest


def _input_error(message: str):
    from codemod.errors import InputError

    return InputError(message)


def _cmd_explain(args) -> int:
    import json as _json

    from codemod.discover import discover
    from codemod.explain import explain, render_explanation, to_json
    from codemod.runner import RunSpec

    path, line_text = _split_location(args.location, "FILE:LINE")
    if not line_text.isdigit():
        raise UsageError(f"'{line_text}' is not a line number (expected FILE:LINE)")
    [found] = discover([path]).files
    spec = RunSpec(tuple(_rule_paths(args)), _profile_path(args), args.small_limit, tuple(args.virtuals))
    config = spec.build()
    if not args.no_phase:
        args.paths = [path]
        spec, config = _with_phase(args, spec, config)
    explanations = explain(found.path, found.display, int(line_text), config)
    if args.format == "json":
        print(_json.dumps([to_json(e) for e in explanations], indent=2))
    else:
        print("\n\n".join(render_explanation(e) for e in explanations))
    return EXIT_OK


def _cmd_dump(args) -> int:
    from codemod.cparse import MacroProfile, parse_source
    from codemod.source import SourceFile

    profile = MacroProfile.load(_profile_path(args))
    if args.what == "parse":
        data = Path(args.file).read_bytes() if Path(args.file).is_file() else None
        if data is None:
            raise _input_error(f"{args.file}: no such file")
        parsed = parse_source(SourceFile(args.file, args.file, data), profile)
        if args.masked:
            sys.stdout.buffer.write(parsed.masked)
            return EXIT_OK
        _print_tree(parsed)
        return EXIT_OK
    if args.what == "pattern":
        from codemod.smpl.loader import load_rule_file

        for rule in load_rule_file(args.rule_file, profile):
            print(f"rule {rule.name} ({rule.kind})" + (f" depends on {rule.depends}" if rule.depends else ""))
            for k, mv in rule.metavars.items():
                print(f"  {mv.kind} {k}" + (f" from {mv.inherited_from}" if mv.inherited_from else ""))
            for i, alt in enumerate(rule.alternatives):
                print(f"  alternative {i + 1}: {alt.kind}")
                for node in alt.nodes:
                    _print_pnode(node, 2)
                for chunk in alt.plus:
                    print(f"    + after offset {chunk.anchor}: " + " / ".join(t for _, t in chunk.lines))
        return EXIT_OK
    path, fn = _split_location(args.location, "FILE:FUNCTION")
    from codemod.discover import find_tree_root
    from codemod.wholetree import build_phase_index, tree_key

    root = Path(os.path.abspath(args.tree)) if args.tree else find_tree_root([Path(path)])
    index = build_phase_index(root, _profile_path(args), args.jobs or _default_jobs())
    print(index.slice(tree_key(path, root), fn))
    return EXIT_OK


def _print_tree(parsed) -> None:
    data = parsed.source.data
    cursor = parsed.tree.walk()
    depth = 0
    while True:
        node = cursor.node
        line, col = parsed.source.line_col(node.start_byte)
        label = node.type if node.is_named else repr(node.type)
        flag = " ERROR" if node.is_error else (" MISSING" if node.is_missing else "")
        text = ""
        if node.child_count == 0:
            text = " " + data[node.start_byte : node.end_byte].decode("utf-8", "replace")[:40]
        if node.is_named or node.is_missing:
            print(f"{'  ' * depth}{label} {line}:{col}{flag}{text}")
        if cursor.goto_first_child():
            depth += 1
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            depth -= 1


def _print_pnode(node, depth: int) -> None:
    extra = f" {node.text!r}" if node.kind != "node" else ""
    marks = (" -" if node.minus else "") + (f" @{','.join(node.positions)}" if node.positions else "")
    print(f"{'  ' * depth}{node.kind} {node.type}{extra}{marks}")
    for c in node.children:
        _print_pnode(c, depth + 1)


def _cmd_scan(args) -> int:
    from codemod.discover import discover
    from codemod.runner import RunSpec, run, terminal_progress

    if not args.paths:
        raise UsageError("no path to scan", hint="e.g. `allocfix --dry-run hw/`; see --help")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    modes = [m for m in ("series", "check", "stats", "interactive") if getattr(args, m)]
    if len(modes) > 1:
        raise UsageError(f"--{modes[0]} and --{modes[1]} cannot be combined")
    discovery = discover(args.paths, tuple(args.exclude))
    spec = RunSpec(tuple(_rule_paths(args)), _profile_path(args), args.small_limit, tuple(args.virtuals),
                   startup_exit=args.startup_exit)
    if not args.no_cache:
        from codemod.cache import default_cache_dir
        from codemod.smpl.script import remember_checks

        remember_checks(args.cache_dir if args.cache_dir is not None else default_cache_dir(discovery.root))
    config = spec.build()  # fail fast on rule errors, before any worker starts
    _tune_gc()
    if not args.no_phase and not args.stats:
        spec, config = _with_phase(args, spec, config, reuse=True, discovery=discovery)
    # Piped diff output needs no console (see _surely_not_terminal).
    plain = ((args.dry_run or args.check) and args.format == "diff" and not args.interactive and not args.series
             and _surely_not_terminal(sys.stdout, args.color))
    console = None if plain else _console(args)
    jobs = args.jobs
    has_finalizers = any(r.kind == "finalize" for _, group in config.rules.groups for r in group)
    if has_finalizers:
        jobs = 1  # @finalize:python@ must see the state every file's scripts built: one process
    with terminal_progress(_progress_console(args)) as progress:
        report = run(discovery, spec, jobs, progress, config=config,
                     cache_dir=args.cache_dir, use_cache=not args.no_cache)
    if has_finalizers:
        from codemod.smpl.runtime import ScriptFailure, run_finalizers

        try:
            run_finalizers(config.rules)
        except ScriptFailure as exc:
            raise RuleError(str(exc)) from None
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
    if args.interactive:
        from codemod.review import cli_interactive

        return max(input_exit, cli_interactive(console, report.results, args.paths, args.review_file,
                                               profile=config.profile))
    if args.series:
        from codemod.review import cli_series

        return max(input_exit, cli_series(report.results, args, profile=config.profile, err=_err))
    needs_action = any(f.needs_action for r in report.results for f in r.findings)
    if args.format in ("json", "sarif"):
        from codemod.render.json_out import dumps, findings_document
        from codemod.render.sarif import sarif_document

        doc = (findings_document if args.format == "json" else sarif_document)(report, args.all)
        sys.stdout.write(dumps(doc))
    elif args.dry_run or args.check:
        _print_diffs(console, report.results, None if args.no_cache else _diff_memo(args, discovery))
    if args.check:
        return max(input_exit, EXIT_FINDINGS if needs_action else EXIT_OK) if input_exit else (
            EXIT_FINDINGS if needs_action else EXIT_OK)
    if args.dry_run or args.format != "diff":
        return input_exit
    from codemod.apply import cli_apply

    return cli_apply(console, report.results, args.paths, force=args.force, review_file=args.review_file,
                     profile=config.profile, input_exit=input_exit, err=_err)


def _tune_gc() -> None:
    """A scan allocates millions of small objects that live until the end (facts,
    findings) and makes almost no reference cycles: the default collector
    thresholds spend ~10% of a whole-tree scan re-examining them. Objects made
    so far (modules, compiled rules) are frozen, which also keeps forked
    workers from touching, and so copying, their pages."""
    import gc

    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _with_phase(args, spec, config, reuse: bool = False, discovery=None):
    """Add the whole-project phase index (call graph from entry points) to the run.

    `reuse`: the run only asks for phases at sites, so a phase snapshot may
    answer (explain asks the call graph itself)."""
    import dataclasses

    from codemod.discover import find_tree_root
    from codemod.wholetree import build_phase_index

    if args.tree:
        if not Path(args.tree).is_dir():
            raise UsageError(f"--tree {args.tree}: not a directory")
        root = Path(os.path.abspath(args.tree))
    else:
        root = find_tree_root([Path(p) for p in args.paths])
    from codemod.runner import terminal_progress

    use_cache = not getattr(args, "no_cache", True)
    files = None
    if (discovery is not None and not getattr(args, "exclude", None) and len(args.paths) == 1
            and os.path.abspath(args.paths[0]) == str(root) and discovery.root == str(root)):
        files = discovery.files  # the scan is the whole project: the same discovery
    with terminal_progress(_progress_console(args)) as progress:
        index = build_phase_index(root, spec.profile_path, args.jobs or _default_jobs(),
                                  cache_dir=getattr(args, "cache_dir", None), use_cache=use_cache,
                                  progress=progress, reuse=reuse, files=files)
    spec = dataclasses.replace(spec, phase_index=index, tree_root=str(root),
                               parse_errors=getattr(index, "parse_errors", None))
    config.phase_index, config.tree_root = index, str(root)
    return spec, config


def _default_jobs() -> int:
    from codemod.runner import default_jobs

    return default_jobs()


def _diff_memo(args, discovery):
    from codemod.cache import default_cache_dir
    from codemod.render.diff import DiffMemo

    return DiffMemo(args.cache_dir if args.cache_dir is not None else default_cache_dir(discovery.root))


def _print_diffs(console, results, memo=None) -> None:
    from codemod.render.diff import unified_diff

    if console is not None and console.is_terminal:
        from codemod.render.terminal import print_dry_run, print_summary

        print_dry_run(console, results)
        print_summary(console, results, applied=False)
        return
    out = sys.stdout.buffer
    for r in results:
        if r.changed:
            out.write(memo.unified_diff(r.display, r.original, r.rewritten) if memo is not None
                      else unified_diff(r.display, r.original, r.rewritten))
    out.flush()
    if memo is not None:
        memo.save()
