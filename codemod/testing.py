"""Golden rule tests: C input + rule -> expected output (like `spatch --test`).

Two layouts are understood:
  DIR/NAME.cocci + DIR/NAME.c [+ DIR/NAME.res]   a triple (no .res: no change)
  RULES/STEM.cocci + RULES/tests/STEM/*.c [+ .res]  goldens of a shipped rule
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from codemod.cparse import MacroProfile
from codemod.engine import EngineConfig, process_file
from codemod.findings import Status
from codemod.smpl.loader import load_rules


@dataclass(frozen=True)
class GoldenCase:
    name: str
    rule: Path
    source: Path
    expected: Path | None  # None: the rule must change nothing


@dataclass(frozen=True)
class GoldenOutcome:
    case: GoldenCase
    passed: bool
    detail: str = ""


def collect(paths: list[Path]) -> list[GoldenCase]:
    cases: list[GoldenCase] = []
    for p in paths:
        rule_files = sorted(p.glob("*.cocci")) if p.is_dir() else [p]
        for rule in rule_files:
            triple_src = rule.with_suffix(".c")
            if triple_src.exists():
                res = rule.with_suffix(".res")
                cases.append(GoldenCase(rule.stem, rule, triple_src, res if res.exists() else None))
            golden_dir = rule.parent / "tests" / rule.stem
            for src in sorted(golden_dir.glob("*.c")):
                res = src.with_suffix(".res")
                cases.append(GoldenCase(f"{rule.stem}/{src.stem}", rule, src, res if res.exists() else None))
    return cases


def run_case(case: GoldenCase, profile: MacroProfile) -> GoldenOutcome:
    config = EngineConfig(load_rules([case.rule], profile), profile)
    result = process_file(str(case.source), case.source.name, config)
    if result.status is not Status.OK:
        return GoldenOutcome(case, False, result.message)
    got = result.rewritten if result.rewritten is not None else result.original
    want = case.expected.read_bytes() if case.expected else result.original
    if got == want:
        return GoldenOutcome(case, True)
    diff = difflib.unified_diff(
        want.decode("utf-8", "replace").splitlines(True), got.decode("utf-8", "replace").splitlines(True),
        fromfile=f"{case.name} (expected)", tofile=f"{case.name} (allocfix)",
    )
    return GoldenOutcome(case, False, "".join(diff) or "outputs differ (bytes)")


# --- differential testing against Coccinelle's spatch ------------------------

import re as _re
import shutil as _shutil
import subprocess as _subprocess
import tempfile as _tempfile

_DIRECTIVE_RE = _re.compile(r"^//\s*(-D|spatch:|allocfix:|reports:)\s*(.*)$")


@dataclass(frozen=True)
class PairSpec:
    """A differential pair NAME.cocci + NAME.c, with the records in its leading comments.

    `// -D NAME` defines a virtual rule for both tools; `// spatch: differs because ...`
    or `// spatch: fails because ...` records where spatch is not the oracle; the test
    asserts that record still holds.
    """

    name: str
    rule: Path
    source: Path
    expected: Path | None
    virtuals: tuple[str, ...] = ()
    spatch_note: str = ""  # "differs because ..." | "fails because ..." | ""
    allocfix_note: str = ""  # "fails because ...": allocfix must refuse with an error
    reports: tuple[int, ...] | None = None  # `// reports: 4 6`: lines a `*` rule marks

    @property
    def starred(self) -> bool:
        return any(line.startswith("*") for line in self.rule.read_text().splitlines())


@dataclass(frozen=True)
class ToolRun:
    ok: bool
    output: bytes  # the rewritten file (the input when nothing changed)
    starred: tuple[int, ...] = ()  # 1-based lines a `*` rule reported
    message: str = ""


def collect_pairs(directory: Path) -> list[PairSpec]:
    pairs = []
    for rule in sorted(Path(directory).glob("*.cocci")):
        source = rule.with_suffix(".c")
        if not source.exists():
            continue
        virtuals: list[str] = []
        note = anote = ""
        reports = None
        for line in rule.read_text().splitlines():
            m = _DIRECTIVE_RE.match(line.strip())
            if not line.startswith("//"):
                break
            if m and m.group(1) == "-D":
                virtuals += m.group(2).split()
            elif m and m.group(1) == "spatch:":
                note = m.group(2).strip()
            elif m and m.group(1) == "allocfix:":
                anote = m.group(2).strip()
            elif m and m.group(1) == "reports:":
                reports = tuple(int(x) for x in m.group(2).split())
        res = rule.with_suffix(".res")
        pairs.append(PairSpec(rule.stem, rule, source, res if res.exists() else None, tuple(virtuals), note,
                              anote, reports))
    return pairs


def spatch_available() -> bool:
    return _shutil.which("spatch") is not None


def _starred_from_diff(diff: str) -> tuple[int, ...]:
    """Old-file line numbers of '-' lines in a unified diff (how spatch shows `*` matches)."""
    lines: list[int] = []
    old = 0
    for line in diff.splitlines():
        m = _re.match(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@", line)
        if m:
            old = int(m.group(1))
            continue
        if line.startswith(("---", "+++")) or not old:
            continue
        if line.startswith("-"):
            lines.append(old)
            old += 1
        elif line.startswith(" "):
            old += 1
    return tuple(lines)


def run_spatch(rule: Path, source: Path, virtuals=(), macro_file: Path | None = None,
               timeout: float = 120) -> ToolRun:
    with _tempfile.TemporaryDirectory(prefix="allocfix-spatch-") as tmp:
        out = Path(tmp) / source.name
        cmd = ["spatch", "--sp-file", str(Path(rule).resolve()), str(Path(source).resolve()), "-o", str(out),
               "--very-quiet"]
        for v in virtuals:
            cmd += ["-D", v]
        if macro_file is not None:
            cmd += ["--macro-file", str(Path(macro_file).resolve())]
        try:
            proc = _subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=tmp)
        except _subprocess.TimeoutExpired:
            return ToolRun(False, b"", message="spatch timed out")
        stdout = proc.stdout.decode("utf-8", "replace")
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0 and "No rules apply" in stderr:
            # spatch's way of saying that no rule can match (e.g. a virtual not given).
            return ToolRun(True, source.read_bytes())
        if proc.returncode != 0:
            return ToolRun(False, b"", message=proc.stderr.decode("utf-8", "replace").strip()[-2000:])
        data = out.read_bytes() if out.exists() else source.read_bytes()
        return ToolRun(True, data, _starred_from_diff(stdout))


def run_allocfix(rule: Path, source: Path, virtuals=(), profile: MacroProfile | None = None,
                 data: bytes | None = None) -> ToolRun:
    """Apply one rule file to one C file as the engine does, without the safety checks
    (spatch has none either: a rule that is not idempotent must still agree)."""
    from codemod.errors import AllocfixError

    if profile is None:
        profile = MacroProfile.load(Path(__file__).resolve().parents[1] / "rules" / "qemu-macros.toml")
    try:
        rules = load_rules([rule], profile, set(virtuals))
    except AllocfixError as exc:
        return ToolRun(False, b"", message=str(exc))
    data = source.read_bytes() if data is None else data
    return run_allocfix_loaded(rules, profile, source, data)


def run_allocfix_loaded(rules, profile: MacroProfile, source: Path, data: bytes, display: str | None = None) -> ToolRun:
    """run_allocfix with the rules already loaded (for many files); `display` names
    the file in messages (default: its base name)."""
    from codemod.api import AllocfixAPI
    from codemod.cparse import parse_source
    from codemod.engine import FileContext
    from codemod.smpl.runtime import RuleRunner, ScriptFailure, could_match
    from codemod.source import SourceFile
    from codemod.edits import EditConflict

    if not could_match(rules, data):
        return ToolRun(True, data)
    config = EngineConfig(rules, profile)
    display = display or source.name
    src = SourceFile(str(source), display, data)
    parsed = parse_source(src, profile)
    try:
        outcome = RuleRunner(rules, profile, AllocfixAPI(FileContext(parsed, config)), parsed,
                             display).run(data, parsed.tree)
    except (ScriptFailure, EditConflict) as exc:
        return ToolRun(False, b"", message=str(exc))
    lines = sorted({src.line_col(off)[0] for off, _, _ in outcome.reports})
    return ToolRun(True, outcome.data, tuple(lines))


def normalize_ws(data: bytes) -> str:
    """The text without any whitespace: what 'equal but for whitespace' compares
    (spatch writes `a ? : b` where the rule says `a ?: b`, and re-indents)."""
    return "".join(data.decode("utf-8", "replace").split())


def same_but_whitespace(a: bytes, b: bytes) -> bool:
    return normalize_ws(a) == normalize_ws(b)
