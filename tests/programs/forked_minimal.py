"""Calls work() 300 times, forks a child that calls it 500 times and leaves with
os._exit (nothing flushed at exit)."""
import os


def work(i):
    return i


def main():
    for i in range(300):
        work(i)
    pid = os.fork()
    if pid == 0:
        for i in range(500):
            work(i)
        os._exit(0)        # as multiprocessing does: no atexit, no flush
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
