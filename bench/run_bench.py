#!/usr/bin/env python3
"""Time allocfix against spatch and ast-grep on the QEMU 7.2 corpus (issue 7).

One run measures, per subset (hw/scsi, hw, the whole tree):
- allocfix --dry-run, cold (empty cache) and warm (cache filled, one file
  edited since: the cost of a re-run after a small change; and one file
  touched, same bytes under a new stat: a re-run where nothing changed);
- spatch with a one-line g_malloc rule, -j equal to allocfix's jobs, --dir;
- ast-grep with one pattern, g_malloc($A), same thread count;
reporting the median of N runs, the ratios the issue sets targets for, and
peak memory: the largest single process (rusage) and the sampled sum of the
whole process tree (allocfix and spatch use several processes).

    python bench/run_bench.py [--runs N] [--quick] [--jobs J] [--subsets hw/scsi,hw,.] [--json FILE]

The corpus is unpacked on first use like the tests do (tests/conftest.py).
ast-grep is looked up on PATH and in /tmp/venv-bench (pip install ast-grep-cli
into a separate venv); a missing tool is reported, not fatal.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPATCH_RULE = "@@\nexpression E;\n@@\n- g_malloc(E)\n+ g_try_malloc(E)\n"
# ast-grep parses a bare `g_malloc($A)` as a macro type specifier (tree-sitter-c's
# reading of `name(arg)` alone); the same one pattern, given an expression
# context, selects the call.
ASTGREP_RULE = ('{id: g-malloc, language: c, severity: info, rule: {pattern: '
                '{context: "int x = g_malloc($A);", selector: call_expression}}}')
# The file edited before each warm run, per subset (it must lie inside it).
TOUCH = {"hw/scsi": "hw/scsi/scsi-bus.c", "hw": "hw/scsi/scsi-bus.c", ".": "hw/scsi/scsi-bus.c"}


def _qemu_tree() -> Path:
    override = os.environ.get("ALLOCFIX_QEMU_TREE")
    if override:
        return Path(override)
    spec = importlib.util.spec_from_file_location("allocfix_conftest", REPO / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tree = module.qemu_tree_path()
    if tree is None:
        sys.exit("bench: QEMU 7.2 corpus not found (set ALLOCFIX_QEMU_TARBALL or ALLOCFIX_QEMU_TREE)")
    return tree


# -- measuring one command --------------------------------------------------------------


def _tree_rss_kib(pid: int) -> int:
    """Sum of VmRSS over `pid` and all its descendants (KiB), 0 once it is gone."""
    total = 0
    stack = [pid]
    seen = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Sample:
    seconds: float
    max_rss_mib: float  # largest single process (rusage)
    tree_rss_mib: float  # sampled peak of the process tree's summed RSS
    returncode: int


def measure(cmd: list[str], cwd: Path, env: dict | None = None) -> Sample:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: ast-grep/spatch "no match" or findings
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        print(f"bench: {' '.join(cmd[:3])}... exited {proc.returncode}: {' / '.join(tail)}", file=sys.stderr)
    return Sample(elapsed, usage.ru_maxrss / 1024, peak / 1024, proc.returncode)


@dataclass
class Row:
    tool: str
    subset: str
    files: int
    mbytes: float
    runs: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.runs) if self.runs else float("nan")

    @property
    def max_rss(self) -> float:
        return max((s.max_rss_mib for s in self.runs), default=float("nan"))

    @property
    def tree_rss(self) -> float:
        return max((s.tree_rss_mib for s in self.runs), default=float("nan"))


def subset_size(tree: Path, subset: str) -> tuple[int, float]:
    files = 0
    size = 0
    for dirpath, dirnames, filenames in os.walk(tree / subset):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.endswith((".c", ".h")):
                files += 1
                size += os.path.getsize(os.path.join(dirpath, name))
    return files, size / 1e6


# -- the tools --------------------------------------------------------------------------------


def _python() -> str:
    venv = Path("/tmp/venv/bin/python")
    return str(venv) if venv.exists() else sys.executable


def _allocfix_cmd(subset: str, jobs: int, cache_dir: Path, extra: tuple[str, ...] = ()) -> tuple[list[str], dict]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    help_text = subprocess.run([_python(), "-m", "codemod", "--help"], env=env, capture_output=True,
                               text=True).stdout
    if "--cache-dir" in help_text:
        return [_python(), "-m", "codemod", "--dry-run", *extra, "-j", str(jobs), "--cache-dir", str(cache_dir),
                subset], env
    # The CLI does not have the cache flags yet: the same CLI with the cache
    # switched on from outside (bench/allocfix_cached.py).
    env["ALLOCFIX_BENCH_CACHE_DIR"] = str(cache_dir)
    return [_python(), str(REPO / "bench" / "allocfix_cached.py"), "--dry-run", *extra, "-j", str(jobs), subset], env


def _astgrep() -> str | None:
    for candidate in (shutil.which("ast-grep"), "/tmp/venv-bench/bin/ast-grep"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _replace(path: Path, data: bytes) -> None:
    # A new inode: the tree is a hard-link copy of the shared corpus, which
    # must never change under other users.
    tmp = path.with_name(path.name + ".bench-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Touch:
    """Edit one file (append a comment) and put its bytes back afterwards."""

    def __init__(self, path: Path):
        self.path = path
        self.original = path.read_bytes()
        self.count = 0

    def edit(self) -> None:
        self.count += 1
        _replace(self.path, self.original + f"/* allocfix bench edit {self.count} */\n".encode())

    def restore(self) -> None:
        _replace(self.path, self.original)

    def touch(self) -> None:
        """A new inode and modification time, the same bytes (`touch` on a
        copy): the stat index must re-hash it, and nothing else changes."""
        _replace(self.path, self.path.read_bytes())


def bench(corpus: Path, subsets: list[str], runs: int, jobs: int, tools: set[str]) -> list[Row]:
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="allocfix-bench-"))
    # Every tool runs on a hard-link copy (cheap): the warm runs edit a file.
    tree = work / "qemu"
    subprocess.run(["cp", "-al", str(corpus), str(tree)], check=True)
    rule = work / "g_malloc.cocci"
    rule.write_text(SPATCH_RULE)
    sg = _astgrep()
    if "allocfix" in tools:
        # As installed: pip byte-compiles a package, so no timed run should
        # compile allocfix's modules (PYTHONDONTWRITEBYTECODE, a read-only
        # checkout or stale .pyc files would otherwise make every run do it).
        subprocess.run([_python(), "-m", "compileall", "-q", str(REPO / "codemod")], check=True)
    try:
        for subset in subsets:
            files, mb = subset_size(tree, subset)
            label = "whole tree" if subset == "." else subset

            def timed(tool: str, command: list[str], env: dict | None = None, before=lambda: None) -> Row:
                """`runs` runs of `command` in the tree, each after `before()`."""
                row = Row(tool, label, files, mb)
                for _ in range(runs):
                    before()
                    row.runs.append(measure(command, tree, env))
                    _say(row)
                return row

            if "allocfix" in tools:
                cache = work / f"cache-{subset.replace('/', '_')}"
                cmd, env = _allocfix_cmd(subset, jobs, cache)
                rows.append(timed("allocfix cold", cmd, env, lambda: shutil.rmtree(cache, ignore_errors=True)))
                touch = Touch(tree / TOUCH[subset])
                try:
                    measure(cmd, tree, env)  # fill the cache for the current bytes
                    rows.append(timed("allocfix warm (1 file edited)", cmd, env, touch.edit))
                    # The same, printing JSON findings instead of diffs: what the
                    # scan costs without rendering hundreds of diffs.
                    json_cmd, _ = _allocfix_cmd(subset, jobs, cache, ("--format", "json"))
                    rows.append(timed("allocfix warm, --format json", json_cmd, env, touch.edit))
                    # Touched, not edited (`touch FILE`): the same bytes under a
                    # new stat. The cost of a re-run where nothing changed.
                    touch.restore()
                    measure(cmd, tree, env)
                    rows.append(timed("allocfix warm (1 file touched)", cmd, env, touch.touch))
                finally:
                    touch.restore()
            if "spatch" in tools and shutil.which("spatch"):
                rows.append(timed(f"spatch -j{jobs}", ["spatch", "--sp-file", str(rule), "--dir", subset,
                                                       "-j", str(jobs), "--very-quiet"]))
            if "ast-grep" in tools and sg:
                rows.append(timed(f"ast-grep -j{jobs}", [sg, "scan", "--inline-rules", ASTGREP_RULE,
                                                         "--json=stream", "-j", str(jobs), subset]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _say(row: Row) -> None:
    s = row.runs[-1]
    print(f"  {row.tool:<32} {row.subset:<10} run {len(row.runs)}: {s.seconds:7.2f} s "
          f"(tree RSS {s.tree_rss_mib:.0f} MiB)", file=sys.stderr, flush=True)


# -- the report -------------------------------------------------------------------------------


def ratios(rows: list[Row]) -> list[tuple[str, str, float]]:
    by = {(r.tool.split(" ")[0] + (" warm" if "warm" in r.tool else " cold" if "cold" in r.tool else ""),
           r.subset): r for r in rows if "json" not in r.tool and "touched" not in r.tool}
    out = []
    for subset in dict.fromkeys(r.subset for r in rows):
        cold, warm = by.get(("allocfix cold", subset)), by.get(("allocfix warm", subset))
        sp, sg = by.get(("spatch", subset)), by.get(("ast-grep", subset))
        if cold and sp:
            out.append((subset, "allocfix cold / spatch (target <= 0.5)", cold.median / sp.median))
        if warm and sg:
            out.append((subset, "allocfix warm / ast-grep (target <= 0.1)", warm.median / sg.median))
        wj = next((r for r in rows if r.subset == subset and r.tool == "allocfix warm, --format json"), None)
        if wj and sg:
            out.append((subset, "allocfix warm json / ast-grep", wj.median / sg.median))
        wt = next((r for r in rows if r.subset == subset and r.tool == "allocfix warm (1 file touched)"), None)
        if wt and sg:
            out.append((subset, "allocfix warm touched / ast-grep", wt.median / sg.median))
    colds = [r for r in rows if r.tool == "allocfix cold"]
    if len(colds) >= 2:
        base = colds[0]
        for r in colds[1:]:
            out.append((r.subset, f"cold s/MB vs {base.subset} (linear ~ 1.0)",
                        (r.median / r.mbytes) / (base.median / base.mbytes)))
    return out


def table(rows: list[Row], runs: int, jobs: int) -> str:
    head = f"{'tool':<32} {'subset':<10} {'files':>6} {'MB':>6} {'median s':>9} {'min s':>7} " \
           f"{'max s':>7} {'max proc MiB':>12} {'tree MiB':>9}"
    lines = [f"allocfix bench: median of {runs} run(s), jobs={jobs}, cores={os.cpu_count()}, "
             f"load average at end {os.getloadavg()[0]:.2f}", head, "-" * len(head)]
    for r in rows:
        secs = [s.seconds for s in r.runs]
        lines.append(f"{r.tool:<32} {r.subset:<10} {r.files:>6} {r.mbytes:>6.1f} {r.median:>9.2f} "
                     f"{min(secs):>7.2f} {max(secs):>7.2f} {r.max_rss:>12.0f} {r.tree_rss:>9.0f}")
    rs = ratios(rows)
    if rs:
        lines += ["", "ratios:"]
        lines += [f"  {subset:<10} {name:<44} {value:6.3f}" for subset, name, value in rs]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", "-n", type=int, default=3, help="runs per measurement; the median is reported")
    p.add_argument("--quick", action="store_true", help="one run each, subsets hw/scsi and hw only")
    p.add_argument("--jobs", "-j", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--subsets", default="hw/scsi,hw,.", help="comma-separated, relative to the tree ('.' = all)")
    p.add_argument("--tools", default="allocfix,spatch,ast-grep")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(argv)
    runs = 1 if args.quick else args.runs
    subsets = ["hw/scsi", "hw"] if args.quick else [s.strip() for s in args.subsets.split(",") if s.strip()]
    tree = _qemu_tree()
    rows = bench(tree, subsets, runs, args.jobs, set(args.tools.split(",")))
    print(table(rows, runs, args.jobs))
    if args.json:
        doc = {"runs": runs, "jobs": args.jobs, "tree": str(tree), "load_average": os.getloadavg(),
               "rows": [{**{k: v for k, v in asdict(r).items() if k != "runs"}, "median_s": r.median,
                         "max_process_rss_mib": r.max_rss, "tree_rss_mib": r.tree_rss,
                         "runs": [asdict(s) for s in r.runs]} for r in rows],
               "ratios": [{"subset": s, "ratio": n, "value": v} for s, n, v in ratios(rows)]}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
