"""Many events quickly: fills a small buffer long before the flusher wakes."""
import sys


def tick(i):
    return i


def main(n):
    for i in range(n):
        tick(i)


if __name__ == "__main__":
    main(int(sys.argv[1]))
    print("done")
