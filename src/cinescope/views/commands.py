"""The views that answer one question each: timeline, history, messages,
stack, why. Each prints rich tables or trees, or with --json one JSON object
per line (docs/json.md gives the shapes)."""
from __future__ import annotations

import dataclasses
import json

from rich.text import Text

from ..store.queries import History
from . import render
from .console import Out, seconds, stream_table


def common(p) -> None:
    from ..cli import DEFAULT_STORE
    p.add_argument("--store", default=DEFAULT_STORE, help=f"store file (default: {DEFAULT_STORE})")
    p.add_argument("--session", type=int, help="session id (default: the latest)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def parser(name: str, description: str):
    from ..cli import ArgumentParser
    p = ArgumentParser(prog=f"cinescope {name}", description=description)
    common(p)
    return p


def jsonable(value):
    if dataclasses.is_dataclass(value):
        return {k: jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def emit_json(items) -> None:
    for item in items:
        print(json.dumps(jsonable(item)))


def title(text: str) -> Text:
    return Text(text, "bold")


def cmd_timeline(argv: list[str]) -> int:
    p = parser("timeline", "What one actor did, in time order.")
    p.add_argument("--actor", default="MainProcess", help="actor id, key or name "
                   "(default: MainProcess, the main thread)")
    p.add_argument("--from", dest="t0", type=float, help="seconds since the start")
    p.add_argument("--to", dest="t1", type=float, help="seconds since the start")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        events = h.timeline(opts.actor, opts.t0, opts.t1)
        if opts.json:
            emit_json(events)
            return 0
        open_calls = h.call_stack_at(events[0]["id"]) if events else []
    out = Out()
    span = f", t={seconds(events[0]['t'])} to {seconds(events[-1]['t'])}" if events else ""
    name = events[0]["actor_name"] if events else opts.actor
    out.print(title(f"timeline of {name}: {len(events)} events{span}"))
    stream_table(out, render.TIMELINE, render.timeline_rows(events, open_calls))
    return 0


def cmd_history(argv: list[str]) -> int:
    p = parser("history", "How an object's state changed: each change, when, in which "
               "method, old -> new.")
    p.add_argument("target", help='an object id, "module:Class" or "module:Class.attr"')
    p.add_argument("--attr", help="only this attribute")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        target = int(opts.target) if opts.target.isdigit() else opts.target
        changes = h.state_history(target, opts.attr)
        names = render.object_names(h) if not opts.json else {}
    if opts.json:
        emit_json(changes)
        return 0
    out = Out()
    what = names.get(target, opts.target) + (f".{opts.attr}" if opts.attr else "")
    objects = len({c.object for c in changes})
    out.print(title(f"history of {what}: {len(changes)} changes of {objects} "
                    f"object{'s' if objects != 1 else ''}"))
    stream_table(out, render.HISTORY, render.history_rows(changes, names))
    return 0


def cmd_messages(argv: list[str]) -> int:
    p = parser("messages", "Who sent what to whom: each send with its receive.")
    p.add_argument("--from", dest="sender", help="sending actor")
    p.add_argument("--to", dest="receiver", help="receiving actor")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        flow = h.message_flow(opts.sender, opts.receiver)
        names = render.object_names(h) if not opts.json else {}
    if opts.json:
        emit_json(flow)
        return 0
    out = Out()
    lost = sum(1 for m in flow if not m.received)
    between = "".join(f" {word} {who}" for word, who in (("from", opts.sender),
                                                          ("to", opts.receiver)) if who)
    out.print(title(f"messages{between}: {len(flow)}, {len(flow) - lost} received, "
                    f"{lost} not received"))
    rows, styles = render.message_rows(flow, names)
    stream_table(out, render.MESSAGES, rows, styles)
    return 0


def cmd_stack(argv: list[str]) -> int:
    p = parser("stack", "The call stack at an event, outermost first.")
    p.add_argument("--at", type=int, required=True, metavar="EVENT", help="event id")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        stack = h.call_stack_at(opts.at)
        if opts.json:
            emit_json(stack)
            return 0
        at, names = h.event(opts.at), render.object_names(h)
    Out().print(render.stack_tree(render.stack_label(at), stack, names))
    return 0


def cmd_why(argv: list[str]) -> int:
    p = parser("why", "Who set a value: the last change of an attribute before an "
               "event, its method and the stack it was called from.")
    p.add_argument("target", help='"OBJECT.attr" (an object id) or "module:Class.attr"')
    p.add_argument("--at", type=int, metavar="EVENT", help="before this event "
                   "(default: the end)")
    opts = p.parse_args(argv)
    from ..cli import UsageError
    if "." not in opts.target:
        raise UsageError(f"cinescope why: name an attribute: {opts.target}.ATTR")
    target, attr = opts.target.rsplit(".", 1)
    with History(opts.store, opts.session) as h:
        objects = h.objects(int(target) if target.isdigit() else target)
        writes = [w for w in (h.last_write(o, attr, before=opts.at) for o in objects) if w]
        names = render.object_names(h) if not opts.json else {}
    if opts.json:
        emit_json(writes)
        return 0
    out = Out()
    before = f" before event {opts.at}" if opts.at is not None else ""
    if not writes:
        out.line(f"nothing set {opts.target}{before}")
    for i, w in enumerate(writes):
        if i:
            out.line("")
        out.print(render.write_tree(w, names))
    return 0
