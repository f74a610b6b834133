"""A SIGALRM handler raises an exception to stop a busy loop of planned calls
(the classic timeout pattern), for a number of rounds. If the exception never
reaches the loop, the round gives up after a generous deadline and says so."""
import signal
import sys
import time

ROUNDS = 10
DEADLINE = 10.0


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout("time is up")


def step(i):
    return i + 1


def one_round(k):
    signal.setitimer(signal.ITIMER_REAL, 0.01)
    deadline = time.monotonic() + DEADLINE
    i = 0
    try:
        while True:
            i = step(i)
            if i % 1000 == 0 and time.monotonic() > deadline:
                signal.setitimer(signal.ITIMER_REAL, 0)
                print(f"round {k}: the alarm's exception never arrived")
                return False
    except Timeout as exc:
        print(f"round {k}: {exc}")
        return True


def main():
    signal.signal(signal.SIGALRM, on_alarm)
    ok = all(one_round(k) for k in range(ROUNDS))
    print("all rounds stopped by the alarm" if ok else "gave up")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
