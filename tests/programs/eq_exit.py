"""Exits with sys.exit(3) from inside a planned function."""
import sys


def compute(n):
    return sum(range(n))


def finish(total):
    print("total", total)
    sys.exit(3)


if __name__ == "__main__":
    finish(compute(10))
