"""One object changed 1000 times; argv[1]: a JSON file of its value after each change."""
import json
import sys


class Counter:
    def __init__(self):
        self.value = 0
        self.label = "start"

    def bump(self, by):
        self.value += by
        if self.value % 7 == 0:
            self.label = f"at {self.value}"


def main(log_path):
    counter, seen = Counter(), []
    for i in range(1000):
        counter.bump(i % 5 + 1)
        seen.append([counter.value, counter.label])
    with open(log_path, "w") as fh:
        json.dump(seen, fh)


if __name__ == "__main__":
    main(sys.argv[1])
