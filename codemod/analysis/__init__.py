"""Analyses offered to the engine and to rule scripts: sites, size, phase, error paths."""
