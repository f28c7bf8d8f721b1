"""Phase of a function: startup, runtime, both or unknown (policy R4-R6).

For each entry kind (rules/entry-points.toml) a breadth-first walk from its
entry points marks what the kind reaches, with the shortest chain. Startup
kinds walk call edges only and stop at the main loop; runtime kinds also
cross deferred edges (a callback whose address a runtime function hands out
runs later, so at runtime), except kinds listed in [walk] calls_only. Then:

  runtime  reached from a runtime kind only
  startup  reached from startup kinds only
  both     reached from both
  unknown  reached from neither: never guessed

`via` lists the kinds that reach the function (runtime kinds first, the one
with the shortest chain leading); `chain` is the shortest chain of function
names from an entry point to the function (runtime chains preferred).
"""

from __future__ import annotations

import gc
from collections import Counter, deque
from dataclasses import dataclass
from typing import Iterable

from codemod.analysis.callgraph import CallGraph, EntryProfile
from codemod.analysis.facts import FileFacts
from codemod.findings import PhaseInfo

_UNREACHED = -1


@dataclass
class _Walk:
    kind: str
    phase: str
    dist: list[int]
    parent: list[int]  # -1 for a root


class PhaseIndex:
    def __init__(self, graph: CallGraph, profile: EntryProfile, walks: list[_Walk]):
        self.graph = graph
        self.profile = profile
        self._walks = walks
        self._cache: dict[int, PhaseInfo] = {}

    @classmethod
    def build(cls, facts: Iterable[FileFacts], entry_profile: EntryProfile | None = None) -> "PhaseIndex":
        profile = entry_profile or EntryProfile.load()
        # The build allocates ~10^6 small containers and frees none: the cyclic
        # garbage collector would only rescan them over and over.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return cls._build(facts, profile)
        finally:
            if was_enabled:
                gc.enable()

    @classmethod
    def _build(cls, facts: Iterable[FileFacts], profile: EntryProfile) -> "PhaseIndex":
        graph = CallGraph.build(facts, profile)
        roots: dict[str, list[int]] = {k: [] for k in profile.kind_order}
        for node, entries in graph.entries.items():
            for e in entries:
                roots[e.kind].append(node)
        stop = {graph.externs[n] for n in profile.startup_stop if n in graph.externs}
        walks = []
        for kind in profile.kind_order:
            phase = profile.phase_of(kind)
            if not roots[kind]:
                continue
            walks.append(_bfs(graph, kind, phase, sorted(set(roots[kind])), stop,
                              calls_only=kind in profile.calls_only))
        return cls(graph, profile, walks)

    # ------------------------------------------------------------ queries

    def node(self, display_path: str, function_name: str) -> int | None:
        return self.graph.lookup(display_path, function_name)

    def phase(self, display_path: str, function_name: str | None) -> PhaseInfo:
        if not function_name:
            return PhaseInfo("unknown", evidence="not inside a function")
        node = self.node(display_path, function_name)
        if node is None:
            return PhaseInfo("unknown", evidence=f"{function_name} is not in the scanned tree's call graph")
        return self.phase_of_node(node)

    def phase_at(self, display_path: str, offset: int) -> PhaseInfo:
        """Phase of the function whose definition holds byte `offset` (an
        allocation site): needs no function name, so it also works for
        definitions named by a macro (`HELPER(foo)` is `helper_foo`)."""
        node = self.graph.at(display_path, offset)
        if node is None:
            return PhaseInfo("unknown", evidence=f"offset {offset} of {display_path} is not inside a known function")
        return self.phase_of_node(node)

    def phase_of_node(self, node: int) -> PhaseInfo:
        info = self._cache.get(node)
        if info is None:
            info = self._classify(node)
            self._cache[node] = info
        return info

    def chains(self, display_path: str, function_name: str) -> dict[str, tuple[str, ...]]:
        """Shortest chain from each entry kind that reaches the function, e.g.
        {"monitor": ("qmp_query_widget", "stats_fill", "widget_stats_collect")}:
        for R6, the chain from a monitor handler down to an allocation."""
        node = self.node(display_path, function_name)
        if node is None:
            return {}
        return {
            w.kind: tuple(self.graph.names[n] for n in self._chain(w, node))
            for w in self._walks
            if w.dist[node] != _UNREACHED
        }

    def _classify(self, node: int) -> PhaseInfo:
        reached = [w for w in self._walks if w.dist[node] != _UNREACHED]
        runtime = sorted((w for w in reached if w.phase == "runtime"), key=lambda w: w.dist[node])
        startup = sorted((w for w in reached if w.phase == "startup"), key=lambda w: w.dist[node])
        g = self.graph
        if not runtime and not startup:
            why = g.escapes.get(node)
            evidence = "no chain of calls from an entry point"
            if why:
                evidence += f"; its address escapes ({why}) to an unknown caller"
            return PhaseInfo("unknown", (), (), evidence)
        best = runtime[0] if runtime else startup[0]
        chain = self._chain(best, node)
        via = tuple(w.kind for w in runtime) + tuple(w.kind for w in startup)
        cls = "both" if runtime and startup else ("runtime" if runtime else "startup")
        root = chain[0] if chain else node
        entry = next((e for e in g.entries.get(root, ()) if e.kind == best.kind), None)
        evidence = f"{best.kind} entry {g.names[root]}"
        if entry is not None:
            evidence += f" ({entry.reason})"
        if len(chain) > 1:
            evidence += f", {len(chain) - 1} call(s) away"
        if cls == "both":
            s = startup[0]
            sroot = self._chain(s, node)[0]
            if sroot == node:
                evidence += f"; also a {s.kind} entry itself"
            else:
                evidence += f"; also reached at startup from {g.names[sroot]}"
        return PhaseInfo(cls, via, tuple(g.names[n] for n in chain), evidence)

    def _chain(self, walk: _Walk, node: int) -> list[int]:
        chain = [node]
        p = walk.parent[node]
        while p != -1:
            chain.append(p)
            p = walk.parent[p]
        chain.reverse()
        return chain

    def counts(self) -> Counter:
        """How many functions fall in each phase class."""
        return Counter(self.phase_of_node(n).cls for n in range(len(self.graph)))

    # ------------------------------------------------------------ dump

    def slice(self, display_path: str, function_name: str, max_callers: int = 20) -> str:
        """A call-graph slice for a rule author: the function's phase, the
        shortest chain from each entry kind that reaches it, its direct
        callers, and how its address escapes when nothing reaches it."""
        node = self.node(display_path, function_name)
        if node is None:
            return f"{function_name}: not in the call graph of the scanned files\n"
        g = self.graph
        info = self.phase_of_node(node)
        lines = [f"{g.label(node)}: {info.cls}" + (f" via {', '.join(info.via)}" if info.via else "")]
        lines.append(f"  evidence: {info.evidence}")
        for e in g.entries.get(node, ()):
            lines.append(f"  entry point itself: {e.kind} ({e.reason})")
        for w in self._walks:
            if w.dist[node] == _UNREACHED:
                continue
            chain = self._chain(w, node)
            lines.append(f"  {w.kind} ({w.phase}): " + " -> ".join(g.label(n) for n in chain))
        callers = g.callers(node)
        if callers:
            lines.append(f"  direct callers ({len(callers)}):")
            for c, deferred in callers[:max_callers]:
                cinfo = self.phase_of_node(c)
                how = "takes its address" if deferred else "calls it"
                lines.append(f"    {g.label(c)} {how} [{cinfo.cls}]")
            if len(callers) > max_callers:
                lines.append(f"    ... {len(callers) - max_callers} more")
        else:
            lines.append("  no direct callers in the scanned files")
        if node in g.escapes:
            lines.append(f"  address escapes: {g.escapes[node]}")
        return "\n".join(lines) + "\n"


def _bfs(graph: CallGraph, kind: str, phase: str, roots: list[int], stop: set[int],
         calls_only: bool = False) -> _Walk:
    n = len(graph)
    dist = [_UNREACHED] * n
    parent = [-1] * n
    calls = graph.calls
    deferred = graph.deferred if phase == "runtime" and not calls_only else None
    blocked = stop if phase == "startup" else set()
    queue: deque[int] = deque()
    for r in roots:
        if r in blocked:
            continue
        dist[r] = 0
        queue.append(r)
    while queue:
        a = queue.popleft()
        d = dist[a] + 1
        for b in calls[a]:
            if dist[b] == _UNREACHED and b not in blocked:
                dist[b] = d
                parent[b] = a
                queue.append(b)
        if deferred is not None:
            for b in deferred[a]:
                if dist[b] == _UNREACHED:
                    dist[b] = d
                    parent[b] = a
                    queue.append(b)
    return _Walk(kind, phase, dist, parent)


__all__ = ["PhaseIndex"]
