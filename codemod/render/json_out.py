"""The findings document (GUIDE §3) and the --stats object."""

from __future__ import annotations

import json

from codemod import __version__
from codemod.findings import Status
from codemod.runner import RunReport


def findings_document(report: RunReport, include_all: bool = False) -> dict:
    findings = []
    for r in report.results:
        for f in r.findings:
            if include_all or f.needs_action:
                findings.append(f.to_json())
    return {
        "tool": "allocfix",
        "version": __version__,
        "root": report.root,
        "findings": findings,
        "stats": {
            "files": len(report.results),
            "files_with_parse_errors": sum(1 for r in report.results if r.parse_errors),
            "sites": sum(r.sites for r in report.results),
            "sites_in_functions_with_parse_errors": sum(r.sites_in_error_functions for r in report.results),
            "seconds": round(report.seconds, 3),
        },
        "errors": [r.message for r in report.results if r.status is not Status.OK],
    }


def stats_object(report: RunReport) -> dict:
    return {
        "files": len(report.results),
        "files_with_parse_errors": sum(1 for r in report.results if r.parse_errors),
        "sites": sum(r.sites for r in report.results),
        "sites_in_functions_with_parse_errors": sum(r.sites_in_error_functions for r in report.results),
    }


def dumps(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
