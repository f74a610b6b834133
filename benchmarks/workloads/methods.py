"""Method-heavy: a stateful object whose methods change its attributes. argv[1]: n."""
import sys
import time


class Account:
    def __init__(self):
        self.balance = 0
        self.count = 0

    def deposit(self, amount):
        self.balance += amount
        self.count += 1

    def withdraw(self, amount):
        if amount <= self.balance:
            self.balance -= amount
            self.count += 1


def setup(n):
    return n


def main(n):
    account = Account()
    for i in range(setup(n)):
        account.deposit(i % 7)
        account.withdraw(i % 5)


if __name__ == "__main__":
    n = int(sys.argv[1])
    start = time.perf_counter()
    main(n)
    elapsed = time.perf_counter() - start
    print(f"BENCH seconds={elapsed:.6f} calls={2 * n + 3}", file=sys.stderr)
