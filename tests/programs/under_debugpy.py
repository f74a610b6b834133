"""A program that opens itself to a debugger, waits for one, then works."""
import debugpy


class Account:
    def __init__(self, balance):
        self.balance = balance

    def deposit(self, amount):
        self.balance += amount   # @bp


def work(n):
    account = Account(0)
    for i in range(n):
        account.deposit(i)
    return account.balance


if __name__ == "__main__":
    host, port = debugpy.listen(("127.0.0.1", 0))
    print(f"listening {port}", flush=True)
    debugpy.wait_for_client()
    print("result", work(5), flush=True)
