"""Data breakpoints: "break when self.balance changes", on recorded objects.

A data breakpoint names one attribute of one recorded object. Its dataId,
"cinescope:<object>:<pid>:<address>:<attr>", carries both identities the
object has: its id in the recording, and the live process and address (its
id()) the running program knows it by.

- Live, the set goes to the stopped program (cinescope.debugger_watch): its
  state tracker, which compares a recorded object's attributes as each of its
  methods starts and ends, stops debugpy right after the method that changed
  a watched attribute (capture/watch.py). The server then asks what changed
  (cinescope.debugger_hit) and tells the stop as a "data breakpoint".
- In history mode, Continue and Reverse Continue also stop at the recorded
  changes of the watched attributes, whichever thread made them (travel.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .variables import preview

PREFIX = "cinescope:"


@dataclass(frozen=True)
class Watch:
    id: int
    object: int             # the recorded object
    pid: int | None
    address: int | None     # its id() in the live program
    attr: str


def data_id(obj: int, pid: int | None, address: int | None, attr: str) -> str:
    return f"{PREFIX}{obj}:{pid if pid is not None else ''}:" \
           f"{address if address is not None else ''}:{attr}"


def parse(data_id) -> tuple | None:
    """(object, pid, address, attr) of a dataId this server made, else None."""
    if not isinstance(data_id, str) or not data_id.startswith(PREFIX):
        return None
    parts = data_id[len(PREFIX):].split(":", 3)
    if len(parts) != 4 or not parts[3].isidentifier():
        return None
    try:
        return (int(parts[0]), int(parts[1]) if parts[1] else None,
                int(parts[2]) if parts[2] else None, parts[3])
    except ValueError:
        return None


def watch_expression(watches: list[Watch], pid: int | None) -> str:
    """What the stopped program evaluates to watch the live ones of `watches`."""
    spec = [{"id": w.id, "address": w.address, "attr": w.attr} for w in watches
            if w.address is not None and w.pid == pid]
    return f"__import__('cinescope').debugger_watch({json.dumps(json.dumps(spec))})"


HIT_EXPRESSION = "__import__('cinescope').debugger_hit()"


class DataBreakpoints:
    def __init__(self):
        self.watches: list[Watch] = []
        self._next = 1

    def replace(self, requested: list[dict]) -> list[dict]:
        """setDataBreakpoints: the new set; one DAP Breakpoint per request, in
        order (unverified, with the reason, for a dataId not made here)."""
        self.watches, out = [], []
        for bp in requested:
            found = parse((bp or {}).get("dataId"))
            if found is None:
                out.append({"verified": False,
                            "message": "not a data breakpoint of cinescope dap: set it "
                                       "on an attribute of a recorded object"})
                continue
            w = Watch(self._next, *found)
            self._next += 1
            self.watches.append(w)
            out.append({"id": w.id, "verified": True})
        return out

    @property
    def live(self) -> bool:
        return any(w.address is not None for w in self.watches)

    def recorded(self) -> list[tuple[int, str]]:
        return [(w.object, w.attr) for w in self.watches]

    def ids_of(self, obj: int, attr: str) -> list[int]:
        return [w.id for w in self.watches if w.object == obj and w.attr == attr]


def describe_hit(hit: dict) -> str:
    """The text of a live data breakpoint stop."""
    where = f"in {hit['method']}" if hit.get("method") else "outside its methods"
    if "new" in hit or "old" in hit:
        new = "<deleted>" if hit.get("deleted") else preview(hit.get("new"), 40)
        change = f"{preview(hit.get('old', {'missing': True}), 40)} → {new} "
    else:
        change = ""
    return f"{hit.get('attr')} changed {change}{where}"
