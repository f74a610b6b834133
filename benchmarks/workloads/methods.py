"""Method-heavy: a stateful object whose methods change its attributes. argv[1]: n."""

from _bench import run


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
    run(main, lambda n: 2 * n + 3)
