"""Interactive review end to end, in a real terminal (tmux) running the
real program: answers typed as keys, the screen read back.

The program is `python -m codemod --interactive`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from helpers import REPO
from review_helpers import make_tree

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
WAIT = 120  # seconds before a missing screen counts as a hang (a failure, not a timing check)


def program() -> list[str]:
    return [sys.executable, "-m", "codemod"]


class Term:
    def __init__(self, cwd: Path, editor: Path):
        self.name = f"allocfix-{uuid.uuid4().hex[:8]}"
        # A server of its own (no race with another test's server shutting
        # down), its socket in a directory removed afterwards.
        self.sockdir = tempfile.mkdtemp(prefix="allocfix-tmux-")
        self.tmux = ["tmux", "-S", os.path.join(self.sockdir, "s"), "-f", "/dev/null"]
        self.cwd = cwd
        env = {"PYTHONPATH": str(REPO), "EDITOR": str(editor), "TERM": "xterm-256color", "COLUMNS": "120"}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", "120", "-y", "50",
                        "-c", str(cwd), f"env {exports} PS1='$ ' bash --norc --noprofile"], check=True)
        subprocess.run([*self.tmux, "set-option", "-t", self.name, "history-limit", "20000"], check=True)

    def run(self, args: list[str]) -> None:
        """Start the program on a fresh screen; "__EXIT_<code>__" follows its output."""
        self.keys("clear")
        self.wait_for("$ ")
        subprocess.run([*self.tmux, "clear-history", "-t", self.name], check=True)
        cmd = " ".join(shlex.quote(a) for a in [*program(), *args])
        self.keys(f"{cmd}; echo __EXIT_$?__")

    def finished(self) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            m = re.search(r"__EXIT_(\d+)__", self.screen())
            if m:
                return self.screen()
            time.sleep(0.1)
        raise AssertionError(f"program did not finish; screen:\n{self.screen()[-3000:]}")

    def keys(self, text: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, "-l", text], check=True)
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, "Enter"], check=True)

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-J", "-S", "-5000", "-t", self.name],
                              capture_output=True, text=True, check=True).stdout

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"never saw {text!r}; screen:\n{self.screen()[-3000:]}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)
        shutil.rmtree(self.sockdir, ignore_errors=True)


@pytest.fixture
def term(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree)
    editor = tmp_path / "editor.sh"
    # A scripted $EDITOR: changes the proposed error code.
    editor.write_text("#!/bin/sh\nsed -i 's/return -ENOMEM;/return -EIO;/' \"$1\"\n")
    editor.chmod(0o755)
    t = Term(tree, editor)
    yield t
    t.close()


def review_doc(tree: Path) -> dict:
    return json.loads((tree / ".allocfix" / "review.json").read_text())


def test_review_accept_edit_skip_always_then_apply(term):
    tree = term.cwd
    term.run(["--interactive", "--color", "always", "."])
    screen = term.wait_for("[1/3] Accept this change [y,n,s,e,q,?]?")
    # The hunk is shown with its evidence.
    for text in ("hw/demo/demo.c", "demo_realize", "large-alloc", "policy R5", "size", "phase", "g_try_malloc0"):
        assert text in screen, text
    term.keys("?")
    term.wait_for("s - skip always")
    term.keys("y")
    term.wait_for("[2/3] Accept this change")
    term.keys("e")
    term.wait_for("[3/3] Accept this change")
    term.keys("s")
    screen = term.finished()
    assert "__EXIT_0__" in screen
    assert "1 accepted, 1 edited" in screen and "1 skipped always" in screen
    doc = review_doc(tree)
    decisions = {e["function"]: e["decision"] for e in doc["hunks"].values()}
    assert decisions == {"demo_realize": "accept", "demo_dma": "edit"}
    assert doc["skip_always"] == [{"rule": "large-alloc", "function": "demo_ring"}]

    # An unrelated edit shifts every line; nothing is asked again.
    f = tree / "hw" / "demo" / "demo.c"
    f.write_bytes(f.read_bytes().replace(b" */\n", b" *\n * Unrelated comment.\n */\n\n", 1))
    term.run(["--interactive", "."])
    screen = term.finished()
    assert "__EXIT_0__" in screen and "Accept this change" not in screen
    assert "3 decided earlier" in screen

    # Apply: the accepted and edited hunks, the include they need, not the skipped one.
    term.run(["."])
    screen = term.finished()
    assert "__EXIT_0__" in screen and "wrote 1 file" in screen
    out = f.read_bytes()
    assert b"Unrelated comment" in out
    assert b'#include "qapi/error.h"' in out and b"g_try_malloc0(s->table_size)" in out
    assert b"g_try_malloc(s->len)" in out and b"return -EIO;" in out and b"-ENOMEM" not in out
    assert b"s->ring = g_malloc(s->ring_size);" in out


def test_quit_keeps_what_was_accepted_and_asks_the_rest_later(term):
    tree = term.cwd
    term.run(["--interactive", "."])
    term.wait_for("[1/3] Accept this change")
    term.keys("y")
    term.wait_for("[2/3] Accept this change")
    term.keys("q")
    screen = term.finished()
    assert "__EXIT_0__" in screen and "(quit early)" in screen
    doc = review_doc(tree)
    assert [e["decision"] for e in doc["hunks"].values()] == ["accept"]

    term.run(["--interactive", "."])
    screen = term.wait_for("[1/2] Accept this change")
    assert "demo_dma" in screen and "demo_realize" not in screen
    term.keys("n")
    term.wait_for("[2/2] Accept this change")
    term.keys("n")
    screen = term.finished()
    assert "__EXIT_0__" in screen and "1 decided earlier" in screen
    decisions = sorted(e["decision"] for e in review_doc(tree)["hunks"].values())
    assert decisions == ["accept", "skip", "skip"]
