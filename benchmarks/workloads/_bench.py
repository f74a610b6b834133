"""What every workload does when run: time its own work, and say how many
Python calls it made, on stderr, for benchmarks/overhead.py to read."""
import sys
import time


def run(work, calls) -> None:
    """`work(n)` with n from the command line; `calls(n)`: the calls it makes."""
    n = int(sys.argv[1])
    start = time.perf_counter()
    work(n)
    elapsed = time.perf_counter() - start
    print(f"BENCH seconds={elapsed:.6f} calls={calls(n)}", file=sys.stderr)
