"""Does the recorded program's memory stay bounded by the buffer size?

    python benchmarks/memory.py [--levels minimal debug]

Records the recursion and methods workloads at growing sizes (each about 4 x
the events of the one before) and prints the peak memory of the recorded
program's process (the writer process is another process) beside the same
program untraced. Bounded means: the peak does not grow with the events.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from overhead import run_once  # noqa: E402

SIZES = {"recursion": (20, 23, 26), "methods": (50_000, 200_000, 800_000)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", nargs="+", default=["minimal", "debug"])
    opts = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; peak resident memory of the program's process\n")
    print(f"{'workload':<10} {'size':>8} {'mode':<18} {'events':>10} {'dropped':>8} "
          f"{'peak MB':>8} {'over untraced':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for workload, sizes in SIZES.items():
            for size in sizes:
                base = run_once("untraced", workload, size, Path(tmp))
                print(f"{workload:<10} {size:>8} {'untraced':<18} {'':>10} {'':>8} "
                      f"{base['peak_mb']:>8.1f}")
                for level in opts.levels:
                    got = run_once(f"cinescope {level}", workload, size, Path(tmp))
                    print(f"{workload:<10} {size:>8} {'cinescope ' + level:<18} "
                          f"{got['written']:>10} {got['dropped']:>8} {got['peak_mb']:>8.1f} "
                          f"{got['peak_mb'] - base['peak_mb']:>+14.1f}")
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
