"""Exits with sys.exit(None) after printing: status 0."""
import sys


def done():
    print("done")
    sys.exit(None)


if __name__ == "__main__":
    done()
    print("never printed")
