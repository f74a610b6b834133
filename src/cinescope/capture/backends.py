"""Choosing how the interpreter tells the recorder what runs.

- ``monitoring`` (3.12+, default there): sys.monitoring, events enabled only
  on planned code objects; calls and returns of level-minimal code are
  written by the C extension (`_hot.c`) into per-thread rings.
- ``monitoring-py``: the same in pure Python: the reference the C path is
  tested against, and the fallback where the extension was not built.
- ``profile`` (3.11 default): the profile hook, which a debugger leaves alone
  (pydevd owns sys.settrace on 3.11). A C hook (`_hot.ProfileFilter`) answers
  C calls and unplanned code at once and passes the rest to the Python one.
- ``profile-py``: the same without the C hook.
- ``trace``: sys.settrace, with a local trace function only on planned frames;
  cheaper for unplanned code (no C-call events), but a debugger that attaches
  later replaces it.

CINESCOPE_BACKEND=monitoring|monitoring-py|trace|profile forces one (tests
compare them).
"""
from __future__ import annotations

import os
import sys


class BackendError(RuntimeError):
    pass


def _hot_available(what: str = "monitoring") -> bool:
    try:
        from . import _hot
    except ImportError:
        return False
    return bool(_hot.HAS_MONITORING) if what == "monitoring" else hasattr(_hot, "ProfileFilter")


def backend_name() -> str:
    """The backend a recording started now would use."""
    wanted = os.environ.get("CINESCOPE_BACKEND", "")
    if wanted not in ("", "monitoring", "monitoring-py", "trace", "profile", "profile-py"):
        raise BackendError(f"CINESCOPE_BACKEND={wanted!r}: use monitoring, monitoring-py, "
                           "profile, profile-py or trace")
    if wanted.startswith("monitoring") and not hasattr(sys, "monitoring"):
        raise BackendError(f"CINESCOPE_BACKEND={wanted} needs Python 3.12 or newer")
    if wanted == "trace":
        return wanted
    if wanted.startswith("profile") or not hasattr(sys, "monitoring"):
        return "profile" if wanted != "profile-py" and _hot_available("profile") \
            else "profile-py"
    if wanted == "monitoring-py" or not _hot_available():
        return "monitoring-py"
    return "monitoring"


def choose_backend(rec):
    name = backend_name()
    if name.startswith("monitoring"):
        from .monitoring import MonitoringBackend
        return MonitoringBackend(rec, use_c=name == "monitoring")
    from .tracing import TraceBackend
    return TraceBackend(rec, "profile" if name.startswith("profile") else name,
                        c_filter=name == "profile")
