"""The C implementations, where they were built.

Each C extension has a pure-Python reference beside it (the fallback, and
what tests hold it to). `native` gives the C one unless it was not built (no
compiler at install time) or an environment variable asks for the reference.
"""
from __future__ import annotations

import importlib
import os


def native(module: str, name: str, env: str):
    """`name` from the C extension `module` (e.g. "cinescope.store._chunks"),
    or None when it was not built or $`env` is "python"."""
    if os.environ.get(env) == "python":
        return None
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        return None
