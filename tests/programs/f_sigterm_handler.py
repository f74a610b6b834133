"""Has its own SIGTERM handler, which prints and exits 0."""
import signal
import sys
import time


def on_term(signum, frame):
    print(f"got signal {signum}, cleaning up", flush=True)
    print("cleanup done", file=sys.stderr, flush=True)
    sys.exit(0)


def work(i):
    return i + 1


def main():
    signal.signal(signal.SIGTERM, on_term)
    for i in range(50):
        work(i)
    print("ready", flush=True)
    time.sleep(120)
    print("not reached", flush=True)


if __name__ == "__main__":
    main()
