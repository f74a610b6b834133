"""Many calls, then the GIL held in C (the flusher cannot run) until killed.
argv[1]: calls to make."""
import sys


def work(i):
    return i


def main(n):
    for i in range(n):
        work(i)
    print("ready", flush=True)
    sum(range(10 ** 12))      # C code: the GIL is never given up


if __name__ == "__main__":
    main(int(sys.argv[1]))
