"""The writer process: `python -m cinescope.store.writer_process STORE SESSION PID`
(PID: the recorded process it writes for).

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
from .pipe import CODE, NO_VALUE_EXT, READY, RING, RING_ACTOR, RING_CODE
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
                records = _decode(message[1:], codes, modules, writer, rings)
                writer.write(records, message[0], rings)
    except Exception as exc:  # record why, then stop: the program goes on unrecorded
        try:
            writer.write([(R.ERROR, 0, f"the writer process failed: {exc!r}"[:300])], 0)
        except Exception:
            pass
    finally:
        writer.close(session_end)
    return 0


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
