"""Apply safety: atomic files, all-or-nothing runs, refusals, bytes kept."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from codemod.apply import apply_all, cli_apply, dirty_files
from codemod.review import ReviewFile, file_hunks, sha256
from helpers import REPO, git
from review_helpers import DEMO_C, make_tree, scan


def many(root: Path, n: int) -> list[str]:
    make_tree(root)
    rels = []
    for i in range(n):
        rel = f"hw/demo/demo{i:03d}.c"
        (root / rel).write_bytes(DEMO_C.replace(b"demo_", f"d{i}_".encode()))
        rels.append(rel)
    return rels


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_failure_on_the_second_file_restores_the_first(tmp_path, monkeypatch):
    rels = many(tmp_path, 4)
    results = scan(tmp_path, rels)
    before = snapshot(tmp_path)
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", dst)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    report = apply_all(results)
    assert report.error and "No space left" in report.error
    assert report.rolled_back == [rels[0]]
    assert snapshot(tmp_path) == before  # every file old, no temp file left behind


def test_sigint_midway_restores_and_propagates(tmp_path, monkeypatch):
    rels = many(tmp_path, 4)
    results = scan(tmp_path, rels)
    before = snapshot(tmp_path)
    real = os.replace
    calls = []

    def interrupted(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        apply_all(results)
    assert snapshot(tmp_path) == before


CHILD = textwrap.dedent("""
    import os, sys, time
    sys.path[:0] = [{repo!r}, {tests!r}]
    from pathlib import Path
    from review_helpers import scan
    from codemod.apply import apply_all
    root = Path(sys.argv[1]); rels = sys.argv[3:]; block_at = int(sys.argv[2])
    results = scan(root, rels)
    real = os.replace
    count = [0]
    def slow(src, dst):
        count[0] += 1
        if count[0] == block_at:
            # The temp file is complete, the rename not done: the worst moment.
            Path(root, "ready").write_text(str(count[0]))
            time.sleep(3600)
        return real(src, dst)
    os.replace = slow
    apply_all(results)
""")


@pytest.mark.parametrize("block_at", [1, 7])
def test_sigkill_leaves_every_file_old_or_new(tmp_path, block_at):
    tree = tmp_path / "tree"
    tree.mkdir()
    rels = many(tree, 12)
    old = {rel: (tree / rel).read_bytes() for rel in rels}
    new = {r.display: r.rewritten for r in scan(tree, rels)}
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(repo=str(REPO), tests=str(REPO / "tests")))
    proc = subprocess.Popen([sys.executable, str(script), str(tree), str(block_at), *rels])
    try:
        while not (tree / "ready").exists():
            if proc.poll() is not None:
                pytest.fail(f"child exited early with {proc.returncode}")
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    states = []
    for rel in rels:
        data = (tree / rel).read_bytes()
        assert data in (old[rel], new[rel]), rel
        states.append("new" if data == new[rel] else "old")
    assert states == ["new"] * (block_at - 1) + ["old"] * (len(rels) - block_at + 1)
    leftovers = [p.name for p in (tree / "hw" / "demo").iterdir() if p.name.startswith(".allocfix-")]
    assert len(leftovers) == 1  # the complete temp file of the interrupted write, never the file itself


def test_file_changed_after_scan_refuses_the_whole_run(tmp_path):
    rels = many(tmp_path, 3)
    results = scan(tmp_path, rels)
    (tmp_path / rels[2]).write_bytes(DEMO_C + b"/* edited meanwhile */\n")
    before = snapshot(tmp_path)
    report = apply_all(results)
    assert report.refused and rels[2] in report.refused[0] and "changed on disk" in report.refused[0]
    assert snapshot(tmp_path) == before


def _repo(tmp_path) -> Path:
    rels = many(tmp_path, 2)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    return rels


def test_dirty_worktree_refused_for_touched_files_unless_forced(tmp_path):
    rels = _repo(tmp_path)
    (tmp_path / rels[1]).write_bytes((tmp_path / rels[1]).read_bytes() + b"/* local change */\n")
    results = scan(tmp_path, rels)
    assert dirty_files([str(tmp_path / r) for r in rels]) == [str(tmp_path / rels[1])]
    before = snapshot(tmp_path)
    report = apply_all(results)
    assert len(report.refused) == 1 and "uncommitted changes" in report.refused[0] and "--force" in report.refused[0]
    assert snapshot(tmp_path) == before
    report = apply_all(results, force=True)
    assert report.ok and len(report.written) == 2


def test_dirty_files_allocfix_does_not_touch_do_not_matter(tmp_path):
    rels = _repo(tmp_path)
    (tmp_path / "MAINTAINERS").write_text("changed\n")
    (tmp_path / "notes.txt").write_text("untracked\n")
    report = apply_all(scan(tmp_path, rels))
    assert report.ok and len(report.written) == 2


def test_untracked_target_counts_as_dirty(tmp_path):
    rels = _repo(tmp_path)
    (tmp_path / "hw" / "demo" / "new.c").write_bytes(DEMO_C)
    report = apply_all(scan(tmp_path, [*rels, "hw/demo/new.c"]))
    assert len(report.refused) == 1 and "new.c" in report.refused[0]


def test_crlf_non_utf8_and_mode_preserved(tmp_path):
    data = DEMO_C.replace(b"Demo device", b"D\xe9mo d\xff device").replace(b"\n", b"\r\n")
    f = make_tree(tmp_path, data)
    os.chmod(f, 0o640)
    results = scan(tmp_path)
    report = apply_all(results)
    assert report.ok
    out = f.read_bytes()
    assert out == results[0].rewritten
    assert b"D\xe9mo d\xff device" in out and out.count(b"\n") == out.count(b"\r\n")
    assert b"g_try_malloc(s->len)" in out
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_cli_apply_uses_the_review_file_and_prints_a_summary(tmp_path):
    f = make_tree(tmp_path)
    r = scan(tmp_path)[0]
    review = ReviewFile(tmp_path / ".allocfix" / "review.json")
    review.files["hw/demo/demo.c"] = sha256(r.original)
    for h in file_hunks(r, "hw/demo/demo.c"):
        if h.function == "demo_dma":
            review.record(h, "accept")
        elif h.function:
            review.record(h, "skip")
    review.save()
    console = Console(record=True, width=200)
    errors = []
    code = cli_apply(console, [r], [str(tmp_path)], err=errors.append)
    assert code == 0, errors
    out = f.read_bytes()
    assert b"g_try_malloc(s->len)" in out and b"g_malloc(s->ring_size)" in out and b"qapi/error.h" not in out
    text = console.export_text()
    assert "wrote hw/demo/demo.c: 1 site" in text and "wrote 1 file" in text
    # The review file now records the new bytes; the skips still hold.
    again = ReviewFile.load(review.path)
    assert again.files["hw/demo/demo.c"] == sha256(out)
    assert sorted(e["decision"] for e in again.hunks.values()) == ["skip", "skip"]
    r2 = scan(tmp_path)[0]
    assert all(again.decision(h) == "skip" for h in file_hunks(r2, "hw/demo/demo.c") if not h.supporting)
