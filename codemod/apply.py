"""Write rewritten files atomically: temp file + rename, mode preserved.

A file is written only if its bytes are still those the rewrite started
from; otherwise it is refused (the tree changed under us).
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass

from codemod.findings import FileResult


@dataclass(frozen=True)
class WriteOutcome:
    display: str
    written: bool
    message: str = ""


def write_atomically(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    st = os.stat(path)
    fd, tmp = tempfile.mkstemp(prefix=".allocfix-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def apply_result(result: FileResult) -> WriteOutcome:
    if not result.changed:
        return WriteOutcome(result.display, False)
    try:
        with open(result.path, "rb") as f:
            current = f.read()
    except OSError as exc:
        return WriteOutcome(result.display, False, f"{result.display}: cannot read back ({exc.strerror})")
    if current != result.original:
        return WriteOutcome(result.display, False,
                            f"{result.display}:1:1: changed on disk since it was scanned; not written (re-run allocfix)")
    try:
        write_atomically(result.path, result.rewritten)
    except OSError as exc:
        return WriteOutcome(result.display, False, f"{result.display}: cannot write ({exc.strerror})")
    return WriteOutcome(result.display, True)
