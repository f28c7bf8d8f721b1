"""Printers: turn engine results into diffs, JSON, SARIF and terminal views."""
