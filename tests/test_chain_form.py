"""Chained assignments (`a = p = alloc(...);`) and multi-line statements
renamed in place. The chain's golden test is rules/tests/large-alloc/chain.c;
these check its findings and that without the rule section that writes the
form (a user's copy of the rules) such sites are reported, never half
rewritten."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
CHAIN = ROOT / "rules" / "tests" / "large-alloc" / "chain.c"


def _rules_without_chain(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests"))
    cocci = rules / "large-alloc.cocci"
    text = cocci.read_text()
    start = text.index("// --- `a = p = alloc(...);`")
    end = text.index("// --- headers the failure paths need")
    text = text[:start] + text[end:]
    cocci.write_text(text.replace(" || chain_fix@", "@"))
    return rules


def _findings(args) -> dict[int, dict]:
    import json

    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    return {f["line"]: f for f in json.loads(res.stdout)["findings"]}


def test_chain_actions_and_reasons():
    found = _findings(["--dry-run", "--format", "json", "--no-cache", str(CHAIN)])
    assert found[14]["action"] == "rewrite" and "g_try_new0" in found[14]["reason"]
    assert found[27]["action"] == "rewrite" and "error_setg(errp)" in found[27]["reason"]
    assert found[40]["action"] == "rewrite"
    assert found[52]["action"] == "rewrite"
    # The outer target reads the pointer the chain assigns: order unclear.
    assert found[63]["action"] == "report" and "outer target reads 'node->next'" in found[63]["reason"]
    assert found[74]["action"] == "report" and "g_realloc in a chained assignment" in found[74]["reason"]


def test_chain_without_the_rule_section_is_reported(tmp_path):
    # The plan asks for the chain rewrite; with no rule to write it the
    # finding says so instead of claiming a rewrite.
    rules = _rules_without_chain(tmp_path)
    found = _findings(["--rules", str(rules), "--dry-run", "--format", "json", "--no-cache", str(CHAIN)])
    assert found[14]["action"] == "report" and "no rule rewrote this form" in found[14]["reason"]


def test_multiline_check_goes_after_the_statement_at_its_indent(tmp_path):
    src = tmp_path / "m.c"
    src.write_text(
        "#include \"qemu/osdep.h\"\n\n"
        "static int foo_grow(FooState *s, size_t n)\n{\n"
        "    if (n > FOO_MAX) {\n        return -EINVAL;\n    }\n"
        "    s->buf = g_realloc(s->buf,\n"
        "                       n);\n"
        "    return 0;\n}\n")
    res = run_cli("--dry-run", "--no-cache", str(src))
    assert res.returncode == 0, res.stderr
    assert ("+    new_buf = g_try_realloc(s->buf,\n"
            "+                            n);\n"
            "+    if (n && !new_buf) {\n"
            "+        return -ENOMEM;\n"
            "+    }\n"
            "+    s->buf = new_buf;\n") in res.stdout.decode()


def test_reads_through_tells_dereferences_from_copies():
    from codemod.analysis.plan import _reads_through

    assert _reads_through("FooCaps *caps = (void *)msg->data;", "msg")
    assert _reads_through("int x = s[2];", "s")
    assert _reads_through("int x = *s;", "s")
    assert not _reads_through("struct iovec *head = local_iov;", "local_iov")
    assert not _reads_through("struct io_uring *ring = &s->ring;", "s")
    assert not _reads_through("size_t n = sizeof(*s);", "s")
    assert not _reads_through("int y = a * s + ss->n;", "s")


def test_renew_temporary_type_is_a_pointer_to_the_written_type():
    from codemod.analysis.plan import _pointer_to

    assert _pointer_to("RAMBlock*") == "RAMBlock **"
    assert _pointer_to("QIOChannelSocket *") == "QIOChannelSocket **"
    assert _pointer_to("uint64_t") == "uint64_t *"


def test_one_line_realloc_past_80_columns_is_reported(tmp_path):
    src = tmp_path / "w.c"
    src.write_text(
        "#include \"qemu/osdep.h\"\n\n"
        "static int foo_grow(FooState *s, size_t n)\n{\n"
        "    if (n > FOO_MAX) {\n        return -EINVAL;\n    }\n"
        "    s->regions = g_renew(FooMemoryRegionSection, s->regions, s->nr_regions + n);\n"
        "    return 0;\n}\n")
    found = _findings(["--dry-run", "--format", "json", "--no-cache", str(src)])
    assert found[8]["action"] == "report" and "would not fit in 80 columns" in found[8]["reason"]
