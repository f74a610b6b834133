"""Calls, returns, recursion, exceptions caught and propagated, generators."""


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def fail(x):
    raise ValueError(f"bad value {x}")


def catcher():
    try:
        fail(7)
    except ValueError as exc:
        return "caught " + " ".join(exc.args)   # (a call: setprofile sees the except block)


def quiet_catcher():
    try:
        fail(8)
    except ValueError:
        return "quiet"


def gen(n):
    for i in range(n):
        yield i * 10
    return "done"


def untraced_helper():
    return 42


if __name__ == "__main__":
    print(fib(4))
    print(catcher(), quiet_catcher())
    print(list(gen(3)))
    print(untraced_helper())
