"""Cinescope: an execution-cinema debugger for Python.

Record what a program did (calls, returns, exceptions, object state changes,
messages between threads, tasks and processes) into a historical store, then
ask it questions. See the README.
"""
__version__ = "0.1.0"


def record(*args, **kwargs):
    """Record the code a plan selects while a `with` block runs (see cinescope.session)."""
    from .session import record as _record
    return _record(*args, **kwargs)
