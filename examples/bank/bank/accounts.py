"""Accounts and the bank: plain objects whose state a recording can show.

`Account.pin` and `Bank.api_token` are fake secrets a recorder should redact.
"""

import threading

from .errors import InsufficientFunds


class Account:
    """One customer's account; balances are whole units."""

    def __init__(self, owner, balance, pin):
        self.owner = owner
        self.balance = balance
        self.pin = pin

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError(f"deposit must be positive, got {amount}")
        self.balance += amount

    def withdraw(self, amount):
        if self.balance < amount:
            raise InsufficientFunds(self.owner, self.balance, amount)
        self.balance -= amount

    def __repr__(self):
        return f"Account({self.owner!r}, balance={self.balance})"


class Bank:
    """All accounts by owner, plus a lock so tellers don't race."""

    def __init__(self, accounts, api_token):
        self.accounts = {account.owner: account for account in accounts}
        self.api_token = api_token
        self.lock = threading.Lock()

    def total(self):
        return sum(account.balance for account in self.accounts.values())
