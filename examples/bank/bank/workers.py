"""Threads: two tellers take transfer requests from a queue.Queue.

Each request is (id, src, dst, amount); each result is
(id, src, dst, amount, error), where error is None or the failure message.
"""

import queue
import threading

from .errors import InsufficientFunds
from .transfer import move

TELLERS = 2


def teller(bank, requests, results):
    """Apply requests until the None sentinel arrives."""
    while (request := requests.get()) is not None:
        request_id, src, dst, amount = request
        try:
            move(bank, src, dst, amount)
        except InsufficientFunds as exc:
            results.put((request_id, src, dst, amount, str(exc)))
        else:
            results.put((request_id, src, dst, amount, None))


def run_tellers(bank, transfers):
    """Run `transfers` on teller threads; return the results ordered by id."""
    requests, results = queue.Queue(), queue.Queue()
    threads = [
        threading.Thread(target=teller, args=(bank, requests, results),
                         name=f"teller-{n}")
        for n in range(1, TELLERS + 1)
    ]
    for thread in threads:
        thread.start()
    for request_id, (src, dst, amount) in enumerate(transfers, start=1):
        requests.put((request_id, src, dst, amount))
    for _ in threads:
        requests.put(None)
    for thread in threads:
        thread.join()
    return sorted(results.get() for _ in transfers)
