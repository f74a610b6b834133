"""Call-heavy: naive recursion. argv[1]: n (fib's argument)."""

from _bench import run


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def setup(n):
    return n


def calls_made(n):
    """Python function calls the workload makes: fib(n) makes 2*fib(n+1)-1."""
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    return 2 * a - 1 + 1     # + setup


def main(n):
    fib(setup(n))


if __name__ == "__main__":
    run(main, calls_made)
