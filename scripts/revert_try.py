#!/usr/bin/env python3
"""Turn a tree's own checked allocations back into aborting ones.

    revert_try.py SRC DST [--manifest FILE] [--only PATH ...]

Copies SRC to DST and, in every C file, turns each

    p = g_try_malloc(n);            T *p = qemu_try_blockalign(bs, n);
    if (!p) { ...failure... }       if (size && p == NULL) { ... }

into `p = g_malloc(n);` without the check. Everything else stays
byte-identical. The manifest (JSON, default DST/revert-manifest.json) lists
each reverted site (file, line of the allocation in DST, function, the
removed failure path and its classification) and each site that could not
be reverted cleanly, with the reason. It is the ground truth for
scripts/recall.py: QEMU's developers judged these sites worth checking and
wrote the failure path by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codemod.analysis.errpath import errp_param  # noqa: E402
from codemod.cparse import default_profile, enclosing_function, function_name, parse_source  # noqa: E402
from codemod.source import SourceFile  # noqa: E402

# Checked allocator -> the aborting one it stands in for (GUIDE §1 table, read backwards).
TRY_TO_ABORT = {
    "g_try_malloc": "g_malloc",
    "g_try_malloc0": "g_malloc0",
    "g_try_malloc_n": "g_malloc_n",
    "g_try_malloc0_n": "g_malloc0_n",
    "g_try_realloc_n": "g_realloc_n",
    "g_try_new": "g_new",
    "g_try_new0": "g_new0",
    "g_try_renew": "g_renew",
    "g_try_realloc": "g_realloc",
    "qemu_try_memalign": "qemu_memalign",
    "qemu_try_blockalign": "qemu_blockalign",
    "qemu_try_blockalign0": "qemu_blockalign0",
    "blk_try_blockalign": "blk_blockalign",
    "bitmap_try_new": "bitmap_new",
}
_NAME_RE = re.compile(rb"\b(" + b"|".join(re.escape(k.encode()) for k in TRY_TO_ABORT) + rb")\s*\(")
_ERROR_CALL_RE = re.compile(r"\b(error_setg\w*|error_set\w*|error_propagate\w*|error_prepend)\s*\(\s*([^,)]*)")
_RETURN_RE = re.compile(r"\breturn\b\s*([^;]*);")
_GOTO_RE = re.compile(r"\bgoto\s+(\w+)\s*;")
_ASSIGN_RE = re.compile(r"(\b[\w.>\-\[\]*]+)\s*=\s*([^;=][^;]*);")


@dataclass
class Failure:
    """The removed failure path, classified the way recall.py compares it."""

    body: str  # the check's body text as written
    kind: str  # return | goto | break | other
    value: str | None = None  # return value ("" for a bare return), or the status set before goto
    label: str | None = None
    status_var: str | None = None
    errp_used: bool = False  # an error_set*/error_propagate call in the body
    errp_arg: str | None = None  # its first argument (errp, &local_err, ...)
    error_report: bool = False  # error_report()/fprintf in the body (startup-style exit)
    errp_at_label: bool = False  # goto: the code after the label sets an Error before returning


@dataclass
class Reverted:
    file: str
    line: int  # line of the allocator name in DST
    column: int
    src_line: int
    function: str | None
    function_errp: str | None  # the enclosing function's Error ** parameter, if any
    checked: str  # g_try_malloc ...
    allocator: str  # g_malloc ...
    target: str
    condition: str
    failure: Failure
    check_start: int = -1  # byte offset of the removed check in SRC (shared checks group by it)


@dataclass
class Skipped:
    file: str
    line: int  # line in SRC
    function: str | None
    checked: str
    reason: str


@dataclass
class FileRevert:
    data: bytes
    reverted: list[Reverted] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _text(data: bytes, node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _strip_parens(node):
    while node is not None and node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _declarator_name(decl, data: bytes) -> str | None:
    while decl is not None and decl.type not in ("identifier",):
        decl = decl.child_by_field_name("declarator")
    return _text(data, decl) if decl is not None else None


def _statement_and_target(call, data: bytes):
    """(statement node, target text) when the call's value is stored in a variable or field."""
    node = call
    parent = node.parent
    while parent is not None and parent.type in ("cast_expression", "parenthesized_expression"):
        node, parent = parent, parent.parent
    if parent is None:
        return None, None, "no parent"
    if parent.type == "assignment_expression" and parent.child_by_field_name("right") == node:
        op = parent.child_by_field_name("operator")
        if op is not None and _text(data, op) != "=":
            return None, None, "compound assignment"
        targets = [_text(data, parent.child_by_field_name("left"))]
        # `buf = orig = g_try_malloc(n);`: every variable in the chain holds the result.
        while parent.parent is not None and parent.parent.type == "assignment_expression" \
                and parent.parent.child_by_field_name("right") == parent:
            parent = parent.parent
            targets.append(_text(data, parent.child_by_field_name("left")))
        stmt = parent.parent
        if stmt is None or stmt.type != "expression_statement":
            return None, None, "assignment is not a statement of its own"
        return stmt, targets, None
    if parent.type == "init_declarator" and parent.child_by_field_name("value") == node:
        stmt = parent.parent
        if stmt is None or stmt.type != "declaration":
            return None, None, "initialiser outside a declaration"
        if sum(1 for c in stmt.named_children if c.type == "init_declarator") > 1:
            return None, None, "declaration declares several variables"
        name = _declarator_name(parent.child_by_field_name("declarator"), data)
        if name is None:
            return None, None, "declarator without a name"
        return stmt, [name], None
    if parent.type == "return_statement":
        return None, None, "result returned to the caller (the caller checks it)"
    if parent.type == "argument_list":
        return None, None, "result passed as an argument"
    return None, None, f"result used in a {parent.type}"


def null_checked(cond, data: bytes) -> list[str] | None:
    """Targets a condition tests for NULL, or None when it is not a pure NULL test.

    `!t`, `t == NULL`, `NULL == t`; the zero-size guards `x && !t` / `!t && x`
    (x must not be a NULL test itself); and `!a || b == NULL` (one check for
    several allocations).
    """
    cond = _strip_parens(cond)
    if cond is None:
        return None
    if cond.type == "unary_expression":
        op = cond.child_by_field_name("operator")
        arg = _strip_parens(cond.child_by_field_name("argument"))
        if op is not None and _text(data, op) == "!" and arg is not None:
            return [_norm(_text(data, arg))]
        return None
    if cond.type == "binary_expression":
        op = _text(data, cond.child_by_field_name("operator"))
        left = _strip_parens(cond.child_by_field_name("left"))
        right = _strip_parens(cond.child_by_field_name("right"))
        if op == "==":
            sides = [_norm(_text(data, left)), _norm(_text(data, right))]
            if "NULL" in sides and sides != ["NULL", "NULL"]:
                sides.remove("NULL")
                return sides
            return None
        if op == "&&":
            for a, b in ((left, right), (right, left)):
                checked = null_checked(a, data)
                if checked is not None and len(checked) == 1 and null_checked(b, data) is None \
                        and not any(_mentions(_text(data, b), t) for t in checked):
                    return checked
            return None
        if op == "||":
            a, b = null_checked(left, data), null_checked(right, data)
            if a is not None and b is not None:
                return a + b
    return None


def _mentions(text: str, target: str) -> bool:
    return re.search(r"(?<![\w.>])" + re.escape(target) + r"(?!\w)", text) is not None


def _next_siblings(stmt):
    node = stmt.next_named_sibling
    while node is not None:
        yield node
        node = node.next_named_sibling


def classify_failure(body: str) -> Failure:
    """Return value / goto label / errp use of a failure path's text."""
    code = re.sub(r"/\*.*?\*/|//[^\n]*", " ", body, flags=re.S)
    f = Failure(body=body, kind="other")
    m = _ERROR_CALL_RE.search(code)
    if m:
        f.errp_used = True
        f.errp_arg = m.group(2).strip() or None
    f.error_report = re.search(r"\b(error_report|fprintf|warn_report)\s*\(", code) is not None
    goto = _GOTO_RE.search(code)
    ret = _RETURN_RE.search(code)
    if goto and (not ret or goto.start() < ret.start()):
        f.kind, f.label = "goto", goto.group(1)
        assigns = [a for a in _ASSIGN_RE.finditer(code[: goto.start()])]
        if assigns:
            f.status_var = assigns[-1].group(1).strip()
            f.value = re.sub(r"\s+", " ", assigns[-1].group(2).strip())
    elif ret:
        f.kind, f.value = "return", re.sub(r"\s+", " ", ret.group(1).strip())
    elif brk := re.search(r"\bbreak\s*;", code):
        # `ret = -ENOMEM; break;` out of a loop or switch that returns ret
        f.kind = "break"
        assigns = [a for a in _ASSIGN_RE.finditer(code[: brk.start()])]
        if assigns:
            f.status_var = assigns[-1].group(1).strip()
            f.value = re.sub(r"\s+", " ", assigns[-1].group(2).strip())
    return f


def _label_sets_error(fn, label: str | None, data: bytes) -> bool:
    """Does the code from `label:` to the next return call error_set*/error_propagate?"""
    if not label:
        return False
    stack = [fn]
    while stack:
        n = stack.pop()
        if n.type == "labeled_statement":
            name = n.child_by_field_name("label")
            if name is not None and _text(data, name) == label:
                tail = data[n.start_byte : fn.end_byte].decode("utf-8", "surrogateescape")
                tail = re.sub(r"/\*.*?\*/|//[^\n]*", " ", tail, flags=re.S)
                end = re.search(r"\breturn\b", tail)
                return _ERROR_CALL_RE.search(tail[: end.start()] if end else tail) is not None
        stack.extend(n.children)
    return False


def _line_span(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole lines when only blanks share them with the statement."""
    ls = data.rfind(b"\n", 0, start) + 1
    le = data.find(b"\n", end)
    le = len(data) if le < 0 else le + 1
    if data[ls:start].strip() or data[end:le].strip():
        return start, end
    return ls, le


def plan_file(data: bytes, display: str) -> FileRevert:
    """Edits for one file's checked allocations; never raises on odd input."""
    out = FileRevert(data=data)
    if not _NAME_RE.search(data):
        return out
    parsed = parse_source(SourceFile(display, display, data), default_profile())
    edits: list[tuple[int, int, bytes]] = []
    found: list[tuple[int, Reverted]] = []  # (name offset in SRC, record)
    groups: dict[tuple[int, int], list] = {}  # check span -> [targets it tests, sites reverted]
    stack = [parsed.root]
    calls = []
    while stack:
        n = stack.pop()
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type == "identifier" and _text(data, fn) in TRY_TO_ABORT:
                calls.append(n)
        stack.extend(reversed(n.children))
    calls.sort(key=lambda c: c.start_byte)
    for call in calls:
        name = call.child_by_field_name("function")
        checked = _text(data, name)
        fn = enclosing_function(call)
        fname = function_name(fn, data) if fn is not None else None
        line = parsed.source.line_col(name.start_byte)[0]

        def skip(reason: str) -> None:
            out.skipped.append(Skipped(display, line, fname, checked, reason))

        if fn is None:
            skip("not inside a function")
            continue
        stmt, targets, why = _statement_and_target(call, data)
        if stmt is None:
            skip(why)
            continue
        check = None
        for sib in _next_siblings(stmt):
            if sib.type == "comment":
                continue
            checked_targets = null_checked(sib.child_by_field_name("condition"), data) \
                if sib.type == "if_statement" else None
            if checked_targets is not None and any(_norm(t) in checked_targets for t in targets):
                check = sib
                break
            if any(_mentions(_text(data, sib), t) for t in targets):
                break
        if check is None:
            skip(f"no NULL check of '{targets[0]}' before its next use")
            continue
        if check.child_by_field_name("alternative") is not None:
            skip("the NULL check has an else branch")
            continue
        if check.has_error or stmt.has_error:
            skip("parse error in the statement or its check")
            continue
        target = next(t for t in targets if _norm(t) in checked_targets)
        cons = check.child_by_field_name("consequence")
        body = _text(data, cons)
        if cons.type == "compound_statement":
            body = body[1:-1]
        body = "\n".join(line.strip() for line in body.strip("\n").splitlines()).strip()
        cond = check.child_by_field_name("condition")
        start, end = _line_span(data, check.start_byte, check.end_byte)
        edits.append((name.start_byte, name.end_byte, TRY_TO_ABORT[checked].encode()))
        if (start, end, b"") not in edits:
            edits.append((start, end, b""))
        groups.setdefault((start, end), [checked_targets, []])[1].append((target, line, fname, checked))
        failure = classify_failure(body)
        if failure.kind == "goto" and not failure.errp_used:
            # The error may be set at the label (`err: error_setg(errp, "%s", msg);`).
            failure.errp_at_label = _label_sets_error(fn, failure.label, data)
        rec = Reverted(
            file=display, line=0, column=0, src_line=line, function=fname,
            function_errp=errp_param(fn, data), checked=checked, allocator=TRY_TO_ABORT[checked],
            target=target, condition=_text(data, cond), failure=failure,
        )
        rec.check_start = start
        found.append((name.start_byte, rec))
    # A check of several allocations goes only when every one of them is reverted.
    bad = set()
    for (start, end), (wanted, got) in groups.items():
        if sorted(wanted) != sorted(_norm(t) for t, *_ in got):
            bad.add(start)
    if bad:
        keep = [(o, r) for o, r in found if r.check_start not in bad]
        for o, r in found:
            if r.check_start in bad:
                out.skipped.append(Skipped(display, r.src_line, r.function, r.checked,
                                           "shared NULL check covers allocations that are not reverted"))
        names = {o for o, r in found if r.check_start in bad}
        edits = [e for e in edits if e[0] not in bad and e[0] not in names]
        found = keep
    edits.sort()
    for (s1, e1, _), (s2, _, _) in zip(edits, edits[1:]):
        if s2 < e1:  # nested checks: keep the file as it was rather than guess
            out.skipped.extend(Skipped(display, r.src_line, r.function, r.checked, "overlapping edits")
                               for _, _, r in found)
            return out
    out.data = apply_edits(data, edits)
    # Offsets in DST: shift each name by the length change of edits before it.
    for off, rec in found:
        delta = sum(len(rep) - (e - s) for s, e, rep in edits if e <= off)
        new_off = off + delta
        rec.line = out.data.count(b"\n", 0, new_off) + 1
        rec.column = new_off - (out.data.rfind(b"\n", 0, new_off) + 1) + 1
        out.reverted.append(rec)
    return out


def apply_edits(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    parts, pos = [], 0
    for s, e, rep in sorted(edits):
        parts += [data[pos:s], rep]
        pos = e
    parts.append(data[pos:])
    return b"".join(parts)


def _c_files(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.endswith(".c"):
                yield Path(dirpath) / f


def revert_tree(src: Path, dst: Path, *, copy: bool = True) -> dict:
    """Copy src to dst (unless copy=False and dst exists) and revert every checked allocation."""
    src, dst = Path(src), Path(dst)
    if copy:
        if dst.exists():
            raise SystemExit(f"{dst}: already exists; give a new directory")
        shutil.copytree(src, dst, symlinks=True)
    reverted: list[Reverted] = []
    skipped: list[Skipped] = []
    for path in _c_files(dst):
        rel = path.relative_to(dst).as_posix()
        data = path.read_bytes()
        try:
            res = plan_file(data, rel)
        except Exception as exc:  # one odd file must not stop the run
            skipped.append(Skipped(rel, 0, None, "?", f"revert failed: {exc!r}"))
            continue
        if res.data != data:
            path.write_bytes(res.data)
        reverted += res.reverted
        skipped += res.skipped
    return {
        "src": str(src),
        "dst": str(dst),
        "reverted": [asdict(r) for r in reverted],
        "skipped": [asdict(s) for s in skipped],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--manifest", help="where to write the manifest (default DST/revert-manifest.json)")
    args = ap.parse_args(argv)
    manifest = revert_tree(Path(args.src), Path(args.dst))
    out = Path(args.manifest) if args.manifest else Path(args.dst) / "revert-manifest.json"
    out.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"reverted {len(manifest['reverted'])} sites, skipped {len(manifest['skipped'])}; manifest: {out}")
    for s in manifest["skipped"]:
        print(f"  skipped {s['file']}:{s['line']} {s['checked']} in {s['function']}: {s['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
