"""asyncio: a producer task feeds requests to a consumer task via asyncio.Queue."""

import asyncio

from .transfer import move


async def producer(queue, requests):
    """Put each request on the queue, then the None sentinel."""
    for request in requests:
        await queue.put(request)
        await asyncio.sleep(0)  # let the consumer interleave
    await queue.put(None)


async def consumer(bank, queue, log):
    """Apply ("deposit", owner, amount) and ("transfer", src, dst, amount)."""
    while (request := await queue.get()) is not None:
        kind, *args = request
        if kind == "deposit":
            owner, amount = args
            bank.accounts[owner].deposit(amount)
            log.append(f"deposit: {owner} +{amount}")
        else:
            src, dst, amount = args
            move(bank, src, dst, amount)
            log.append(f"transfer: {src} -> {dst} {amount}")


async def serve(bank, requests):
    queue = asyncio.Queue()
    log = []
    tasks = [
        asyncio.create_task(producer(queue, requests), name="producer"),
        asyncio.create_task(consumer(bank, queue, log), name="consumer"),
    ]
    await asyncio.gather(*tasks)
    return log


def run_async(bank, requests):
    """Run the producer/consumer pair; return what the consumer did."""
    return asyncio.run(serve(bank, requests))
