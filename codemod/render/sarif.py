"""SARIF 2.1.0 output for code-scanning UIs."""

from __future__ import annotations

from codemod import __version__
from codemod.runner import RunReport

POLICY_RULES = {
    "R1": "A failed allocation must never become a bad pointer",
    "R2": "Exit with an error, do not abort, on allocation failure",
    "R3": "Small allocations may exit; mind many small ones",
    "R4": "Allocations during startup may exit; take care with hot plug",
    "R5": "Large allocations after startup must be checked and must not fail the VM",
    "R6": "Failures triggered by a monitor command return an error on the monitor",
    "R7": "Clean up: no half-allocated device left behind",
}
LEVELS = {"rewrite": "warning", "stub": "warning", "report": "warning", "none": "note"}


def sarif_document(report: RunReport, include_all: bool = False) -> dict:
    results = []
    for r in report.results:
        for f in r.findings:
            if not (include_all or f.needs_action):
                continue
            results.append({
                "ruleId": f.policy,
                "level": LEVELS[f.action.value],
                "message": {"text": f"{f.allocator}: {f.reason}"},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file, "uriBaseId": "SRCROOT"},
                        "region": {"startLine": f.line, "startColumn": f.column,
                                   "endColumn": f.column + len(f.allocator)},
                    },
                    "logicalLocations": [{"name": f.function, "kind": "function"}] if f.function else [],
                }],
                "properties": {"action": f.action.value, "rule": f.rule, "size": f.size.to_json(),
                               "phase": f.phase.to_json()},
            })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "allocfix", "version": __version__, "informationUri": "https://www.qemu.org/",
                "rules": [{"id": k, "shortDescription": {"text": v}} for k, v in POLICY_RULES.items()],
            }},
            "originalUriBaseIds": {"SRCROOT": {"uri": "file://" + report.root.rstrip("/") + "/"}},
            "results": results,
        }],
    }
