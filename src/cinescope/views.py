"""Terminal views of a recording: timeline, history, messages, stack, why,
and the interactive stepper `replay`. Each prints text, or with --json one
JSON object per line (docs/json.md gives the shapes)."""
from __future__ import annotations

import dataclasses
import json
import shlex
import sys

from .store.queries import MISSING, History


def _common(p) -> None:
    from .cli import DEFAULT_STORE
    p.add_argument("--store", default=DEFAULT_STORE, help=f"store file (default: {DEFAULT_STORE})")
    p.add_argument("--session", type=int, help="session id (default: the latest)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def _parser(name: str, description: str):
    from .cli import ArgumentParser
    p = ArgumentParser(prog=f"cinescope {name}", description=description)
    _common(p)
    return p


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _show(value) -> str:
    from .summary import short_value
    return "(unset)" if value is MISSING or value == MISSING else short_value(value)


def _emit(items, as_json: bool, text) -> None:
    for item in items:
        print(json.dumps(_jsonable(item)) if as_json else text(item))


def _frame_line(f) -> str:
    import os
    where = f"{os.path.basename(f.file)}:{f.line}" if f.file else "?"
    return f"{f.function}  ({where}, call {f.call})"


def cmd_timeline(argv: list[str]) -> int:
    from .cli import format_event
    p = _parser("timeline", "What one actor did, in time order.")
    p.add_argument("--actor", default="MainProcess", help="actor id, key or name "
                   "(default: MainProcess, the main thread)")
    p.add_argument("--from", dest="t0", type=float, help="seconds since the start")
    p.add_argument("--to", dest="t1", type=float, help="seconds since the start")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        events = h.timeline(opts.actor, opts.t0, opts.t1)
    _emit(events, opts.json, format_event)
    return 0


def cmd_history(argv: list[str]) -> int:
    p = _parser("history", "How an object's state changed: each change, when, in which "
                "method, old -> new.")
    p.add_argument("target", help='an object id, "module:Class" or "module:Class.attr"')
    p.add_argument("--attr", help="only this attribute")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        target = int(opts.target) if opts.target.isdigit() else opts.target
        changes = h.state_history(target, opts.attr)

    def text(c) -> str:
        return (f"{c.event:>6} {c.t:>10.6f} {c.actor_name or c.actor!s:<14} #{c.object} "
                f"{c.attr}: {_show(c.old)} -> {'(deleted)' if c.deleted else _show(c.new)}"
                f"  [{c.method or 'outside a method'}]")
    _emit(changes, opts.json, text)
    return 0


def cmd_messages(argv: list[str]) -> int:
    p = _parser("messages", "Who sent what to whom: each send with its receive.")
    p.add_argument("--from", dest="sender", help="sending actor")
    p.add_argument("--to", dest="receiver", help="receiving actor")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        flow = h.message_flow(opts.sender, opts.receiver)

    def text(m) -> str:
        sender = m.send["actor_name"] if m.send else "?"
        receiver = m.receive["actor_name"] if m.receive else "(not received)"
        when = f"{m.send['t']:>10.6f}" if m.send else " " * 10
        latency = f"  {m.latency_ns / 1000:.1f} us" if m.latency_ns is not None else ""
        return f"{when} {sender} -> {receiver}: {_show(m.value)}{latency}"
    _emit(flow, opts.json, text)
    return 0


def cmd_stack(argv: list[str]) -> int:
    p = _parser("stack", "The call stack at an event, outermost first.")
    p.add_argument("--at", type=int, required=True, metavar="EVENT", help="event id")
    opts = p.parse_args(argv)
    with History(opts.store, opts.session) as h:
        stack = h.call_stack_at(opts.at)
    _emit(stack, opts.json, lambda f: "  " * stack.index(f) + _frame_line(f))
    return 0


def cmd_why(argv: list[str]) -> int:
    p = _parser("why", "Who set a value: the last change of an attribute before an "
                "event, its method and the stack it was called from.")
    p.add_argument("target", help='"OBJECT.attr" (an object id) or "module:Class.attr"')
    p.add_argument("--at", type=int, metavar="EVENT", help="before this event "
                   "(default: the end)")
    opts = p.parse_args(argv)
    from .cli import UsageError
    if "." not in opts.target:
        raise UsageError(f"cinescope why: name an attribute: {opts.target}.ATTR")
    target, attr = opts.target.rsplit(".", 1)
    with History(opts.store, opts.session) as h:
        objects = h.objects(int(target) if target.isdigit() else target)
        writes = [w for w in (h.last_write(o, attr, before=opts.at) for o in objects) if w]
    if opts.json:
        _emit(writes, True, None)
        return 0
    if not writes:
        print(f"nothing set {opts.target}" + (f" before event {opts.at}" if opts.at else ""))
    for w in writes:
        c = w.change
        print(f"#{c.object}.{c.attr} = {_show(c.new)} (was {_show(c.old)}), set at event "
              f"{c.event}, t={c.t:.6f}, by {c.method or 'code outside its methods'} "
              f"in {c.actor_name}")
        for depth, f in enumerate(w.stack):
            print("  " * (depth + 1) + _frame_line(f))
    return 0


REPLAY_HELP = """commands:
  n, next [in]        step forward (over calls; "in": into them)
  b, back [in]        step back (over calls; "in": into them)
  c, continue F       forward to the next call of function F (or FILE:LINE)
  rc, reverse F       back to the previous call of function F (or FILE:LINE)
  s, seek EVENT       go to an event (t=SECONDS: to a time)
  p, print OBJ        an object's attributes at this moment
  l, locals           the current call's arguments and recorded locals
  w, where            the call stack
  q, quit"""


def cmd_replay(argv: list[str]) -> int:
    from .cli import format_event
    from .replay import Cursor
    p = _parser("replay", "Step through a recording, forward and back.")
    p.add_argument("--actor", default="MainProcess",
                   help='actor to follow ("all": every actor, in time order)')
    p.add_argument("--at", type=int, metavar="EVENT", help="start at this event")
    opts = p.parse_args(argv)
    cur = Cursor(History(opts.store, opts.session),
                 None if opts.actor == "all" else opts.actor)
    if opts.at is not None:
        cur.seek(event=opts.at)
    else:
        cur.step_forward(into=True)
    interactive = sys.stdin.isatty()
    print(REPLAY_HELP if interactive else "", end="\n" if interactive else "")
    show = print if not opts.json else (lambda e: print(json.dumps(_jsonable(e))))
    if cur.event:
        show(format_event(cur.event) if not opts.json else cur.event)
    while True:
        if interactive:
            sys.stdout.write("(replay) ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            break
        words = shlex.split(line.strip()) if line.strip() else []
        if not words:
            continue
        command, rest = words[0], words[1:]
        try:
            result = _replay_command(cur, command, rest)
        except (ValueError, LookupError) as exc:
            print(f"error: {exc}")
            continue
        except Exception as exc:        # a StoreError: say it, keep the session
            print(f"error: {exc}")
            continue
        if result == "quit":
            break
        if result is None:
            print("(no such event: the cursor stays)")
        elif isinstance(result, dict) and "kind" in result:
            show(format_event(result) if not opts.json else result)
        elif isinstance(result, list):
            for item in result:
                print(json.dumps(_jsonable(item)) if opts.json else _frame_line(item))
        else:
            print(json.dumps(_jsonable(result)) if opts.json else result)
    cur.history.__exit__(None, None, None)
    return 0


def _where(rest: list[str]) -> dict:
    if not rest:
        raise ValueError("say where: a function name, or FILE:LINE")
    target = rest[0]
    if ":" in target and target.rsplit(":", 1)[1].isdigit():
        file, line = target.rsplit(":", 1)
        return {"file": file, "line": int(line)}
    return {"function": target}


def _replay_command(cur, command: str, rest: list[str]):
    into = rest[:1] == ["in"]
    if command in ("n", "next"):
        return cur.step_forward(into=into)
    if command in ("b", "back"):
        return cur.step_back(into=into)
    if command in ("c", "continue"):
        return cur.continue_(**_where(rest))
    if command in ("rc", "reverse"):
        return cur.reverse_continue(**_where(rest))
    if command in ("s", "seek"):
        if not rest:
            raise ValueError("seek EVENT or seek t=SECONDS")
        if rest[0].startswith("t="):
            return cur.seek(t=float(rest[0][2:]))
        return cur.seek(event=int(rest[0]))
    if command in ("p", "print"):
        if not rest or not rest[0].isdigit():
            raise ValueError("print OBJECT_ID")
        return cur.state_at(int(rest[0]))
    if command in ("l", "locals"):
        return cur.locals()
    if command in ("w", "where"):
        return cur.stack()
    if command in ("q", "quit"):
        return "quit"
    if command in ("h", "help", "?"):
        return REPLAY_HELP
    raise ValueError(f"unknown command {command!r}; `help` lists them")


COMMANDS = {"timeline": cmd_timeline, "history": cmd_history, "messages": cmd_messages,
            "stack": cmd_stack, "why": cmd_why, "replay": cmd_replay}
