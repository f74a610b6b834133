"""A child process over multiprocessing.Queue and Pipe. argv[1]: start method."""
import multiprocessing
import sys


def child(inbox, conn):
    item = inbox.get()
    conn.send({"echo": item, "n": len(item)})
    conn.close()


def main(method):
    ctx = multiprocessing.get_context(method)
    inbox = ctx.Queue()
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=child, args=(inbox, child_end), name="echo-child")
    proc.start()
    inbox.put([1, 2, 3])
    reply = parent_end.recv()
    proc.join()
    print(reply, proc.exitcode)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fork")
