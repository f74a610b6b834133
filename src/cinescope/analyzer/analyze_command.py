"""`cinescope analyze [PATH]`: what in a project deserves recording, ranked,
and optionally written into its plan file."""
from __future__ import annotations

import argparse
import json
import os
import sys

from ..capture.plan import LEVELS, PlanError
from .findings import KINDS
from .planning import add_targets, plan_for, targets_for
from .project import analyze_project

USAGE = ("cinescope analyze [PATH] [--json] [--write-plan] [--top N] [--kind K]... "
         "[--limit N] [--level L] [--no-cache] [--cache-dir DIR]")
DEFAULT_TOP = 10
DEFAULT_LIMIT = 30
PROGRESS_FROM = 200         # files to read before a progress bar is shown


class AnalyzeUsageError(ValueError):
    """A command line `cinescope analyze` cannot use; the message says why."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise AnalyzeUsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cinescope analyze", usage=USAGE,
                description="Read a project's code (never importing or running it) and rank "
                            "what deserves recording: stateful classes, actors, channels, "
                            "shared state, exceptions, complex functions.")
    p.add_argument("path", nargs="?", default=".", help="project directory or file (default: .)")
    p.add_argument("--json", action="store_true", help="print a JSON document (docs/json.md)")
    p.add_argument("--write-plan", action="store_true",
                   help="add the top findings' targets to PATH/.cinescope/plan.toml")
    p.add_argument("--top", type=int, default=DEFAULT_TOP, metavar="N",
                   help=f"how many findings --write-plan takes, best first (default {DEFAULT_TOP})")
    p.add_argument("--kind", action="append", choices=KINDS, default=[],
                   help="only findings of this kind; repeatable")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                   help=f"rows of the table (default {DEFAULT_LIMIT}; 0: all)")
    p.add_argument("--level", choices=LEVELS, default="debug",
                   help="level of a new plan file (default debug)")
    p.add_argument("--no-cache", action="store_true", help="read every file, keep no cache")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="cache directory (default PATH/.cinescope/analyze-cache)")
    return p


class _Bar:
    """A rich progress bar on stderr, shown only on a terminal and for many files."""

    def __init__(self):
        self.progress = self.task = None

    def __call__(self, done, total):
        if self.progress is None:
            if total < PROGRESS_FROM or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress
            self.progress = Progress(console=Console(file=sys.stderr), transient=True)
            self.progress.start()
            self.task = self.progress.add_task("reading files", total=total)
        self.progress.update(self.task, completed=done)

    def stop(self):
        if self.progress is not None:
            self.progress.stop()


def write_plan(root: str, findings, top: int, level: str) -> tuple[str, list[str]]:
    """Add the top findings' targets to ROOT/.cinescope/plan.toml (made if
    missing, with a comment per target); (plan path, targets added)."""
    base = root if os.path.isdir(root) else os.path.dirname(root) or "."
    plan_path = os.path.normpath(os.path.join(base, ".cinescope", "plan.toml"))
    chosen = findings[:top]
    if not os.path.exists(plan_path):
        os.makedirs(os.path.dirname(plan_path), exist_ok=True)
        with open(plan_path, "w", encoding="utf-8") as fh:
            fh.write(plan_for(chosen, level))
        return plan_path, targets_for(chosen)
    return plan_path, add_targets(plan_path, targets_for(chosen))


def _table(report, findings, limit):
    from ..views.console import Column, Out, stream_table
    out = Out()
    shown = findings if limit == 0 else findings[:limit]
    rows = []
    for rank, f in enumerate(shown, start=1):
        where = f"{os.path.relpath(f.path, report.root) if os.path.isdir(report.root) else f.path}:{f.line}"
        rows.append((str(rank), f"{f.score:g}", f.kind, f.target, where, f.reason))
    stream_table(out, [Column("#", justify="right", shrink=False),
                       Column("score", justify="right", shrink=False), Column("kind"),
                       Column("target", style="bold"), Column("where", style="dim"),
                       Column("reason")], rows)
    if len(shown) < len(findings):
        out.line(f"... {len(findings) - len(shown)} more (--limit 0 shows all)")
    return out


def cmd_analyze(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.top < 1 or args.limit < 0:
            raise AnalyzeUsageError("cinescope analyze: --top must be >= 1 and --limit >= 0")
        if not os.path.exists(args.path):
            raise AnalyzeUsageError(f"cinescope analyze: {args.path} does not exist")
    except AnalyzeUsageError as exc:
        print(f"cinescope: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:          # --help
        return exc.code if isinstance(exc.code, int) else 0
    bar = _Bar()
    try:
        report = analyze_project(args.path, progress=bar,
                                 cache=False if args.no_cache else (args.cache_dir or True))
    finally:
        bar.stop()
    findings = [f for f in report.findings if not args.kind or f.kind in args.kind]
    plan = None
    if args.write_plan:
        try:
            plan = write_plan(args.path, findings, args.top, args.level)
        except (PlanError, OSError) as exc:
            print(f"cinescope: error: cannot write the plan: {exc}", file=sys.stderr)
            return 2
    if args.json:
        doc = {"root": report.root, "files": report.files, "parsed": report.parsed,
               "cached": report.cached, "seconds": round(report.seconds, 3),
               "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
               "findings": [f.to_json() for f in findings]}
        if plan:
            doc["plan"] = {"path": plan[0], "added": plan[1]}
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = _table(report, findings, args.limit)
    out.line(f"{len(findings)} findings in {report.files} files ({report.parsed} read, "
             f"{report.cached} from the cache, {len(report.skipped)} skipped) "
             f"in {report.seconds:.2f} s")
    for path, reason in report.skipped[:5]:
        out.line(f"skipped {path}: {reason}")
    if len(report.skipped) > 5:
        out.line(f"skipped {len(report.skipped) - 5} more files that do not parse (--json lists them)")
    if plan:
        path, added = plan
        out.line(f"wrote {len(added)} target{'s' if len(added) != 1 else ''} from the top "
                 f"{min(args.top, len(findings))} findings to {path}"
                 + (": " + ", ".join(added) if added else " (all were planned already)"))
    return 0
