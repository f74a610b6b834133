"""Exceptions raised by the bank."""


class InsufficientFunds(Exception):
    """Raised when an account cannot cover a withdrawal."""

    def __init__(self, owner, balance, amount):
        super().__init__(f"{owner} has {balance}, cannot withdraw {amount}")
        self.owner = owner
        self.balance = balance
        self.amount = amount
