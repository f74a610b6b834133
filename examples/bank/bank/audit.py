"""multiprocessing: a child process audits a snapshot of the balances.

The parent sends a dict over a multiprocessing.Queue; the child answers
with the total over a multiprocessing.Pipe.
"""

import multiprocessing


def auditor(inbox, reply):
    """Child process: total the snapshot it receives and send it back."""
    balances = inbox.get()
    reply.send(sum(balances.values()))
    reply.close()


def audit(bank):
    """Have a child process total the balances; check it against the bank."""
    inbox = multiprocessing.Queue()
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.Process(target=auditor, args=(inbox, sender),
                                    name="auditor")
    child.start()
    sender.close()  # the child holds its own copy
    inbox.put({owner: acct.balance for owner, acct in bank.accounts.items()})
    total = receiver.recv()
    child.join()
    if total != bank.total():
        raise RuntimeError(f"audit mismatch: child {total}, bank {bank.total()}")
    return total
