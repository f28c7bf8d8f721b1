"""Fuzz the rule-file front end: any text is either a rule set or a RuleError
with a position inside the file; nothing else escapes (no IndexError, no
tree-sitter crash, no RecursionError, no hang).

ALLOCFIX_FUZZ_EXAMPLES sets the size of the run (default 600 per test, so
the suite stays quick; the closing note of issue 7 reports a larger run).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codemod.cparse import MacroProfile
from codemod.errors import RuleError
from codemod.rulesdata import builtin_rules_dir
from codemod.smpl.loader import load_rule_text

PROFILE = MacroProfile.load(builtin_rules_dir() / "qemu-macros.toml")
EXAMPLES = int(os.environ.get("ALLOCFIX_FUZZ_EXAMPLES", "600"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Pieces of SmPL, C and script syntax, so the generator reaches deep into the
# parser and checker instead of failing at the first character.
TOKENS = [
    "@", "@@", "@r@", "@site@", "@fix depends on site@", "@script:python plan@", "@initialize:python@",
    "@finalize:python@", "@depends on !r && (a || b)@", "\n", "\n", "\n", " ", "    ", "\t",
    "expression E;", "expression list ARGS;", "identifier f;", "identifier alloc = {g_malloc, g_new};",
    "identifier x =~ \"^foo\";", "type T;", "constant C;", "statement S;", "position p;", "idexpression I;",
    "fresh identifier y = \"tmp_\" ## x;", "virtual patch;", "expression site.E;", "identifier r.x;",
    "- ", "+ ", "* ", "(", "|", ")", "...", "<...", "...>", "<+...", "...+>", "when != E", "when any",
    "when exists", "when strict", "E = alloc@p(ARGS);", "T x = alloc(ARGS);", "return -ENOMEM;",
    "if (!E) {", "}", "{", "foo(E);", "g_free(E);", "f(..., Error **errp) {", "goto out;", "out:",
    "p << site.p;", "checked;", "coccinelle.checked = cocci.make_ident(\"x\")", "cocci.include_match(False)",
    "print(p[0].line)", "import os", "x = (", "def f(:", "\"unterminated", "'c'", "/* c */", "// c",
    "#include <x.h>", "E", "x", "p", "T", "ARGS", ";", ",", "=", "!=", "==", "&&", "||", "!", "->", ".",
    "[", "]", "*", "&", "0", "4096", "sizeof(*x)", "\\", "\x00", "é", "\r\n",
]


def rule_texts():
    return st.lists(st.sampled_from(TOKENS), max_size=60).map("".join) | st.text(max_size=300)


def _check(text: str) -> None:
    lines = text.split("\n")
    try:
        load_rule_text(text, "fuzz.cocci", PROFILE)
    except RuleError as exc:
        pos = exc.position
        assert pos is not None, f"RuleError without a position: {exc}"
        assert pos.path == "fuzz.cocci"
        assert 1 <= pos.line <= len(lines) + 1, (pos, len(lines))
        assert pos.column >= 1
        assert str(exc).startswith(f"fuzz.cocci:{pos.line}:{pos.column}: ")


@FUZZ
@given(rule_texts())
def test_rule_front_end_never_crashes(text):
    _check(text)


def _well_formed_rules():
    header = st.sampled_from(["@r@\n", "@site@\n", "@@\n"])
    decls = st.lists(st.sampled_from(["expression E;\n", "identifier alloc = {g_malloc, g_new};\n",
                                      "expression list ARGS;\n", "position p;\n", "type T;\n",
                                      "identifier x;\n", "statement S;\n"]), max_size=5).map("".join)
    body = st.lists(st.sampled_from(["- E = alloc@p(ARGS);\n", "+ E = g_try_malloc(ARGS);\n",
                                     "  foo(E);\n", "(\n", "|\n", ")\n", "...\n", "- g_free(E);\n",
                                     "+ if (!E) { return -ENOMEM; }\n", "T x = alloc(ARGS);\n",
                                     "  when != E\n", "* bar(E);\n"]), min_size=1, max_size=8).map("".join)
    return st.tuples(header, decls, body).map(lambda t: t[0] + t[1] + "@@\n" + t[2])


@FUZZ
@given(_well_formed_rules(), st.integers(min_value=0, max_value=400), st.sampled_from(["", "(", ")", "@", "\n",
                                                                                         "...", "|", "-"]))
def test_mutated_rules_never_crash(text, cut, insert):
    """Near-valid rule files, with one token cut or inserted: the error cases real authors hit."""
    _check(text)
    cut %= len(text) + 1
    _check(text[:cut] + insert + text[cut:])
    _check(text[:cut])
