"""An account changed from two threads, money sent over a queue. The program
logs what it does (argv[1]: a JSON file), so that tests can check what the
recording answers against what really happened."""
import json
import queue
import sys
import threading

LOG = []


class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance

    def deposit(self, amount):
        old = self.balance
        self.balance = old + amount
        LOG.append(["set", "balance", old, self.balance, "Account.deposit",
                    threading.current_thread().name])

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        old = self.balance
        self.balance = old - amount
        LOG.append(["set", "balance", old, self.balance, "Account.withdraw",
                    threading.current_thread().name])


def audit(account, amount):
    account.deposit(amount)


def teller(q, account):
    while (amount := q.get()) is not None:
        LOG.append(["receive", threading.current_thread().name, amount])
        audit(account, amount)
    LOG.append(["receive", threading.current_thread().name, None])


def main(log_path):
    account = Account("ann", 10)
    q = queue.Queue()
    worker = threading.Thread(target=teller, args=(q, account), name="teller")
    worker.start()
    for amount in (5, 7, 11, None):
        LOG.append(["send", threading.current_thread().name, amount])
        q.put(amount)
    worker.join()
    try:
        account.withdraw(1000)
    except ValueError as exc:
        LOG.append(["caught", str(exc)])
    account.withdraw(3)
    LOG.append(["send", threading.current_thread().name, "left"])
    q.put("left")            # never received
    with open(log_path, "w") as fh:
        json.dump(LOG, fh)
    print(account.balance)


if __name__ == "__main__":
    main(sys.argv[1])
