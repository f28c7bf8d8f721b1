"""Shared fixtures: the QEMU 7.2 corpus for integration tests.

The corpus is test data: it is unpacked once under /tmp (never into the
repo) and reused by later runs. ALLOCFIX_QEMU_TREE points at an unpacked
tree; ALLOCFIX_QEMU_TARBALL at the tarball (default: ../shared/corpus/).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TARBALL = REPO.parent / "shared" / "corpus" / "qemu-7.2.tar.xz"
UNPACK_DIR = Path(os.environ.get("ALLOCFIX_CORPUS_DIR", "/tmp/allocfix-corpus"))
MARKER = ".allocfix-unpacked"


def qemu_tree_path() -> Path | None:
    """Path of an unpacked QEMU 7.2 tree, unpacking it on first use."""
    override = os.environ.get("ALLOCFIX_QEMU_TREE")
    if override:
        return Path(override)
    tree = UNPACK_DIR / "qemu-7.2.0"
    if (tree / MARKER).exists():
        return tree
    tarball = Path(os.environ.get("ALLOCFIX_QEMU_TARBALL", DEFAULT_TARBALL))
    if not tarball.exists():
        return None
    UNPACK_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["tar", "--no-same-owner", "-xJf", str(tarball), "-C", str(UNPACK_DIR)],
        check=True,
    )
    (tree / MARKER).touch()
    return tree


@pytest.fixture(scope="session")
def qemu_tree() -> Path:
    tree = qemu_tree_path()
    if tree is None:
        pytest.skip("QEMU 7.2 corpus not available (set ALLOCFIX_QEMU_TARBALL)")
    return tree


@pytest.fixture
def rules_dir() -> Path:
    return REPO / "rules"
