"""End to end on the real QEMU 7.2 tree (integration: needs the corpus)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys


import pytest

from codemod.cparse import MacroProfile, iter_errors, parse_bytes
from helpers import REPO, run_cli

pytestmark = pytest.mark.integration
PROFILE = MacroProfile.load(REPO / "rules" / "qemu-macros.toml")


def error_count(data: bytes) -> int:
    _, tree = parse_bytes(data, PROFILE)
    return sum(1 for _ in iter_errors(tree.root_node))


@pytest.fixture(scope="module")
def whole_tree_findings(qemu_tree):
    proc = run_cli("--dry-run", "--format", "json", ".", cwd=qemu_tree, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_whole_tree_dry_run_completes(whole_tree_findings):
    doc = whole_tree_findings
    assert doc["errors"] == []
    assert doc["stats"]["files"] > 6000 and doc["stats"]["sites"] > 2000
    actions = {f["action"] for f in doc["findings"]}
    assert {"rewrite", "stub", "report"} <= actions
    # The macro profile's target: at most 2% of sites sit in functions that do not parse.
    stats = doc["stats"]
    assert stats["sites_in_functions_with_parse_errors"] <= 0.02 * stats["sites"], stats


def test_rewritten_sample_reparses_without_new_errors(qemu_tree, tmp_path, whole_tree_findings):
    changed = sorted({f["file"] for f in whole_tree_findings["findings"] if f["action"] in ("rewrite", "stub")})
    sample = changed[:: max(1, len(changed) // 60)]
    assert len(sample) >= 30
    for rel in sample:
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(qemu_tree / rel, dst)
    proc = run_cli(*sample, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rewritten = 0
    for rel in sample:
        old, new = (qemu_tree / rel).read_bytes(), (tmp_path / rel).read_bytes()
        if old != new:
            rewritten += 1
            assert error_count(new) <= error_count(old), rel
    assert rewritten >= len(sample) // 2


def test_hw_diff_applies_and_series_applies_with_git_am(qemu_tree, tmp_path):
    proc = run_cli("--dry-run", "hw", cwd=qemu_tree, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(b"diff --git a/hw/")
    patch = tmp_path / "hw.diff"
    patch.write_bytes(proc.stdout)
    # The corpus is not a git repository: git apply then works like patch(1) on the files.
    check = subprocess.run(["git", "apply", "--check", str(patch)], cwd=qemu_tree, capture_output=True)
    assert check.returncode == 0, check.stderr[-2000:]

    out = tmp_path / "series"
    proc = run_cli("--series", str(out), "--signoff", "A Developer <dev@example.org>", "hw", cwd=qemu_tree,
                   timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import check_series
    finally:
        sys.path.pop(0)
    patches = sorted(p for p in out.glob("*.patch") if not check_series.is_cover_letter(p))
    assert len(patches) >= 10
    (tmp_path / "am").mkdir()
    repo, _ = check_series.prepare_repo(qemu_tree, patches, tmp_path / "am")
    results = check_series.apply_series(repo, patches)
    failed = [(p.name, msg[-300:]) for p, (ok, msg) in zip(patches, results) if not ok]
    assert not failed, failed[:3]
