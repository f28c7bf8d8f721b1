"""mask_macros and extract_facts compute what they computed before their
speed work (scripts/check_mask_identity.py), on part of the QEMU tree; the
script itself runs over the whole tree."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))


def _have_baseline(rev: str) -> bool:
    return subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{rev}^{{commit}}"],
                          capture_output=True).returncode == 0


@pytest.mark.integration
@pytest.mark.parametrize("under", ["hw/scsi", "target/s390x", "include/qemu"])
def test_same_masks_and_facts_as_before(qemu_tree, under):
    import check_mask_identity as check

    if not _have_baseline(check.BASELINE):
        pytest.skip("baseline revision not in this checkout's history")
    out = io.StringIO()
    assert check.compare(qemu_tree, check.BASELINE, under, out=out) == 0, out.getvalue()
    assert "0 differ" in out.getvalue() and not out.getvalue().startswith("0 files")


def test_a_difference_is_reported(tmp_path, monkeypatch):
    # The check must be able to fail: make today's mask_macros differ.
    import check_mask_identity as check

    if not _have_baseline(check.BASELINE):
        pytest.skip("baseline revision not in this checkout's history")
    (tmp_path / "a.c").write_bytes(b"int f(void) { return 0; }\n")
    monkeypatch.setattr(check.cparse, "mask_macros", lambda data, profile: data.upper())
    out = io.StringIO()
    assert check.compare(tmp_path, check.BASELINE, out=out) == 1
    assert "masked bytes differ first at offset 0" in out.getvalue()


def test_a_facts_difference_is_reported(tmp_path, monkeypatch):
    import check_mask_identity as check

    if not _have_baseline(check.BASELINE):
        pytest.skip("baseline revision not in this checkout's history")
    (tmp_path / "a.c").write_bytes(b"int f(void) { return g(); }\n")
    real = check.facts.extract_facts
    monkeypatch.setattr(check.facts, "extract_facts", lambda parsed: (lambda ff: (ff.functions.clear(), ff)[1])(real(parsed)))
    out = io.StringIO()
    assert check.compare(tmp_path, check.BASELINE, out=out) == 1
    assert "facts differ" in out.getvalue()
