"""One call of step() does far more work than its 30 siblings."""
import time


def step(i, slow):
    if slow:
        time.sleep(0.05)                      # the outlier
    return i * 2


def main():
    total = 0
    for i in range(31):
        total += step(i, i == 20)
    print(total)


if __name__ == "__main__":
    main()
