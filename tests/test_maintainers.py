"""MAINTAINERS parsing and get_maintainer.pl's F:/X: glob semantics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from codemod.maintainers import Maintainers, directory_of, email_address, pattern_to_regex

# An original fixture in the layout of QEMU's MAINTAINERS.
FIXTURE = """\
Example Maintainers
===================

These lines explain the format:
	M: Mail patches to: FullName <address@domain>
	F: files and directories

Everything
----------
M: Top Person <top@example.org>

All patches CC here
L: devel@example.org
F: *
F: */

Widget devices
M: Wanda Widget <wanda@example.org>
R: Rory Reviewer <rory@example.org>
L: widgets@example.org
S: Maintained
F: hw/widget/
F: include/hw/widget/*
X: hw/widget/legacy/

Widget bus
M: Bea Bus <bea@example.org>
S: Supported
F: hw/widget/widget-bus.c

Legacy widgets
M: Lee Legacy <lee@example.org>
S: Odd Fixes
F: hw/widget/legacy/*.[ch]

Blob format
M: Bob Blob <bob@example.org>
L: blocks@example.org (moderated for non-subscribers)
L: secret@example.org (subscribers-only)
S: Maintained
F: block/blob*
F: tests/blob-?.c
K: blobfmt

Split by a blank line
M: Sam Split <sam@example.org>

F: docs/split/

No files here
M: Nobody <nobody@example.org>
S: Orphan
"""


@pytest.fixture
def maint() -> Maintainers:
    return Maintainers.parse(FIXTURE)


def titles(m: Maintainers, path: str) -> list[tuple[str, int]]:
    return [(x.section.title, x.depth) for x in m.matches(path)]


def test_sections_and_titles(maint):
    names = [s.title for s in maint.sections]
    # The underline is not a title; indented explanation lines are no entries.
    assert names == [
        "Everything",
        "All patches CC here",
        "Widget devices",
        "Widget bus",
        "Legacy widgets",
        "Blob format",
        "Split by a blank line",
        "No files here",
    ]
    widget = maint.sections[2]
    assert widget.maintainers == ["Wanda Widget <wanda@example.org>"]
    assert widget.reviewers == ["Rory Reviewer <rory@example.org>"]
    assert widget.lists == ["widgets@example.org"]
    assert widget.status == "Maintained"
    assert [p.glob for p in widget.files] == ["hw/widget/", "include/hw/widget/*"]
    assert [p.glob for p in widget.excludes] == ["hw/widget/legacy/"]


def test_trailing_slash_matches_whole_subtree(maint):
    assert titles(maint, "hw/widget/core.c") == [("Widget devices", 2), ("All patches CC here", -1)]
    assert ("Widget devices", 2) in titles(maint, "hw/widget/deep/er/x.c")
    assert ("Widget devices", 2) not in titles(maint, "hw/widgetry/x.c")


def test_star_does_not_descend(maint):
    assert ("Widget devices", 4) in titles(maint, "include/hw/widget/widget.h")
    assert all(t != "Widget devices" for t, _ in titles(maint, "include/hw/widget/sub/widget.h"))
    assert ("Legacy widgets", 4) not in titles(maint, "hw/widget/legacy/sub/old.c")


def test_character_class_and_question_mark(maint):
    assert ("Legacy widgets", 4) in titles(maint, "hw/widget/legacy/old.h")
    assert ("Legacy widgets", 4) not in titles(maint, "hw/widget/legacy/old.py")
    assert ("Blob format", 2) in titles(maint, "tests/blob-1.c")
    assert ("Blob format", 2) not in titles(maint, "tests/blob-12.c")


def test_pattern_without_slash_is_a_prefix_at_the_same_depth(maint):
    # get_maintainer.pl anchors only the start: block/blob* also covers
    # block/blobfmt.c, and an exact name also matches a longer name.
    assert ("Blob format", 2) in titles(maint, "block/blobfmt.c")
    assert ("Widget bus", 3) in titles(maint, "hw/widget/widget-bus.c.orig")
    assert ("Blob format", 2) not in titles(maint, "block/blob/inner.c")


def test_exclusion_removes_the_section(maint):
    got = titles(maint, "hw/widget/legacy/old.c")
    assert got == [("Legacy widgets", 4), ("All patches CC here", -1)]
    # Below the legacy directory only the catch-all remains.
    assert titles(maint, "hw/widget/legacy/sub/old.c") == [("All patches CC here", -1)]
    assert maint.best("hw/widget/legacy/sub/old.c") is None


def test_most_specific_section_first(maint):
    got = titles(maint, "hw/widget/widget-bus.c")
    assert got == [("Widget bus", 3), ("Widget devices", 2), ("All patches CC here", -1)]
    assert maint.best("hw/widget/widget-bus.c").section.title == "Widget bus"
    assert maint.best("./hw/widget/core.c").section.title == "Widget devices"


def test_catch_all_is_not_a_best_match(maint):
    assert titles(maint, "Makefile") == [("All patches CC here", -1)]
    assert maint.best("Makefile") is None
    assert maint.best("util/misc.c") is None


def test_section_without_files_matches_nothing(maint):
    assert not any(
        m.section.title in ("No files here", "Everything")
        for p in ("hw/widget/core.c", "x.c", "docs/a", "block/blobfmt.c")
        for m in maint.matches(p)
    )


def test_blank_line_does_not_end_a_section(maint):
    assert titles(maint, "docs/split/a.rst")[0] == ("Split by a blank line", 2)
    assert maint.sections[6].maintainers == ["Sam Split <sam@example.org>"]


def test_cc_order_and_dedup(maint):
    cc = maint.cc(["hw/widget/widget-bus.c", "hw/widget/core.c"])
    # As get_maintainer.pl: files in sorted order, each file's sections most
    # specific first, people before lists, each once.
    assert cc == [
        "Wanda Widget <wanda@example.org>",
        "Rory Reviewer <rory@example.org>",
        "Bea Bus <bea@example.org>",
        "widgets@example.org",
        "devel@example.org",
    ]
    # Moderated lists are kept (address only), subscribers-only lists are not.
    assert maint.cc("block/blobfmt.c") == ["Bob Blob <bob@example.org>", "blocks@example.org", "devel@example.org"]


def test_directory_value_gets_a_slash_when_the_tree_has_it(tmp_path):
    text = "Docs\nM: D <d@example.org>\nF: docs/widget\n"
    assert pattern_to_regex("docs/widget") == "docs/widget"
    without_tree = Maintainers.parse(text)
    assert without_tree.matches("docs/widget/deep/x.rst") == []
    (tmp_path / "docs" / "widget").mkdir(parents=True)
    with_tree = Maintainers.parse(text, tmp_path)
    assert [m.depth for m in with_tree.matches("docs/widget/deep/x.rst")] == [2]


def test_load_missing_file(tmp_path):
    assert Maintainers.load(tmp_path) is None


def test_helpers():
    assert email_address('"Michael S. Tsirkin" <mst@example.org>') == "mst@example.org"
    assert email_address("list@example.org") == "list@example.org"
    assert directory_of("hw/scsi/scsi-bus.c") == "hw/scsi"
    assert directory_of("vl.c") == "."


QEMU_SAMPLE = [
    "hw/scsi/scsi-bus.c",
    "hw/scsi/virtio-scsi.c",
    "block/qcow2.c",
    "include/hw/scsi/esp.h",
    "softmmu/vl.c",
    "util/oslib-posix.c",
    "hw/net/e1000.c",
    "target/s390x/cpu_models.c",
    "hw/char/sclpconsole.c",
    "migration/ram.c",
]


@pytest.mark.integration
def test_agrees_with_get_maintainer_pl(qemu_tree: Path):
    """Same addresses as QEMU's own script on real files."""
    if shutil.which("perl") is None:
        pytest.skip("perl not available")
    m = Maintainers.load(qemu_tree)
    assert m is not None
    for path in QEMU_SAMPLE:
        assert (qemu_tree / path).is_file(), path
        proc = subprocess.run(
            ["perl", "scripts/get_maintainer.pl", "--no-git-fallback", "--no-rolestats", "-f", path],
            cwd=qemu_tree,
            capture_output=True,
            text=True,
            check=True,
        )
        theirs = {email_address(line) for line in proc.stdout.splitlines() if line.strip()}
        ours = {email_address(a) for a in m.cc(path)}
        assert ours == theirs, path


def test_name_dedup_mailmap_and_keywords(tmp_path):
    (tmp_path / ".mailmap").write_text(
        "# comment\n"
        "Old Name <real@example.org> <old@example.org>\n"
        "<canonical@example.org> <alias@example.org>\n"
    )
    (tmp_path / "MAINTAINERS").write_text(
        "Widgets\n"
        "M: Alice A <alice@example.org>\n"
        "R: Carl <old@example.org>\n"
        "L: w@example.org\n"
        "F: hw/widget/\n"
        "\n"
        "Widget core\n"
        "M: Alice A <alice@other.example.org>\n"
        "M: Dora <alias@example.org>\n"
        "F: hw/widget/core.c\n"
        "\n"
        "MIPS general\n"
        "M: Mo Mips <mo@example.org>\n"
        "K: ^Subject:.*(?i)mips\n"
        "\n"
        "Diff keyword\n"
        "M: Kay Word <kay@example.org>\n"
        "K: magic_token\n"
    )
    maint = Maintainers.load(tmp_path)
    # The same name with another address is dropped (the script keeps the
    # first one it meets: the most specific section's); .mailmap rewrites.
    assert maint.cc("hw/widget/core.c") == [
        "Alice A <alice@other.example.org>",
        "Dora <canonical@example.org>",
        "Old Name <real@example.org>",
        "w@example.org",
    ]
    patch = "Subject: [PATCH] hw/MIPS/board: Fix\n\nmagic_token in the message counts too\n" \
            "--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n magic_token only in context\n"
    assert [s.title for s in maint.keyword_sections(patch)] == ["MIPS general", "Diff keyword"]
    in_context_only = patch.replace("magic_token in the message counts too", "")
    assert [s.title for s in maint.keyword_sections(in_context_only)] == ["MIPS general"]
    added = in_context_only + "+magic_token added\n"
    assert [s.title for s in maint.keyword_sections(added)] == ["MIPS general", "Diff keyword"]
    assert maint.cc("hw/widget/x.c", patch)[-1] == "w@example.org"
    assert "Mo Mips <mo@example.org>" in maint.cc("hw/widget/x.c", patch)
