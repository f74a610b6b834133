"""asyncio tasks exchanging messages over asyncio.Queue; one task fails, one is cancelled."""
import asyncio


async def produce(q, n):
    for i in range(n):
        await q.put(i)
        await asyncio.sleep(0)
    await q.put(None)


async def consume(q):
    got = []
    while (item := await q.get()) is not None:
        got.append(item)
    return got


async def explode():
    raise RuntimeError("task failed")


async def forever():
    await asyncio.sleep(3600)


async def main():
    q = asyncio.Queue()
    producer = asyncio.create_task(produce(q, 3), name="producer")
    consumer = asyncio.create_task(consume(q), name="consumer")
    failing = asyncio.create_task(explode(), name="failing")
    sleeper = asyncio.create_task(forever(), name="sleeper")
    await producer
    got = await consumer
    try:
        await failing
    except RuntimeError:
        pass
    sleeper.cancel()
    try:
        await sleeper
    except asyncio.CancelledError:
        pass
    return got


if __name__ == "__main__":
    print(asyncio.run(main()))
