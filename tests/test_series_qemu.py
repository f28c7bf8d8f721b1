"""The series bar on real QEMU 7.2 code (integration: needs the corpus,
perl and git): checkpatch 0/0 on every patch, git am applies all, and Cc
equals scripts/get_maintainer.pl's answer for every patch.

The paths are chosen for what they exercise: target/mips (a MAINTAINERS K:
keyword on the subject), hw/tpm (.mailmap), hw/riscv (one maintainer
under two addresses), block/vvfat.c (a changed line whose existing style
checkpatch rejects: left out by the gate).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers import REPO, run_cli

pytestmark = pytest.mark.integration
PATHS = ["target/mips", "hw/tpm", "hw/riscv", "block/vvfat.c"]


def test_series_passes_checkpatch_applies_and_ccs_like_get_maintainer(qemu_tree, tmp_path):
    if shutil.which("perl") is None or shutil.which("git") is None:
        pytest.skip("needs perl and git")
    out = tmp_path / "series"
    proc = run_cli("--series", str(out), "--signoff", "A Developer <dev@example.org>", "-j", "1", *PATHS,
                   cwd=qemu_tree, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    patches = sorted(out.glob("*.patch"))
    assert len(patches) >= 4
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "check_series.py"), "--cc-sample", "0",
                            str(qemu_tree), str(out)], capture_output=True, text=True, timeout=1800)
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
    n = len(patches) - 1
    assert f"Cc agrees with get_maintainer.pl on {n}/{n} sampled patches" in check.stdout
    assert f"{n + 1}/{n + 1} patches clean" in check.stdout
    cover = " ".join(patches[0].read_text().split())
    assert "Left out:" in cover and "block/vvfat.c:" in cover
    mips = next(p for p in patches if "mips" in p.name).read_text()
    assert "jiaxun.yang@flygoat.com" in mips  # from "K: ^Subject:.*(?i)mips"
    tpm = next(p for p in patches if "-hw-tpm" in p.name).read_text()
    assert "stefanb@linux.vnet.ibm.com" in tpm and "stefanb@linux.ibm.com" not in tpm  # .mailmap
