"""Child sessions: a subprocess's debug session passes through this server too.

debugpy's adapter tells the editor about a subprocess of the program with a
`startDebugging` request (or, to a client without it, a `debugpyAttach`
event) carrying an attach configuration whose `connect` is debugpy's own
client port: an editor connects there directly for the child's session. The
server rewrites that address to a loopback port of its own, opened for the
parent session on the first child; each connection to it is relayed to
debugpy's port by a server of its own (`serve` below), which knows where the
recording is: the child records into the parent's store, under its own pid.
"""
from __future__ import annotations

import socket
import threading
from typing import Callable

LOOPBACK = "127.0.0.1"


class ChildSessions:
    def __init__(self, serve: Callable):
        """`serve(client_in, client_out, adapter_in, adapter_out)`: runs one
        child session's relay until either side leaves."""
        self._serve = serve
        self._listener: socket.socket | None = None
        self._target: tuple[str, int] | None = None
        self._lock = threading.Lock()

    def rewrite(self, configuration: dict, store: str | None) -> dict:
        """The child's attach configuration, pointed at this server."""
        connect = dict(configuration.get("connect") or {})
        port = connect.get("port", configuration.get("port"))
        if port is None:
            return configuration            # not a connect-style attach: as debugpy sent it
        with self._lock:
            self._target = (connect.get("host") or configuration.get("host") or LOOPBACK,
                            int(port))
            if self._listener is None:
                self._listener = socket.create_server((LOOPBACK, 0))
                threading.Thread(target=self._accept, args=(self._listener,), daemon=True,
                                 name="cinescope-dap-children").start()
            ours = self._listener.getsockname()[1]
        out = {k: v for k, v in configuration.items() if k not in ("host", "port")}
        out["connect"] = dict(connect, host=LOOPBACK, port=ours)
        if store is not None:
            out["cinescope"] = {"store": store}
        return out

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return                      # closed: the parent session ended
            threading.Thread(target=self._relay, args=(conn,), daemon=True,
                             name="cinescope-dap-child").start()

    def _relay(self, conn: socket.socket) -> None:
        with conn:
            try:
                upstream = socket.create_connection(self._target, timeout=10)
            except OSError:
                return                      # debugpy is gone: the editor sees the close
            upstream.settimeout(None)
            with upstream:
                self._serve(conn.makefile("rb"), conn.makefile("wb"),
                            upstream.makefile("rb"), upstream.makefile("wb"))

    def close(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
