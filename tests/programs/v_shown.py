"""Values of many shapes passed to one function; the program prints the
repr of each, so that tests can compare what the views show."""
import collections

Point = collections.namedtuple("Point", "x y")

VALUES = [1, -2.5, "text", None, True, [1, "a", (2, 3)], (1,), (), {"a": [1, {2, 3}]}, set(),
          frozenset({1}), b"\x00\xff", 2 ** 100, Point(1, 2), "x" * 300, list(range(25)),
          {"password": "hunter2"}]


def show(value):
    return value


def main():
    for value in VALUES:
        show(value)
        print(repr(value))


if __name__ == "__main__":
    main()
