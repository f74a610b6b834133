"""Replay: time travel over a recording (a cursor that seeks and steps)."""
from .cursor import Cursor

__all__ = ["Cursor"]
