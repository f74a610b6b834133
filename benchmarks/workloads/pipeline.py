"""asyncio: a producer task and a consumer task over asyncio.Queue. argv[1]: items."""
import asyncio
import sys
import time


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
    n = int(sys.argv[1])
    start = time.perf_counter()
    asyncio.run(main(n))
    elapsed = time.perf_counter() - start
    # work twice per item; the coroutines' own calls depend on how often they suspend
    print(f"BENCH seconds={elapsed:.6f} calls={2 * n + 4}", file=sys.stderr)
