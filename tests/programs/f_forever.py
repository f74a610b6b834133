"""Calls a planned function forever; says "ready" on stdout after a few hundred calls."""
import time


def tick(i):
    return i + 1


def main():
    i = 0
    while True:
        i = tick(i)
        if i == 300:
            print("ready", flush=True)
        if i > 300:
            time.sleep(0.001)


if __name__ == "__main__":
    main()
