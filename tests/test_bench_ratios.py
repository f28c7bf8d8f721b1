"""The bench's ratio lines: each allocfix row against the right reference row."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from helpers import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("allocfix_run_bench", Path(REPO) / "bench" / "run_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_touched_and_edited_warm_rows_get_their_own_ratios():
    b = _bench()

    def row(tool, seconds, subset="whole tree", mb=100.0):
        return b.Row(tool, subset, 10, mb, [b.Sample(seconds, 1, 1, 0)])

    rows = [row("allocfix cold", 30.0), row("allocfix warm (1 file edited)", 0.8),
            row("allocfix warm, --format json", 0.9), row("allocfix warm (1 file touched)", 0.5),
            row("spatch -j2", 20.0), row("ast-grep -j2", 5.0)]
    got = {name: value for _, name, value in b.ratios(rows)}
    assert got["allocfix cold / spatch (target <= 0.5)"] == 1.5
    assert got["allocfix warm / ast-grep (target <= 0.1)"] == 0.8 / 5.0  # the edited row, not the touched one
    assert got["allocfix warm json / ast-grep"] == 0.9 / 5.0
    assert got["allocfix warm touched / ast-grep"] == 0.5 / 5.0
