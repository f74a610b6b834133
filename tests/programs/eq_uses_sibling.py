"""Imports a module from its own directory, as scripts do: sys.path[0] is the
directory of the script (of the real file, when run through a symlink)."""
import sys

from eq_sibling import greet


def main():
    print("path0", sys.path[0])
    print(greet("world"))


if __name__ == "__main__":
    main()
