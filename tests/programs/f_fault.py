"""Planned functions before and after the one the recorder is made to fail on.
argv[1]: exit status (default 0)."""
import sys


class Worker:
    def __init__(self, name):
        self.name = name
        self.done = []

    def run(self, item):
        self.done.append(item)
        return f"{self.name}:{item}"


def before(i):
    return i * 10


def target(x):
    return -x


def after(i):
    return i + 1


def main():
    print([before(i) for i in range(3)])
    print(target(5), target(6))
    print([after(i) for i in range(3)])
    w = Worker("w")
    print(w.run("a"), w.run("b"))
    print("stderr line", file=sys.stderr)
    return int(sys.argv[1]) if len(sys.argv) > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
