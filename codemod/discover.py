"""Find the C files below the paths a user names.

Directories are walked in sorted order (output is deterministic); symbolic
links are followed only while they stay inside the scanned root, so a link
loop or a link out of the tree is never scanned. Display paths follow
GUIDE §2: relative to the current directory when the file lies below it
(as `git diff` prints them), otherwise relative to the scanned root.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from codemod.errors import InputError

C_SUFFIXES = (".c", ".h")
# Never descend into these: VCS metadata and allocfix's own state.
SKIP_DIRS = {".git", ".hg", ".svn", ".allocfix", "__pycache__"}


@dataclass(frozen=True)
class DiscoveredFile:
    path: str  # path used to open the file
    display: str  # path shown to the user


@dataclass(frozen=True)
class Discovery:
    root: str  # scanned root, as shown in the findings document
    files: tuple[DiscoveredFile, ...]


def scan_root(paths: list[str]) -> Path:
    """The common directory of the scanned paths."""
    resolved = [Path(os.path.abspath(p)) for p in paths]
    dirs = [p if p.is_dir() else p.parent for p in resolved]
    return Path(os.path.commonpath([str(d) for d in dirs]))


def display_path(path: Path, root: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return path.as_posix()


def _excluded(rel: str, excludes: tuple[str, ...]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(name, pat) for pat in excludes)


def discover(paths: list[str], excludes: tuple[str, ...] = (), cwd: str | None = None) -> Discovery:
    """Every C file below `paths`, each once, in a stable order."""
    if not paths:
        raise InputError("no path to scan", hint="name a file or directory, e.g. `allocfix --dry-run hw/`")
    here = Path(os.path.abspath(cwd or os.getcwd()))
    for p in paths:
        if not os.path.lexists(p):
            raise InputError(f"{p}: no such file or directory")
        if os.path.islink(p) and not os.path.exists(p):
            raise InputError(f"{p}: broken symbolic link or symbolic link loop",
                             hint="name the file the link should point to")
        if not os.path.isdir(p) and not os.path.isfile(p):
            raise InputError(f"{p}: not a regular file (a FIFO, socket or device is never scanned)")
        if os.path.isfile(p) and not os.access(p, os.R_OK):
            raise InputError(f"{p}: not readable (permission denied)")
    root = scan_root(paths)
    real_root = Path(os.path.realpath(root))
    seen: set[str] = set()
    found: list[DiscoveredFile] = []

    def add(file_path: Path) -> None:
        add_real(file_path, os.path.realpath(file_path))

    here_prefix = str(here).rstrip("/") + "/"
    root_prefix = str(root).rstrip("/") + "/"

    def add_real(file_path: Path | str, real: str) -> None:
        if real in seen:
            return
        seen.add(real)
        text = str(file_path)
        # display_path by string operations (this runs once per file of a tree).
        if text.startswith(here_prefix):
            display = text[len(here_prefix):]
        elif text.startswith(root_prefix):
            display = text[len(root_prefix):]
        else:
            display = display_path(Path(text), root, here)
        found.append(DiscoveredFile(text, display))

    real_root_text = str(real_root)
    real_root_prefix = real_root_text.rstrip("/") + "/"

    def inside_root(real: str) -> bool:
        return real == real_root_text or real.startswith(real_root_prefix)

    root_text = str(root)
    for given in paths:
        start = Path(os.path.abspath(given))
        if not start.is_dir():
            # A file named explicitly is scanned whatever its suffix.
            add(start)
            continue
        visited_dirs: set[str] = set()
        # Depth first, each directory's files (sorted) before its subdirectories
        # (sorted). os.scandir's entries know what is a link or a file without a
        # stat per file; only links need their real path resolved (a plain
        # subdirectory's real path is its parent's plus its name).
        stack = [(str(start), os.path.realpath(start))]
        while stack:
            dirpath, real_dir = stack.pop()
            if real_dir in visited_dirs or not inside_root(real_dir):
                continue
            visited_dirs.add(real_dir)
            try:
                entries = sorted(os.scandir(dirpath), key=lambda e: e.name)
            except OSError:
                continue
            subdirs = []
            for entry in entries:
                name = entry.name
                try:
                    if entry.is_dir():  # follows links, like os.walk(followlinks=True)
                        if name not in SKIP_DIRS:
                            real_sub = (os.path.realpath(entry.path) if entry.is_symlink()
                                        else os.path.join(real_dir, name))
                            subdirs.append((entry.path, real_sub))
                        continue
                    if not name.endswith(C_SUFFIXES) or not entry.is_file():
                        continue
                    link = entry.is_symlink()
                except OSError:
                    continue
                if link and not inside_root(os.path.realpath(entry.path)):
                    continue
                if excludes:
                    rel = os.path.relpath(entry.path, root_text) if entry.path.startswith(root_text + os.sep) else name
                    if _excluded(rel.replace(os.sep, "/"), excludes):
                        continue
                if link or real_dir != dirpath:
                    add(Path(entry.path))
                else:
                    add_real(entry.path, entry.path)
            stack.extend(reversed(subdirs))
    return Discovery(str(root), tuple(found))


def find_tree_root(paths: list[Path]) -> Path:
    """The top of the source tree holding `paths`: the nearest directory
    at or above their common ancestor that has a MAINTAINERS file or is
    a git work tree's top; the common ancestor when there is none."""
    resolved = [Path(p).resolve() for p in paths] or [Path.cwd().resolve()]
    common = resolved[0] if len(resolved) == 1 else Path(os.path.commonpath(resolved))
    if common.is_file() or not common.exists():
        common = common.parent
    for cand in (common, *common.parents):
        if (cand / "MAINTAINERS").is_file() or (cand / ".git").exists():
            return cand
    return common
