"""Exceptions leaving planned functions, caught in the ways a program catches them."""
import asyncio
import threading


def fail(kind):
    raise kind("from fail")


def middle(kind):
    return fail(kind)


def caught_with_work():
    try:
        middle(KeyError)
    except KeyError as exc:
        print("caught", repr(exc))


async def failing_task():
    fail(ValueError)


async def main():
    task = asyncio.ensure_future(failing_task())
    try:
        await task
    except ValueError:
        pass


if __name__ == "__main__":
    caught_with_work()
    t = threading.Thread(target=middle, args=(LookupError,), name="crasher")
    t.start()
    t.join()
    asyncio.run(main())
    middle(OSError)          # uncaught: the program ends with a traceback
