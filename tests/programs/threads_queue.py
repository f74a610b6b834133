"""Two producer threads and one consumer over queue.Queue, plus a LifoQueue."""
import queue
import threading


def producer(q, name, n):
    for i in range(n):
        q.put((name, i))


def consumer(q, total, out):
    for _ in range(total):
        out.append(q.get())


if __name__ == "__main__":
    q = queue.Queue()
    out = []
    producers = [threading.Thread(target=producer, args=(q, f"p{k}", 3), name=f"producer-{k}")
                 for k in range(2)]
    cons = threading.Thread(target=consumer, args=(q, 6, out), name="consumer")
    cons.start()
    for p in producers:
        p.start()
    for t in producers + [cons]:
        t.join()
    lifo = queue.LifoQueue()
    producer(lifo, "lifo", 2)
    print(sorted(out), [lifo.get(), lifo.get()])
