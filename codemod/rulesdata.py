"""Where the built-in rules and data files live, and loading the data ones."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path


def builtin_rules_dir() -> Path:
    """The built-in rules/ directory (in a checkout or an installed wheel)."""
    checkout = Path(__file__).resolve().parent.parent / "rules"
    if (checkout / "allocators.toml").is_file():
        return checkout
    return Path(str(resources.files("allocfix_rules")))


@dataclass(frozen=True)
class Allocator:
    name: str
    checked: str | None
    size: str
    free: str


@lru_cache(maxsize=4)
def load_allocators(path: str | None = None) -> dict[str, Allocator]:
    p = Path(path) if path else builtin_rules_dir() / "allocators.toml"
    data = tomllib.loads(p.read_text(encoding="utf-8"))
    return {
        name: Allocator(name, spec.get("checked") or None, spec["size"], spec.get("free", "g_free"))
        for name, spec in data.items()
    }
