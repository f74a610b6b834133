"""The program benchmarks/dap.py debugs: a meter with a long state history,
messages from a feeder thread, and a method it stops in (the @bp line) after each
round of adds. Argument: adds per round, rounds."""
import queue
import sys
import threading


class Meter:
    def __init__(self):
        self.count = 0
        self.total = 0

    def add(self, x):
        self.count += 1
        self.total += x

    def report(self, round_):
        return self.total  # @bp


def feed(q, n):
    for i in range(n):
        q.put(i)


def run(meter, n):
    for i in range(n):
        meter.add(i)


def main(n, rounds):
    meter = Meter()
    q = queue.Queue()
    feeder = threading.Thread(target=feed, args=(q, 1000), name="feeder")
    feeder.start()
    for _ in range(1000):
        q.get()
    feeder.join()
    for r in range(rounds):
        run(meter, n)
        meter.report(r)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
