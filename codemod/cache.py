"""Persistent cache of per-file results (and whole-tree facts).

An entry is found by a key that names everything the value depends on:
the file's content hash, its path and display path, the rule set (bytes of
every rule file, the macro profile and allocators.toml, the options), the
allocfix version plus a fingerprint of its code and of the parser, and an
extra key the caller supplies (e.g. a hash of the phase facts of the
file's functions). Change any of these and the entry is simply not found.

Entries are files written atomically (temp file + rename), so concurrent
runs never see half an entry and the last writer of identical content
wins. An entry is never trusted blindly: it carries a magic, a format
version, its own key and a checksum of its payload; the payload is JSON
decoded through a whitelist of our own value types (no pickle, so a
tampered cache cannot run code). Anything that does not check out is a
miss: it is recomputed and overwritten.

A stat index (path -> size, mtime, ctime, inode, content hash) spares a
warm run from reading and hashing every file. Like git's index it trusts
an entry only when the file's mtime is older than the moment the entry
was recorded, minus a safety margin ("racy" files are re-hashed).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import struct
import sys
import tempfile
from enum import Enum
from functools import lru_cache
from pathlib import Path

from codemod import __version__
from codemod.findings import Action, FileResult, Finding, PhaseInfo, SizeInfo, Status

FORMAT = 2  # 2: registered dataclasses are stored positionally
MAGIC = b"AFXCACHE"
_HEADER = struct.Struct("<8sH32sQ32s")  # magic, format, key digest, payload length, payload digest
# A file modified this close to the time its hash was recorded may change
# again within the same mtime tick: its recorded hash is not trusted.
RACY_NS = 2_000_000_000
# Up to this many newly hashed files are not worth rewriting a stat index for.
LAZY_RECORDS = 16


def digest(*parts: bytes | str) -> str:
    """Hex blake2b of the parts, each length-prefixed (so ("ab","c") != ("a","bc"))."""
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        b = p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p
        h.update(struct.pack("<Q", len(b)))
        h.update(b)
    return h.hexdigest()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


# -- what a result depends on ---------------------------------------------------


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """allocfix's version, a hash of its own sources and the parser's binaries.

    Results depend on the code that made them, not only on the release
    number: between releases (and in a checkout) any edit of the package
    must invalidate the cache. The parser is identified by the files of the
    tree-sitter packages (names, sizes, modification times): an upgrade or a
    rebuild rewrites them, and a stat is much cheaper than asking
    importlib.metadata for versions (about a tenth of a warm run's start-up).
    """
    import tree_sitter
    import tree_sitter_c

    package = Path(__file__).resolve().parent
    parts: list[bytes | str] = [__version__, sys.version]
    for module in (tree_sitter, tree_sitter_c):
        directory = Path(module.__file__).parent
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            parts.append(f"{module.__name__}=?")
            continue
        for entry in entries:
            if entry.is_file() and entry.name.endswith((".so", ".pyd", ".py")):
                st = entry.stat()
                parts.append(f"{module.__name__}/{entry.name}\0{st.st_size}\0{st.st_mtime_ns}")
    for f in sorted(package.rglob("*.py")):
        parts.append(f.relative_to(package).as_posix())
        parts.append(f.read_bytes())
    return digest(*parts)


def _rule_files(paths) -> list[Path]:
    """The files load_rules() reads for `paths`, in its order."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.cocci")) if p.is_dir() else [p])
    return out


def ruleset_key(rule_paths, profile_path: str, allocators_path: str | None = None,
                options: tuple = ()) -> str:
    """Hash of everything the rules read: rule files (names and bytes), macro profile,
    allocator table, options (small limit, virtual rules...) and the code fingerprint."""
    from codemod.rulesdata import builtin_rules_dir

    allocators = Path(allocators_path) if allocators_path else builtin_rules_dir() / "allocators.toml"
    parts: list[bytes | str] = [code_fingerprint(), repr(options)]
    for f in _rule_files(rule_paths):
        parts += [f.name, _read_or_empty(f)]
    parts += ["profile", _read_or_empty(Path(profile_path)), "allocators", _read_or_empty(allocators)]
    return digest(*parts)


def _read_or_empty(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError:
        return b"\0unreadable\0"


# -- where the cache lives ------------------------------------------------------


def default_cache_dir(root: str | os.PathLike) -> Path:
    """`.allocfix/cache` of the tree the scan is in, else $XDG_CACHE_HOME/allocfix.

    The tree is the nearest directory at or above `root` holding `.allocfix/`
    or `.git` (a scan of `hw/scsi/foo.c` shares the cache of the whole
    checkout and does not litter `hw/scsi/`), provided it is writable.
    """
    here = Path(os.path.abspath(root))
    for d in (here, *here.parents):
        if (d / ".allocfix").is_dir() or (d / ".git").exists():
            if os.access(d, os.W_OK):
                return d / ".allocfix" / "cache"
            break
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "allocfix"


# -- value encoding: JSON through a whitelist -----------------------------------

_CLASSES: dict[str, type] = {}
_ENUMS: dict[str, type[Enum]] = {"Action": Action, "Status": Status}
# Registered dataclass -> its field names (dataclasses.fields() is slow to ask per value).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def register(cls: type) -> type:
    """Allow a dataclass (e.g. the facts of a file) to be stored in the cache."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    previous = _CLASSES.get(cls.__name__)
    if previous is not None:
        _FIELD_NAMES.pop(previous, None)  # another class of that name is no longer cached
    _CLASSES[cls.__name__] = cls
    return cls


for _cls in (FileResult, Finding, SizeInfo, PhaseInfo):
    register(_cls)


class BadEntry(Exception):
    """A cache entry that does not check out; treated as a miss."""


def _enc(v):
    # Exact types first: facts of a whole tree are millions of values, mostly
    # strings and ints, so those return without a chain of isinstance tests.
    t = type(v)
    if t is str or t is int or v is None:
        return v
    if t is list:
        return [x if type(x) is str or type(x) is int else _enc(x) for x in v]
    if t is tuple:
        return {"$t": [x if type(x) is str or type(x) is int else _enc(x) for x in v]}
    names = _FIELD_NAMES.get(t)
    if names is not None:
        # Positional: field names would be most of the bytes of a tree's facts.
        return {"$p": t.__name__, "v": [_enc(getattr(v, n)) for n in names]}
    if isinstance(v, Enum):  # before str: our enums are str subclasses
        return {"$e": [t.__name__, v.value]}
    if isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, bytes):
        return {"$b": base64.b64encode(v).decode("ascii")}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, tuple):
        return {"$t": [_enc(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"$s": [_enc(x) for x in sorted(v, key=repr)], "frozen": isinstance(v, frozenset)}
    if isinstance(v, dict):
        return {"$d": [[_enc(k), _enc(x)] for k, x in v.items()]}
    name = t.__name__
    if dataclasses.is_dataclass(v) and _CLASSES.get(name) is t:
        _field_names(t)
        return _enc(v)
    raise TypeError(f"cannot cache a {name}")


def _hook(d: dict):
    """json.loads object_hook: rebuilds our values bottom-up (C-driven, no Python recursion)."""
    if len(d) == 1:
        (tag, v), = d.items()
        if tag == "$b":
            if not isinstance(v, str):
                raise BadEntry("bad bytes")
            return base64.b64decode(v, validate=True)
        if tag == "$t":
            return tuple(v)
        if tag == "$d":
            return {_hashable(k): x for k, x in v}
        if tag == "$e":
            name, value = v
            enum = _ENUMS.get(name)
            if enum is None:
                raise BadEntry(f"unknown enum {name!r}")
            return enum(value)
    elif len(d) == 2:
        if "$p" in d:
            cls = _CLASSES.get(d["$p"])
            values = d.get("v")
            if cls is None or not isinstance(values, list):
                raise BadEntry(f"unknown class {d['$p']!r}")
            names = _FIELD_NAMES.get(cls) or _field_names(cls)
            if len(values) != len(names):
                raise BadEntry(f"{d['$p']} with {len(values)} fields, not {len(names)}")
            return cls(*values)
        if "$c" in d:
            cls = _CLASSES.get(d["$c"])
            fields = d.get("f")
            if cls is None or not isinstance(fields, dict):
                raise BadEntry(f"unknown class {d['$c']!r}")
            return cls(**fields)
        if "$s" in d:
            items = map(_hashable, d["$s"])
            return frozenset(items) if d.get("frozen") else set(items)
    # The field dict of a dataclass (field names never start with "$"; a
    # tampered dict that does fails in cls(**fields) and is a BadEntry).
    return d


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _hashable(v):
    if isinstance(v, list):
        raise BadEntry("unhashable key")
    return v


def encode(value) -> bytes:
    return json.dumps(_enc(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(payload: bytes):
    try:
        return json.loads(payload, object_hook=_hook)
    except BadEntry:
        raise
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise BadEntry(str(exc)) from None


# -- atomic files -------------------------------------------------------------------


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- the cache ---------------------------------------------------------------------


class Cache:
    """Entries of one namespace (e.g. one rule set) under `directory`.

    get()/put() never raise for cache trouble: an unreadable, truncated,
    foreign or tampered entry is a miss; a write that fails (read-only
    disk, full disk) is dropped. `stats` counts hits, misses, bad entries
    and failed writes.
    """

    def __init__(self, directory: str | os.PathLike, namespace: str):
        self.directory = Path(directory)
        self.namespace = namespace
        self.stats = {"hits": 0, "misses": 0, "bad": 0, "write_errors": 0}
        self._prepared = False

    def key(self, *parts: bytes | str) -> str:
        return digest(self.namespace, *parts)

    def _path(self, key: str) -> Path:
        return self.directory / "objects" / key[:2] / key[2:]

    def _prepare(self) -> None:
        if self._prepared:
            return
        self._prepared = True
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Keep the cache out of `git status` when it lives inside a checkout.
            ignore = self.directory / ".gitignore"
            if not ignore.exists():
                write_atomically(ignore, b"*\n")
            tag = self.directory / "CACHEDIR.TAG"  # backup tools skip tagged directories
            if not tag.exists():
                write_atomically(tag, b"Signature: 8a477f597d28d172789f06886806bc55\n"
                                      b"# allocfix cache; safe to delete.\n")
        except OSError:
            pass

    def get(self, key: str):
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            self.stats["misses"] += 1
            return None
        try:
            value = self._check(key, raw)
        except BadEntry:
            self.stats["bad"] += 1
            self.stats["misses"] += 1
            try:
                path.unlink()
            except OSError:
                pass
            return None
        self.stats["hits"] += 1
        return value

    def get_raw(self, key: str) -> bytes | None:
        """The payload bytes of an entry written by put_raw (checked like get, not
        decoded). Not counted in `stats`, which count the caller's values."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            return None
        try:
            return self._payload(key, raw)
        except BadEntry:
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def put_raw(self, key: str, payload: bytes) -> bool:
        """Store `payload` as is (the caller decodes it, e.g. with decode())."""
        header = _HEADER.pack(MAGIC, FORMAT, bytes.fromhex(key), len(payload),
                              hashlib.blake2b(payload, digest_size=32).digest())
        self._prepare()
        try:
            write_atomically(self._path(key), header + payload)
        except OSError:
            self.stats["write_errors"] += 1
            return False
        return True

    @staticmethod
    def _check(key: str, raw: bytes):
        return decode(Cache._payload(key, raw))

    @staticmethod
    def _payload(key: str, raw: bytes) -> bytes:
        if len(raw) < _HEADER.size:
            raise BadEntry("truncated header")
        magic, fmt, key_digest, length, payload_digest = _HEADER.unpack_from(raw)
        if magic != MAGIC or fmt != FORMAT:
            raise BadEntry("not an allocfix cache entry of this format")
        if key_digest != bytes.fromhex(key):
            raise BadEntry("entry of another key")
        payload = raw[_HEADER.size:]
        if len(payload) != length:
            raise BadEntry("truncated payload")
        if hashlib.blake2b(payload, digest_size=32).digest() != payload_digest:
            raise BadEntry("checksum mismatch")
        return payload

    def put(self, key: str, value) -> bool:
        try:
            payload = encode(value)
        except (TypeError, ValueError, RecursionError):
            return False
        return self.put_raw(key, payload)


# -- the stat index -----------------------------------------------------------------


def stat_signature(st: os.stat_result) -> list[int]:
    """What a file's stat says of its bytes: size, mtime, ctime, inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def still_vouches(signature, recorded_at, st: os.stat_result) -> bool:
    """Whether a signature recorded at `recorded_at` (ns) still stands for the
    file's bytes: the stat is the same and the file was not modified within
    RACY_NS of the recording (a later write in the same mtime tick)."""
    return (signature == stat_signature(st) and isinstance(recorded_at, int)
            and st.st_mtime_ns < recorded_at - RACY_NS)


def worth_rewriting(recorded: int, old_entries: int, new_entries: int) -> bool:
    """Whether an index of per-file entries kept between runs should be written
    again: not for a few files changed (reading them again next run costs less
    than rewriting the whole index, megabytes for QEMU), yes for a new index,
    many changes or entries to drop."""
    if not recorded and new_entries == old_entries:
        return False
    return not (old_entries and recorded <= LAZY_RECORDS and new_entries >= old_entries)


class StatIndex:
    """path -> (size, mtime_ns, ctime_ns, inode, content hash), one file per scanned root."""

    def __init__(self, directory: str | os.PathLike, root: str):
        self.path = Path(directory) / "stat" / (digest(os.path.abspath(root))[:32] + ".json")
        self._old: dict[str, list] = {}
        self._new: dict[str, list] = {}
        self._recorded = 0
        try:
            raw = self.path.read_bytes()
            data = json.loads(raw)
            if isinstance(data, dict) and data.get("format") == FORMAT:
                entries = data.get("entries")
                if isinstance(entries, dict):
                    self._old = entries
        except (OSError, ValueError):
            pass

    def lookup(self, path: str, st: os.stat_result) -> str | None:
        """The recorded content hash of `path` if its stat still matches and is not racy."""
        entry = self._old.get(path)
        if not (isinstance(entry, list) and len(entry) == 6 and isinstance(entry[4], str)):
            return None
        if not still_vouches(entry[:4], entry[5], st):
            return None
        self._new[path] = entry
        return entry[4]

    def record(self, path: str, st: os.stat_result, chash: str, now_ns: int) -> None:
        self._new[path] = [*stat_signature(st), chash, now_ns]
        self._recorded += 1

    def save(self) -> None:
        if not worth_rewriting(self._recorded, len(self._old), len(self._new)):
            return
        merged = {**self._old, **self._new}
        try:
            write_atomically(self.path, json.dumps({"format": FORMAT, "entries": merged},
                                                   separators=(",", ":")).encode())
        except OSError:
            pass
