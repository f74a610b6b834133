"""A bank account, deposited to by the main thread and by a teller thread that
takes amounts from a queue. tests/dap drives it under `cinescope dap`; lines
marked `# @bp NAME` are where the tests break."""
import queue
import threading


class Account:
    def __init__(self, balance):
        self.balance = balance
        self.log = []

    def deposit(self, amount):
        before = self.balance
        self.balance = before + amount  # @bp deposit
        self.log.append(amount)
        return self.balance


def teller(requests, account):
    while True:
        amount = requests.get()
        if amount is None:
            return
        account.deposit(amount)


def main():
    account = Account(100)
    account.deposit(1)
    requests = queue.Queue()
    worker = threading.Thread(target=teller, args=(requests, account), name="teller")
    worker.start()
    for amount in (5, 10, 20):
        requests.put(amount)
    requests.put(None)
    worker.join()
    total = account.balance
    total += 1  # @bp after-join
    print("balance", account.balance, "total", total, flush=True)
    return total


if __name__ == "__main__":
    main()
