"""An account whose balance goes below zero on one withdraw; it also keeps a
ledger object (recorded only as a reference)."""


class Ledger:
    def __init__(self):
        self.lines = []


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance
        self.ledger = Ledger()

    def deposit(self, amount):
        self.balance += amount

    def withdraw(self, amount):
        self.balance -= amount


def main():
    acct = Account("alice", 10)
    acct.deposit(5)
    acct.withdraw(12)
    acct.withdraw(7)                          # 3 -> -4: breaks balance >= 0
    acct.deposit(20)
    acct.withdraw(30)                         # breaks it again (reported once)
    print(acct.balance)


if __name__ == "__main__":
    main()
