"""Store: the historical store in SQLite (sessions, actors, locations, objects, events),
and the questions it answers (History)."""
from .schema import SCHEMA_VERSION, StoreError
from .queries import Change, Frame, History, Message, Write
from .store import Store

__all__ = ["SCHEMA_VERSION", "Change", "Frame", "History", "Message", "Store", "StoreError",
           "Write"]
