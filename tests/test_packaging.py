"""A wheel built from a fresh clone, installed outside the repo, finds its rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

from helpers import REPO


def test_wheel_from_fresh_clone_finds_builtin_rules(tmp_path):
    if not (REPO / ".git").exists():
        import pytest
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    # Uncommitted work in the checkout under test belongs in the wheel too.
    for rel in subprocess.run(["git", "ls-files", "-m", "-o", "--exclude-standard"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.split():
        src = REPO / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(wheels), str(clone)], check=True, capture_output=True)
    [wheel] = wheels.glob("allocfix-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "allocfix_rules/large-alloc.cocci" in names and "allocfix_rules/qemu-macros.toml" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples" / "qemu-mini", work)
    env = dict(os.environ, PYTHONPATH=str(site))
    proc = subprocess.run([sys.executable, "-m", "codemod", "--dry-run", "--format", "json", "."], cwd=work,
                          env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert any(f["action"] == "rewrite" for f in doc["findings"])
    where = subprocess.run([sys.executable, "-c", "import codemod, codemod.rulesdata as r; "
                            "print(codemod.__file__); print(r.builtin_rules_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(site) in w for w in where), where
