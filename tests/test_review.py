"""Review decisions: keys, the review file, and the accepted subset."""

from __future__ import annotations

import json

import pytest

from codemod.errors import InputError
from codemod.review import (
    ReviewFile,
    accepted_results,
    file_hunks,
    run_interactive,
    select_accepted,
    sha256,
)
from review_helpers import DEMO_C, make_tree, profile, scan

REL = "hw/demo/demo.c"


def hunks_of(root):
    r = scan(root)[0]
    return r, file_hunks(r, REL)


def decide(root, answers: dict[str, str]) -> ReviewFile:
    """Record decisions by function name through the real interactive loop."""
    r, hunks = hunks_of(root)
    asked = [h for h in hunks if not h.supporting]
    replies = iter(answers.get(h.function, "n") for h in asked)
    from rich.console import Console

    run_interactive(Console(file=open("/dev/null", "w")), [r], [str(root)], input_fn=lambda _: next(replies),
                    profile=profile())
    return ReviewFile.load(root / ".allocfix" / "review.json")


def test_hunks_are_keyed_by_function_allocator_and_change(tmp_path):
    make_tree(tmp_path)
    _, hunks = hunks_of(tmp_path)
    asked = [h for h in hunks if not h.supporting]
    assert [h.function for h in asked] == ["demo_realize", "demo_dma", "demo_ring"]
    assert all(h.key.startswith(f"{REL}::{h.function}::{h.allocator}::") and h.key.endswith("#0") for h in asked)
    support = [h for h in hunks if h.supporting]
    assert len(support) == 1 and support[0].includes == ("qapi/error.h",)


def test_keys_survive_an_unrelated_edit_that_shifts_lines(tmp_path):
    f = make_tree(tmp_path)
    _, before = hunks_of(tmp_path)
    shifted = DEMO_C.replace(b" * Demo device for the review tests.\n",
                             b" * Demo device for the review tests.\n *\n * More words.\n * And more.\n")
    shifted = shifted.replace(b"static int demo_unused_b;\n", b"static int demo_unused_b;\nstatic int extra;\n")
    f.write_bytes(shifted)
    _, after = hunks_of(tmp_path)
    assert [h.key for h in after] == [h.key for h in before]
    assert [h.old_line for h in after] != [h.old_line for h in before]


def test_partial_selection_keeps_the_include_an_accepted_hunk_needs(tmp_path):
    make_tree(tmp_path)
    review = decide(tmp_path, {"demo_realize": "y", "demo_dma": "n", "demo_ring": "n"})
    r = scan(tmp_path)[0]
    sel = select_accepted([r], review, tmp_path, profile())
    new = sel.results[0].rewritten
    assert b'#include "qapi/error.h"' in new
    assert b"g_try_malloc0(s->table_size)" in new
    assert b"g_malloc(s->len)" in new and b"g_malloc(s->ring_size)" in new
    assert sel.accepted == 1 and sel.files[0].skipped == 2
    # Only the accepted site is left in the findings the series describes.
    acting = [f.function for f in sel.results[0].findings if f.action.value in ("rewrite", "stub")]
    assert acting == ["demo_realize"]


def test_include_left_out_when_no_accepted_hunk_uses_the_error_api(tmp_path):
    make_tree(tmp_path)
    review = decide(tmp_path, {"demo_realize": "n", "demo_dma": "y", "demo_ring": "y"})
    new = select_accepted(scan(tmp_path), review, tmp_path, profile()).results[0].rewritten
    assert b"qapi/error.h" not in new
    assert b"g_try_malloc(s->len)" in new and b"g_try_malloc(s->ring_size)" in new
    assert b"g_malloc0(s->table_size)" in new


def test_include_kept_when_it_shares_a_hunk_with_a_skipped_site(tmp_path):
    # The include and demo_realize's rewrite end up in one hunk; demo_realize
    # is skipped, but an edited hunk elsewhere calls error_setg.
    data = DEMO_C.replace(b"static int demo_dma(DemoState *s)", b"static int demo_dma(DemoState *s, Error **errp)")
    data = data.replace(b'#include "hw/sysbus.h"\n\ntypedef', b'#include "hw/sysbus.h"\ntypedef')
    src = data.split(b"typedef struct DemoState")
    # Move demo_realize next to the includes so they share a hunk.
    realize = b"""static void demo_realize(DemoState *s, Error **errp)
{
    /* The table size comes from a property: up to 1 GiB. */
    s->table = g_malloc0(s->table_size);
}
"""
    data = src[0].replace(b'#include "hw/sysbus.h"\n', b'#include "hw/sysbus.h"\n' + b"typedef struct DemoState DemoState;\n" + realize) \
        + b"typedef struct DemoState" + src[1].replace(realize, b"")
    make_tree(tmp_path, data)
    r, hunks = hunks_of(tmp_path)
    first = [h for h in hunks if h.function == "demo_realize"][0]
    assert "qapi/error.h" in first.includes and not first.supporting
    review = decide(tmp_path, {"demo_realize": "n", "demo_dma": "y", "demo_ring": "n"})
    new = select_accepted(scan(tmp_path), review, tmp_path, profile()).results[0].rewritten
    assert b'#include "qapi/error.h"' in new
    assert b"g_malloc0(s->table_size)" in new  # the skipped site itself is untouched
    assert b"error_setg(errp" in new


def test_skip_always_covers_the_rule_in_that_function_and_persists(tmp_path):
    make_tree(tmp_path)
    review = decide(tmp_path, {"demo_realize": "s", "demo_dma": "y", "demo_ring": "y"})
    assert review.skip_always == [{"rule": "large-alloc", "function": "demo_realize"}]
    r, hunks = hunks_of(tmp_path)
    realize = [h for h in hunks if h.function == "demo_realize"][0]
    assert review.decision(realize) == "skip"
    # A second run asks nothing.
    asked = []
    from rich.console import Console

    out = run_interactive(Console(file=open("/dev/null", "w")), [r], [str(tmp_path)],
                          input_fn=lambda p: asked.append(p) or "q")
    assert asked == [] and out.known == 3


def test_file_changed_since_review_is_refused_until_reviewed_again(tmp_path):
    f = make_tree(tmp_path)
    decide(tmp_path, {"demo_realize": "y", "demo_dma": "y", "demo_ring": "n"})
    f.write_bytes(DEMO_C.replace(b"/* Nothing of interest here", b"/* Still nothing of interest here"))
    with pytest.raises(InputError, match="changed since the review"):
        accepted_results(scan(tmp_path), [str(tmp_path)], profile=profile())
    # Re-running the review asks nothing new and confirms the new bytes.
    from rich.console import Console

    asked = []
    run_interactive(Console(file=open("/dev/null", "w")), scan(tmp_path), [str(tmp_path)],
                    input_fn=lambda p: asked.append(p) or "q")
    assert asked == []
    results, notes = accepted_results(scan(tmp_path), [str(tmp_path)], profile=profile())
    assert len(results) == 1 and b"g_try_malloc(s->len)" in results[0].rewritten
    assert b"g_malloc(s->ring_size)" in results[0].rewritten


def test_stale_entries_are_reported_and_dropped(tmp_path):
    f = make_tree(tmp_path)
    decide(tmp_path, {"demo_realize": "n", "demo_dma": "n", "demo_ring": "n"})
    # demo_dma's site disappears: its decision no longer matches anything.
    f.write_bytes(DEMO_C.replace(b"    s->bounce = g_malloc(s->len);\n", b""))
    review = ReviewFile.load(tmp_path / ".allocfix" / "review.json")
    review.files[REL] = sha256(f.read_bytes())
    sel = select_accepted(scan(tmp_path), review, tmp_path)
    assert len(sel.stale) == 1 and "demo_dma" in sel.stale[0]
    assert any("stale" in n for n in sel.notes())
    from rich.console import Console

    out = run_interactive(Console(file=open("/dev/null", "w")), scan(tmp_path), [str(tmp_path)],
                          input_fn=lambda p: "q")
    assert len(out.stale) == 1
    doc = json.loads((tmp_path / ".allocfix" / "review.json").read_text())
    assert not any("demo_dma" in k for k in doc["hunks"])


def test_unreviewed_hunks_are_not_selected(tmp_path):
    make_tree(tmp_path)
    r, hunks = hunks_of(tmp_path)
    from rich.console import Console

    replies = iter(["y", "q"])
    run_interactive(Console(file=open("/dev/null", "w")), [r], [str(tmp_path)], input_fn=lambda p: next(replies))
    sel = select_accepted(scan(tmp_path), ReviewFile.load(tmp_path / ".allocfix" / "review.json"), tmp_path)
    assert sel.accepted == 1 and sel.unreviewed == 2


def test_no_review_file_selects_everything(tmp_path):
    make_tree(tmp_path)
    results = scan(tmp_path)
    chosen, notes = accepted_results(results, [str(tmp_path)])
    assert chosen[0].rewritten == results[0].rewritten and notes == []


def test_edited_hunk_is_used_and_crlf_latin1_bytes_survive(tmp_path):
    data = DEMO_C.replace(b"Demo device", b"D\xe9mo device").replace(b"\n", b"\r\n")
    make_tree(tmp_path, data)
    r, hunks = hunks_of(tmp_path)
    review = ReviewFile(tmp_path / ".allocfix" / "review.json")
    review.files[REL] = sha256(r.original)
    dma = [h for h in hunks if h.function == "demo_dma"][0]
    ring = [h for h in hunks if h.function == "demo_ring"][0]
    b = r.rewritten.splitlines(keepends=True)
    edited = b"".join(b[dma.j1:dma.j2]).replace(b"return -ENOMEM;", b"return -EIO; /* \xff */")
    review.record(dma, "edit", edited)
    review.record(ring, "accept")
    review.save()
    review = ReviewFile.load(review.path)
    new = select_accepted([r], review, tmp_path).results[0].rewritten
    assert b"return -EIO; /* \xff */\r\n" in new
    assert b"D\xe9mo device" in new
    assert new.count(b"\n") == new.count(b"\r\n")
    assert b"g_malloc0(s->table_size)" in new


def test_malformed_review_file_names_the_position(tmp_path):
    p = tmp_path / "review.json"
    p.write_text('{"format": "allocfix-review",\n "version": 1,,}')
    with pytest.raises(InputError, match=r"review.json:2:\d+"):
        ReviewFile.load(p)


def test_series_uses_only_accepted_hunks(tmp_path):
    import subprocess
    import sys

    from helpers import REPO

    make_tree(tmp_path)
    decide(tmp_path, {"demo_realize": "n", "demo_dma": "y", "demo_ring": "n"})
    out = tmp_path / "out"
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "codemod", "--series", str(out), "--signoff",
                           "A Developer <dev@example.org>", "-j", "1", "."], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "1 accepted, 2 skipped" in proc.stderr
    patches = sorted(out.glob("0001-*.patch"))
    assert len(patches) == 1
    text = patches[0].read_text()
    assert "g_try_malloc(s->len)" in text and "demo_ring" not in text and "g_try_malloc0" not in text
    assert "qapi/error.h" not in text
    assert "hw/demo/demo: Check large allocation in demo_dma()" in text
