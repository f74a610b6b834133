"""`cinescope replay`: step through a recording, forward and back. Commands
come from stdin (a terminal or a pipe); after each, the cursor's position
(or what was asked) is shown, or with --json printed as JSON."""
from __future__ import annotations

import json
import shlex
import sys

from ..store.queries import History
from . import render
from .commands import jsonable, parser
from .console import Out

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


class Screen:
    """What replay prints: rich renderings, or JSON lines with --json."""

    def __init__(self, cur, as_json: bool):
        self.cur, self.json = cur, as_json
        self.out = Out()
        self.names = render.object_names(cur.history) if not as_json else {}

    def event(self, e: dict) -> None:
        if self.json:
            print(json.dumps(jsonable(e)))
        else:
            self.out.print(render.position(e, self.cur.stack(), self.names))

    def result(self, command: str, rest: list[str], result) -> None:
        if self.json:
            if isinstance(result, dict) and "kind" in result:
                self.event(result)
                return
            for item in result if isinstance(result, list) else [result]:
                print(json.dumps(jsonable(item)))
        elif command in ("p", "print", "l", "locals"):
            at = f" at event {self.cur.event['id']}" if self.cur.event else ""
            what = render.object_name(self.names, int(rest[0])) if command in ("p", "print") \
                else "locals"
            self.out.print(render.attributes(what + at, result))
        elif command in ("w", "where"):
            label = render.stack_label(self.cur.event) if self.cur.event else "call stack"
            self.out.print(render.stack_tree(label, result, self.names))
        elif isinstance(result, dict):
            self.event(result)
        else:
            self.out.line(str(result))


def cmd_replay(argv: list[str]) -> int:
    from ..replay import Cursor
    p = parser("replay", "Step through a recording, forward and back.")
    p.add_argument("--actor", default="MainProcess",
                   help='actor to follow ("all": every actor, in time order)')
    p.add_argument("--at", type=int, metavar="EVENT", help="start at this event")
    opts = p.parse_args(argv)
    cur = Cursor(History(opts.store, opts.session),
                 None if opts.actor == "all" else opts.actor)
    if opts.at is not None:
        try:
            cur.seek(event=opts.at)
        except ValueError as exc:               # another actor's event
            from ..cli import UsageError
            cur.history.__exit__(None, None, None)
            raise UsageError(f"cinescope replay: {exc} (--actor all: every actor)") from None
    else:
        cur.step_forward(into=True)
    screen = Screen(cur, opts.json)
    interactive = sys.stdin.isatty()
    if interactive:
        print(REPLAY_HELP)
    if cur.event:
        screen.event(cur.event)
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
        except Exception as exc:        # a bad command, a StoreError: say it, keep the session
            print(f"error: {exc}")
            continue
        if result == "quit":
            break
        if result is None:
            print("(no such event: the cursor stays)")
        else:
            screen.result(command, rest, result)
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
