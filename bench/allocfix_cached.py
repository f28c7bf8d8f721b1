#!/usr/bin/env python3
"""allocfix's own CLI with the result cache switched on from outside.

For benchmarks only, until cli.py has --cache-dir/--no-cache: the cache
directory comes from $ALLOCFIX_BENCH_CACHE_DIR. Everything else is the
real command line (same arguments, output and exit codes).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codemod import cli, runner  # noqa: E402

runner.run = functools.partial(runner.run, use_cache=True, cache_dir=os.environ["ALLOCFIX_BENCH_CACHE_DIR"])

if __name__ == "__main__":
    sys.exit(cli.main())
