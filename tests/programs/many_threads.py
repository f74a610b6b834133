"""argv[1] threads, each calling work() 100 times."""
import sys
import threading


def work(i):
    return i


def run():
    for i in range(100):
        work(i)


def main(n):
    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("done")


if __name__ == "__main__":
    main(int(sys.argv[1]))
