"""Choosing how the interpreter tells the recorder what runs.

- ``monitoring`` (3.12+, default there): sys.monitoring, events enabled only
  on planned code objects.
- ``profile`` (3.11 default): sys.setprofile, which a debugger leaves alone
  (pydevd owns sys.settrace on 3.11).
- ``trace``: sys.settrace, with a local trace function only on planned frames;
  cheaper for unplanned code (no C-call events), but a debugger that attaches
  later replaces it.

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
    return "monitoring" if hasattr(sys, "monitoring") else "profile"


def choose_backend(rec):
    name = backend_name()
    if name == "monitoring":
        from .monitoring import MonitoringBackend
        return MonitoringBackend(rec)
    from .tracing import TraceBackend
    return TraceBackend(rec, name)
