"""Differential tests: allocfix against Coccinelle's spatch on small original pairs.

Each tests/cocci/NAME.cocci + NAME.c pair has a golden NAME.res (no .res: no change).
Leading comments of the rule record what the pair expects:
  // -D NAME                      a virtual rule given to both tools
  // reports: 4 6                 the lines a `*` rule marks
  // spatch: fails because ...    spatch cannot run this pair (the test checks it still fails)
  // spatch: differs because ...  spatch's result is not the golden one (checked too)
  // allocfix: fails because ...  allocfix must refuse with an error, never rewrite
The golden test needs no spatch; the spatch tests are marked `spatch` and skipped
without it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codemod.testing import collect_pairs, run_allocfix, run_spatch, same_but_whitespace, spatch_available

PAIRS = collect_pairs(Path(__file__).parent / "cocci")
IDS = [p.name for p in PAIRS]


def test_enough_pairs():
    assert len(PAIRS) >= 60


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_golden(pair):
    run = run_allocfix(pair.rule, pair.source, pair.virtuals)
    if pair.allocfix_note:
        assert not run.ok and run.message, "allocfix was expected to refuse this pair"
        if "unsupported" in pair.allocfix_note:
            # The refusal names the construct and where it is in the C file.
            assert re.search(rf"{re.escape(pair.source.name)}:\d+:\d+: unsupported: ", run.message), run.message
        return
    assert run.ok, run.message
    want = pair.expected.read_bytes() if pair.expected else pair.source.read_bytes()
    assert run.output.decode() == want.decode()
    if pair.starred:
        assert pair.reports is not None, "a `*` pair records its lines with `// reports:`"
        assert run.starred == pair.reports


@pytest.mark.spatch
@pytest.mark.skipif(not spatch_available(), reason="spatch (Coccinelle) is not installed")
@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
def test_spatch_agrees(pair):
    run = run_spatch(pair.rule, pair.source, pair.virtuals)
    want = pair.expected.read_bytes() if pair.expected else pair.source.read_bytes()
    if pair.spatch_note.startswith("fails"):
        assert not run.ok, "spatch now runs this pair: drop the `// spatch: fails` record"
        return
    assert run.ok, run.message
    if pair.spatch_note.startswith("differs"):
        assert not same_but_whitespace(run.output, want), "spatch now agrees: drop the record"
        return
    assert same_but_whitespace(run.output, want), run.output.decode()
    if pair.starred:
        assert run.starred == pair.reports


def test_whitespace_comparison_is_not_blind():
    assert same_but_whitespace(b"a ? : b;\n", b"a ?: b;")
    assert not same_but_whitespace(b"f(a, b);", b"f(b, a);")


def test_starred_lines_from_spatch_diff():
    from codemod.testing import _starred_from_diff

    diff = "--- a.c\n+++ b.c\n@@ -2,5 +2,3 @@ f\n {\n-    x = 1;\n     y();\n-    z();\n }\n"
    assert _starred_from_diff(diff) == (3, 5)


def test_pair_directives(tmp_path):
    (tmp_path / "p.cocci").write_text("// -D patch\n// spatch: fails because reasons\n// reports: 2 4\n@@\n@@\n* f();\n")
    (tmp_path / "p.c").write_text("void g(void)\n{\n    f();\n}\n")
    (pair,) = collect_pairs(tmp_path)
    assert pair.virtuals == ("patch",)
    assert pair.spatch_note == "fails because reasons"
    assert pair.reports == (2, 4)
    assert pair.starred and pair.expected is None


def test_finalize_sees_script_globals(tmp_path, capsys):
    from codemod.smpl.runtime import run_finalizers
    from codemod.testing import run_allocfix
    from codemod.cparse import MacroProfile
    from codemod.smpl.loader import load_rules

    rule = tmp_path / "fin.cocci"
    rule.write_text("@initialize:python@\n@@\nseen = []\n\n@r@\nidentifier f;\n@@\nf();\n\n"
                    "@script:python@\nf << r.f;\n@@\nseen.append(f)\n\n"
                    "@finalize:python@\n@@\nprint('calls:', sorted(seen))\n")
    src = tmp_path / "fin.c"
    src.write_text("void g(void)\n{\n    one();\n    two();\n}\n")
    assert run_allocfix(rule, src).ok
    profile = MacroProfile.load(Path(__file__).resolve().parents[1] / "rules" / "qemu-macros.toml")
    run_finalizers(load_rules([rule], profile))
    err = capsys.readouterr().err
    assert "calls: ['one', 'two']" in err


@pytest.mark.integration
@pytest.mark.spatch
@pytest.mark.skipif(not spatch_available(), reason="spatch (Coccinelle) is not installed")
@pytest.mark.parametrize("rule,subdir", [("return_directly", "semihosting"), ("typecast", "replay"),
                                         ("round", "semihosting")])
def test_qemu_rule_agrees_or_refuses(qemu_tree, rule, subdir):
    """QEMU's own rules on a QEMU directory: per file, allocfix's result is spatch's, or
    allocfix refuses the file naming an unsupported construct and its position."""
    sp_file = qemu_tree / "scripts" / "coccinelle" / f"{rule}.cocci"
    macro = qemu_tree / "scripts" / "cocci-macro-file.h"
    checked = 0
    for source in sorted((qemu_tree / subdir).glob("*.c")):
        mine = run_allocfix(sp_file, source)
        theirs = run_spatch(sp_file, source, macro_file=macro)
        if not theirs.ok:
            continue
        if not mine.ok:
            assert re.search(r":\d+:\d+: unsupported: ", mine.message), mine.message
            continue
        assert same_but_whitespace(mine.output, theirs.output), source.name
        checked += 1
    assert checked
