"""The history scopes a stopped frame gains: "History: self", "Messages",
"Recent calls", and for a frame shown from the recording, "Locals (recorded)".

Each is built from the store (cinescope.store.History) at a moment: `before`,
the event the view stops at (None: now, the live end of the recording).
"""
from __future__ import annotations

from ..store.queries import History
from .variables import Handles, group, preview, variable

MAX_CHANGES = 200      # change events shown (one may change several attributes)
MAX_MESSAGES = 50
MAX_CALLS = 50


def _when(h: History, ts: int) -> str:
    return f"t+{(ts - h.start_ns) / 1e9:.6f}s"


def _key(event: dict | None):
    return (event["ts"], event["id"]) if event is not None else (2 ** 63, 2 ** 63)


def _fields(handles: Handles, pairs) -> list[dict]:
    return [variable(name, value, handles) for name, value in pairs]


def self_scope(h: History, obj: int, before: dict | None, handles: Handles) -> dict:
    """The object's state timeline: its state at the moment, then each change
    (when, in which method, by which actor, old -> new), oldest first."""
    def make():
        changes, earlier = h.last_changes(obj, MAX_CHANGES, before=_key(before)
                                          if before is not None else None)
        state = h.state_at(obj, before=before["id"] if before is not None else None)
        out = [group("state", preview({"type": "dict", "items": [[k, v] for k, v in
                                                                 sorted(state.items())]}),
                     lambda: _fields(handles, sorted(state.items())), handles, obj)]
        if earlier:
            out.append({"name": "…", "value": "earlier changes (`cinescope history` shows "
                        "them all)", "variablesReference": 0})
        for c in changes:
            where = f"in {c.method}" if c.method else "outside its methods"
            new = "<deleted>" if c.deleted else preview(c.new, 50)
            text = f"{preview(c.old, 50)} → {new}  {where}, {c.actor_name}, {_when(h, c.ts)}"
            out.append(group(f"{c.attr} #{c.event}", text, lambda c=c: _fields(handles, [
                ("attr", c.attr), ("old", c.old), ("new", c.new if not c.deleted
                                                   else {"missing": True}),
                ("method", c.method), ("actor", c.actor_name), ("t", round((c.ts - h.start_ns)
                                                                          / 1e9, 9)),
                ("event", c.event)]), handles))
        return out
    return {"name": "History: self", "variablesReference": handles.add(make, obj),
            "expensive": False, "presentationHint": "data"}


def messages_scope(h: History, actor: int, before: dict | None, handles: Handles) -> dict:
    """The actor's recent sends and receives, each with its counterpart."""
    def make():
        out = []
        for m in h.actor_messages(actor, MAX_MESSAGES,
                                  _key(before) if before is not None else None):
            side = m.send if m.send is not None and m.send["actor"] == actor else m.receive
            if side is m.send:
                other = m.receive["actor_name"] if m.receive else None
                text = (f"sent {preview(m.value, 50)} → "
                        + (f"received by {other}" if m.receive else "never received"))
                name = f"→ #{m.message}"
            else:
                other = m.send["actor_name"] if m.send else "?"
                text = f"received {preview(m.value, 50)} from {other}"
                name = f"← #{m.message}"
            latency = f" after {m.latency_ns / 1e6:.3f} ms" if m.latency_ns is not None else ""
            out.append(group(name, text + latency + f", {_when(h, side['ts'])}",
                             lambda m=m: _fields(handles, [
                                 ("value", m.value),
                                 ("sender", m.send["actor_name"] if m.send else None),
                                 ("receiver", m.receive["actor_name"] if m.receive else None),
                                 ("received", m.received),
                                 ("latency_ms", m.latency_ns / 1e6 if m.latency_ns is not None
                                  else None)]), handles))
        if not out:
            out.append({"name": "(none)", "value": "no message recorded for this thread "
                        "or task yet", "variablesReference": 0})
        return out
    return {"name": "Messages", "variablesReference": handles.add(make), "expensive": False}


def calls_scope(h: History, actor: int, before: dict | None, handles: Handles) -> dict:
    """The actor's most recent calls, newest first, with what they returned."""
    def make():
        events = h.recent(actor, MAX_CALLS * 4, before=before)
        ended = {e["call"]: e for e in events if e["kind"] in ("return", "raise")}
        calls = [e for e in events if e["kind"] == "call"][-MAX_CALLS:]
        out = []
        for call in reversed(calls):
            function = (call["location"] or {}).get("function") or "?"
            args = (call.get("data") or {}).get("args") or {}
            text = f"{function}({', '.join(f'{k}={preview(v, 30)}' for k, v in args.items())})"
            end = ended.get(call["id"])
            pairs = [("args", {"type": "dict", "items": [[k, v] for k, v in args.items()]})]
            if end is None:
                result = "  (not returned yet)"
            elif end["kind"] == "raise":
                exc = (end.get("data") or {}).get("exception") or {}
                result = f"  raised {exc.get('type', '?')}"
                pairs.append(("raised", exc.get("message")))
            else:
                value = (end.get("data") or {}).get("value")
                result = f"  → {preview(value, 40)}" if "value" in (end.get("data") or {}) \
                    else "  → returned"
                pairs.append(("returned", value))
                pairs.append(("duration_ms", (end["ts"] - call["ts"]) / 1e6))
            out.append(group(f"#{call['id']} {_when(h, call['ts'])}", text + result,
                             lambda pairs=pairs: _fields(handles, pairs), handles))
        if not out:
            out.append({"name": "(none)", "value": "no call recorded for this thread or task "
                        "yet", "variablesReference": 0})
        return out
    return {"name": "Recent calls", "variablesReference": handles.add(make), "expensive": False}


def locals_scope(values: dict, handles: Handles, name: str = "Locals (recorded)") -> dict:
    items = sorted(values.items())
    return {"name": name, "presentationHint": "locals", "expensive": False,
            "variablesReference": handles.add(lambda: _fields(handles, items))}
