"""Rule-file errors name file:line:col, say what is wrong, and map to exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from codemod.cparse import MacroProfile
from codemod.errors import EXIT_USAGE, RuleError
from codemod.smpl.loader import load_rule_file

PROFILE = MacroProfile.load(Path(__file__).resolve().parents[1] / "rules" / "qemu-macros.toml")

CASES = [
    # (id, rule text, line, col, words the message must contain)
    ("unknown-kind", "@@\nexpresion E;\n@@\n- f(E);\n", 2, 1, ["unknown metavariable kind 'expresion'"]),
    ("unsupported-kind", "@@\nexpression E;\nbinary operator b;\n@@\n- f(E);\n", 3, 1,
     ["unsupported: metavariable kind 'binary'"]),
    ("script-undeclared", "@r@\nexpression E;\n@@\nf(E);\n@script:python@\ne << r.E;\n@@\nprint(e)\nprint(zz)\n",
     9, 7, ["'zz'", "not a declared metavariable"]),
    ("script-unknown-input-rule", "@r@\nexpression E;\n@@\nf(E);\n@script:python@\ne << q.E;\n@@\nprint(e)\n",
     6, 1, ["unknown rule 'q'"]),
    ("script-unknown-input-name", "@r@\nexpression E;\n@@\nf(E);\n@script:python@\ne <<  r.F;\n@@\nprint(e)\n",
     6, 1, ["no metavariable 'F'"]),
    ("script-undeclared-output", "@r@\nexpression E;\n@@\nf(E);\n@script:python s@\ne << r.E;\n@@\ncoccinelle.out = e\n",
     8, 1, ["coccinelle.out", "not a declared output"]),
    ("depends-unknown", "@a@\n@@\nf();\n@b depends on a && zork@\n@@\ng();\n", 4, 20, ["unknown rule 'zork'"]),
    ("depends-dangling", "@a@\n@@\nf();\n@b depends on a &&@\n@@\ng();\n", 4, 19, ["expected a rule name"]),
    ("depends-junk", "@a@\n@@\nf();\n@b depends on a b@\n@@\ng();\n", 4, 17, ["unexpected 'b'"]),
    ("python-syntax", "@r@\nexpression E;\n@@\nf(E);\n@script:python@\ne << r.E;\n@@\nx = (1,\n", 8, 5,
     ["Python syntax error", "never closed"]),
    ("python-syntax-initialize", "@initialize:python@\n@@\ndef f(:\n    pass\n", 3, 7, ["Python syntax error"]),
    ("unbalanced-open", "@@\n@@\n(\n- f();\n|\n- g();\n", 3, 1, ["unbalanced '('"]),
    ("unbalanced-close", "@@\n@@\n- f();\n)\n", 4, 1, ["unbalanced ')'"]),
    ("unbalanced-bar", "@@\n@@\n- f();\n|\n- g();\n", 4, 1, ["unbalanced '|'"]),
    ("undeclared-position", "@@\nexpression E;\n@@\n- f@p(E);\n", 4, 4, ["'@p' is not a declared position"]),
    ("unparseable-pattern", "@@\nexpression E;\n@@\n- f(E +);\n", 4, 8, ["does not parse as C", "');'"]),
    ("unknown-inherited", "@r@\nexpression E;\n@@\nf(E);\n@@\nexpression q.E;\n@@\n- g(E);\n", 6, 12,
     ["unknown rule 'q'"]),
    ("metavar-twice", "@@\nexpression E;\nidentifier E;\n@@\n- f(E);\n", 3, 12, ["declared twice"]),
    ("unclosed-metavars", "@@\nexpression E;\n", 1, 1, ["not closed by '@@'"]),
    ("bad-regex", '@@\nidentifier f =~ "(";\n@@\n- f();\n', 2, 17, ["bad regular expression"]),
    ("unsupported-file-in", '@depends on !(file in "util/error.c")@\n@@\n- f();\n', 1, 15,
     ["unsupported: `file in"]),
    ("unsupported-metavariable-kind", "@@\nexpression E;\niterator name it;\n@@\n- f(E);\n", 3, 1,
     ["unsupported: metavariable kind 'iterator'"]),
    ("unknown-type-in-set", "@@\n{ u64, int } a;\n@@\n- f(a);\n", 2, 1, ["unknown type 'u64'", "typedef u64"]),
    ("unclosed-nest", "@@\n@@\nf(...) {\n<...\n- g();\n}\n", 4, 1, ["nest is not closed"]),
    ("fresh-unknown", '@@\nfresh identifier n = "x_" ## E;\n@@\n- f();\n', 2, 18, ["undeclared metavariable 'E'"]),
    ("unsupported-nest-bare-expression",
     "@@\nexpression e;\nidentifier fn, g;\n@@\nfn(...) {\n<...\n  free(e);\n  ...\n  g(e)\n...>\n}\n", 9, 3,
     ["unsupported: a nest", "bare expression", "`g(e)`"]),
]


@pytest.mark.parametrize("text,line,col,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_error_position(tmp_path, text, line, col, words):
    path = tmp_path / "bad.cocci"
    path.write_text(text)
    with pytest.raises(RuleError) as info:
        load_rule_file(path, PROFILE)
    err = info.value
    assert err.exit_code == EXIT_USAGE == 2
    assert err.position is not None
    assert (err.position.path, err.position.line, err.position.column) == (str(path), line, col), str(err)
    rendered = str(err)
    assert rendered.startswith(f"{path}:{line}:{col}: ")
    for w in words:
        assert w in rendered


def test_valid_rule_loads(tmp_path):
    path = tmp_path / "ok.cocci"
    path.write_text("@r@\nexpression E;\n@@\n- f(E);\n+ g(E);\n@script:python@\ne << r.E;\n@@\nprint(e)\n")
    rules = load_rule_file(path, PROFILE)
    assert [r.kind for r in rules] == ["transform", "script"]


def test_conjunction_is_reported_as_unsupported(tmp_path):
    from codemod.cparse import default_profile
    from codemod.errors import RuleError
    from codemod.smpl.loader import load_rule_text

    text = "@r@\nexpression E;\n@@\n(\n foo(E)\n&\n bar(E)\n)\n"
    try:
        load_rule_text(text, "conj.cocci", default_profile())
    except RuleError as exc:
        assert str(exc).startswith("conj.cocci:6:1: unsupported: conjunction")
        assert exc.exit_code == 2
    else:
        raise AssertionError("a conjunction must be rejected")
