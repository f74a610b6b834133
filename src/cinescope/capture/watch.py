"""Watches: the attributes a debugger breaks on when they change.

`cinescope dap` turns a data breakpoint ("break when self.balance changes")
into a watch on one live object's attribute (`Watches.replace`, called in the
stopped program through cinescope.debugger_watch). The state tracker already
compares a recorded object's attributes whenever one of its methods starts
and ends; when a watched one differs, `changed` remembers the change for the
thread and asks debugpy to stop in the program's frame: the caller, right
after the method that made the change returned (or the method itself, when
the change was made from outside it and found as it starts). The debugger
then asks `take_hit` what changed, to say so in the stop.

With no watch set the tracker pays one attribute test per change it finds.
"""
from __future__ import annotations

import sys
import threading

from .values import type_name

MAX_TOLD = 400     # characters of old and new values a hit carries to the debugger


class Watches:
    def __init__(self):
        self.by_object: dict[int, dict[str, int]] = {}   # id(obj) -> {attr: breakpoint id}
        self._hits: dict[int, dict] = {}                  # thread ident -> its last hit

    def replace(self, watches: list[dict], tracked) -> dict[int, str | None]:
        """Watch exactly `watches` ({"id", "address", "attr"}); `tracked(address)`
        says whether the recorder follows that object's state. Returns, per
        breakpoint id, None when watched or why not."""
        by_object: dict[int, dict[str, int]] = {}
        verdict: dict[int, str | None] = {}
        for w in watches:
            if not tracked(w["address"]):
                verdict[w["id"]] = ("the object's state is not recorded: plan its class "
                                    "at level debug or full")
                continue
            by_object.setdefault(w["address"], {})[w["attr"]] = w["id"]
            verdict[w["id"]] = None
        self.by_object = by_object
        return verdict

    def changed(self, obj, changes: dict, code, leaving: bool) -> None:
        """A tracked object's attributes changed (found as method `code` starts
        or ends): stop the debugger if a watched one is among them."""
        watched = self.by_object.get(id(obj))
        if not watched:
            return
        hit = [(attr, watched[attr]) for attr in changes if attr in watched]
        if not hit:
            return
        attr, bp = hit[0]
        change = changes[attr]
        told = {"breakpoints": [b for _, b in hit], "attr": attr, "type": type_name(obj),
                "method": code.co_qualname if leaving else None}
        values = {k: change[k] for k in ("old", "new", "deleted") if k in change}
        if len(repr(values)) <= MAX_TOLD:      # big values: the store has them
            told.update(values)
        self._hits[threading.get_ident()] = told
        frame = sys._getframe(1)
        while frame is not None and frame.f_code is not code:
            frame = frame.f_back
        if frame is not None:
            _stop_at(frame.f_back if leaving and frame.f_back is not None else frame)

    def take_hit(self) -> dict | None:
        """This thread's last hit, once."""
        return self._hits.pop(threading.get_ident(), None)


def _stop_at(frame) -> None:
    """Ask debugpy (if it runs this program) to stop at the next line of `frame`,
    as debugpy.breakpoint() does for its caller's frame."""
    api = sys.modules.get("debugpy.server.api")
    if api is None:
        return
    try:
        if not api.is_client_connected():
            return
        api._settrace(suspend=True, trace_only_current_thread=True,
                      patch_multiprocessing=False, stop_at_frame=frame)
    except Exception:       # a debugpy without this entry: the change is still recorded
        pass
