"""Works, then leaves with os._exit(5): no atexit handlers, no interpreter shutdown.

Before leaving it gives the flusher time to write: at least 0.3 s, and with
argv[1] = the store's path, until the store has written 10 events (at most 60 s)."""
import os
import sqlite3
import sys
import time


def work(i):
    return i * 3


def main():
    print([work(i) for i in range(5)], flush=True)
    time.sleep(0.3)
    if len(sys.argv) > 1:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            conn = sqlite3.connect(sys.argv[1])
            try:
                written = conn.execute("SELECT coalesce(sum(events_written), 0) "
                                       "FROM sessions").fetchone()[0]
            finally:
                conn.close()
            if written >= 10:
                break
            time.sleep(0.05)
    os._exit(5)


if __name__ == "__main__":
    main()
