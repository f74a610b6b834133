"""Threads: producers and a consumer over queue.Queue. argv[1]: items per producer."""

import queue
import threading

from _bench import run

PRODUCERS = 2


def work(item):
    return item * 2


def setup(n):
    return n


def producer(q, n):
    for i in range(n):
        q.put(work(i))


def consumer(q, total):
    for _ in range(total):
        work(q.get())


def main(n):
    q = queue.Queue(maxsize=1000)
    threads = [threading.Thread(target=producer, args=(q, setup(n))) for _ in range(PRODUCERS)]
    threads.append(threading.Thread(target=consumer, args=(q, PRODUCERS * n)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    run(main, lambda n: 2 * PRODUCERS * n + 2 * PRODUCERS + 2)
