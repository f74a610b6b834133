"""A parent that hands work to a child process over a multiprocessing queue.
tests/test_dap.py debugs it under `cinescope dap`: the child's session must
pass through the server too, with its history. `# @bp NAME` marks a line."""
import multiprocessing


class Counter:
    def __init__(self):
        self.total = 0

    def add(self, amount):
        self.total += amount  # @bp child-add
        return self.total


def work(results):
    counter = Counter()
    for amount in (1, 2, 3):
        counter.add(amount)
    results.put(counter.total)


def main():
    results = multiprocessing.Queue()
    child = multiprocessing.Process(target=work, args=(results,))
    child.start()
    print("child total", results.get(), flush=True)
    child.join()


if __name__ == "__main__":
    main()
