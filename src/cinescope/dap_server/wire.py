"""Debug Adapter Protocol messages on a byte stream.

A message is a ``Content-Length: N`` header block, a blank line, and N bytes
of JSON. `Reader.read()` returns the next message as a dict, None at the end
of the stream, and raises `WireError` for a message it cannot read; after a
WireError in the body the stream is still in step (the bytes were consumed),
so a server can answer with an error and go on. `Writer.write()` is safe to
call from several threads.
"""
from __future__ import annotations

import json
import threading

MAX_MESSAGE = 64 << 20


class WireError(Exception):
    """A message that is not a DAP message; `fatal` when the stream is lost."""

    def __init__(self, message: str, fatal: bool = False, seq=None):
        super().__init__(message)
        self.fatal = fatal
        self.seq = seq        # the request's seq, when it could be read


class Reader:
    def __init__(self, stream):
        self.stream = stream   # a binary stream with readline() and read(n)

    def read(self) -> dict | None:
        length = None
        while True:
            line = self.stream.readline(65536)
            if not line:
                if length is None:
                    return None
                raise WireError("the stream ended inside a message header", fatal=True)
            if line in (b"\r\n", b"\n"):
                if length is None:
                    continue        # stray blank line between messages
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise WireError(f"malformed header line {line[:80]!r}: expected "
                                "'Content-Length: N'", fatal=True)
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise WireError(f"Content-Length is not a number: {value.strip()[:40]!r}",
                                    fatal=True) from None
                if not 0 <= length <= MAX_MESSAGE:
                    raise WireError(f"Content-Length {length} is out of range", fatal=True)
        body = self._exactly(length)
        try:
            message = json.loads(body)
        except ValueError as exc:
            raise WireError(f"the message is not JSON: {exc}") from None
        if not isinstance(message, dict) or message.get("type") not in (
                "request", "response", "event"):
            raise WireError("the message is not a DAP request, response or event "
                            "(no 'type' of request/response/event)",
                            seq=message.get("seq") if isinstance(message, dict) else None)
        if not isinstance(message.get("seq"), int):
            raise WireError("the message has no integer 'seq'")
        if message["type"] == "request" and not isinstance(message.get("command"), str):
            raise WireError("the request has no 'command'", seq=message["seq"])
        return message

    def _exactly(self, n: int) -> bytes:
        data = self.stream.read(n)
        while len(data) < n:
            more = self.stream.read(n - len(data))
            if not more:
                raise WireError("the stream ended inside a message body", fatal=True)
            data += more
        return data


class Writer:
    def __init__(self, stream):
        self.stream = stream
        self._lock = threading.Lock()

    def write(self, message: dict) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self.stream.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.stream.flush()
