"""Rounds of: a busy loop of planned calls, interrupted by KeyboardInterrupt
raised from a SIGALRM handler, caught; then one call of `after_round(k)`."""
import signal


def on_alarm(signum, frame):
    raise KeyboardInterrupt


def step(i):
    return i + 1


def after_round(k):
    return k


def main(rounds):
    signal.signal(signal.SIGALRM, on_alarm)
    for k in range(rounds):
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        i = 0
        try:
            while True:
                i = step(i)
        except KeyboardInterrupt:
            pass
        after_round(k)
    print(f"{rounds} rounds interrupted")


if __name__ == "__main__":
    main(10)
