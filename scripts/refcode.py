"""Load a module of this repository as it was at a git revision, and list a
tree's C files: shared by the identity checks and benchmarks that compare
old and new code on the QEMU tree (scripts/check_identity.py,
bench/parse_costs.py)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def load_at_revision(rev: str, relpath: str, name: str) -> types.ModuleType:
    """Module `relpath` (e.g. codemod/cparse.py) at git revision `rev`, under
    module name `name`; its imports resolve against the current checkout."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{relpath}"],
                            check=True, capture_output=True).stdout
    spec = importlib.util.spec_from_loader(name, loader=None, origin=f"{rev}:{relpath}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{relpath}", "exec"), module.__dict__)
    return module


def tree_files(root: Path, under: str = "") -> list[Path]:
    """Every .c and .h file under root/under, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root / under if under else root):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith((".c", ".h")):
                out.append(Path(dirpath) / f)
    return out
