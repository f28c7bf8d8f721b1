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

The facts of a whole tree (one entry per file) have their own flat,
column-wise JSON encoding (encode_facts), checked value by value when
decoded, and are written by chunks of files as packs (one file holding
many entries, indexed by key) rather than a file per entry.

A stat index (path -> size, mtime, ctime, inode, content hash) spares a
warm run from reading and hashing every file. Like git's index it trusts
an entry only when the file's mtime is older than the moment the entry
was recorded, minus a safety margin ("racy" files are re-hashed).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import os
import re
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
_PACK_NAME = re.compile(r"[0-9a-f]{32}\.pack")
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
    # The facts pass's (FileFacts, errors) pairs have a faster encoding of their own.
    if type(value) is tuple and len(value) == 2 and type(value[0]).__name__ == "FileFacts":
        fast = encode_facts(value)
        if fast is not None:
            return fast
    return json.dumps(_enc(value), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(payload: bytes):
    try:
        if payload[:1] == b"\x01":
            return decode_facts(payload)
        return json.loads(payload, object_hook=_hook)
    except BadEntry:
        raise
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise BadEntry(str(exc)) from None


# -- the facts of a file: a dedicated flat encoding -------------------------------------
#
# The facts pass stores one (FileFacts, syntax errors) per file of the tree,
# hundreds of thousands of Refs and FunctionFacts for QEMU: the typed
# encoding above (a Python call per value) was a tenth of the cost of
# parsing them. Here each list of dataclasses is stored column-wise (one
# JSON list per field) and built and checked with C-level calls only
# (attrgetter, zip, map, set): no Python code runs per value. Decoding
# checks the type of every value of every column, so anything but the
# shape written here is a BadEntry.

FACTS_TAG = b"\x01facts/1\n"  # a control byte: no JSON payload starts with one
_NONE = type(None)
_S, _S_OPT, _I, _B = frozenset({str}), frozenset({str, _NONE}), frozenset({int}), frozenset({bool})
# Field name -> what its values are: a set of types, "strs" (a tuple of
# strings, stored as a list) or "pairs" (a tuple of 2-tuples of strings).
_REF_LAYOUT = (("target", _S), ("how", _S), ("site", _S_OPT), ("index", _I), ("struct_type", _S_OPT),
               ("var", _S_OPT), ("function", _S_OPT), ("address", _B), ("offset", _I), ("param", _I))
_FUNCTION_LAYOUT = (("name", _S), ("static", _B), ("start", _I), ("end", _I), ("return_type", _S),
                    ("params", "strs"), ("param_types", "strs"), ("has_errp", _B), ("calls", "strs"),
                    ("flags", "strs"), ("indirect_calls", "pairs"))
_QOM_LAYOUT = (_S, _S, _S_OPT, _S_OPT, _B)
_FILE_FIELDS = ("path", "functions", "refs", "parse_errors", "error", "qom_types", "type_names", "macros")


@lru_cache(maxsize=1)
def _facts_codec():
    """(FileFacts, FunctionFact, Ref, getters) when the classes still have the fields
    this codec knows, else None (the typed encoding then stores them)."""
    from operator import attrgetter

    try:
        from codemod.analysis.facts import FileFacts, FunctionFact, Ref
    except ImportError:
        return None
    for cls, names in ((Ref, [n for n, _ in _REF_LAYOUT]), (FunctionFact, [n for n, _ in _FUNCTION_LAYOUT]),
                       (FileFacts, list(_FILE_FIELDS))):
        if [f.name for f in dataclasses.fields(cls)] != names:
            return None
    return (FileFacts, FunctionFact, Ref, attrgetter(*(n for n, _ in _FUNCTION_LAYOUT)),
            attrgetter(*(n for n, _ in _REF_LAYOUT)))


def encode_facts(value) -> bytes | None:
    """FACTS_TAG + JSON of a (FileFacts, syntax errors) pair; None when the codec
    does not know the value's classes (encode() then uses the typed encoding)."""
    codec = _facts_codec()
    if codec is None:
        return None
    file_cls, fn_cls, ref_cls, fn_get, ref_get = codec
    facts, errors = value
    if type(facts) is not file_cls or type(errors) is not int:
        return None
    if not (set(map(type, facts.functions)) <= {fn_cls} and set(map(type, facts.refs)) <= {ref_cls}):
        return None
    body = [errors, facts.path, list(zip(*map(fn_get, facts.functions))) or [()] * len(_FUNCTION_LAYOUT),
            list(zip(*map(ref_get, facts.refs))) or [()] * len(_REF_LAYOUT), facts.parse_errors, facts.error,
            facts.qom_types, facts.type_names, facts.macros]
    # surrogatepass: names decoded from non-UTF-8 bytes (surrogateescape) round-trip.
    return FACTS_TAG + json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def decode_facts(payload: bytes):
    """The (FileFacts, syntax errors) pair of an encode_facts payload; BadEntry
    for anything else."""
    codec = _facts_codec()
    if codec is None or not payload.startswith(FACTS_TAG):
        raise BadEntry("not a facts entry of this format")
    file_cls, fn_cls, ref_cls, _, _ = codec
    try:
        body = json.loads(payload[len(FACTS_TAG):].decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise BadEntry(str(exc)) from None
    if type(body) is not list or len(body) != 9:
        raise BadEntry("facts: not a list of 9")
    errors, path, fn_cols, ref_cols, parse_errors, error, qom, type_names, macros = body
    if not (type(errors) is int and type(path) is str and type(parse_errors) is int and type(error) is str):
        raise BadEntry("facts: bad scalar field")
    functions = list(map(fn_cls, *_columns(fn_cols, _FUNCTION_LAYOUT)))
    refs = list(map(ref_cls, *_columns(ref_cols, _REF_LAYOUT)))
    if not (type(qom) is list and set(map(type, qom)) <= {list} and set(map(len, qom)) <= {5}
            and all(set(map(type, col)) <= kinds for col, kinds in zip(zip(*qom), _QOM_LAYOUT))):
        raise BadEntry("facts: bad qom_types")
    qom_types = list(map(tuple, qom))
    if not (type(type_names) is dict and set(map(type, type_names.values())) <= _S):
        raise BadEntry("facts: bad type_names")
    if not (type(macros) is list and set(map(type, macros)) <= _S):
        raise BadEntry("facts: bad macros")
    return file_cls(path, functions, refs, parse_errors, error, qom_types, type_names, tuple(macros)), errors


def _columns(cols, layout) -> list:
    """The columns of a column-wise list of values, each checked against its kind."""
    if type(cols) is not list or len(cols) != len(layout):
        raise BadEntry("facts: wrong number of columns")
    if not set(map(type, cols)) <= {list} or len(set(map(len, cols))) > 1:
        raise BadEntry("facts: ragged columns")
    out = []
    for col, (_, kind) in zip(cols, layout):
        if kind == "strs":
            if not (set(map(type, col)) <= {list} and set(map(type, itertools.chain.from_iterable(col))) <= _S):
                raise BadEntry("facts: bad list of strings")
            col = list(map(tuple, col))
        elif kind == "pairs":
            if not set(map(type, col)) <= {list}:
                raise BadEntry("facts: bad list of pairs")
            pairs = list(itertools.chain.from_iterable(col))
            if not (set(map(type, pairs)) <= {list} and set(map(len, pairs)) <= {2}
                    and set(map(type, itertools.chain.from_iterable(pairs))) <= _S):
                raise BadEntry("facts: bad list of pairs")
            col = [tuple(map(tuple, x)) if x else () for x in col]
        elif not set(map(type, col)) <= kind:
            raise BadEntry("facts: value of a wrong type")
        out.append(col)
    return out


# -- atomic files -------------------------------------------------------------------


_TEMP_NAMES = itertools.count()


def write_atomically(path: Path | str, data: bytes) -> None:
    """Write via a temp file in the same directory and rename it into place.

    A cold run writes thousands of entries: the temp file is named from the
    pid and a counter (O_EXCL still refuses a name in use, then mkstemp
    picks one) and the directory is made only when the first open says it
    is missing.
    """
    directory = os.path.dirname(path) or "."
    tmp = f"{directory}/.tmp-{os.getpid()}-{next(_TEMP_NAMES)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with open(fd, "wb") as f:
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
        self._shards: dict[str, dict] = {}  # index shards of the packs, loaded on first use
        self._packs: Path | None = None
        self._objects = os.path.join(self.directory, "objects")

    def key(self, *parts: bytes | str) -> str:
        return digest(self.namespace, *parts)

    def _path(self, key: str) -> Path:
        return Path(self._loose(key))

    def _loose(self, key: str) -> str:
        # A string, not a Path: a cold run asks for tens of thousands of them.
        return f"{self._objects}/{key[:2]}/{key[2:]}"

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
        path = self._loose(key)
        packed = False
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            raw = self._read_packed(key)
            if raw is None:
                self.stats["misses"] += 1
                return None
            packed = True
        try:
            value = self._check(key, raw)
        except BadEntry:
            self.stats["bad"] += 1
            self.stats["misses"] += 1
            if packed:
                self._forget_packed(key)  # the pack's other entries may be sound
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
            return None
        self.stats["hits"] += 1
        return value

    def get_raw(self, key: str) -> bytes | None:
        """The payload bytes of an entry written by put_raw (checked like get, not
        decoded). Not counted in `stats`, which count the caller's values."""
        path = self._loose(key)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError:
            return None
        try:
            return self._payload(key, raw)
        except BadEntry:
            try:
                os.unlink(path)
            except OSError:
                pass
            return None

    def put_raw(self, key: str, payload: bytes) -> bool:
        """Store `payload` as is (the caller decodes it, e.g. with decode())."""
        header = _HEADER.pack(MAGIC, FORMAT, bytes.fromhex(key), len(payload),
                              hashlib.blake2b(payload, digest_size=32).digest())
        self._prepare()
        try:
            write_atomically(self._loose(key), header + payload)
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

    # -- packs: many entries in one file --------------------------------------------
    #
    # A cold scan of QEMU stores some 12,000 facts entries; creating a file
    # for each costs more than encoding them. A worker writes the entries of
    # a chunk of files as one pack (atomically, under a fresh random name),
    # each entry with the header of a loose entry, and the main process
    # records where they are in an index of 256 shards (by the key's first
    # byte; read-merge-write, atomically). get() reads a loose entry first,
    # then the indexed one, and checks it like a loose one: an index entry
    # naming a missing, truncated or foreign pack, or the wrong bytes of
    # one, is a miss. Concurrent runs write different packs; a shard lost
    # to a concurrent writer costs misses, never a wrong value.

    def _pack_dir(self) -> Path:
        if self._packs is None:
            self._packs = self.directory / "packs" / digest(self.namespace)[:32]
        return self._packs

    def _shard(self, prefix: str) -> dict:
        shard = self._shards.get(prefix)
        if shard is None:
            shard = self._shards[prefix] = self._load_shard(prefix)
        return shard

    def _load_shard(self, prefix: str) -> dict:
        try:
            with open(self._pack_dir() / f"index-{prefix}.json", "rb") as f:
                data = json.loads(f.read())
        except (OSError, ValueError, RecursionError):
            return {}
        return data if type(data) is dict else {}

    def _read_packed(self, key: str) -> bytes | None:
        loc = self._shard(key[:2]).get(key)
        if not (type(loc) is list and len(loc) == 3):
            return None
        name, offset, length = loc
        if not (type(name) is str and _PACK_NAME.fullmatch(name) and type(offset) is int
                and type(length) is int and offset >= 0 and 0 < length <= 1 << 31):
            return None
        try:
            with open(self._pack_dir() / name, "rb") as f:
                f.seek(offset)
                return f.read(length)
        except (OSError, ValueError, OverflowError):
            return None

    def _forget_packed(self, key: str) -> None:
        self._shard(key[:2]).pop(key, None)

    def put_pack(self, entries: list[tuple[str, bytes]]) -> list[list] | None:
        """Write (key, payload) entries as one pack: their [key, pack, offset, length]
        for record_packed() (run by one process: the shards are read-merge-write),
        or None when the pack could not be written."""
        name = os.urandom(16).hex() + ".pack"
        parts: list[bytes] = []
        locations: list[list] = []
        offset = 0
        for key, payload in entries:
            header = _HEADER.pack(MAGIC, FORMAT, bytes.fromhex(key), len(payload),
                                  hashlib.blake2b(payload, digest_size=32).digest())
            parts += (header, payload)
            size = len(header) + len(payload)
            locations.append([key, name, offset, size])
            offset += size
        self._prepare()
        try:
            write_atomically(self._pack_dir() / name, b"".join(parts))
        except OSError:
            self.stats["write_errors"] += 1
            return None
        return locations

    def record_packed(self, locations: list[list]) -> None:
        """Index entries put_pack wrote (in this process or a worker)."""
        by_shard: dict[str, list[list]] = {}
        for loc in locations:
            by_shard.setdefault(loc[0][:2], []).append(loc)
        for prefix, locs in by_shard.items():
            shard = self._load_shard(prefix)  # again: a concurrent run may have added to it
            shard.update((key, [name, offset, length]) for key, name, offset, length in locs)
            self._shards[prefix] = shard
            try:
                write_atomically(self._pack_dir() / f"index-{prefix}.json",
                                 json.dumps(shard, separators=(",", ":")).encode())
            except OSError:
                self.stats["write_errors"] += 1
                return


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
