"""Choosing how the interpreter tells the recorder what runs.

- ``monitoring`` (3.12+, default there): sys.monitoring, events enabled only
  on planned code objects.
- ``trace`` (3.11 default when no other tracer is installed): sys.settrace,
  with a local trace function only on planned frames.
- ``profile`` (3.11 when a debugger owns sys.settrace): sys.setprofile; it
  cannot see which exception leaves a frame, so raise events carry none.

CINESCOPE_BACKEND=monitoring|trace|profile forces one (tests compare them).
"""
from __future__ import annotations

import os
import sys


class BackendError(RuntimeError):
    pass


def backend_name() -> str:
    """The backend a recording started now would use."""
    wanted = os.environ.get("CINESCOPE_BACKEND", "")
    if wanted not in ("", "monitoring", "trace", "profile"):
        raise BackendError(f"CINESCOPE_BACKEND={wanted!r}: use monitoring, trace or profile")
    if wanted == "monitoring" and not hasattr(sys, "monitoring"):
        raise BackendError("CINESCOPE_BACKEND=monitoring needs Python 3.12 or newer")
    if wanted:
        return wanted
    if hasattr(sys, "monitoring"):
        return "monitoring"
    return "trace" if sys.gettrace() is None else "profile"


def choose_backend(rec):
    name = backend_name()
    if name == "monitoring":
        from .monitoring import MonitoringBackend
        return MonitoringBackend(rec)
    from .tracing import TraceBackend
    return TraceBackend(rec, name)
