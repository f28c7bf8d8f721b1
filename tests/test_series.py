"""The mailing-list series: files, headers, bodies, and `git am` on a
real git repository of the tree."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from codemod.errors import UsageError
from codemod.findings import Action, FileResult, Finding, PhaseInfo, SizeInfo, Status
from codemod.maintainers import Section
from codemod.series import diffstat, find_tree_root, plan_series, slug, subsystem_prefix, write_series

DATE = datetime(2026, 11, 26, 8, 0, 0, tzinfo=timezone.utc)
SIGNER = "Ada Example <ada@example.org>"

MAINTAINERS = """\
Example project
===============

All patches CC here
L: devel@example.org
F: *
F: */

Widget devices
M: Wanda Widget <wanda@example.org>
R: Rory Reviewer <rory@example.org>
L: widgets@example.org
S: Maintained
F: hw/widget/

Widget bus
M: Bea Bus <bea@example.org>
S: Supported
F: hw/widget/widget-bus.c

Blob format
M: "Bob B. Blob" <bob@example.org>
L: blocks@example.org
S: Maintained
F: block/blob*
"""

# An original device model in QEMU's style; {fn} and {alloc} vary per file.
C_TEMPLATE = """\
/*
 * {title}
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/widget/widget.h"

static int {fn}(WidgetState *s, size_t len)
{{
    uint8_t *buf;

    buf = {alloc}(len);
    widget_fill(s, buf, len);
    g_free(buf);
    return 0;
}}
"""

CHECK = "    if (!buf) {\n        return -ENOMEM;\n    }\n"

FILES = {
    "hw/widget/widget-core.c": "widget_core_load",
    "hw/widget/widget-dma.c": "widget_dma_copy",
    "hw/widget/widget-bus.c": "widget_bus_xfer",
    "block/blobfmt.c": "blob_read_table",
    "util/misc.c": "misc_buffer",
}


def original(path: str) -> bytes:
    fn = FILES[path]
    return C_TEMPLATE.format(title=path, fn=fn, alloc="g_malloc").encode()


def rewritten(path: str) -> bytes:
    text = original(path).decode().replace("g_malloc(len);\n", "g_try_malloc(len);\n" + CHECK)
    return text.encode()


def make_tree(root: Path, with_maintainers: bool = True) -> Path:
    for path in FILES:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(original(path))
    if with_maintainers:
        (root / "MAINTAINERS").write_text(MAINTAINERS)
    return root


def finding(path: str, policy: str = "R5", action: Action = Action.REWRITE) -> Finding:
    return Finding(
        file=path,
        offset=original(path).index(b"g_malloc"),
        line=14,
        column=11,
        function=FILES[path],
        allocator="g_malloc",
        policy=policy,
        rule="large-alloc",
        size=SizeInfo("large", None, "len: parameter, from the guest's descriptor"),
        phase=PhaseInfo("runtime", ("guest-io",), ("widget_mmio_write", FILES[path])),
        action=action,
        reason="guest-controlled size allocated while the VM runs",
        error_path="return -ENOMEM",
    )


def results_for(root: Path, paths=None, **kw) -> list[FileResult]:
    out = []
    for path in paths or FILES:
        out.append(
            FileResult(
                path=str(root / path),
                display=path,
                status=Status.OK,
                original=original(path),
                rewritten=rewritten(path),
                findings=[finding(path, **kw)],
            )
        )
    return out


@pytest.fixture
def git_env(tmp_path, monkeypatch):
    """Keep the machine's git configuration out of the tests."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    return home


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_COMMITTER_NAME="Committer", GIT_COMMITTER_EMAIL="c@example.org")
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def git_repo_of(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree, dest)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "-c", "user.name=Base", "-c", "user.email=base@example.org", "commit", "-qm", "base")
    git(dest, "tag", "base")
    return dest


def parse(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_series_files_subjects_and_cc(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    before = snapshot(tree)
    out = tmp_path / "out"
    written = write_series(out, results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    assert [p.name for p in written] == [
        "0000-cover-letter.patch",
        # git format-patch cuts the name part at 52 characters, as here.
        "0001-block-blobfmt-Check-large-allocation-in-blob_read_ta.patch",
        "0002-hw-widget-widget-bus-Check-large-allocation-in-widge.patch",
        "0003-hw-widget-Check-large-allocations.patch",
        "0004-util-misc-Check-large-allocation-in-misc_buffer.patch",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    assert snapshot(tree) == before  # the tree is only read

    mails = [parse(p) for p in written]
    assert [str(m["Subject"]) for m in mails] == [
        "[PATCH 0/4] Check large allocations made while the VM runs",
        "[PATCH 1/4] block/blobfmt: Check large allocation in blob_read_table()",
        "[PATCH 2/4] hw/widget/widget-bus: Check large allocation in widget_bus_xfer()",
        "[PATCH 3/4] hw/widget: Check large allocations",
        "[PATCH 4/4] util/misc: Check large allocation in misc_buffer()",
    ]
    for m in mails:
        assert str(m["To"]) == "devel@example.org" or str(m["To"]) == "qemu-devel@nongnu.org"
        assert str(m["From"]) == SIGNER
        assert str(m["Date"]) == "Thu, 26 Nov 2026 08:00:00 +0000"
    cc = [[a.addr_spec for a in m["Cc"].addresses] if m["Cc"] else [] for m in mails]
    assert cc[1] == ["bob@example.org", "blocks@example.org", "devel@example.org"]
    assert cc[2] == [
        "bea@example.org",
        "wanda@example.org",
        "rory@example.org",
        "widgets@example.org",
        "devel@example.org",
    ]
    assert cc[3] == ["wanda@example.org", "rory@example.org", "widgets@example.org", "devel@example.org"]
    assert cc[4] == ["devel@example.org"]  # only the catch-all: grouped by directory
    assert set(cc[0]) == set(cc[1]) | set(cc[2]) | set(cc[3]) | set(cc[4])
    # The quoted display name survives as a quoted string.
    assert '"Bob B. Blob" <bob@example.org>' in written[1].read_text()

    first = written[1].read_text()
    assert first.startswith("From ") and " Mon Sep 17 00:00:00 2001\n" in first.splitlines(True)[0]
    message, _, rest = first.partition("\n---\n")
    assert message.rstrip().endswith(f"Signed-off-by: {SIGNER}")
    flat = " ".join(message.split())
    # Evidence (why large, which entry point), the policy, and what happens on failure, in prose.
    assert ("blob_read_table() calls g_malloc(len), and the size can exceed a page "
            "(len: parameter, from the guest's descriptor).") in flat
    assert "It runs while the VM is running (guest-io: widget_mmio_write() -> blob_read_table())." in flat
    assert "rule 5" in message and "g_malloc() aborts QEMU" in flat
    assert "Use g_try_malloc() instead and, when it fails, return -ENOMEM." in flat
    # Nothing is said twice.
    sentences = [s for s in re.split(r"(?<=\.) ", flat.split("Signed-off-by")[0]) if s.strip()]
    assert len(sentences) == len(set(sentences))
    body_lines = message.split("\n\n", 1)[1].splitlines()
    assert body_lines and all(len(line) <= 72 for line in body_lines)
    assert " block/blobfmt.c | 5 ++++-\n 1 file changed, 4 insertions(+), 1 deletion(-)\n" in rest
    assert re.search(r"^index [0-9a-f]{7}\.\.[0-9a-f]{7} 100644$", rest, re.M)
    assert rest.endswith("-- \nallocfix 0.1.0\n\n")

    cover = written[0].read_text()
    assert "Ada Example (4):\n  block/blobfmt: Check large allocation in blob_read_table()\n" in cover
    assert " 5 files changed, 20 insertions(+), 5 deletions(-)\n" in cover
    assert "base-commit:" not in cover
    assert "grouped by MAINTAINERS section" in " ".join(cover.split())


def test_git_am_applies_the_series(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    repo = git_repo_of(tree, tmp_path / "repo")
    written = write_series(tmp_path / "out", results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    git(repo, "am", *[str(p) for p in written[1:]])
    for path in FILES:
        assert (repo / path).read_bytes() == rewritten(path), path
    log = git(repo, "log", "--reverse", "--format=%an <%ae>|%s", "base..HEAD").splitlines()
    assert log == [
        f"{SIGNER}|block/blobfmt: Check large allocation in blob_read_table()",
        f"{SIGNER}|hw/widget/widget-bus: Check large allocation in widget_bus_xfer()",
        f"{SIGNER}|hw/widget: Check large allocations",
        f"{SIGNER}|util/misc: Check large allocation in misc_buffer()",
    ]
    assert "Signed-off-by: " + SIGNER in git(repo, "log", "-1", "--format=%B")
    assert git(repo, "status", "--porcelain") == ""


def test_each_patch_applies_alone_in_order(tmp_path, git_env):
    """Patch k applies on top of patches 1..k-1 (git apply --check)."""
    tree = make_tree(tmp_path / "tree")
    repo = git_repo_of(tree, tmp_path / "repo")
    written = write_series(tmp_path / "out", results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    for patch in written[1:]:
        git(repo, "apply", "--check", str(patch))
        git(repo, "am", str(patch))


def test_signoff_from_git_config(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    repo = git_repo_of(tree, tmp_path / "repo")
    git(repo, "config", "user.name", "Repo Person")
    git(repo, "config", "user.email", "repo@example.org")
    written = write_series(tmp_path / "out", results_for(repo), tree_root=repo, date=DATE)
    assert "Signed-off-by: Repo Person <repo@example.org>\n" in written[1].read_text()
    assert str(parse(written[1])["From"]) == "Repo Person <repo@example.org>"


def test_signoff_from_global_git_config(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    (git_env / "gitconfig").write_text("[user]\n\tname = Global Person\n\temail = global@example.org\n")
    written = write_series(tmp_path / "out", results_for(tree), tree_root=tree, date=DATE)
    assert "Signed-off-by: Global Person <global@example.org>\n" in written[1].read_text()


def test_no_identity_is_a_usage_error(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    with pytest.raises(UsageError) as info:
        write_series(tmp_path / "out", results_for(tree), tree_root=tree, date=DATE)
    assert "--signoff" in str(info.value)
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError):
        write_series(tmp_path / "out", results_for(tree), tree_root=tree, signoff="no address", date=DATE)


def test_version_prefix_and_base(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    written = write_series(
        tmp_path / "out",
        results_for(tree),
        tree_root=tree,
        signoff=SIGNER,
        version=2,
        subject_prefix="RFC",
        base="0123456789abcdef0123456789abcdef01234567",
        date=DATE,
    )
    assert written[0].name == "v2-0000-cover-letter.patch"
    assert all(p.name.startswith("v2-000") for p in written)
    subjects = [str(parse(p)["Subject"]) for p in written]
    assert subjects[0].startswith("[RFC v2 0/4] ")
    assert subjects[3].startswith("[RFC v2 3/4] hw/widget: ")
    cover = written[0].read_text()
    assert "\nbase-commit: 0123456789abcdef0123456789abcdef01234567\n-- \n" in cover


def test_deterministic(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    a = write_series(tmp_path / "a", results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    b = write_series(tmp_path / "b", results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    assert [p.name for p in a] == [p.name for p in b]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    # Input order does not matter.
    c = write_series(tmp_path / "c", results_for(tree)[::-1], tree_root=tree, signoff=SIGNER, date=DATE)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in c]


def test_without_maintainers_groups_per_directory(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree", with_maintainers=False)
    written = write_series(tmp_path / "out", results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    subjects = [str(parse(p)["Subject"]) for p in written]
    assert subjects[1:] == [
        "[PATCH 1/3] block/blobfmt: Check large allocation in blob_read_table()",
        "[PATCH 2/3] hw/widget: Check large allocations",
        "[PATCH 3/3] util/misc: Check large allocation in misc_buffer()",
    ]
    assert all(parse(p)["Cc"] is None for p in written)
    assert all(str(parse(p)["To"]) == "qemu-devel@nongnu.org" for p in written)
    repo = git_repo_of(tree, tmp_path / "repo")
    git(repo, "am", *[str(p) for p in written[1:]])
    assert all((repo / p).read_bytes() == rewritten(p) for p in FILES)


def test_non_ascii_author_and_unchanged_results(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    results = results_for(tree, ["hw/widget/widget-core.c"])
    results.append(
        FileResult(
            path=str(tree / "util/misc.c"), display="util/misc.c", status=Status.OK, original=original("util/misc.c")
        )
    )
    results.append(FileResult(path=str(tree / "x.bin"), display="x.bin", status=Status.SKIPPED, message="binary"))
    written = write_series(tmp_path / "out", results, tree_root=tree, signoff="Zoë Exâmple <zoe@example.org>", date=DATE)
    assert len(written) == 2
    raw = written[1].read_bytes()
    assert b"Content-Type: text/plain; charset=UTF-8\n" in raw
    assert "Signed-off-by: Zoë Exâmple <zoe@example.org>".encode() in raw
    assert str(parse(written[1])["From"]) == "Zoë Exâmple <zoe@example.org>"
    repo = git_repo_of(tree, tmp_path / "repo")
    git(repo, "am", str(written[1]))
    assert git(repo, "log", "-1", "--format=%an").strip() == "Zoë Exâmple"


def test_nothing_to_send(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    res = FileResult(path=str(tree / "util/misc.c"), display="util/misc.c", status=Status.OK, original=b"x")
    assert write_series(tmp_path / "out", [res], tree_root=tree, signoff=SIGNER) == []
    assert not (tmp_path / "out").exists()


def test_stale_patches_are_refused(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    out = tmp_path / "out"
    write_series(out, results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    with pytest.raises(UsageError) as info:
        write_series(out, results_for(tree, ["util/misc.c"]), tree_root=tree, signoff=SIGNER, date=DATE)
    assert "another series" in str(info.value)
    # Re-writing the same series over itself is fine.
    write_series(out, results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)


def test_r6_and_stub_wording(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    results = results_for(tree, ["block/blobfmt.c"], policy="R6", action=Action.STUB)
    written = write_series(tmp_path / "out", results, tree_root=tree, signoff=SIGNER, date=DATE)
    subject = str(parse(written[1])["Subject"])
    # With the function name it would exceed 72 columns, so it is dropped.
    assert subject == "[PATCH 1/1] block/blobfmt: Report allocation failures to the monitor"
    text = written[1].read_text()
    assert "error on the monitor" in text
    flat = " ".join(text.split())
    assert "blob_read_table() has no way to report the failure to its caller" in flat
    assert "marks the spot with an 'allocfix:' comment" in flat and "maintainer's decision" in flat


def test_subsystem_prefix():
    assert subsystem_prefix(["hw/scsi/scsi-bus.c"]) == "hw/scsi/scsi-bus"
    assert subsystem_prefix(["block/qcow2.c", "block/qcow2.h"]) == "block/qcow2"
    assert subsystem_prefix(["hw/scsi/scsi-bus.c", "hw/scsi/scsi-disk.c"]) == "hw/scsi"
    assert subsystem_prefix(["hw/scsi/esp.c", "include/hw/scsi/esp-pci.h"]) == "hw/scsi/esp"  # shared stem
    assert subsystem_prefix(["hw/scsi/esp.c", "include/hw/scsi/esp.h"]) == "hw/scsi/esp"
    assert subsystem_prefix(["include/qemu/bitmap.h"]) == "include/qemu/bitmap"
    assert subsystem_prefix(["hw/scsi/a.c", "hw/net/b.c"]) == "hw"
    assert subsystem_prefix(["block/a.c", "util/b.c"]) == "block, util"
    assert subsystem_prefix(["vl.c"]) == "vl"
    # A shared file-name stem narrows the directory; a section names what only shares hw/.
    assert subsystem_prefix(["block/qcow2-cache.c", "block/qcow2-cluster.c"]) == "block/qcow2"
    assert subsystem_prefix(["block/dirty-bitmap.c", "block/qcow2-bitmap.c"]) == "block"
    assert subsystem_prefix(["hw/virtio/virtio.c", "hw/virtio/virtio-mem.c"]) == "hw/virtio"
    pxa = Section(title="PXA2XX", index=0, line=1)
    assert subsystem_prefix(["hw/arm/pxa2xx.c", "hw/dma/pxa2xx_dma.c"], pxa) == "pxa2xx"
    acpi = Section(title="ACPI/SMBIOS", index=0, line=1)
    assert subsystem_prefix(["hw/acpi/core.c", "hw/smbios/smbios.c"], acpi) == "acpi/smbios"
    xen = Section(title="X86 Xen CPUs", index=0, line=1)
    assert subsystem_prefix(["hw/xen/xen-bus.c", "hw/net/xen_nic.c", "hw/i386/pc.c"], xen) == "xen"
    mac = Section(title="New World (mac99)", index=0, line=1)
    assert subsystem_prefix(["hw/misc/macio/macio.c", "hw/ppc/mac_newworld.c", "hw/nvram/nv.c"], mac) == "hw"
    core = Section(title="Block layer core", index=0, line=1)
    assert subsystem_prefix(["block/io.c", "blockdev.c"], core) == "block"


def test_slug_and_diffstat_scaling(tmp_path):
    assert slug("hw/scsi: Check large allocations in f()") == "hw-scsi-Check-large-allocations-in-f"
    tree = make_tree(tmp_path)
    big = "\n".join(f"line {i}" for i in range(200)).encode() + b"\n"
    res = FileResult(
        path=str(tmp_path / "util/misc.c"), display="util/misc.c", status=Status.OK, original=b"", rewritten=big
    )
    (plan,) = plan_series([res], tree)
    lines = diffstat(plan.files)
    assert lines[-1] == " 1 file changed, 200 insertions(+)"
    assert lines[0].startswith(" util/misc.c | 200 +")
    assert len(lines[0]) <= 72



def test_explicit_signoff_wins_over_git_config(tmp_path, git_env):
    tree = make_tree(tmp_path / "tree")
    (git_env / "gitconfig").write_text("[user]\n\tname = Global Person\n\temail = global@example.org\n")
    written = write_series(tmp_path / "out", results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    assert f"Signed-off-by: {SIGNER}\n" in written[1].read_text()
    assert "global@example.org" not in written[1].read_text()


def test_non_utf8_bytes_and_relative_paths(tmp_path, git_env, monkeypatch):
    """Latin-1 bytes in a file survive into the patch and through git am;
    display paths relative to a working directory inside the tree are
    turned into tree-relative paths."""
    tree = make_tree(tmp_path / "tree")
    path = "hw/widget/widget-core.c"
    old = original(path).replace(b"uint8_t *buf;", b"uint8_t *buf; /* J\xf6rg's buffer */")
    (tree / path).write_bytes(old)
    new = old.replace(b"g_malloc(len);\n", b"g_try_malloc(len);\n" + CHECK.encode())
    monkeypatch.chdir(tree / "hw")
    res = FileResult(path="widget/widget-core.c", display="widget/widget-core.c", status=Status.OK,
                     original=old, rewritten=new, findings=[finding(path)])
    written = write_series(tmp_path / "out", [res], tree_root=tree, signoff=SIGNER, date=DATE)
    raw = written[1].read_bytes()
    assert b"diff --git a/hw/widget/widget-core.c b/hw/widget/widget-core.c\n" in raw
    assert b"\n     uint8_t *buf; /* J\xf6rg's buffer */\n" in raw  # context, byte for byte
    repo = git_repo_of(tree, tmp_path / "repo")
    git(repo, "am", str(written[1]))
    assert (repo / path).read_bytes() == new


def test_find_tree_root(tmp_path):
    tree = make_tree(tmp_path / "tree")
    assert find_tree_root([tree / "hw/widget/widget-core.c"]) == tree
    assert find_tree_root([tree / "hw/widget", tree / "block"]) == tree
    bare = make_tree(tmp_path / "bare", with_maintainers=False)
    assert find_tree_root([bare / "hw/widget/widget-core.c", bare / "hw/widget/widget-bus.c"]) == bare / "hw/widget"


def test_check_series_uses_a_clone_of_a_git_tree(tmp_path, git_env):
    tree = git_repo_of(make_tree(tmp_path / "tree"), tmp_path / "repo")
    written = write_series(tmp_path / "out", results_for(tree), tree_root=tree, signoff=SIGNER, date=DATE)
    cs = load_check_series()
    work = tmp_path / "work"
    work.mkdir()
    clone, how = cs.prepare_repo(tree, written[1:], work)
    assert how.startswith("shared clone")
    assert [ok for ok, _ in cs.apply_series(clone, written[1:])] == [True] * 4
    assert all((clone / p).read_bytes() == rewritten(p) for p in FILES)
    assert all((tree / p).read_bytes() == original(p) for p in FILES)  # the tree is untouched
    # Applying again fails cleanly (am --abort), patch by patch.
    assert [ok for ok, _ in cs.apply_series(clone, written[1:])] == [False] * 4

# ------------------------------------------------------------ QEMU corpus

REPO = Path(__file__).resolve().parent.parent


def load_check_series():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_series", REPO / "scripts" / "check_series.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_series", mod)  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


# (file, function, variable assigned from g_malloc, QEMU-style failure handling)
QEMU_EDITS = [
    ("hw/scsi/scsi-bus.c", "scsi_req_alloc", "req", "        return NULL;\n"),
    ("hw/scsi/scsi-disk.c", "scsi_disk_new_request_dump", "line_buffer", "        return;\n"),
    ("block/qcow2.c", "qcow2_co_pwritev_compressed_task", "out_buf", "        qemu_vfree(buf);\n        return -ENOMEM;\n"),
]


def qemu_results(tree: Path) -> list[FileResult]:
    """A small hand-made rewrite of one g_malloc() per file."""
    out = []
    for path, fn, var, failure in QEMU_EDITS:
        data = (tree / path).read_bytes()
        m = re.search(rb"^( +)" + var.encode() + rb" = g_malloc\(([^;\n]*)\);\n", data, re.M)
        assert m, path
        indent = m.group(1).decode()
        new = (
            f"{indent}{var} = g_try_malloc({m.group(2).decode()});\n"
            f"{indent}if (!{var}) {{\n{failure}{indent}}}\n"
        ).encode()
        line = data.count(b"\n", 0, m.start()) + 1
        start = m.start() + len(indent)
        # The assignment lies in the function the test names.
        assert data.rfind(fn.encode() + b"(", 0, m.start()) > data.rfind(b"\n}\n", 0, m.start()), path
        f = Finding(
            file=path,
            offset=start + len(var) + 3,
            line=line,
            column=len(indent) + len(var) + 4,
            function=fn,
            allocator="g_malloc",
            policy="R5",
            rule="large-alloc",
            size=SizeInfo("unknown", None, f"{m.group(2).decode()}: not bounded by a constant"),
            phase=PhaseInfo("runtime", ("guest-io",), (fn,)),
            action=Action.REWRITE,
            reason="allocation of a size not known to be small while the VM runs",
            error_path=failure.strip().splitlines()[-1],
        )
        out.append(
            FileResult(
                path=str(tree / path),
                display=path,
                status=Status.OK,
                original=data,
                rewritten=data[: m.start()] + new + data[m.end() :],
                findings=[f],
            )
        )
    return out


@pytest.mark.integration
def test_qemu_series_passes_checkpatch_and_applies(qemu_tree, tmp_path, git_env):
    if shutil.which("perl") is None:
        pytest.skip("perl not available")
    results = qemu_results(qemu_tree)
    out = tmp_path / "series"
    written = write_series(out, results, tree_root=qemu_tree, signoff=SIGNER, date=DATE, base="v7.2.0")
    subjects = [str(parse(p)["Subject"]) for p in written]
    assert subjects[1] == "[PATCH 1/2] block/qcow2: Check large allocation"  # with the name: 75 columns
    assert subjects[2] == "[PATCH 2/2] hw/scsi: Check large allocations"
    cc1 = {a.addr_spec for a in parse(written[1])["Cc"].addresses}
    assert {"kwolf@redhat.com", "hreitz@redhat.com", "qemu-block@nongnu.org"} <= cc1
    cc2 = [a.addr_spec for a in parse(written[2])["Cc"].addresses]
    assert cc2[:2] == ["pbonzini@redhat.com", "fam@euphon.net"]

    cs = load_check_series()
    for patch in written:
        errors, warnings, output = cs.run_checkpatch(qemu_tree, patch)
        assert (errors, warnings) == (0, 0), output

    repo, how = cs.prepare_repo(qemu_tree, written[1:], tmp_path)
    assert "the 3 files the series touches (of 3)" in how
    assert (repo / "MAINTAINERS").is_file()
    assert [ok for ok, _ in cs.apply_series(repo, written[1:])] == [True, True]
    for res in results:
        assert (repo / res.display).read_bytes() == res.rewritten


@pytest.mark.integration
def test_check_series_script(qemu_tree, tmp_path, git_env):
    if shutil.which("perl") is None:
        pytest.skip("perl not available")
    out = tmp_path / "series"
    written = write_series(out, qemu_results(qemu_tree), tree_root=qemu_tree, signoff=SIGNER, date=DATE)
    script = [sys.executable, str(REPO / "scripts" / "check_series.py"), str(qemu_tree)]
    proc = subprocess.run([*script, str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()[1:4]}
    assert rows[written[0].name] == ["0", "0", "-", "-"]
    assert rows[written[1].name] == ["0", "0", "yes", "-"]
    assert rows[written[2].name] == ["0", "0", "yes", "-"]

    # A patch whose context no longer matches the tree is reported.
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    diff_part = written[1].read_text().split("\n@@ ", 1)[1]
    hunk_line = next(x for x in diff_part.splitlines() if x.startswith(" ") and "=" in x)
    (broken / written[1].name).write_text(written[1].read_text().replace(hunk_line, hunk_line + " /* x */", 1))
    # A patch without a sign-off still applies, but checkpatch says no.
    unsigned = re.sub(r"\nSigned-off-by: [^\n]*\n", "\n", written[2].read_text())
    assert unsigned != written[2].read_text()
    (broken / written[2].name).write_text(unsigned)
    proc = subprocess.run([*script, str(broken)], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout
    assert re.search(re.escape(written[1].name) + r"\s+0\s+0\s+NO", proc.stdout)
    assert re.search(re.escape(written[2].name) + r"\s+1\s+0\s+yes", proc.stdout)
    assert "Missing Signed-off-by" in proc.stdout


FAKE_CHECKPATCH = r"""#!/usr/bin/perl
# Test double for QEMU's checkpatch.pl: objects to added lines with BADSTYLE,
# reporting them the way the real script does.
my ($file, $new, $n, $errors) = ("", 0, 0, 0);
while (my $line = <STDIN>) {
    $n++;
    if ($line =~ m{^\+\+\+ b/(\S+)}) { $file = $1; next; }
    if ($line =~ /^@@ -\d+(?:,\d+)? \+(\d+)/) { $new = $1; next; }
    next if $file eq "";
    if ($line =~ /^\+/) {
        if ($line =~ /BADSTYLE/) { print "ERROR: bad style\n#$n: FILE: $file:$new:\n$line\n"; $errors++; }
        $new++;
    } elsif ($line =~ /^ /) { $new++; }
}
print "total: $errors errors, 0 warnings, $n lines checked\n";
"""


def test_hunks_checkpatch_rejects_are_left_out_and_listed(tmp_path, git_env):
    if shutil.which("perl") is None:
        pytest.skip("perl not available")
    from review_helpers import make_tree as make_demo, scan as scan_demo

    tree = tmp_path / "tree"
    make_demo(tree)
    (tree / "scripts").mkdir()
    (tree / "scripts" / "checkpatch.pl").write_text(FAKE_CHECKPATCH)
    [res] = scan_demo(tree)
    # Make the proposed check in demo_dma() one checkpatch objects to.
    res.rewritten = res.rewritten.replace(b"return -ENOMEM;\n    }\n    return 0;\n}\n\n/* More",
                                          b"return -ENOMEM; /* BADSTYLE */\n    }\n    return 0;\n}\n\n/* More", 1)
    assert b"BADSTYLE" in res.rewritten
    left_out: list[str] = []
    written = write_series(tmp_path / "out", [res], tree_root=tree, signoff=SIGNER, date=DATE, left_out=left_out)
    assert len(left_out) == 1 and left_out[0].startswith("hw/demo/demo.c:") and "demo_dma()" in left_out[0]
    assert "ERROR: bad style" in left_out[0]
    patch = written[1].read_text()
    assert "BADSTYLE" not in patch and "g_try_malloc(s->len)" not in patch
    assert "g_try_malloc0(s->table_size)" in patch and "g_try_malloc(s->ring_size)" in patch
    assert '+#include "qapi/error.h"' in patch  # still needed by demo_realize()
    assert "demo_dma" not in patch.split("\n---\n")[0]  # the message names only what is sent
    cover = " ".join(written[0].read_text().split())
    assert "Left out: 1 change that scripts/checkpatch.pl objects to" in cover and "demo_dma()" in cover
    # Without the gate the hunk is sent as it is.
    plain = write_series(tmp_path / "plain", [res], tree_root=tree, signoff=SIGNER, date=DATE, style_check=False)
    assert "BADSTYLE" in plain[1].read_text()
