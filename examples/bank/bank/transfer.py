"""Moving money between two accounts of one bank."""


def move(bank, src, dst, amount):
    """Withdraw from `src` and deposit into `dst`.

    InsufficientFunds from the withdrawal propagates; nothing changes then.
    """
    with bank.lock:
        bank.accounts[src].withdraw(amount)
        bank.accounts[dst].deposit(amount)
