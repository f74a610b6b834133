"""Two queues: one put that nobody gets; one a producer fills faster than
the consumer drains it."""
import queue


def forgotten(q):
    q.put("orphan")


def produce(q, n):
    for i in range(n):
        q.put(i)


def consume(q, n, out):
    for _ in range(n):
        out.append(q.get())


def main():
    lonely = queue.Queue()
    forgotten(lonely)
    backlog, out = queue.Queue(), []
    for _ in range(8):                        # 5 in, 1 out, eight times over
        produce(backlog, 5)
        consume(backlog, 1, out)
    print(len(out), backlog.qsize(), lonely.qsize())


if __name__ == "__main__":
    main()
