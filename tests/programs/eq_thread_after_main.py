"""A non-daemon thread that is still running when the main module ends."""
import threading
import time


def step(i):
    return i * i


def worker(started):
    started.set()
    total = 0
    for i in range(5):
        time.sleep(0.05)
        total += step(i)
    print(f"worker done, total {total}", flush=True)


if __name__ == "__main__":
    started = threading.Event()
    t = threading.Thread(target=worker, args=(started,), name="late-worker")
    t.start()
    started.wait()
    print("main module ends", flush=True)
