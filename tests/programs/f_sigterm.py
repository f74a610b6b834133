"""Works, says "ready", then sleeps until a signal ends it."""
import time


def work(i):
    return i * 2


def last_before_ready(marker):
    return marker.upper()


def main():
    total = sum(work(i) for i in range(200))
    last_before_ready("the-last-call")
    print(f"ready {total}", flush=True)
    time.sleep(120)
    print("not reached", flush=True)


if __name__ == "__main__":
    main()
