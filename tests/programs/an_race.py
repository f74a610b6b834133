"""Two threads bump one counter. argv[1] "race": nothing orders their writes;
"ordered": the second waits for a message from the first before it writes."""
import queue
import sys
import threading


class Counter:
    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1


def first(counter, done):
    for _ in range(3):
        counter.bump()
    if done is not None:
        done.put("finished")


def second(counter, done):
    if done is not None:
        done.get()
    for _ in range(3):
        counter.bump()


def main(mode):
    counter = Counter()
    done = queue.Queue() if mode == "ordered" else None
    threads = [threading.Thread(target=first, args=(counter, done), name="first"),
               threading.Thread(target=second, args=(counter, done), name="second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(counter.count)


if __name__ == "__main__":
    main(sys.argv[1])
