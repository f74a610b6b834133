"""A function recorded at level full: each line and the locals it changed."""


def compute(n):
    total = 0
    for i in range(n):
        total += i
    label = f"sum={total}"
    return label


def other(x):
    y = x * 2
    return y


if __name__ == "__main__":
    print(compute(3), other(4))
