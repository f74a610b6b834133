"""The writer process: `python -m cinescope.store.writer_process STORE SESSION PID [FD]`
(PID: the recorded process it writes for; FD: its ring arena, capture/arena.py).

Reads batches from the recorded program (see store.pipe) on stdin and writes
them with a SessionWriter. It ignores SIGINT and SIGTERM, which a terminal or
a supervisor sends to the whole process group: the program decides when
recording ends, by sending "close" or by dying (end of input), and whatever
it sent before is stored either way.
"""
from __future__ import annotations

import os
import signal
import sys

import msgpack

from ..capture import records as R
from .pipe import ALL, CODE, NO_VALUE_EXT, READY, RING, RING_ACTOR, RING_CODE
from .rings import open_arena
from .writer import SessionWriter


class CodeInfo:
    """What the store needs of a code object, standing in for it."""
    __slots__ = ("co_filename", "co_firstlineno", "co_qualname")

    def __init__(self, filename: str, firstlineno: int, qualname: str):
        self.co_filename = filename
        self.co_firstlineno = firstlineno
        self.co_qualname = qualname


def _ext(code: int, data: bytes):
    if code == NO_VALUE_EXT:
        return R.NO_VALUE
    return msgpack.ExtType(code, data)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    path, session, pid = argv[0], int(argv[1]), int(argv[2])
    if os.environ.get("CINESCOPE_INJECT_FAULT") == "writer-start":    # tests/test_faults.py
        return 1
    modules: dict = {}
    codes: dict = {}       # code id -> CodeInfo
    writer = SessionWriter(path, session, modules, pid)
    arena = Arena(int(argv[3]), writer, modules) if len(argv) > 3 else None
    sys.stdout.buffer.write(READY)      # the program starts once its writer reads
    sys.stdout.buffer.flush()
    unpacker = msgpack.Unpacker(raw=False, ext_hook=_ext, strict_map_key=False,
                                max_buffer_size=1 << 30)
    stdin = sys.stdin.buffer
    session_end = None
    closed = False
    try:
        while not closed:
            chunk = stdin.read1(1 << 20)
            if not chunk:
                break               # the program is gone: keep what it sent
            unpacker.feed(chunk)
            for message in unpacker:
                if message[0] == "close":
                    session_end, closed = message[1], True
                    break
                rings: list[bytes] = []
                dropped, cutoff = message[0], message[1]
                if arena is not None:
                    arena.describe()        # before the batch: it may use what is new
                records = _decode(message[2:], codes, modules, writer, rings)
                if arena is not None:
                    dropped += arena.drain(cutoff, rings)
                writer.write(records, dropped, rings, synced=cutoff)
        if arena is not None:   # closed, or the program is gone: read the arena to the end
            arena.describe()
            rings = []
            lost = arena.drain(ALL, rings)
            if rings or lost:
                writer.write([], lost, rings)
    except Exception as exc:  # record why, then stop: the program goes on unrecorded
        try:
            writer.write([(R.ERROR, 0, f"the writer process failed: {exc!r}"[:300])], 0)
        except Exception:
            pass
    finally:
        writer.close(session_end)
        if arena is not None:
            arena.close()
    return 0


class Arena:
    """The recorded process's ring arena (capture/arena.py), read here."""

    def __init__(self, fd: int, writer: SessionWriter, modules: dict):
        self.reader, self.memory = open_arena(fd)
        self.writer = writer
        self.modules = modules

    def describe(self) -> None:
        """What the log says the rings' new code and actor indexes stand for."""
        for entry in self.reader.log():
            what, _index, description = msgpack.unpackb(entry, raw=False)
            if what == "code":
                filename, firstlineno, qualname, module = description
                info = CodeInfo(filename, firstlineno, qualname)
                self.modules[info] = module
                self.writer.ring_code(info)
            else:
                self.writer.ring_actor(description)

    def drain(self, cutoff: int, rings: list) -> int:
        blob, lost = self.reader.drain(cutoff)
        if blob:
            rings.append(blob)
        return lost

    def close(self) -> None:
        self.reader.release()
        try:
            self.memory.close()
        except (BufferError, ValueError):
            pass


def _decode(records: list, codes: dict, modules: dict, writer: SessionWriter,
            rings: list) -> list[tuple]:
    out = []
    for record in records:
        kind = record[0]
        if kind == CODE:
            _, code_id, filename, firstlineno, qualname, module = record
            info = codes[code_id] = CodeInfo(filename, firstlineno, qualname)
            modules[info] = module
            continue
        if kind == RING_CODE:
            writer.ring_code(codes[record[2]])
            continue
        if kind == RING_ACTOR:
            writer.ring_actor(record[2])
            continue
        if kind == RING:
            rings.append(record[1])
            continue
        if kind in (R.CALL, R.RETURN, R.RAISE, R.STATE, R.LINE, R.SEND, R.RECEIVE, R.SPAWN) \
                and record[3] is not None:
            record[3] = codes[record[3]]
        out.append(tuple(record))
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
