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

import contextlib
import fcntl
import os
import select
import signal
import subprocess
import sys

import msgpack

from ..capture import records as R
from .schema import StoreError, open_store

CODE = 200          # (CODE, id, file, first line, qualname, module): a code object's id
RING_CODE = 201     # (RING_CODE, index, code id): what a ring's code index stands for
RING_ACTOR = 202    # (RING_ACTOR, index, actor key): what a ring's actor index stands for
RING = 203          # (RING, bytes): raw records of the C rings (capture/_hot.c)
NO_VALUE_EXT = 0    # msgpack ext type standing for records.NO_VALUE
READY = b"ready\n"  # the writer process's one line on stdout: its store is open
PIPE_BYTES = 1 << 20  # the pipe's buffer (Linux; where allowed): a second of slack or so
READY_TIMEOUT = 60
ALL = 2 ** 64 - 1     # a cutoff after every record
_CODE_AT = {R.CALL, R.RETURN, R.RAISE, R.STATE, R.LINE, R.SEND, R.RECEIVE, R.SPAWN}


def _not_debugged():
    """Under debugpy, a context in which it does not turn a new Python process
    into a debuggee: the writer would wait for a debugger to attach, and the
    program for the writer."""
    monkey = sys.modules.get("_pydev_bundle.pydev_monkey")
    skip = getattr(monkey, "skip_subprocess_arg_patch", None)
    return skip() if skip is not None else contextlib.nullcontext()


def _ext(obj):
    if obj is R.NO_VALUE:
        return msgpack.ExtType(NO_VALUE_EXT, b"")
    raise TypeError(f"cannot send {type(obj).__name__} to the writer")


class WriterProcess:
    def __init__(self, path: str, session: int, code_modules: dict, arena=None):
        self.path, self.session = path, session
        self.code_modules = code_modules
        self._code_ids: dict = {}
        self._ring_codes = self._ring_actors = 0   # ring indexes described so far
        self._packer = msgpack.Packer(use_bin_type=True, default=_ext)
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
        argv = [sys.executable, "-m", "cinescope.store.writer_process", path, str(session),
                str(os.getpid())]
        if arena is not None:       # the C rings in shared memory: the writer reads them
            argv.append(str(arena.fd))
        with _not_debugged():
            self.process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=env, close_fds=True, start_new_session=True,
                pass_fds=(arena.fd,) if arena is not None else ())
        self._pipe = self.process.stdin
        try:
            fcntl.fcntl(self._pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:
            pass            # not Linux, or above /proc/sys/fs/pipe-max-size: 64 KB then
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Wait until the writer has opened the store: records sent before would
        sit in the pipe, and once it is full the program's rings overflow."""
        out = self.process.stdout
        ready, _, _ = select.select([out], [], [], READY_TIMEOUT)
        line = out.readline() if ready else b""
        out.close()
        if line != READY:
            self.process.kill()
            self.process.wait()
            reason = (f"the writer process for store {self.path} did not start; "
                      f"check that `{sys.executable} -m cinescope sessions --store "
                      f"{self.path}` works")
            mark_failed(self.path, self.session, reason)
            raise StoreError(reason)

    def write(self, records: list[tuple], dropped: int, raw=(), cutoff: int | None = None,
              sources=()) -> None:
        """One batch; `cutoff`: the time up to which the writer may read the
        arena's rings (every record of the batch is at or before it)."""
        out = [dropped, cutoff if cutoff is not None else ALL]
        for record in records:
            kind = record[0]
            code = record[3] if kind in _CODE_AT else None
            if code is None:
                out.append(record)
            else:
                out.append(record[:3] + (self._code_id(code, out),) + record[4:])
        for source in sources:
            # what the arena's log did not take goes here, in index order
            for index in range(max(self._ring_codes, source.codes_logged), len(source.codes)):
                out.append((RING_CODE, index, self._code_id(source.codes[index], out)))
            self._ring_codes = len(source.codes)
            for index in range(max(self._ring_actors, source.actors_logged),
                               len(source.actors)):
                out.append((RING_ACTOR, index, source.actors[index]))
            self._ring_actors = len(source.actors)
        for _source, blob in raw:
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


def mark_failed(path: str, session: int, reason: str) -> None:
    """Say in the session why nothing will be recorded (best effort)."""
    try:
        conn = open_store(path)
        try:
            with conn:
                conn.execute("UPDATE sessions SET status = 'failed', error = ? WHERE id = ?",
                             (reason, session))
        finally:
            conn.close()
    except Exception:
        pass
