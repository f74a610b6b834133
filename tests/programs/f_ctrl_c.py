"""Ctrl-C (a real SIGINT, Python's default handler) during a busy loop of planned calls."""
import os
import signal


def step(i):
    return i + 1


def main():
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    signal.signal(signal.SIGALRM, lambda *a: os.kill(os.getpid(), signal.SIGINT))
    i = 0
    try:
        while True:
            i = step(i)
    except KeyboardInterrupt:
        print("interrupted")


if __name__ == "__main__":
    main()
