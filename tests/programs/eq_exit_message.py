"""Exits with sys.exit("a message"): status 1, the message on stderr."""
import sys


def check(value):
    if value > 2:
        sys.exit(f"a message: value {value} is too big")
    return value


if __name__ == "__main__":
    print("checking")
    check(1)
    check(5)
    print("never printed")
