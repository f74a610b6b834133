"""How long a value takes to capture and pack: the Python path against the C encoder.

    python benchmarks/values.py [--repeat 5] [--seconds 0.2]

For each value, in one run: the Snapshotter's capture alone (what the program's
thread pays today), capture + msgpack.packb (the whole Python path), and the C
encoder (capture/_values.c), which does both at once. Checks first that both
give the same bytes. Prints ns per value, best of --repeat runs of about
--seconds each, and the ratio of the Python path to the C encoder.
"""
from __future__ import annotations

import argparse
import sys
import time

import msgpack
from cinescope.capture._values import Encoder

from cinescope.capture.plan import DEFAULT_REDACT
from cinescope.capture.values import Snapshotter


class Account:
    def __init__(self):
        self.owner = "alice"
        self.balance = 120


def cases() -> list[tuple[str, str, object]]:
    """(label, method, value): method "encode" or "encode_map" (value: names, values)."""
    nested = {
        "user": {"name": "alice", "id": 7, "tags": ["a", "b", "c"]},
        "items": [{"sku": "x1", "qty": 2, "price": 9.5},
                  {"sku": "x2", "qty": 1, "price": 4.25}],
        "total": 23.25, "paid": True, "note": None,
    }
    return [
        ("small int", "encode", 42),
        ("short str", "encode", "hello world"),
        ("list of 10 ints", "encode", list(range(10))),
        ("dict of 5 str->int", "encode", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}),
        (f"nested, {count_nodes(nested)} nodes", "encode", nested),
        ("args map of 3 names", "encode_map", (("account", "amount", "memo"),
                                               (42, 12.5, "rent"))),
        ("object, 2 attrs (fallback)", "encode", Account()),
    ]


def count_nodes(value) -> int:
    if isinstance(value, dict):
        return 1 + sum(1 + count_nodes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 1 + sum(count_nodes(v) for v in value)
    return 1


def best_ns(fn, arg, repeat: int, seconds: float) -> float:
    """ns per call: the best of `repeat` timed loops of about `seconds` each."""
    n = 1
    while True:                                     # calibrate the loop
        start = time.perf_counter()
        for _ in range(n):
            fn(arg)
        if time.perf_counter() - start > seconds / 10:
            break
        n *= 2
    n = max(1, int(n * seconds / max(time.perf_counter() - start, 1e-9)))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(n):
            fn(arg)
        best = min(best, (time.perf_counter_ns() - start) / n)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.2)
    opts = parser.parse_args()

    snap = Snapshotter(redact=DEFAULT_REDACT)
    enc = Encoder(snap)
    packb = msgpack.packb
    print(f"Python {sys.version.split()[0]}, msgpack {msgpack.version[0]}.{msgpack.version[1]}."
          f"{msgpack.version[2]}, default bounds and redaction; ns per value, "
          f"best of {opts.repeat}")
    print()
    header = (f"{'value':<28} {'capture':>9} {'capture+packb':>14} {'C encode':>9} "
              f"{'ratio':>7}")
    print(header)
    print("-" * len(header))
    for label, method, value in cases():
        if method == "encode":
            def capture(v):
                return snap.capture(v)

            def python(v):
                return packb(snap.capture(v), use_bin_type=True)

            c = enc.encode
        else:
            def capture(v):
                return snap.capture_mapping(zip(*v))

            def python(v):
                return packb(snap.capture_mapping(zip(*v)), use_bin_type=True)

            def c(v, encode_map=enc.encode_map):
                return encode_map(*v)
        if python(value) != c(value):
            print(f"{label}: the C encoder's bytes differ from the Python path's", file=sys.stderr)
            return 1
        t_capture = best_ns(capture, value, opts.repeat, opts.seconds)
        t_python = best_ns(python, value, opts.repeat, opts.seconds)
        t_c = best_ns(c, value, opts.repeat, opts.seconds)
        print(f"{label:<28} {t_capture:>9.0f} {t_python:>14.0f} {t_c:>9.0f} "
              f"{t_python / t_c:>6.1f}x")
    print()
    print("ratio: capture+packb / C encode. capture alone is what the program's thread "
          "pays today (packb runs on the flusher's).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
