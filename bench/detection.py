"""Detection benchmark: ``python bench/detection.py [--quick] [--output json] [--chart PATH] [--seed N]``.

A thin wrapper of ``launchdeck.bench.detection.main`` (also ``launchdeck bench detection``).
"""

from __future__ import annotations

import sys

from launchdeck.bench.detection import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
