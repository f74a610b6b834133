"""`cinescope analyze` on the standard library of the running interpreter:
a cold run (no cache) and a warm one (nothing changed), in one run.

    .venv-3.12/bin/python benchmarks/analyze.py

Targets (issue): cold <= 15 s, warm <= 1 s. The cache goes to a temporary
directory (the stdlib is not written to).
"""
from __future__ import annotations

import collections
import os
import platform
import sys
import sysconfig
import tempfile
import time

from cinescope.analyzer.project import analyze_project

COLD_TARGET, WARM_TARGET = 15.0, 1.0


def main() -> None:
    root = sysconfig.get_paths()["stdlib"]
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, stdlib {root}")
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        cold = analyze_project(root, cache=cache)
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = analyze_project(root, cache=cache)
        warm_s = time.perf_counter() - started
        size = sum(os.path.getsize(os.path.join(cache, n)) for n in os.listdir(cache))
    kinds = collections.Counter(f.kind for f in cold.findings)
    print(f"files {cold.files}, parsed {cold.parsed}, skipped (do not parse) "
          f"{len(cold.skipped)}, findings {len(cold.findings)}, cache {size / 1e6:.1f} MB")
    print("findings by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print(f"cold  {cold_s:6.2f} s   target {COLD_TARGET:4.1f} s   ratio {cold_s / COLD_TARGET:.2f}")
    print(f"warm  {warm_s:6.2f} s   target {WARM_TARGET:4.1f} s   ratio {warm_s / WARM_TARGET:.2f}"
          f"   (read {warm.parsed} files, {warm.cached} from the cache)")
    assert warm.cached == cold.files and warm.findings == cold.findings
    sys.stdout.flush()


if __name__ == "__main__":
    main()
