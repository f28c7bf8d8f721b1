"""The rule language: a subset of Coccinelle's SmPL.

parse (text -> ast with spans) -> check (names, kinds, scripts) -> compile
(immutable patterns the engine runs). The engine never sees rule text.
"""

from codemod.smpl.loader import load_rule_file, load_rule_text

__all__ = ["load_rule_file", "load_rule_text"]
