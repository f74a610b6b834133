"""Recorded values as DAP variables.

A recorded value is plain data in the shapes capture/values.py documents
(atoms, and dicts with a "type" for containers, objects, truncations). Here
each becomes a variable's one-line text and, for containers and objects, its
children. `Handles` hands out the variablesReference numbers of everything
this server shows: they start at HISTORY_BASE, far above debugpy's own
(which count from 1), so a reference says by itself who answers it.
"""
from __future__ import annotations

from typing import Callable

HISTORY_BASE = 1 << 30
PREVIEW = 120


class Handles:
    """variablesReference -> a function returning that node's DAP variables.
    Valid while the program stays stopped; cleared when it runs."""

    def __init__(self, base: int = HISTORY_BASE):
        self.base = base
        self._items: dict[int, Callable[[], list[dict]]] = {}
        self._objects: dict[int, int] = {}

    def add(self, children: Callable[[], list[dict]], obj: int | None = None) -> int:
        """A new reference; `obj`: the recorded object whose attributes the
        children are (a data breakpoint can be set on them)."""
        ref = self.base + len(self._items)
        self._items[ref] = children
        if obj is not None:
            self._objects[ref] = obj
        return ref

    def object_of(self, ref) -> int | None:
        return self._objects.get(ref)

    def owns(self, ref) -> bool:
        return isinstance(ref, int) and ref >= self.base

    def children(self, ref: int) -> list[dict] | None:
        found = self._items.get(ref)
        return found() if found is not None else None

    def clear(self) -> None:
        self._items.clear()
        self._objects.clear()


def _shape(value) -> str | None:
    return value.get("type") if isinstance(value, dict) else None


def preview(value, room: int = PREVIEW) -> str:
    """One line of text for a recorded value."""
    if isinstance(value, dict):
        if value.get("redacted"):
            return "<redacted>"
        if value.get("missing"):
            return "<not set>"
        kind = value.get("type")
        if "error" in value:
            return f"<{kind}: {value['error']}>"
        if "cycle" in value:
            return f"<{kind}: cycle>"
        if kind == "str":
            return repr(value.get("value", "")) + f"… ({value.get('len')} chars)"
        if kind in ("bytes", "bytearray") and "value" in value:
            return f"{kind}({value['value']!r}…, {value.get('len')} bytes)"
        if kind == "int" and ("repr" in value or "bits" in value):
            return value.get("repr") or f"<int of {value.get('bits')} bits>"
        if "items" in value:
            return _container_preview(value, room)
        if "len" in value:
            return f"{kind} of {value['len']} items (not recorded)"
        if "repr" in value:
            return str(value["repr"])[:room]
        if "id" in value:
            return f"<{kind} at {value['id']:#x}>"
        return str(value)[:room]
    text = repr(value)
    return text if len(text) <= room else text[: room - 1] + "…"


def _container_preview(value: dict, room: int) -> str:
    kind = value["type"]
    items = value["items"]
    if _is_mapping(value):
        parts = [f"{preview(k, 30)}: {preview(v, 40)}" for k, v in items]
        open_, close = "{", "}"
    else:
        parts = [preview(v, 40) for v in items]
        open_, close = ("(", ")") if kind == "tuple" else ("[", "]")
        if kind in ("set", "frozenset"):
            open_, close = "{", "}"
    more = value.get("len", len(items)) - len(items)
    if more > 0:
        parts.append(f"… {more} more")
    text = open_ + ", ".join(parts) + close
    if kind not in ("dict", "list", "tuple", "set"):
        text = f"{kind}{text}"
    return text if len(text) <= room else text[: room - 1] + "…"


def _is_mapping(value: dict) -> bool:
    """A dict's shape: its items are [key, value] pairs, the only raw lists a
    recorded value holds (a captured list is itself a shape)."""
    items = value["items"]
    return value.get("type") == "dict" or bool(items) and isinstance(items[0], list)


def children(value) -> list[tuple[str, object]]:
    """(name, value) of what a recorded value holds; [] for atoms."""
    if not isinstance(value, dict) or value.get("redacted") or "error" in value:
        return []
    if "items" in value:
        items = value["items"]
        if not _is_mapping(value):
            names = value.get("fields") or [f"[{i}]" for i in range(len(items))]
            return list(zip(names, items))
        return [(preview(k, 40), v) for k, v in items]
    out = []
    if "args" in value:
        out.append(("args", value["args"]))
    out += list((value.get("attrs") or {}).items())
    return out


def variable(name: str, value, handles: Handles, type_: str | None = None) -> dict:
    """The DAP Variable for a recorded value."""
    kids = children(value)
    out = {"name": str(name), "value": preview(value),
           "variablesReference": handles.add(lambda: [variable(n, v, handles) for n, v in kids])
           if kids else 0}
    shape = _shape(value)
    out["type"] = type_ or shape or type(value).__name__
    return out


def group(name: str, text: str, make: Callable[[], list[dict]], handles: Handles,
          obj: int | None = None) -> dict:
    """A variable that only groups others (a change, a message, a call); with
    `obj`, they are that recorded object's attributes."""
    return {"name": name, "value": text, "variablesReference": handles.add(make, obj)}
