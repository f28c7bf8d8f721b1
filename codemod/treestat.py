"""One walk of a project tree per run, shared by what keys on its files.

The result cache's header fingerprint (every .h below the root) and the
device-property index (every .c/.h/.inc outside tests/, roms/, subprojects/)
both need the stat of most files of the tree; walking it once instead of
twice matters on a warm re-run, where these walks are a good part of the
cost. Hidden directories are skipped, like everywhere else.
"""

from __future__ import annotations

import os

SUFFIXES = (".c", ".h", ".inc")


def tree_files(root: str | os.PathLike, known: dict[str, os.stat_result] | None = None
               ) -> list[tuple[str, str, os.stat_result]]:
    """(path, path relative to root, stat) of each .c/.h/.inc file below `root`,
    directories and names in sorted order; files that vanish are left out.

    `known`: path -> stat taken earlier in the same run (the phase index's
    hash pass stats every .c/.h of the tree): used instead of a second stat."""
    known = known or {}
    key = os.path.normpath(str(root))
    out: list[tuple[str, str, os.stat_result]] = []
    prefix = key.rstrip("/") + "/"
    for dirpath, dirnames, filenames in os.walk(key):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(SUFFIXES):
                continue
            full = os.path.join(dirpath, name)
            st = known.get(full)
            if st is None:
                try:
                    st = os.stat(full)
                except OSError:
                    continue
            out.append((full, full[len(prefix):] if full.startswith(prefix) else os.path.relpath(full, key), st))
    return out
