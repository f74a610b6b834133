"""Writes to stderr during the run, and prints from atexit handlers at exit."""
import atexit
import sys


def goodbye(who):
    print(f"goodbye from {who}")
    print(f"stderr goodbye from {who}", file=sys.stderr)


def work(n):
    print(f"working {n}")
    print(f"warning {n}", file=sys.stderr)
    return n * 2


if __name__ == "__main__":
    atexit.register(goodbye, "first")
    atexit.register(goodbye, "second")
    print(work(1), work(2))
