"""Who to Cc on a change: QEMU's MAINTAINERS file, read the way
scripts/get_maintainer.pl reads it.

Matching follows get_maintainer.pl (QEMU 7.2) so the Cc list agrees with
what a QEMU developer would get from that script:

- The file is a list of "X: value" lines (any single character, a colon)
  and other lines; blank lines are ignored, so they do not end a section.
  A section is a run of type lines; its title is the line before the run.
- F:/X: values are turned into anchored regular expressions: "." is a
  literal dot, "*" is ".*" and "?" is "." (both may match "/"), and any
  other regex syntax (e.g. "[ch]") keeps its meaning. A value naming an
  existing directory of the tree gets a trailing "/".
- A pattern ending in "/" matches every path starting with it (the whole
  subtree). Any other pattern matches a path that starts with it and has
  the same number of "/" as the pattern: files in that directory level
  only, and (as in the script) a pattern is a prefix, not a whole name.
- X: is tested first: one matching X: removes the whole section.
- A matched section's depth is the number of "/" in the matching F:
  pattern, plus one when it does not end in "/", or -1 when it starts
  with a wildcard (catch-alls such as "F: *"). When several F: of one
  section match, the last one sets the depth, as in the script. Sections
  are ordered by depth, deepest first; ties keep file order.
- Sections without F: lines match nothing for a path. K: values are
  regular expressions matched, as the script does for a patch file, against
  each line of the mail before the first "+++" line and against each "+"
  or "-" line after it (`keyword_sections`); QEMU uses them on the subject
  (`K: ^Subject:.*(?i)mips`).
- The Cc list (`cc`) is built as the script builds it: sections in match
  order, then keyword sections; per section M:/R: in file order, an entry
  dropped when its name or its address was seen already; L: lists after
  the people, each once; then every entry is passed through the tree's
  .mailmap and duplicates by name or address folded into the first.

Deliberate differences: values are stripped of trailing blanks (the
script would keep them and the pattern would never match), ties between
equally deep sections keep file order (the script's order is Perl's hash
order), and Python's regex engine stands in for Perl's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

_TYPE_LINE = re.compile(r"^(.):\s*(.*)")
_UNDERLINE = re.compile(r"^[-=_~*#\s]+$")


def pattern_to_regex(value: str, tree_root: Path | None = None) -> str:
    """get_maintainer.pl's translation of an F:/X: glob to a regex source."""
    rx = value.replace(".", r"\.").replace("*", ".*").replace("?", ".")
    # The script tests the translated text with -d, relative to the tree top:
    # a plain directory name gains its trailing slash (names with a dot or
    # a wildcard are thereby never treated as directories).
    if tree_root is not None and rx and not rx.endswith("/") and (tree_root / rx).is_dir():
        rx += "/"
    return rx


@dataclass(frozen=True)
class FilePattern:
    kind: str  # "F" or "X"
    glob: str  # as written in MAINTAINERS
    regex: str  # translated, see pattern_to_regex()

    @cached_property
    def _compiled(self) -> re.Pattern[str]:
        try:
            return re.compile(self.regex)
        except re.error:
            # Perl accepts some syntax Python does not; treat it literally.
            return re.compile(re.escape(self.regex))

    def matches(self, path: str) -> bool:
        if not self._compiled.match(path):
            return False
        if self.regex.endswith("/"):
            return True
        return path.count("/") == self.regex.count("/")

    @property
    def depth(self) -> int:
        if self.regex.startswith(".*"):
            return -1
        return self.regex.count("/") + (0 if self.regex.endswith("/") else 1)


@dataclass
class Section:
    title: str
    index: int  # position in the file, for stable ordering
    line: int  # 1-based line of the title (or first entry) in MAINTAINERS
    maintainers: list[str] = field(default_factory=list)  # M:
    reviewers: list[str] = field(default_factory=list)  # R:
    lists: list[str] = field(default_factory=list)  # L: (address only)
    status: str = ""  # S:
    files: list[FilePattern] = field(default_factory=list)  # F:
    excludes: list[FilePattern] = field(default_factory=list)  # X:
    keywords: list[str] = field(default_factory=list)  # K:
    people: list[str] = field(default_factory=list)  # M: and R: in file order

    def match_depth(self, path: str) -> int | None:
        """The depth of this section's match for `path`, or None."""
        if any(x.matches(path) for x in self.excludes):
            return None
        depth = None
        for f in self.files:
            if f.matches(path):
                depth = f.depth  # the last match wins, as in the script
        return depth

    def addresses(self) -> list[str]:
        """M:, R: then L: entries, in file order within each kind."""
        return [*self.maintainers, *self.reviewers, *self.lists]


@dataclass(frozen=True)
class Match:
    section: Section
    depth: int


@dataclass
class Maintainers:
    sections: list[Section]
    source: Path | None = None

    @classmethod
    def parse(cls, text: str, tree_root: Path | None = None, source: Path | None = None) -> Maintainers:
        entries: list[tuple[int, str | None, str]] = []  # (line, type or None, value)
        for lineno, raw in enumerate(text.splitlines(), 1):
            m = _TYPE_LINE.match(raw)
            if m:
                entries.append((lineno, m.group(1), m.group(2)))
            elif raw.strip():
                entries.append((lineno, None, raw.rstrip()))
        sections: list[Section] = []
        i = 0
        while i < len(entries):
            if entries[i][1] is None:
                i += 1
                continue
            start = i
            while i < len(entries) and entries[i][1] is not None:
                i += 1
            title, title_line = _title_before(entries, start)
            sec = Section(title=title, index=len(sections), line=title_line)
            for _, kind, value in entries[start:i]:
                _add_entry(sec, kind, value, tree_root)
            sections.append(sec)
        return cls(sections, source)

    @classmethod
    def load(cls, tree_root: Path) -> Maintainers | None:
        """The tree's MAINTAINERS, or None when it has none."""
        path = tree_root / "MAINTAINERS"
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None
        return cls.parse(text, tree_root, path)

    def matches(self, path: str) -> list[Match]:
        """All sections matching `path` (tree-relative, "/"-separated),
        most specific first."""
        path = _normalise(path)
        found = []
        for sec in self.sections:
            depth = sec.match_depth(path)
            if depth is not None:
                found.append(Match(sec, depth))
        # sorted() is stable: equal depths keep MAINTAINERS order.
        return sorted(found, key=lambda m: -m.depth)

    def best(self, path: str) -> Match | None:
        """The most specific section for `path` that names the file itself,
        not through a leading-wildcard catch-all (depth -1), or None."""
        for m in self.matches(path):
            if m.depth >= 0:
                return m
            break
        return None

    def keyword_sections(self, patch_text: str) -> list[Section]:
        """Sections whose K: regex matches the patch (see the module doc),
        in the script's order (section indices sorted as strings)."""
        head = [(sec, rx) for sec in self.sections for k in sec.keywords if (rx := _keyword_regex(k))]
        if not head:
            return []
        diff = [(sec, rx) for sec in self.sections for k in sec.keywords if (rx := _keyword_regex(k, "^[+-].*"))]
        hit: set[int] = set()
        in_diff = False
        for line in patch_text.split("\n"):
            if re.match(r"^\+\+\+\s+\S", line):
                in_diff = True
                continue
            if re.match(r"^@@ -\d+,\d+", line):
                continue
            for sec, rx in diff if in_diff else head:
                if sec.index not in hit and rx.search(line):
                    hit.add(sec.index)
        return [self.sections[i] for i in sorted(hit, key=str)]

    def cc(self, paths: list[str] | str, patch_text: str | None = None) -> list[str]:
        """What `get_maintainer.pl --norolestats --nogit-fallback` prints
        for a patch touching `paths` (whose text, for K: keywords, is
        `patch_text`): people ("Name <addr>") first, then lists."""
        if isinstance(paths, str):
            paths = [paths]
        order: list[Section] = []
        for p in sorted(set(paths)):
            order += [m.section for m in self.matches(p)]
        if patch_text:
            order += self.keyword_sections(patch_text)
        people: list[tuple[str, str]] = []
        lists: list[str] = []
        names: set[str] = set()
        addrs: set[str] = set()
        list_seen: set[str] = set()
        for sec in order:
            for entry in sec.people:
                name, addr = parse_email(entry)
                if not addr or (name and name.lower() in names) or addr.lower() in addrs:
                    continue
                people.append((name, addr))
                if name:
                    names.add(name.lower())
                addrs.add(addr.lower())
            for lst in sec.lists:
                if lst.lower() not in list_seen:
                    list_seen.add(lst.lower())
                    lists.append(lst)
        out: list[str] = []
        by_name: dict[str, tuple[str, str]] = {}
        by_addr: dict[str, tuple[str, str]] = {}
        for name, addr in [*people, *(("", a) for a in lists)]:
            name, addr = self.mailmap.map(name, addr)
            if name and name.lower() in by_name:
                name, addr = by_name[name.lower()]
            elif addr.lower() in by_addr:
                name, addr = by_addr[addr.lower()]
            else:
                by_name[name.lower()] = (name, addr)
                by_addr[addr.lower()] = (name, addr)
            name, addr = self.mailmap.map(name, addr)
            text = f"{name} <{addr}>" if name else addr
            if text not in out:
                out.append(text)
        return out

    @cached_property
    def mailmap(self) -> Mailmap:
        if self.source is None:
            return Mailmap()
        return Mailmap.load(self.source.parent / ".mailmap")


def _keyword_regex(value: str, prefix: str = "") -> re.Pattern[str] | None:
    """A K: value (a Perl regex used with /x) as a Python pattern, after
    `prefix`. A mid-pattern "(?i)" applies to the rest, as in Perl."""
    rx = prefix + value
    pos = rx.find("(?i)")
    if pos > 0:
        rx = rx[:pos] + "(?i:" + rx[pos + 4:] + ")"
    try:
        return re.compile(rx, re.X)
    except re.error:
        return None


def parse_email(entry: str) -> tuple[str, str]:
    """get_maintainer.pl's parse_email: (name without quotes, address)."""
    m = re.match(r"^([^<]+)<(.+@.*)>.*$", entry)
    if m:
        name, addr = m.group(1), m.group(2)
    else:
        m = re.match(r"^\s*<(.+@\S*)>.*$", entry) or re.match(r"^(.+@\S*).*$", entry)
        name, addr = "", (m.group(1) if m else "")
    return name.strip().strip('"'), addr.strip()


@dataclass
class Mailmap:
    """A .mailmap, read as get_maintainer.pl reads it (the four forms of
    git-shortlog(1)); keys are "Name <addr>" or a bare address."""

    names: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Mailmap:
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return cls()
        mm = cls()
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if m := re.match(r"^([^<]+)<([^>]+)>$", line):
                name, addr = parse_email(f"{m.group(1).rstrip()} <{m.group(2)}>")
                mm.names[addr] = name
            elif m := re.match(r"^<([^>]+)>\s*<([^>]+)>$", line):
                mm.addresses[m.group(2)] = m.group(1)
            elif m := re.match(r"^(.+)<([^>]+)>\s*<([^>]+)>$", line):
                name, addr = parse_email(f"{m.group(1).rstrip()} <{m.group(2)}>")
                mm.names[m.group(3)] = name
                mm.addresses[m.group(3)] = addr
            elif m := re.match(r"^(.+)<([^>]+)>\s*(.+)\s*<([^>]+)>$", line):
                name, addr = parse_email(f"{m.group(1).rstrip()} <{m.group(2)}>")
                wrong_name, _ = parse_email(f"{m.group(3).rstrip()} <{m.group(4)}>")
                key = f"{wrong_name} <{m.group(4).strip()}>" if wrong_name else m.group(4).strip()
                mm.names[key] = name
                mm.addresses[key] = addr
        return mm

    def map(self, name: str, addr: str) -> tuple[str, str]:
        key = f"{name} <{addr}>" if name else addr
        if key in self.names or key in self.addresses:
            return self.names.get(key, name), self.addresses.get(key, addr)
        return self.names.get(addr, name), self.addresses.get(addr, addr)


def _title_before(entries: list[tuple[int, str | None, str]], start: int) -> tuple[str, int]:
    """The section's title: the text line before the run, skipping
    "-----" underlines (the script would use the underline itself)."""
    j = start - 1
    while j >= 0 and entries[j][1] is None:
        if not _UNDERLINE.match(entries[j][2]):
            return entries[j][2].strip(), entries[j][0]
        j -= 1
    return "", entries[start][0]


def _add_entry(sec: Section, kind: str, value: str, tree_root: Path | None) -> None:
    value = value.strip()
    if kind == "M":
        sec.maintainers.append(value)
        sec.people.append(value)
    elif kind == "R":
        sec.reviewers.append(value)
        sec.people.append(value)
    elif kind == "L":
        # "list@host (moderated for non-subscribers)": keep the address;
        # like the script's defaults, skip subscribers-only lists.
        if value and "subscribers-only" not in value:
            sec.lists.append(value.split()[0])
    elif kind == "S":
        sec.status = value
    elif kind in ("F", "X"):
        if value:
            pat = FilePattern(kind, value, pattern_to_regex(value, tree_root))
            (sec.files if kind == "F" else sec.excludes).append(pat)
    elif kind == "K":
        sec.keywords.append(value)


def _normalise(path: str) -> str:
    p = PurePosixPath(path.replace("\\", "/")).as_posix()
    return p[2:] if p.startswith("./") else p


def email_address(entry: str) -> str:
    """The bare address of "Name <addr>" (or of a bare address)."""
    m = re.search(r"<([^>]*)>", entry)
    return (m.group(1) if m else entry).strip()


def directory_of(path: str) -> str:
    """The fallback grouping key: the file's directory ("." for top level)."""
    parent = PurePosixPath(_normalise(path)).parent.as_posix()
    return parent
