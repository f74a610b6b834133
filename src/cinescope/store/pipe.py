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

CODE = 200          # a (CODE, id, file, first line, qualname, module) message
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

    def write(self, records: list[tuple], dropped: int) -> None:
        out = [dropped]
        ids = self._code_ids
        for record in records:
            kind = record[0]
            code = record[3] if kind in _CODE_AT else None
            if code is None:
                out.append(record)
                continue
            code_id = ids.get(code)
            if code_id is None:
                code_id = ids[code] = len(ids) + 1
                out.append((CODE, code_id, code.co_filename, code.co_firstlineno,
                            code.co_qualname, self.code_modules.get(code, "?")))
            out.append(record[:3] + (code_id,) + record[4:])
        self._pipe.write(self._packer.pack(out))
        self._pipe.flush()

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
