"""Shared by the review and apply tests: a small tree and in-process scans."""

from __future__ import annotations

from pathlib import Path

from codemod.engine import process_file
from codemod.findings import FileResult
from codemod.rulesdata import builtin_rules_dir
from codemod.runner import RunSpec

# Original code in QEMU's style: three sites in three functions, one of
# which reports through Error **errp (so the rewrite adds qapi/error.h).
DEMO_C = b"""/*
 * Demo device for the review tests.
 */

#include "qemu/osdep.h"
#include "hw/sysbus.h"

typedef struct DemoState {
    uint8_t *table;
    uint8_t *bounce;
    uint8_t *ring;
    size_t table_size;
    size_t len;
    size_t ring_size;
    bool enabled;
} DemoState;

static void demo_realize(DemoState *s, Error **errp)
{
    /* The table size comes from a property: up to 1 GiB. */
    s->table = g_malloc0(s->table_size);
}

/* Nothing of interest here; keeps the hunks apart. */
static int demo_unused_a;
static int demo_unused_b;
static int demo_unused_c;

static int demo_dma(DemoState *s)
{
    if (!s->enabled) {
        return -EINVAL;
    }
    /* The guest chooses s->len. */
    s->bounce = g_malloc(s->len);
    return 0;
}

/* More distance between the hunks. */
static int demo_unused_d;
static int demo_unused_e;
static int demo_unused_f;

static int demo_ring(DemoState *s)
{
    if (!s->enabled) {
        return -EINVAL;
    }
    /* The guest chooses the ring size too. */
    s->ring = g_malloc(s->ring_size);
    return 0;
}
"""

_CONFIG = None


def config():
    global _CONFIG
    if _CONFIG is None:
        rules = builtin_rules_dir()
        _CONFIG = RunSpec((str(rules),), str(rules / "qemu-macros.toml")).build()
    return _CONFIG


def profile():
    return config().profile


def make_tree(root: Path, data: bytes = DEMO_C) -> Path:
    (root / "hw" / "demo").mkdir(parents=True)
    (root / "MAINTAINERS").write_text("Demo\nM: Dee Veloper <dee@example.org>\nF: hw/demo/\n")
    f = root / "hw" / "demo" / "demo.c"
    f.write_bytes(data)
    return f


def scan(root: Path, rels: list[str] | None = None) -> list[FileResult]:
    rels = rels or ["hw/demo/demo.c"]
    return [process_file(str(root / rel), rel, config()) for rel in rels]
