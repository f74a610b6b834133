"""`cinescope dap [--port N]`: the server on stdio, or on a loopback port.

Each client connection gets its own debugpy adapter process
(`python -m debugpy.adapter`, this interpreter) and its own relay. On a port,
the server prints ``listening on 127.0.0.1:PORT`` to stdout once it accepts
connections, and serves them until it is killed.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import threading

from .server import serve

LOOPBACK = "127.0.0.1"


def start_adapter() -> subprocess.Popen:
    try:
        import debugpy  # noqa: F401  (a clear error before anything starts)
    except ImportError:
        raise SystemExit("cinescope dap: debugpy is not installed in this Python "
                         f"({sys.executable}); pip install debugpy") from None
    return subprocess.Popen([sys.executable, "-m", "debugpy.adapter"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)


def run_stdio() -> int:
    adapter = start_adapter()
    serve(sys.stdin.buffer, sys.stdout.buffer, adapter)
    return 0


def run_port(port: int) -> int:
    listener = socket.create_server((LOOPBACK, port))
    print(f"listening on {LOOPBACK}:{listener.getsockname()[1]}", flush=True)
    try:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_serve_connection, args=(conn,), daemon=True).start()
    except KeyboardInterrupt:
        return 0
    finally:
        listener.close()


def _serve_connection(conn: socket.socket) -> None:
    with conn:
        reader, writer = conn.makefile("rb"), conn.makefile("wb")
        serve(reader, writer, start_adapter())
