"""Recorded by Cinescope with store schema 1 into tests/data/store-v1.db."""


class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def main():
    c = Counter()
    for k in (1, 2):
        c.add(k)
    print(fact(3))


if __name__ == "__main__":
    main()
