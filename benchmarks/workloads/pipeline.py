"""asyncio: a producer task and a consumer task over asyncio.Queue. argv[1]: items."""

import asyncio

from _bench import run


def work(item):
    return item + 1


def setup(n):
    return n


async def produce(q, n):
    for i in range(n):
        await q.put(work(i))
    await q.put(None)


async def consume(q):
    while (item := await q.get()) is not None:
        work(item)


async def main(n):
    q = asyncio.Queue(maxsize=100)
    await asyncio.gather(produce(q, setup(n)), consume(q))


if __name__ == "__main__":
    run(lambda n: asyncio.run(main(n)), lambda n: 2 * n + 4)
