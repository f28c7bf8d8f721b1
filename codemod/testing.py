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
