"""A mailing-list patch series from the engine's results (GUIDE §5).

write_series() turns the FileResults with a proposed change into files in
`git format-patch` mbox form: a cover letter and one patch per
MAINTAINERS section (per directory when the tree has no MAINTAINERS or
the file is covered only by a catch-all). Each patch carries To/Cc from
MAINTAINERS, a QEMU-style subject, a body citing the policy rule and the
evidence per allocation site, a Signed-off-by, a diffstat and the diffs.

The patches touch disjoint sets of files, so each applies on top of the
previous one with `git am`. The tree is only read; the output depends on
nothing but the arguments (pass `date` for byte-identical runs).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path, PurePosixPath

from codemod import __version__
from codemod.errors import UsageError
from codemod.discover import find_tree_root  # noqa: F401 - re-exported (moved)
from codemod.findings import Action, FileResult, Finding, PhaseInfo, Status
from codemod.maintainers import Maintainers, Section, directory_of, email_address
from codemod.render.diff import diffstat_counts, unified_diff

MAILING_LIST = "qemu-devel@nongnu.org"
WRAP = 72  # commit message and diffstat width, as git format-patch uses
SUBJECT_MAX = 72  # "prefix: summary" without the [PATCH n/N] tag
_SLUG_MAX = 52

@dataclass
class SeriesFile:
    path: str  # tree-relative, "/"-separated
    result: FileResult
    insertions: int = 0
    deletions: int = 0

    @property
    def acting(self) -> list[Finding]:
        return [f for f in self.result.findings if f.action in (Action.REWRITE, Action.STUB)]


@dataclass
class PatchPlan:
    """One patch of the series, before rendering."""

    key: str  # MAINTAINERS section title, or the directory
    section: Section | None
    files: list[SeriesFile] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    prefix: str = ""
    summary: str = ""

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]

    @property
    def findings(self) -> list[Finding]:
        return [x for f in self.files for x in f.acting]

    @property
    def title(self) -> str:
        return f"{self.prefix}: {self.summary}"


# ---------------------------------------------------------------- identity


def resolve_signoff(tree_root: Path, signoff: str | None = None) -> str:
    """The "Name <address>" to sign off with: `signoff` when given, else
    git's user.name/user.email as seen from `tree_root` (repository, then
    global config). Raises UsageError when neither is available."""
    if signoff:
        name, addr = parseaddr(signoff)
        if not name or "@" not in addr:
            raise UsageError(
                f"--signoff {signoff!r} is not of the form 'Full Name <address@example.org>'",
                hint="pass --signoff 'Your Name <you@example.org>'",
            )
        return f"{name} <{addr}>"
    name = _git_config(tree_root, "user.name")
    addr = _git_config(tree_root, "user.email")
    if name and addr:
        return f"{name} <{addr}>"
    raise UsageError(
        "cannot tell who signs off the patches: git config user.name/user.email are not set",
        hint="pass --signoff 'Your Name <you@example.org>' (or set git config user.name and user.email)",
    )


def _git_config(tree_root: Path, key: str) -> str | None:
    cwd = tree_root if tree_root.is_dir() else None
    try:
        proc = subprocess.run(
            ["git", "config", "--get", key],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value else None


# ---------------------------------------------------------------- planning


def tree_relative(result: FileResult, tree_root: Path) -> str:
    """The result's path relative to `tree_root` ("/"-separated), which is
    what the diffs must name for `git am` at the top of the tree."""
    root = tree_root.resolve()
    for cand in (result.path, result.display):
        if not cand:
            continue
        p = Path(cand)
        options = [p] if p.is_absolute() else [Path.cwd() / p, root / p]
        for option in options:
            try:
                rel = option.resolve().relative_to(root)
            except ValueError:
                continue
            if option.exists():
                return rel.as_posix()
    return PurePosixPath(result.display or result.path).as_posix()


def plan_series(
    results: list[FileResult], tree_root: Path, maintainers: Maintainers | None = None
) -> list[PatchPlan]:
    """Group the changed files into patches, in a stable order.

    `maintainers` defaults to the tree's MAINTAINERS (None when it has none:
    then files are grouped per directory)."""
    if maintainers is None:
        maintainers = Maintainers.load(tree_root)
    plans: dict[tuple[int, str], PatchPlan] = {}
    for res in results:
        if res.status is not Status.OK or not res.changed:
            continue
        path = tree_relative(res, tree_root)
        sf = SeriesFile(path, res)
        sf.insertions, sf.deletions = diffstat_counts(res.original, res.rewritten or b"")
        best = maintainers.best(path) if maintainers else None
        if best is not None:
            key = (best.section.index, best.section.title)
            plan = plans.setdefault(key, PatchPlan(best.section.title, best.section))
        else:
            d = directory_of(path)
            plan = plans.setdefault((-1, d), PatchPlan(d, None))
        plan.files.append(sf)
    ordered = []
    for plan in plans.values():
        plan.files.sort(key=lambda f: f.path)
        plan.cc = maintainers.cc(plan.paths) if maintainers else []
        plan.prefix = subsystem_prefix(plan.paths, plan.section)
        plan.summary = summary_for(plan)
        ordered.append(plan)
    ordered.sort(key=lambda p: (p.paths[0], p.key))
    _distinct_titles(ordered)
    return ordered


def _distinct_titles(plans: list[PatchPlan]) -> None:
    """Patches of one series should not share a subject: name the
    section (or the files) where two would."""
    by_title: dict[str, list[PatchPlan]] = {}
    for plan in plans:
        by_title.setdefault(plan.title, []).append(plan)
    for same in by_title.values():
        if len(same) < 2:
            continue
        for plan in same:
            stems = sorted({PurePosixPath(p).stem for p in plan.paths})
            options = []
            if len(stems) <= 2:
                options.append(" and ".join(stems))
            if plan.section is not None and plan.section.title:
                options.append(plan.section.title.lower())
            for what in options:
                text = f"{plan.summary} in {what}"
                if " in " not in plan.summary and len(plan.prefix) + 2 + len(text) <= SUBJECT_MAX:
                    plan.summary = text
                    break


def subsystem_prefix(paths: list[str], section: Section | None = None) -> str:
    """QEMU's subject prefix for a set of tree-relative paths, as people
    write them: "hw/scsi/scsi-bus" for one file; for several, their
    common directory, narrowed by a shared file-name stem ("block/qcow2"
    for qcow2-cache.c + qcow2-cluster.c); when they only share "hw/" (or
    nothing), the subsystem's name from the MAINTAINERS section title
    ("virtio", "xen", "pxa2xx"), else the top directories."""
    if len(paths) == 1:
        return str(PurePosixPath(paths[0]).with_suffix(""))
    # include/hw/scsi/x.h belongs with hw/scsi/x.c
    stems = {_strip_include(str(PurePosixPath(p).with_suffix(""))) for p in paths}
    if len(stems) == 1:  # one file, or foo.c + foo.h
        return stems.pop()
    dirs = sorted({_strip_include(directory_of(p)) for p in paths})
    common = _common_dir(dirs)
    stem = _common_stem([PurePosixPath(p).stem for p in paths])
    if common and "/" in common:
        last = common.rsplit("/", 1)[1]
        return f"{common}/{stem}" if stem and stem != last and len(dirs) == 1 else common
    if common and stem and len(dirs) == 1:
        return f"{common}/{stem}"
    token = _majority_token([PurePosixPath(p).stem for p in paths])
    if token:
        return token
    if common and common != "hw":
        return common
    word = _section_word(section)
    tokens = {t for p in paths for t in re.split(r"[-_/.]", p.lower()) if t}
    if word and all(part in tokens for part in word.split("/")):
        return word
    if common:
        return common
    tops = sorted({d.split("/")[0] for d in dirs})
    return ", ".join(tops) if len(tops) <= 3 else "treewide"


def _majority_token(names: list[str]) -> str:
    """The first word of the file names ("xen" of xen-bus, xen_nic) when at
    least half of them, and two or more, start with it."""
    counts: dict[str, int] = {}
    for n in names:
        first = re.split(r"[-_]", n, maxsplit=1)[0].lower()
        counts[first] = counts.get(first, 0) + 1
    best = max(counts.items(), key=lambda kv: (kv[1], -len(kv[0])), default=("", 0))
    token, n = best
    return token if n >= 2 and 2 * n >= len(names) and len(token) >= 3 and re.fullmatch(r"[a-z0-9]+", token) else ""


def _common_stem(names: list[str]) -> str:
    """The leading "-"/"_"-separated words all names share ("qcow2" for
    qcow2-cache and qcow2-cluster), or ""."""
    split = [[t.rstrip("-_") for t in re.split(r"(?<=[-_])", n)] for n in names]
    common: list[str] = []
    for column in zip(*split):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    stem = common[0] if len(common) == 1 else ""
    if len(common) > 1:
        # Re-join with the separators of the first name.
        stem = re.match(r"^" + r"[-_]".join(re.escape(t) for t in common), names[0]).group(0)
    return stem if len(stem) >= 3 else ""


def _section_word(section: Section | None) -> str:
    """A MAINTAINERS section title's first word, as a subject prefix."""
    if section is None or not section.title:
        return ""
    word = section.title.split()[0].strip("(),:").lower()
    return word if re.fullmatch(r"[a-z0-9][a-z0-9/_.+-]*", word) and len(word) <= 24 else ""


def _strip_include(d: str) -> str:
    if d == "include":
        return "."
    return d[len("include/") :] if d.startswith("include/") else d


def _common_dir(dirs: list[str]) -> str:
    parts = [d.split("/") for d in dirs if d != "."]
    if not parts or len(parts) != len(dirs):
        return ""
    common: list[str] = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return "/".join(common)


def summary_for(plan: PatchPlan) -> str:
    """An imperative summary that keeps "prefix: summary" within
    SUBJECT_MAX columns."""
    findings = plan.findings
    policies = {f.policy for f in findings}
    if policies and policies <= {"R6"}:
        verb = "Report allocation failures to the monitor"
    elif policies and policies <= {"R5", "R7"}:
        verb = "Check large allocations" if len(findings) != 1 else "Check large allocation"
    else:
        verb = "Handle allocation failures" if len(findings) != 1 else "Handle allocation failure"
    functions = sorted({f.function for f in findings if f.function})
    candidates = []
    if functions and len(functions) <= 2:
        candidates.append(f"{verb} in {' and '.join(fn + '()' for fn in functions)}")
    candidates.append(verb)
    for text in candidates:
        if len(plan.prefix) + 2 + len(text) <= SUBJECT_MAX:
            return text
    # A very long prefix: keep the verb, shorten the prefix to its directory.
    plan.prefix = directory_of(plan.prefix) if "/" in plan.prefix else plan.prefix
    return verb


# ---------------------------------------------------------------- text


_NBSP = "\u00a0"  # a space textwrap does not break at (inside a call)


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    return [line.replace(_NBSP, " ") for line in _wrap_raw(text, first, rest)]


def _wrap_raw(text: str, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width=WRAP,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


# What the policy asks, beyond rule 5, when a patch's sites involve it.
POLICY_EXTRA = {
    "R1": "A failed allocation must never leave a bad pointer behind (rule 1).",
    "R2": "When QEMU has to exit because memory ran out, it should exit with "
    "an error rather than abort (rule 2).",
    "R6": "When the allocation serves a monitor command, the failure is "
    "reported as an error on the monitor instead of ending QEMU (rule 6).",
    "R7": "Whatever was set up before a failed allocation is released, so no "
    "half-initialised device is left behind (rule 7).",
}

_G_NEW = {"g_new", "g_new0", "g_renew", "g_try_new", "g_try_new0"}
_CHECKED = {
    "g_malloc": "g_try_malloc", "g_malloc0": "g_try_malloc0", "g_malloc_n": "g_try_malloc_n",
    "g_malloc0_n": "g_try_malloc0_n", "g_realloc": "g_try_realloc", "g_realloc_n": "g_try_realloc_n",
    "g_new": "g_try_new", "g_new0": "g_try_new0", "g_renew": "g_try_renew",
    "qemu_memalign": "qemu_try_memalign", "qemu_blockalign": "qemu_try_blockalign",
    "qemu_blockalign0": "qemu_try_blockalign0", "blk_blockalign": "blk_try_blockalign",
    "bitmap_new": "bitmap_try_new",
}


def checked_counterpart(allocator: str) -> str:
    try:
        from codemod.rulesdata import load_allocators

        spec = load_allocators().get(allocator)
        if spec is not None and spec.checked:
            return spec.checked
    except (OSError, KeyError, ValueError):
        pass
    return _CHECKED.get(allocator, "g_try_malloc")


def _size_expr(f: Finding) -> str | None:
    """The size expression the evidence names ("len: not a constant")."""
    head, sep, _ = f.size.evidence.partition(":")
    head = head.strip()
    if not sep or not head or head == "constant" or len(head) > 48:
        return None
    return head


def _human_bytes(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            value = n / scale
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{n} bytes"


def _call(f: Finding) -> str:
    expr = _size_expr(f)
    if expr is None:
        return f"{f.allocator}()"
    if f.allocator in _G_NEW:
        m = re.fullmatch(r"(.+?) \* (.+)", expr)
        if m:
            return f"{f.allocator}({m.group(1)},{_NBSP}{m.group(2)})"
    return f"{f.allocator}({expr.replace(' ', _NBSP)})"


def _size_known(f: Finding) -> bool:
    return f.size.max_bytes is not None


def _size_sentence(f: Finding, func: str) -> str:
    """Why the allocation counts as large, as a sentence about `func`."""
    if _size_known(f):
        return f"{func} allocates {_human_bytes(f.size.max_bytes)} with {f.allocator}(), more than a page."
    expr = _size_expr(f)
    if expr is not None and "not a constant" in f.size.evidence:
        return (f"{func} calls {_call(f)}, and the size is not a constant, so nothing "
                "keeps the allocation below a page.")
    why = f.size.evidence.strip().rstrip(".")
    if expr is not None:
        tail = why.partition(":")[2].strip()
        return f"{func} calls {_call(f)}, and the size can exceed a page ({expr}: {tail})."
    return f"{func} calls {f.allocator}() with a size that can exceed a page" + (f" ({why})." if why else ".")


def _phase_sentence(phase: PhaseInfo, many: bool = False) -> str:
    it = "these functions run" if many else "this code runs"
    chain = " -> ".join(f"{c}()" for c in phase.chain)
    via = ", ".join(phase.via)
    if phase.cls == "runtime":
        s = "They run" if many else "It runs"
        s += " while the VM is running"
        if via or chain:
            s += " (" + ": ".join(x for x in (via, chain) if x) + ")"
        return s + "."
    if phase.cls == "both":
        s = ("They run" if many else "It runs") + " at startup and again while the VM is running, e.g. on hot plug"
        if chain:
            s += f" ({chain})"
        return s + "."
    if phase.cls == "startup":
        return f"Only {it} at startup."
    return (f"Nothing shows that {it} only at startup, so the "
            f"allocation{'s' if many else ''} can happen while the VM is running.")


def _failure(f: Finding) -> tuple[str, str]:
    """(imperative, third person) phrases for what the new code does on
    failure, e.g. ("return -ENOMEM", "returns -ENOMEM")."""
    path = (f.error_path or "").replace("(stub)", "")
    steps = [s.strip() for s in path.split(";") if s.strip()]
    imp: list[str] = []
    third: list[str] = []
    pending_set = ""
    for s in steps:
        if s.startswith("error_setg"):
            imp.append("set an error through errp")
            third.append("sets an error through errp")
        elif s.startswith("goto "):
            label = s[5:].strip()
            tail = f"jump to the existing '{label}' label"
            if pending_set:
                tail = f"{pending_set} and {tail}"
                pending_set = ""
            imp.append(tail)
            third.append(tail.replace("set ", "sets ", 1).replace("jump ", "jumps ", 1))
        elif s == "return":
            imp.append("return")
            third.append("returns")
        elif s.startswith("return "):
            imp.append(f"return {s[7:].strip()}")
            third.append(f"returns {s[7:].strip()}")
        elif "=" in s:
            var, _, value = s.partition("=")
            pending_set = f"set {var.strip()} to {value.strip()}"
        else:
            imp.append(s)
            third.append(s)
    if pending_set:
        imp.append(pending_set)
        third.append(pending_set.replace("set ", "sets ", 1))
    if not imp:
        return "take the function's error path", "takes the function's error path"
    return _join(imp), _join(third)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _policy_paragraph(findings: list[Finding]) -> list[str]:
    allocs = sorted({f.allocator for f in findings})
    names = _join([f"{a}()" for a in allocs]) if len(allocs) <= 3 else f"{allocs[0]}() and the like"
    verb = "aborts" if len(allocs) == 1 else "abort"
    text = (f"{names} {verb} QEMU when the allocation fails, taking the guest down with it. "
            "QEMU's allocation failure policy asks that large allocations made after startup "
            "are checked, and that their failure does not bring the VM down (rule 5).")
    for pol in sorted({f.policy for f in findings} - {"R5", "R3", "R4"}):
        if pol in POLICY_EXTRA:
            text += " " + POLICY_EXTRA[pol]
    return _wrap(text)


def _stub_sentence(f: Finding, func: str) -> str:
    proposed = (f.error_path or "").replace("(stub)", "").strip().rstrip(";").strip()
    how = f" ({proposed})" if proposed else ""
    return (f"{func} has no way to report the failure to its caller, so the patch "
            f"leaves early{how} and marks the spot with an 'allocfix:' comment: "
            "how to recover there needs a maintainer's decision.")


def _single_site(sf: SeriesFile, f: Finding) -> list[str]:
    func = f"{f.function}()" if f.function else f"The file scope of {sf.path}"
    out = _wrap(_size_sentence(f, func) + " " + _phase_sentence(f.phase)) + [""]
    out += _policy_paragraph([f]) + [""]
    try_name = checked_counterpart(f.allocator)
    if f.action is Action.STUB:
        out += _wrap(f"Use {try_name}() instead. " + _stub_sentence(f, func)) + [""]
    else:
        imp, _ = _failure(f)
        out += _wrap(f"Use {try_name}() instead and, when it fails, {imp}.") + [""]
    return out


def _bullet(sf: SeriesFile, f: Finding, with_phase: bool, times: int = 1) -> list[str]:
    func = f"{f.function}()" if f.function else "file scope"
    text = f"{func} in {sf.path}: {_call(f)}"
    if _size_known(f):
        text += f", {_human_bytes(f.size.max_bytes)}"
    if times > 1:
        text += f", {times} times"
    if f.action is Action.STUB:
        text += "; left for a decision, no error path to report on"
    else:
        text += f"; on failure it now {_failure(f)[1]}"
    text += "."
    if with_phase:
        text += " " + _phase_sentence(f.phase)
    return _wrap(text, "- ", "  ")


def commit_message_body(plan: PatchPlan) -> list[str]:
    """The commit message lines after the subject (without sign-off):
    what is allocated and why it counts as large, when it runs, what the
    policy asks, and what the new code does on failure."""
    pairs = [(sf, f) for sf in plan.files for f in sorted(sf.acting, key=lambda x: (x.line, x.column))]
    if not pairs:
        return _wrap("Handle allocation failures as QEMU's allocation failure policy asks.") + [""]
    if len(pairs) == 1:
        return [_safe_body_line(x) for x in _single_site(*pairs[0])]
    findings = [f for _, f in pairs]
    out = _policy_paragraph(findings) + [""]
    phases = {(f.phase.cls, f.phase.via, f.phase.chain) for f in findings}
    same_phase = len(phases) == 1 and not findings[0].phase.chain
    unknown_sizes = all(not _size_known(f) and "not a constant" in f.size.evidence for f in findings)
    known_sizes = all(_size_known(f) for f in findings)
    lead = f"The {len(findings)} allocations below can be larger than a page: "
    if unknown_sizes:
        lead += "their sizes are not constants."
    elif known_sizes:
        lead += "each asks for more than a page."
    else:
        lead += "some have sizes that are not constants, the others ask for more than a page."
    if same_phase:
        lead += " " + _phase_sentence(findings[0].phase, many=True)
    lead += " Use the g_try_* counterparts and handle the failure where it happens:"
    out += _wrap(lead) + [""]
    # Identical sites (same function, call and failure handling) share a bullet.
    groups: dict[tuple, list[tuple[SeriesFile, Finding]]] = {}
    for sf, f in pairs:
        key = (sf.path, f.function, _call(f), f.action, f.error_path, f.size.max_bytes,
               None if same_phase else (f.phase.cls, f.phase.via, f.phase.chain))
        groups.setdefault(key, []).append((sf, f))
    for group in groups.values():
        sf, f = group[0]
        out += _bullet(sf, f, with_phase=not same_phase, times=len(group))
    out.append("")
    stubs = sum(1 for f in findings if f.action is Action.STUB)
    if stubs:
        if stubs == len(findings):
            which = "None of these functions can report the failure to its caller"
        elif stubs == 1:
            which = "At one of these sites the function cannot report the failure to its caller"
        else:
            which = f"At {stubs} of these sites the function cannot report the failure to its caller"
        out += _wrap(
            f"{which}; there the patch leaves early and marks the spot with an 'allocfix:' "
            "comment, because how to recover needs a maintainer's decision."
        ) + [""]
    return [_safe_body_line(line) for line in out]


def _safe_body_line(line: str) -> str:
    # Lines that git mailinfo would take for the end of the message or the
    # start of a diff, or mbox for a new message, are shifted by one space.
    if line.startswith(("---", "diff -", "Index: ", "From ")):
        return " " + line
    return line


def diffstat(files: list[SeriesFile], width: int = WRAP) -> list[str]:
    """git's --stat lines for `files`, with the totals line."""
    if not files:
        return []
    totals = [f.insertions + f.deletions for f in files]
    num_w = len(str(max(totals)))
    name_max = max(10, width - 1 - 3 - num_w - 1 - 10)
    names = [f.path if len(f.path) <= name_max else "..." + f.path[-(name_max - 3) :] for f in files]
    name_w = max(len(n) for n in names)
    graph_w = max(1, min(40, width - (1 + name_w + 3 + num_w + 1)))
    biggest = max(totals)
    out = []
    for name, f, total in zip(names, files, totals):
        ins, dels = f.insertions, f.deletions
        if biggest > graph_w:
            ins = _scale(ins, graph_w, biggest)
            dels = _scale(dels, graph_w, biggest)
        graph = "+" * ins + "-" * dels
        out.append(f" {name.ljust(name_w)} | {str(total).rjust(num_w)} {graph}".rstrip())
    n = len(files)
    ins_total = sum(f.insertions for f in files)
    del_total = sum(f.deletions for f in files)
    summary = f" {n} file{'s' if n != 1 else ''} changed"
    if ins_total or not del_total:
        summary += f", {ins_total} insertion{'s' if ins_total != 1 else ''}(+)"
    if del_total or not ins_total:
        summary += f", {del_total} deletion{'s' if del_total != 1 else ''}(-)"
    out.append(summary)
    return out


def _scale(value: int, width: int, biggest: int) -> int:
    if value == 0:
        return 0
    return max(1, (value * width + biggest // 2) // biggest)


# ---------------------------------------------------------------- mail


def _header_addr(entry: str) -> str:
    name, addr = parseaddr(entry)
    if not addr:
        addr = email_address(entry)
    # formataddr quotes names with specials ("Michael S. Tsirkin") and
    # RFC 2047-encodes non-ASCII ones, as git format-patch does.
    return formataddr((name, addr), charset="utf-8")


def _fold(name: str, values: list[str]) -> str:
    """'Cc: a,\\n    b' as git format-patch writes address lists."""
    return f"{name}: " + ",\n    ".join(values)


def _fold_subject(subject: str) -> str:
    line = f"Subject: {subject}"
    if len(line) <= 78:
        return line
    cut = line.rfind(" ", 0, 78)
    if cut <= len("Subject:"):
        return line
    return line[:cut] + "\n" + line[cut:]


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _file_mode(tree_root: Path, path: str) -> str:
    try:
        return "100755" if (tree_root / path).stat().st_mode & 0o111 else "100644"
    except OSError:
        return "100644"


def file_diff(sf: SeriesFile, tree_root: Path) -> bytes:
    """The git diff of one file, with an index line (so `git am -3` can
    fall back to a three-way merge)."""
    new = sf.result.rewritten or b""
    diff = unified_diff(sf.path, sf.result.original, new)
    if not diff:
        return b""
    first, _, rest = diff.partition(b"\n")
    index = f"index {_blob_id(sf.result.original)[:7]}..{_blob_id(new)[:7]} {_file_mode(tree_root, sf.path)}"
    return first + b"\n" + index.encode() + b"\n" + rest


@dataclass
class _Mail:
    subject: str
    author: str
    date: str
    to: list[str]
    cc: list[str]
    body: bytes  # everything after the headers

    def render(self) -> bytes:
        digest = hashlib.sha1(self.subject.encode() + b"\0" + self.body).hexdigest()
        headers = [
            f"From {digest} Mon Sep 17 00:00:00 2001",
            f"From: {_header_addr(self.author)}",
            f"Date: {self.date}",
            _fold_subject(self.subject),
        ]
        if self.to:
            headers.append(_fold("To", [_header_addr(a) for a in self.to]))
        if self.cc:
            headers.append(_fold("Cc", [_header_addr(a) for a in self.cc]))
        if not self.body.isascii():
            headers += [
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=UTF-8",
                "Content-Transfer-Encoding: 8bit",
            ]
        return "\n".join(headers).encode("utf-8") + b"\n\n" + self.body


def _tag(subject_prefix: str, version: int | None, n: int, total: int) -> str:
    parts = [subject_prefix] if subject_prefix else []
    if version is not None and version > 1:
        parts.append(f"v{version}")
    parts.append(f"{n}/{total}")
    return "[" + " ".join(parts) + "]"


def slug(title: str) -> str:
    """git format-patch's file name part for a subject."""
    s = re.sub(r"[^A-Za-z0-9._]+", "-", title)
    s = re.sub(r"\.{2,}", ".", s).strip(".-")
    if len(s) > _SLUG_MAX:
        s = s[:_SLUG_MAX].rstrip(".-")
    return s or "patch"


def _signature() -> bytes:
    return f"-- \nallocfix {__version__}\n\n".encode()


# ---------------------------------------------------------------- output


def write_series(
    outdir: Path,
    results: list[FileResult],
    *,
    tree_root: Path,
    signoff: str | None = None,
    version: int | None = None,
    subject_prefix: str = "PATCH",
    base: str | None = None,
    date: datetime | None = None,
    style_check: bool = True,
    left_out: list[str] | None = None,
) -> list[Path]:
    """Write the cover letter and one patch per group to `outdir`; return
    the written paths in order (cover letter first). Returns [] and writes
    nothing when no result has a change. Raises UsageError when nobody can
    sign off or `outdir` holds patches of another series.

    With `style_check` and a tree that has scripts/checkpatch.pl (and perl
    on PATH), each patch is run through it first; a hunk it objects to is
    left out of the series (the rest of the file's hunks stay, with the
    #include lines they need) and named in the cover letter and in
    `left_out`, so every patch sent passes the tree's own checker."""
    tree_root = Path(tree_root)
    outdir = Path(outdir)
    if version is not None and version < 1:
        raise UsageError(f"-v {version}: the series version must be 1 or more")
    results = [r for r in results if r.status is Status.OK and r.changed]
    if not results:
        return []
    author = resolve_signoff(tree_root, signoff)
    when = date or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    date_text = format_datetime(when)
    vtag = f"v{version}-" if version is not None and version > 1 else ""

    checker = _checkpatch_command(tree_root) if style_check else None
    maintainers = Maintainers.load(tree_root)
    dropped: list[str] = []
    checked: dict[bytes, list[tuple[str, int, str]]] = {}
    for attempt in range(_MAX_STYLE_PASSES + 1):
        plans = plan_series(results, tree_root, maintainers)
        texts = _render_patches(plans, author, date_text, subject_prefix, version, tree_root, maintainers)
        # Dropping a hunk only removes lines, so objections rarely survive a
        # pass; the last render after the final drop is not checked again.
        if checker is None or not plans or attempt == _MAX_STYLE_PASSES:
            break
        by_path = {sf.path: sf for plan in plans for sf in plan.files}
        objections: dict[str, dict[int, str]] = {}
        for text in texts:
            key = _body_key(text)
            if key not in checked:
                checked[key] = _run_checkpatch(checker, tree_root, text)
            for path, line, message in checked[key]:
                sf = by_path.get(path)
                if sf is None:
                    continue
                for h in _hunks_for(sf):
                    if h.j1 < line <= h.j2 and not h.supporting:
                        objections.setdefault(path, {}).setdefault(h.index, message)
        if not objections:
            break
        results = _drop_hunks(results, by_path, objections, dropped)
    if left_out is not None:
        left_out.extend(dropped)
    if not plans:
        return []
    names = [f"{vtag}0000-cover-letter.patch"]
    names += [f"{vtag}{n:04d}-{slug(plan.title)}.patch" for n, plan in enumerate(plans, 1)]
    _refuse_stale(outdir, vtag, set(names))
    all_files = [sf for plan in plans for sf in plan.files]
    cover = _cover_letter(plans, all_files, author, date_text, subject_prefix, version, base, dropped)
    texts.insert(0, cover.render())

    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in zip(names, texts):
        path = outdir / name
        path.write_bytes(text)
        written.append(path)
    return written


_MAX_STYLE_PASSES = 4


def _render_patches(plans: list[PatchPlan], author: str, date_text: str, subject_prefix: str,
                    version: int | None, tree_root: Path, maintainers: Maintainers | None = None) -> list[bytes]:
    """Each plan's mail. MAINTAINERS K: keywords match the mail's text
    (e.g. its subject), so the Cc is settled on the rendered mail."""
    texts: list[bytes] = []
    for n, plan in enumerate(plans, 1):
        text = _render_patch(plan, n, len(plans), author, date_text, subject_prefix, version, tree_root)
        for _ in range(3):
            if maintainers is None:
                break
            cc = maintainers.cc(plan.paths, text.decode("utf-8", "replace"))
            if cc == plan.cc:
                break
            plan.cc = cc
            text = _render_patch(plan, n, len(plans), author, date_text, subject_prefix, version, tree_root)
        texts.append(text)
    return texts


def _render_patch(plan: PatchPlan, n: int, total: int, author: str, date_text: str, subject_prefix: str,
                  version: int | None, tree_root: Path) -> bytes:
    message = "\n".join(commit_message_body(plan)).rstrip("\n")
    body = f"{message}\n\nSigned-off-by: {author}\n---\n"
    body += "\n".join(diffstat(plan.files)) + "\n\n"
    raw = body.encode("utf-8")
    raw += b"".join(file_diff(sf, tree_root) for sf in plan.files)
    raw += _signature()
    mail = _Mail(
        subject=f"{_tag(subject_prefix, version, n, total)} {plan.title}",
        author=author,
        date=date_text,
        to=[MAILING_LIST],
        cc=_without_list(plan.cc),
        body=raw,
    )
    return mail.render()


# ---------------------------------------------------------------- style gate

# "#84: FILE: block/vvfat.c:911:" after an "ERROR: ..." or "WARNING: ..." line
_CHECKPATCH_ITEM = re.compile(r"^(ERROR|WARNING): (.*)\n#\d+: FILE: (\S+?):(\d+):", re.M)


def _checkpatch_command(tree_root: Path) -> list[str] | None:
    import shutil

    script = tree_root / "scripts" / "checkpatch.pl"
    if not script.is_file() or shutil.which("perl") is None:
        return None
    return ["perl", str(script), "--color=never", "-q", "-"]


def _run_checkpatch(cmd: list[str], tree_root: Path, text: bytes) -> list[tuple[str, int, str]]:
    """(path, new-file line, "ERROR: message") for each objection."""
    try:
        proc = subprocess.run(cmd, input=text, cwd=tree_root, capture_output=True, check=False)
    except OSError:
        return []
    out = proc.stdout.decode("utf-8", "replace")
    return [(m.group(3), int(m.group(4)), f"{m.group(1)}: {m.group(2).strip()}") for m in _CHECKPATCH_ITEM.finditer(out)]


def _body_key(text: bytes) -> bytes:
    # The "From <sha>" line and [PATCH n/N] change with the numbering; the rest decides.
    return hashlib.sha1(text.split(b"\n\n", 1)[-1]).digest()


def _hunks_for(sf: SeriesFile):
    from codemod.review import file_hunks

    return file_hunks(sf.result, sf.path)


def _drop_hunks(results: list[FileResult], by_path: dict[str, SeriesFile],
                objections: dict[str, dict[int, str]], dropped: list[str]) -> list[FileResult]:
    from codemod.review import without_hunks

    replace: dict[int, FileResult] = {}
    for path, bad in objections.items():
        sf = by_path[path]
        for h in _hunks_for(sf):
            if h.index in bad:
                where = ", ".join(f"{f.function}()" for f in h.findings if f.function) or "file scope"
                dropped.append(f"{path}:{h.old_line} {where}: {bad[h.index]}")
        replace[id(sf.result)] = without_hunks(sf.result, path, set(bad))
    out = []
    for r in results:
        new = replace.get(id(r), r)
        if new.changed:
            out.append(new)
    return out


def _without_list(cc: list[str]) -> list[str]:
    return [a for a in cc if email_address(a).lower() != MAILING_LIST]


def _refuse_stale(outdir: Path, vtag: str, names: set[str]) -> None:
    # `git am OUTDIR/*.patch` would also apply a leftover 0005-*.patch of an
    # earlier, longer series; never delete the user's files, say so instead.
    if not outdir.is_dir():
        return
    pattern = re.compile(re.escape(vtag) + r"\d{4}-.*\.patch$")
    stale = sorted(p.name for p in outdir.iterdir() if pattern.match(p.name) and p.name not in names)
    if stale:
        raise UsageError(
            f"{outdir} already holds patches of another series: {', '.join(stale[:3])}"
            + (" ..." if len(stale) > 3 else ""),
            hint="remove them or pass an empty directory",
        )


def _cover_letter(
    plans: list[PatchPlan],
    files: list[SeriesFile],
    author: str,
    date_text: str,
    subject_prefix: str,
    version: int | None,
    base: str | None,
    dropped: list[str] | None = None,
) -> _Mail:
    findings = [f for p in plans for f in p.findings]
    policies = {f.policy for f in findings}
    if policies and policies <= {"R5", "R7"}:
        title = "Check large allocations made while the VM runs"
    else:
        title = "Handle allocation failures as QEMU's policy asks"
    stubs = sum(1 for f in findings if f.action is Action.STUB)
    lines: list[str] = []
    intro = (
        "QEMU's allocation failure policy asks that large allocations which can "
        "happen while a VM is running are checked, and that their failure is "
        "handled without bringing the VM down"
    )
    if "R6" in policies:
        intro += "; failures caused by a monitor command should be reported on the monitor"
    lines += _wrap(intro + ".")
    lines.append("")
    sites = len(findings)
    summary = (
        f"This series changes {sites} allocation site{'s' if sites != 1 else ''} "
        f"in {len(files)} file{'s' if len(files) != 1 else ''} to use the g_try_* "
        "allocators and handle a failure. Each patch says why its allocations "
        "count as large, how they are reached after startup, which rule of the "
        "policy applies and what the code now does on failure. The patches "
        "touch disjoint files and are grouped by "
        + ("MAINTAINERS section." if any(p.section for p in plans) else "directory.")
    )
    lines += _wrap(summary)
    if stubs:
        lines.append("")
        lines += _wrap(
            f"{stubs} failure path{'s are' if stubs != 1 else ' is'} marked for "
            "review in the code: the right recovery needs a maintainer's decision."
        )
    if dropped:
        lines.append("")
        lines += _wrap(
            f"Left out: {len(dropped)} change{'s' if len(dropped) != 1 else ''} that "
            "scripts/checkpatch.pl objects to (usually the existing style of the line "
            "being changed, or a line that grows past 80 columns); they need a hand edit:"
        )
        for item in dropped:
            lines += _wrap(item, "  ", "    ")
    lines.append("")
    lines += _wrap(f"The changes were prepared with allocfix {__version__}.")
    lines.append("")
    name = parseaddr(author)[0] or author
    lines.append(f"{name} ({len(plans)}):")
    for plan in plans:
        lines.append(f"  {plan.title}")
    lines.append("")
    lines += diffstat(files)
    lines.append("")
    if base:
        lines.append("")
        lines.append(f"base-commit: {base}")
    body = ("\n".join(_safe_body_line(x) for x in lines) + "\n").encode("utf-8") + _signature()
    cc: list[str] = []
    seen: set[str] = set()
    for plan in plans:
        for a in _without_list(plan.cc):
            if email_address(a).lower() not in seen:
                seen.add(email_address(a).lower())
                cc.append(a)
    return _Mail(
        subject=f"{_tag(subject_prefix, version, 0, len(plans))} {title}",
        author=author,
        date=date_text,
        to=[MAILING_LIST],
        cc=cc,
        body=body,
    )
