#!/usr/bin/env python3
"""Compile what allocfix changes, in a configured QEMU build, with -Werror.

    compile_check.py BUILD_DIR SRC_DIR [DIR ...] [--keep] [--json FILE] [-j N]

SRC_DIR is the source tree BUILD_DIR was configured from (a scratch copy:
the rewrites are written into it). allocfix runs on the translation units
of compile_commands.json that lie under DIR... (default: hw block
migration); each TU it changes is compiled with its own command plus
-Werror (as QEMU's CI builds), the object going to a temporary file so the
build directory's state is untouched. Generated headers the TUs need are
built first with ninja. Each failure is reported with the allocfix finding
nearest before the failing line. The original sources are restored at the
end unless --keep is given.

Exit status: 0 when every changed TU compiles, 1 when some fail, 2 on
usage errors.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codemod.cparse import MacroProfile  # noqa: E402
from codemod.engine import EngineConfig, process_file  # noqa: E402
from codemod.findings import Action, FileResult, Status  # noqa: E402
from codemod.rulesdata import builtin_rules_dir  # noqa: E402
from codemod.smpl.loader import load_rules  # noqa: E402

_DIAG_RE = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<kind>error|warning): (?P<msg>.*)$")


@dataclass
class Unit:
    source: Path  # absolute
    directory: Path
    command: list[str]
    output: str


@dataclass
class Failure:
    unit: str
    line: int | None
    message: str
    finding: str  # the allocfix finding that caused it (nearest before the line)


@dataclass
class Summary:
    units_scanned: int = 0
    files_changed: int = 0
    rewrites: int = 0
    stubs: int = 0
    reports: int = 0
    dropped: list[str] = field(default_factory=list)  # rewrites the engine refused (verify)
    headers_changed: list[str] = field(default_factory=list)
    compiled: int = 0
    failures: list[Failure] = field(default_factory=list)

    def to_json(self) -> dict:
        total = self.rewrites + self.stubs
        return {
            "units_scanned": self.units_scanned, "files_changed": self.files_changed,
            "rewrites": self.rewrites, "stubs": self.stubs, "reports": self.reports,
            "rewrite_share": round(self.rewrites / total, 3) if total else None,
            "dropped_by_verification": self.dropped,
            "headers_changed_not_compiled": self.headers_changed, "units_compiled": self.compiled,
            "compile_failures": len({f.unit for f in self.failures}),
            "failures": [f.__dict__ for f in self.failures],
        }


def load_units(build: Path, src: Path, dirs: list[str]) -> list[Unit]:
    entries = json.loads((build / "compile_commands.json").read_text())
    roots = [(src / d).resolve() for d in dirs]
    units = []
    seen = set()
    for e in entries:
        directory = Path(e["directory"])
        source = (directory / e["file"]).resolve()
        if source in seen or not any(source.is_relative_to(r) for r in roots):
            continue
        seen.add(source)
        cmd = e.get("arguments") or shlex.split(e["command"])
        units.append(Unit(source, directory, cmd, e.get("output", "")))
    return units


def engine_config() -> EngineConfig:
    rules_dir = builtin_rules_dir()
    profile = MacroProfile.load(rules_dir / "qemu-macros.toml")
    return EngineConfig(load_rules(sorted(rules_dir.glob("*.cocci")), profile), profile)


def werror_command(unit: Unit, obj: str) -> list[str]:
    """The unit's compile command with -Werror, writing obj and no dep file."""
    out: list[str] = []
    skip = False
    for i, a in enumerate(unit.command):
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MQ", "-MT"):
            skip = True
            continue
        if a in ("-MD", "-MMD"):
            continue
        out.append(a)
    return out[:1] + ["-Werror"] + out[1:] + ["-o", obj]


def build_generated_headers(build: Path, units: list[Unit]) -> None:
    """Order-only dependencies (generated headers) of the units, via ninja."""
    outputs = [u.output for u in units if u.output]
    deps: set[str] = set()
    for i in range(0, len(outputs), 200):
        q = subprocess.run(["ninja", "-C", str(build), "-t", "query", *outputs[i : i + 200]],
                           capture_output=True, text=True)
        deps.update(line.strip()[3:] for line in q.stdout.splitlines() if line.strip().startswith("|| "))
    if deps:
        subprocess.run(["nice", "ninja", "-C", str(build), "-j1", *sorted(deps)], check=False,
                       stdout=subprocess.DEVNULL)


def finding_lines(result: FileResult) -> list[tuple[int, str]]:
    """(line in the rewritten file, description) of each rewrite/stub finding."""
    old = result.original.decode("utf-8", "surrogateescape").splitlines()
    new = (result.rewritten or b"").decode("utf-8", "surrogateescape").splitlines()
    mapping: dict[int, int] = {}
    for a, b, size in difflib.SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks():
        for k in range(size):
            mapping[a + k + 1] = b + k + 1
    out = []
    for f in result.findings:
        if f.action not in (Action.REWRITE, Action.STUB):
            continue
        line = mapping.get(f.line)
        if line is None:  # the site's line itself changed: use the previous unchanged line
            prev = [mapping[k] for k in mapping if k < f.line]
            line = (max(prev) + 1) if prev else 1
        out.append((line, f"{f.file}:{f.line}:{f.column}: {f.action.value} {f.allocator} in {f.function} "
                          f"({f.policy}): {f.error_path or f.reason}"))
    return sorted(out)


def compile_unit(unit: Unit, tmpdir: str) -> tuple[int, str]:
    obj = os.path.join(tmpdir, unit.source.name + ".o")
    cmd = ["nice", *werror_command(unit, obj)]
    p = subprocess.run(cmd, cwd=unit.directory, capture_output=True, text=True)
    return p.returncode, p.stderr


def run(build: Path, src: Path, dirs: list[str], keep: bool, jobs: int, log=print) -> Summary:
    units = load_units(build, src, dirs)
    by_source = {u.source: u for u in units}
    summary = Summary(units_scanned=len(units))
    config = engine_config()
    changed: dict[Path, FileResult] = {}
    # Headers under the directories: allocfix may change them; they are
    # reported (not compiled on their own: their TUs are not all known).
    headers = sorted(p for d in dirs for p in (src / d).rglob("*.h"))
    # Scan from the top of the tree: the engine's idempotency re-run resolves
    # quoted includes (size facts) through the display path, relative to the
    # current directory; from elsewhere sizes differ and rewrites are dropped.
    cwd = os.getcwd()
    os.chdir(src)
    try:
        results = [(path, process_file(str(path), str(path.relative_to(src)), config))
                   for path in [u.source for u in units] + headers]
    finally:
        os.chdir(cwd)
    for path, result in results:
        display = str(path.relative_to(src))
        if result.status is not Status.OK:
            log(f"{display}: {result.message}")
            continue
        for f in result.findings:
            if f.action is Action.REWRITE:
                summary.rewrites += 1
            elif f.action is Action.STUB:
                summary.stubs += 1
            elif f.action is Action.REPORT:
                summary.reports += 1
        summary.dropped += [f"{display}: {d}" for d in result.dropped]
        if result.rewritten is not None:
            changed[path] = result
            if path.suffix == ".h":
                summary.headers_changed.append(display)
    summary.files_changed = len(changed)
    originals = {p: r.original for p, r in changed.items()}
    try:
        for p, r in changed.items():
            p.write_bytes(r.rewritten)
        todo = [by_source[p] for p in changed if p in by_source]
        build_generated_headers(build, todo)
        with tempfile.TemporaryDirectory(prefix="allocfix-cc-") as tmpdir, ThreadPoolExecutor(jobs) as pool:
            for unit, (rc, stderr) in zip(todo, pool.map(lambda u: compile_unit(u, tmpdir), todo)):
                summary.compiled += 1
                display = str(unit.source.relative_to(src))
                if rc == 0:
                    continue
                sites = finding_lines(changed[unit.source])
                diags = [m for m in map(_DIAG_RE.match, stderr.splitlines()) if m]
                mine = [m for m in diags if Path(unit.directory, m["file"]).resolve() == unit.source] or diags
                if not mine:
                    summary.failures.append(Failure(display, None, stderr.strip()[-500:], ""))
                for m in mine[:5]:
                    line = int(m["line"])
                    near = [d for ln, d in sites if ln <= line]
                    cause = near[-1] if near else (sites[0][1] if sites else "")
                    summary.failures.append(Failure(display, line, f"{m['kind']}: {m['msg']}", cause))
                log(f"FAIL {display}")
    finally:
        if not keep:
            for p, data in originals.items():
                p.write_bytes(data)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build_dir", type=Path)
    ap.add_argument("src_dir", type=Path)
    ap.add_argument("dirs", nargs="*", default=["hw", "block", "migration"])
    ap.add_argument("--keep", action="store_true", help="leave the rewritten sources in SRC_DIR")
    ap.add_argument("--json", type=Path, help="write the summary as JSON to this file")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    if not (args.build_dir / "compile_commands.json").is_file():
        print(f"compile_check: {args.build_dir}/compile_commands.json: not found (configure QEMU first)",
              file=sys.stderr)
        return 2
    summary = run(args.build_dir.resolve(), args.src_dir.resolve(), args.dirs, args.keep, args.jobs,
                  log=lambda s: print(s, file=sys.stderr))
    doc = summary.to_json()
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    for f in summary.failures:
        print(f"{f.unit}:{f.line or '?'}: {f.message}\n    caused by: {f.finding}")
    print(f"units scanned {doc['units_scanned']}, files changed {doc['files_changed']}, "
          f"rewrites {doc['rewrites']}, stubs {doc['stubs']}, reports {doc['reports']}, "
          f"compiled {doc['units_compiled']}, compile failures {doc['compile_failures']}"
          + (f", headers changed (not compiled) {len(summary.headers_changed)}" if summary.headers_changed else "")
          + (f", rewrites dropped by verification {len(summary.dropped)}" if summary.dropped else ""))
    return 1 if summary.failures else 0


if __name__ == "__main__":
    sys.exit(main())
