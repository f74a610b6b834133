"""The recorded program's end of the writer process.

`WriterProcess` is the sink the flusher hands records to (see
capture.flusher): it starts `python -m cinescope.store.writer_process` and
sends it each batch packed with msgpack through a pipe, so that correlating,
packing values and writing SQLite happen in another process, never on the
program's interpreter. Code objects travel as small ids, each described once.

What was written to the pipe survives the program: if it is killed, the
writer process reads to the end and stores it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import msgpack

from ..capture import records as R

CODE = 200          # (CODE, id, file, first line, qualname, module): a code object's id
RING_CODE = 201     # (RING_CODE, index, code id): what a ring's code index stands for
RING_ACTOR = 202    # (RING_ACTOR, index, actor key): what a ring's actor index stands for
RING = 203          # (RING, bytes): raw records of the C rings (capture/_hot.c)
NO_VALUE_EXT = 0    # msgpack ext type standing for records.NO_VALUE
_CODE_AT = {R.CALL, R.RETURN, R.RAISE, R.STATE, R.LINE, R.SEND, R.RECEIVE, R.SPAWN}


def _ext(obj):
    if obj is R.NO_VALUE:
        return msgpack.ExtType(NO_VALUE_EXT, b"")
    raise TypeError(f"cannot send {type(obj).__name__} to the writer")


class WriterProcess:
    def __init__(self, path: str, session: int, code_modules: dict):
        self.code_modules = code_modules
        self._code_ids: dict = {}
        self._ring_codes = self._ring_actors = 0   # ring indexes described so far
        self._packer = msgpack.Packer(use_bin_type=True, default=_ext)
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cinescope.store.writer_process", path, str(session)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env, close_fds=True, start_new_session=True)
        self._pipe = self.process.stdin

    def write(self, records: list[tuple], dropped: int, raw=()) -> None:
        out = [dropped]
        for record in records:
            kind = record[0]
            code = record[3] if kind in _CODE_AT else None
            if code is None:
                out.append(record)
            else:
                out.append(record[:3] + (self._code_id(code, out),) + record[4:])
        for source, blob in raw:
            for index in range(self._ring_codes, len(source.codes)):
                out.append((RING_CODE, index, self._code_id(source.codes[index], out)))
            self._ring_codes = len(source.codes)
            for index in range(self._ring_actors, len(source.actors)):
                out.append((RING_ACTOR, index, source.actors[index]))
            self._ring_actors = len(source.actors)
            out.append((RING, blob))
        self._pipe.write(self._packer.pack(out))
        self._pipe.flush()

    def _code_id(self, code, out: list) -> int:
        """The code object's id, described to the writer the first time."""
        code_id = self._code_ids.get(code)
        if code_id is None:
            code_id = self._code_ids[code] = len(self._code_ids) + 1
            out.append((CODE, code_id, code.co_filename, code.co_firstlineno,
                        code.co_qualname, self.code_modules.get(code, "?")))
        return code_id

    def close(self, session_end: dict | None) -> None:
        """Finish: the writer stores what is left, and the session's end."""
        try:
            self._pipe.write(self._packer.pack(["close", session_end]))
            self._pipe.close()
        finally:
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)

    def abandon(self) -> None:
        """In a forked child: this pipe is the parent's; close our copy of it
        without writing anything (its buffer is empty: a fork waits for the
        flusher's write to end)."""
        try:
            self._pipe.detach().close()
        except (OSError, ValueError):
            pass
