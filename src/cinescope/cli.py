"""The `cinescope` command."""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys

from . import __version__
from .capture.backends import BackendError
from .capture.plan import LEVELS, PlanError, build_plan, check_targets
from .store.schema import StoreError
from .session import DEFAULT_PLAN, DEFAULT_STORE

USAGE_ERROR = 2

RECORD_USAGE = ("cinescope record [--plan FILE] [--trace TARGET]... [--level L] [--store PATH] "
                "[--name NAME] (-m MODULE | SCRIPT) [ARGS...]")


class UsageError(Exception):
    pass


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with errors in Cinescope's one-line form."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _record_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="cinescope record", usage=RECORD_USAGE,
                                description="Run a program and record what the plan selects.")
    p.add_argument("--plan", help=f"plan file (default: {DEFAULT_PLAN} if it exists)")
    p.add_argument("--trace", action="append", default=[], metavar="TARGET",
                   help="module, glob, module:Class or module:function; TARGET=LEVEL "
                        "sets its level; repeatable")
    p.add_argument("--level", choices=LEVELS, help="default level (default: the plan's, or debug)")
    p.add_argument("--store", default=DEFAULT_STORE, help=f"store file (default: {DEFAULT_STORE})")
    p.add_argument("--name", help="a name for the session")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line at the end")
    return p


_RECORD_VALUE_OPTIONS = {"--plan", "--trace", "--level", "--store", "--name"}


def split_record_args(argv: list[str]) -> tuple[list[str], str | None, str | None, list[str]]:
    """(cinescope options, script, module, program args): everything after the
    script or -m MODULE belongs to the program."""
    options: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            if i + 1 >= len(argv):
                raise UsageError("-m needs a module name")
            return options, None, argv[i + 1], argv[i + 2:]
        if arg.startswith("-m") and len(arg) > 2:
            return options, None, arg[2:], argv[i + 1:]
        if arg == "--":
            if i + 1 >= len(argv):
                break
            return options, argv[i + 1], None, argv[i + 2:]
        if arg.startswith("-") and arg != "-":
            options.append(arg)
            if arg in _RECORD_VALUE_OPTIONS:
                if i + 1 >= len(argv):
                    raise UsageError(f"{arg} needs a value")
                options.append(argv[i + 1])
                i += 1
            i += 1
            continue
        return options, arg, None, argv[i + 1:]
    if any(o in ("-h", "--help") for o in options):
        return options, None, None, []
    raise UsageError("say what to run: a script, or -m MODULE")


def cmd_record(argv: list[str]) -> int:
    from . import runner
    from .session import Recording

    options, script, module, args = split_record_args(argv)
    opts = _record_parser().parse_args(options)
    plan_file = opts.plan
    if plan_file is None and os.path.exists(DEFAULT_PLAN):
        plan_file = DEFAULT_PLAN
    if plan_file is None and not opts.trace:
        raise PlanError(f"nothing to record: pass --trace TARGET, or write {DEFAULT_PLAN} "
                        "(see the README)")
    plan = build_plan(plan_file, opts.trace, opts.level)
    alias, main_file = runner.prepare(script, module, args)
    check_targets(plan, sys.path, main_module=alias, main_file=main_file)
    recording = Recording(plan, opts.store, name=opts.name,
                          argv=[script] + args if script else ["-m", module] + args,
                          main_alias=alias, main_file=main_file)
    recording.start()
    store_shown = os.path.relpath(recording.store) if not opts.store.startswith("/") \
        else recording.store

    def on_end(status: int) -> None:
        if opts.quiet:
            return
        try:
            written, dropped = recording.counts()
        except Exception:
            written = dropped = "?"
        sys.stderr.write(f"cinescope: {written} events written, {dropped} dropped, "
                         f"{recording.duration:.2f} s, store {store_shown}, "
                         f"session {recording.id}\n")
        sys.stderr.flush()

    runner.run(recording, script, module, args, on_end)
    return 0


# --- reading -------------------------------------------------------------------

def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=DEFAULT_STORE, help=f"store file (default: {DEFAULT_STORE})")


def cmd_sessions(argv: list[str]) -> int:
    from .store.store import Store
    p = ArgumentParser(prog="cinescope sessions", description="List recorded sessions.")
    _store_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    opts = p.parse_args(argv)
    with Store(opts.store) as store:
        sessions = store.sessions()
    if opts.json:
        for s in sessions:
            print(json.dumps(s))
        return 0
    if not sessions:
        print(f"no sessions in {opts.store}")
        return 0
    rows = [("id", "name", "started", "status", "exit", "events", "dropped", "program")]
    for s in sessions:
        rows.append((str(s["id"]), s["name"] or "", s["started_at"][:19].replace("T", " "),
                     s["status"], "" if s["exit_status"] is None else str(s["exit_status"]),
                     str(s["events_written"]), str(s["events_dropped"]), " ".join(s["argv"])))
    _print_table(rows)
    return 0


def cmd_events(argv: list[str]) -> int:
    from .store.store import Store
    p = ArgumentParser(prog="cinescope events", description="List recorded events.")
    _store_arg(p)
    p.add_argument("--session", type=int, help="session id (default: the latest)")
    p.add_argument("--kind", action="append", default=[],
                   help="call, return, raise, state, send, receive, spawn, exit, line; repeatable")
    p.add_argument("--actor", help="actor id, key or name")
    p.add_argument("--limit", type=int, help="at most N events")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    opts = p.parse_args(argv)
    with Store(opts.store) as store:
        events = store.events(opts.session, opts.kind, opts.actor, opts.limit)
    if opts.json:
        for e in events:
            print(json.dumps(e))
        return 0
    for e in events:
        print(format_event(e))
    return 0


def cmd_summary(argv: list[str]) -> int:
    from .summary import summarize
    from .store.store import Store
    p = ArgumentParser(prog="cinescope summary",
                                description="What a session holds, in a few lines.")
    _store_arg(p)
    p.add_argument("--session", type=int, help="session id (default: the latest)")
    opts = p.parse_args(argv)
    with Store(opts.store) as store:
        print(summarize(store, opts.session))
    return 0


def format_event(e: dict) -> str:
    from .summary import short_value
    loc = e["location"]
    where = f"{os.path.basename(loc['file'])}:{loc['line']} {loc['function']}" if loc else ""
    data = e["data"]
    detail = ""
    kind = e["kind"]
    if kind == "call" and "args" in data:
        detail = ", ".join(f"{k}={short_value(v)}" for k, v in data["args"].items())
    elif kind == "return" and "value" in data:
        detail = ("yield " if data.get("yielded") else "-> ") + short_value(data["value"])
    elif kind == "raise":
        exc = data.get("exception") or {}
        detail = f"{exc.get('type', '?')}: {exc.get('message', '')}"
    elif kind == "state":
        detail = "; ".join(
            f"{k}: {short_value(c['old']) if 'old' in c else '(new)'} -> "
            f"{'(deleted)' if c.get('deleted') else short_value(c.get('new'))}"
            for k, c in data["changes"].items())
        detail = f"[{data['method'] or 'outside a method'}] {detail}"
    elif kind in ("send", "receive"):
        detail = f"msg {e['message']} {short_value(data.get('value'))}"
    elif kind in ("spawn", "exit"):
        detail = ", ".join(f"{k}={short_value(v)}" for k, v in data.items())
    elif kind == "line":
        detail = ", ".join(f"{k}={short_value(v)}" for k, v in data["locals"].items())
    return (f"{e['id']:>6} {e['t']:>10.6f} {e['actor_name'] or e['actor']!s:<14} "
            f"{kind:<8} {where:<40} {detail}")


def _print_table(rows: list[tuple]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def cmd_dap(argv: list[str]) -> int:
    p = ArgumentParser(prog="cinescope dap", description="A Debug Adapter Protocol server: "
                       "debugpy, recording the program, with history scopes and Step Back.")
    p.add_argument("--port", type=int, help="listen on 127.0.0.1:PORT (0: any free port) "
                                            "instead of stdio")
    args = p.parse_args(argv)
    from .dap_server import main as dap
    return dap.run_stdio() if args.port is None else dap.run_port(args.port)


def cmd_analyze(argv: list[str]) -> int:
    from .analyzer.analyze_command import cmd_analyze as analyze
    return analyze(argv)


def cmd_anomalies(argv: list[str]) -> int:
    from .analyzer.anomalies_command import cmd_anomalies as anomalies
    return anomalies(argv)


COMMANDS = {"record": cmd_record, "sessions": cmd_sessions, "events": cmd_events,
            "summary": cmd_summary, "dap": cmd_dap, "analyze": cmd_analyze,
            "anomalies": cmd_anomalies}


def _views() -> None:
    from .views import COMMANDS as VIEWS
    COMMANDS.update(VIEWS)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: cinescope COMMAND ...\n\ncommands:\n"
              f"  {RECORD_USAGE[len('cinescope '):]}\n"
              "  sessions [--store PATH] [--json]\n"
              "  events [--store PATH] [--session ID] [--kind K]... [--actor A] [--limit N] "
              "[--json]\n"
              "  summary [--store PATH] [--session ID]\n"
              "  timeline [--actor A] [--from T] [--to T]      what one actor did\n"
              "  history TARGET [--attr A]                     how an object's state changed\n"
              "  messages [--from A] [--to B]                  sends paired with receives\n"
              "  stack --at EVENT                              the call stack at an event\n"
              "  why TARGET.ATTR [--at EVENT]                  who set a value, from where\n"
              "  replay [--actor A] [--at EVENT]               step forward and back\n"
              "(views take --store PATH, --session ID and --json)\n"
              "  anomalies [--plan FILE] [--explain N]         what the recording points at\n"
              "  dap [--port N]                                a debug adapter: debugpy with "
              "history\n"
              "  analyze [PATH] [--json] [--write-plan]        what deserves recording\n")
        return 0 if argv else USAGE_ERROR
    if argv[0] == "--version":
        print(f"cinescope {__version__}")
        return 0
    _views()
    command = COMMANDS.get(argv[0])
    if command is None:
        sys.stderr.write(f"cinescope: error: unknown command {argv[0]!r}; "
                         f"commands: {', '.join(COMMANDS)}\n")
        return USAGE_ERROR
    from .runner import ProgramError
    try:
        return command(argv[1:])
    except (PlanError, StoreError, ProgramError, UsageError, BackendError) as exc:
        sys.stderr.write(f"cinescope: error: {exc}\n")
        return USAGE_ERROR
    except sqlite3.DatabaseError as exc:
        sys.stderr.write(f"cinescope: error: the store is corrupt or unreadable ({exc}); "
                         "restore it from a copy or choose another --store\n")
        return USAGE_ERROR
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
