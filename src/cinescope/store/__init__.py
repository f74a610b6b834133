"""Store: the historical store in SQLite (sessions, actors, locations, objects, events)."""
from .schema import SCHEMA_VERSION, StoreError
from .store import Store

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]
