"""Prints what a script sees of how it was started."""
import os
import sys


def describe():
    print("argv", sys.argv)
    print("name", __name__)
    print("file", __file__, os.path.isabs(__file__))
    print("path0", sys.path[0])
    print("main is me", sys.modules["__main__"].describe is describe)


if __name__ == "__main__":
    describe()
