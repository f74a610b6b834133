"""The relay: an editor (the client) on one side, debugpy's adapter on the other.

Each side sees one sequence of `seq` numbers, the relay's own: a request the
client sends goes to the adapter under a new seq, and its response comes
back under the client's `request_seq`; requests the adapter sends to the
client (`runInTerminal`, `startDebugging`) get the same treatment the other
way. So the server in front (dap_server.server) can answer requests itself,
send the adapter requests of its own and hide their responses, and add
events, without either side seeing a gap or a clash.

Hooks (set by the server):
- `requests[command](request)`: a client request the server handles; it may
  answer (`respond`), forward (`forward`, optionally rewriting the response),
  or both ask the adapter (`ask`) and answer. Runs on the client's thread, so
  it may wait for the adapter.
- `events[name](event)`: an adapter event; returns the event to pass on
  (possibly changed) or None to drop it. Runs on the adapter's thread: it must
  not wait for the adapter.
- `reverse[command](request)`: a request from the adapter; returns it (possibly
  changed) to pass to the client.
"""
from __future__ import annotations

import itertools
import sys
import threading
import time
from typing import Callable

from .wire import Reader, WireError, Writer

ASK_TIMEOUT = 30.0


class AdapterGone(Exception):
    """debugpy's adapter closed its end: the session is over."""


class Relay:
    def __init__(self, client_in, client_out, adapter_in, adapter_out):
        self._client_in = Reader(client_in)
        self._adapter_in = Reader(adapter_in)
        self.client = Writer(client_out)
        self.adapter = Writer(adapter_out)
        self._client_seq = itertools.count(1)
        self._adapter_seq = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[int, tuple] = {}    # adapter seq -> (client request, on_response)
        self._reverse: dict[int, int] = {}      # client-side seq -> adapter's request seq
        self.requests: dict[str, Callable] = {}
        self.events: dict[str, Callable] = {}
        self.reverse: dict[str, Callable] = {}
        self.adapter_gone = threading.Event()
        self.client_gone = threading.Event()
        self.ended = threading.Event()       # a terminated event passed, or disconnect
        self.on_adapter_gone: Callable[[str], None] | None = None

    # -- to the client ---------------------------------------------------------------
    def send_client(self, message: dict) -> None:
        with self._lock:
            message["seq"] = next(self._client_seq)
            try:
                self.client.write(message)
            except (OSError, ValueError):
                self.client_gone.set()      # the editor left: nobody to tell

    def event(self, name: str, body: dict | None = None) -> None:
        message = {"type": "event", "event": name}
        if body is not None:
            message["body"] = body
        self.send_client(message)

    def respond(self, request: dict, body: dict | None = None, *, error: str | None = None) -> None:
        response = {"type": "response", "request_seq": request.get("seq", 0),
                    "command": request.get("command", ""), "success": error is None}
        if error is not None:
            response["message"] = error
            response["body"] = {"error": {"id": 1, "format": error, "showUser": True}}
        elif body is not None:
            response["body"] = body
        self.send_client(response)

    # -- to the adapter ------------------------------------------------------------
    def _send_adapter(self, message: dict, pending: tuple | None = None) -> int:
        if self.adapter_gone.is_set():
            raise AdapterGone("debugpy is not running")
        with self._lock:
            seq = message["seq"] = next(self._adapter_seq)
            if pending is not None:
                self._pending[seq] = pending
            try:
                self.adapter.write(message)
            except (OSError, ValueError) as exc:
                self._pending.pop(seq, None)
                raise AdapterGone(f"debugpy is not running ({exc})") from None
        return seq

    def forward(self, request: dict, rewrite: Callable[[dict], dict] | None = None) -> None:
        """Pass a client request to the adapter; its response, rewritten if asked,
        goes back to the client."""
        message = {k: v for k, v in request.items() if k != "seq"}
        try:
            self._send_adapter(message, (request, rewrite))
        except AdapterGone as exc:
            self.respond(request, error=str(exc))

    def ask(self, command: str, arguments: dict | None = None,
            timeout: float = ASK_TIMEOUT) -> dict:
        """Send the adapter a request of the server's own; its response (never
        seen by the client). Raises AdapterGone, or TimeoutError."""
        return self.ask_all([(command, arguments)], timeout)[0]

    def ask_all(self, requests: list[tuple[str, dict | None]],
                timeout: float = ASK_TIMEOUT) -> list[dict]:
        """Several requests of the server's own sent at once (debugpy works on
        them together); their responses, in order."""
        done = threading.Semaphore(0)
        boxes: list[list] = []
        seqs = []
        for command, arguments in requests:
            box: list = []
            boxes.append(box)

            def got(response, box=box):
                box.append(response)
                done.release()
            message = {"type": "request", "command": command}
            if arguments is not None:
                message["arguments"] = arguments
            seqs.append(self._send_adapter(message, (None, got)))
        deadline = time.monotonic() + timeout
        for _ in requests:
            while not done.acquire(timeout=0.05):
                if self.adapter_gone.is_set():
                    raise AdapterGone("debugpy stopped while answering "
                                      + ", ".join(c for c, _ in requests))
                if time.monotonic() > deadline:
                    with self._lock:
                        for seq in seqs:
                            self._pending.pop(seq, None)
                    raise TimeoutError("debugpy did not answer "
                                       + ", ".join(c for c, _ in requests))
        return [box[0] for box in boxes]

    # -- the two readers ----------------------------------------------------------
    def run(self) -> None:
        """Relay until the client or the adapter leaves."""
        threading.Thread(target=self._adapter_loop, name="cinescope-dap-adapter",
                         daemon=True).start()
        self._client_loop()

    def _client_loop(self) -> None:
        while True:
            try:
                message = self._client_in.read()
            except WireError as exc:
                if exc.fatal:       # out of step with the editor: nothing more can be read
                    sys.stderr.write(f"cinescope dap: the editor's stream broke ({exc}); "
                                     "ending the session\n")
                    return
                self._malformed(exc)
                continue
            if message is None or self.adapter_gone.is_set() and message.get(
                    "command") == "disconnect":
                if message is not None:
                    self.respond(message)
                return
            kind = message["type"]
            if kind == "request":
                if message["command"] == "disconnect":
                    self.ended.set()
                handler = self.requests.get(message["command"])
                try:
                    if handler is not None:
                        handler(message)
                    else:
                        self.forward(message)
                except AdapterGone as exc:
                    self.respond(message, error=str(exc))
                except Exception as exc:   # a bug of ours: answer, never hang the editor
                    self.respond(message, error=f"cinescope: {message['command']} failed: "
                                                f"{type(exc).__name__}: {exc}")
            elif kind == "response":
                with self._lock:
                    target = self._reverse.pop(message.get("request_seq"), None)
                if target is not None:
                    message = dict(message, request_seq=target)
                    try:
                        self._send_adapter({k: v for k, v in message.items() if k != "seq"})
                    except AdapterGone:
                        pass

    def _malformed(self, exc: WireError) -> None:
        request = {"seq": exc.seq if exc.seq is not None else 0, "command": "unknown"}
        self.respond(request, error=f"cinescope: malformed message: {exc}")

    def _adapter_loop(self) -> None:
        reason = "debugpy's adapter exited"
        try:
            while True:
                try:
                    message = self._adapter_in.read()
                except WireError as exc:
                    if exc.fatal:
                        reason = f"debugpy's adapter sent an unreadable message ({exc})"
                        break
                    continue
                if message is None:
                    break
                self._from_adapter(message)
        except (OSError, ValueError) as exc:
            reason = f"lost debugpy's adapter ({exc})"
        finally:
            self.adapter_gone.set()
            with self._lock:
                pending, self._pending = self._pending, {}
            for request, on_response in pending.values():
                if request is not None:
                    self.respond(request, error=f"{reason} before answering")
            if self.on_adapter_gone is not None:
                self.on_adapter_gone(reason)

    def _from_adapter(self, message: dict) -> None:
        kind = message["type"]
        if kind == "response":
            with self._lock:
                request, on_response = self._pending.pop(message.get("request_seq"),
                                                         (None, None))
            if request is None:
                if on_response is not None:
                    on_response(message)
                return
            message = dict(message, request_seq=request["seq"])
            if on_response is not None:
                try:
                    message = on_response(message)
                except Exception as exc:
                    message = {"type": "response", "request_seq": request["seq"],
                               "command": request["command"], "success": False,
                               "message": f"cinescope: {type(exc).__name__}: {exc}"}
            self.send_client(message)
        elif kind == "event":
            if message["event"] == "terminated":
                self.ended.set()
            handler = self.events.get(message["event"])
            if handler is not None:
                try:
                    message = handler(message)
                except Exception:
                    pass        # the event still reaches the client unchanged
            if message is not None:
                self.send_client(message)
        else:   # a request from the adapter to the client
            handler = self.reverse.get(message["command"])
            if handler is not None:
                message = handler(message)
            adapter_seq = message["seq"]
            with self._lock:
                seq = message["seq"] = next(self._client_seq)
                self._reverse[seq] = adapter_seq
                try:
                    self.client.write(message)
                except (OSError, ValueError):
                    self.client_gone.set()
