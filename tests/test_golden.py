"""Every built-in rule ships golden tests, and they pass (real parses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.cparse import MacroProfile
from codemod.testing import collect, run_case

RULES = Path(__file__).resolve().parent.parent / "rules"
PROFILE = MacroProfile.load(RULES / "qemu-macros.toml")
CASES = collect([RULES])


def test_every_rule_has_goldens():
    rules = {p.stem for p in RULES.glob("*.cocci")}
    covered = {c.rule.stem for c in CASES}
    assert rules and rules <= covered, f"rules without golden tests: {rules - covered}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case):
    outcome = run_case(case, PROFILE)
    assert outcome.passed, outcome.detail


def test_golden_runner_reports_a_wrong_expectation(tmp_path):
    # A golden whose .res disagrees must fail with a diff, not pass silently.
    (tmp_path / "r.cocci").write_text("@@\nexpression E;\n@@\n- foo(E);\n+ bar(E);\n")
    (tmp_path / "r.c").write_text("void f(void)\n{\n    foo(1);\n}\n")
    (tmp_path / "r.res").write_text("void f(void)\n{\n    baz(1);\n}\n")
    [case] = collect([tmp_path])
    outcome = run_case(case, PROFILE)
    assert not outcome.passed and "bar(1);" in outcome.detail
