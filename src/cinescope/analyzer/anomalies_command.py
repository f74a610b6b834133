"""`cinescope anomalies`: what a recording points at, as a table or JSON lines,
and optionally a language model's explanation of one of them."""
from __future__ import annotations

import argparse
import json
import os
import sys

from ..capture.plan import Plan, build_plan
from ..store.queries import History
from .anomalies import find_anomalies
from .explain import ExplainError, explain_anomaly

USAGE = ("cinescope anomalies [--store PATH] [--session ID] [--plan FILE] [--json] "
         "[--explain N]")


def _parser() -> argparse.ArgumentParser:
    from ..cli import ArgumentParser            # one-line usage errors, as every command
    from ..session import DEFAULT_STORE
    p = ArgumentParser(prog="cinescope anomalies", usage=USAGE, description=(
        "Exceptions and where they start, slow calls, messages never received, growing "
        "queues, race candidates and broken invariants, in a recording."))
    p.add_argument("--store", default=DEFAULT_STORE,
                   help=f"store file (default: {DEFAULT_STORE})")
    p.add_argument("--session", type=int, help="session id (default: the latest)")
    p.add_argument("--plan", help="plan file whose [invariants] and [explain] are used "
                   "(default: the invariants the session was recorded with)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--explain", type=int, metavar="N",
                   help="ask the configured language model to explain anomaly N (1 = the "
                   "first listed); off unless configured (docs/anomalies.md)")
    return p


def session_plan(history: History) -> Plan | None:
    """The plan the session was recorded with (its invariants), if any."""
    data = history.store.session(history.session).get("plan")
    try:
        return Plan.from_dict(data) if data else None
    except (KeyError, TypeError, ValueError):
        return None


def cmd_anomalies(argv: list[str]) -> int:
    opts = _parser().parse_args(argv)
    plan = build_plan(opts.plan) if opts.plan else None
    with History(opts.store, opts.session) as h:
        if plan is None:
            plan = session_plan(h)
        found = find_anomalies(h, plan=plan)
        if opts.explain is not None:
            if not 1 <= opts.explain <= len(found):
                sys.stderr.write(f"cinescope: error: --explain {opts.explain}: the session "
                                 f"has {len(found)} anomalies (1 to {len(found)})\n")
                return 2
            anomaly = found[opts.explain - 1]
            try:
                text = explain_anomaly(h, anomaly, plan=plan)
            except ExplainError as exc:
                sys.stderr.write(f"cinescope: error: {exc}\n")
                return 2
            if opts.json:
                print(json.dumps({"anomaly": anomaly.to_json(), "explanation": text}))
            else:
                print(f"{opts.explain}. {anomaly.message}\n\n{text}")
            return 0
    if opts.json:
        for a in found:
            print(json.dumps(a.to_json(), default=str))
        return 0
    _table(found, h.session)
    return 0


def _table(found, session: int) -> None:
    from rich.console import Console
    from rich.table import Table
    terminal = sys.stdout.isatty()
    columns = os.environ.get("COLUMNS", "")
    width = None if terminal else (int(columns) if columns.isdigit() and int(columns) > 0
                                   else 120)
    console = Console(file=sys.stdout, width=width, force_terminal=terminal,
                      color_system="auto" if terminal else None, markup=False, emoji=False,
                      highlight=False)
    if not found:
        console.print(f"session {session}: no anomalies found")
        return
    noun = "anomaly" if len(found) == 1 else "anomalies"
    table = Table(title=f"session {session}: {len(found)} {noun}", title_justify="left",
                  box=None, header_style="bold")
    for name in ("#", "severity", "kind", "where", "t (s)", "what"):
        table.add_column(name, overflow="fold", no_wrap=name != "what")
    style = {"error": "red", "warning": "yellow", "information": "blue"}
    for n, a in enumerate(found, 1):
        where = f"{os.path.basename(a.file)}:{a.line}" if a.file else ""
        table.add_row(str(n), a.severity, a.kind, where,
                      f"{a.t:.3f}" if a.t is not None else "", a.message,
                      style=style.get(a.severity) if terminal else None)
    if terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    sys.stdout.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")
