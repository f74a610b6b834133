"""A recording session: a plan, a store, and a recorder writing into it.

This is the Python API for recording (the CLI's `record` uses it too)::

    from cinescope import record
    with record(trace=["myapp.*"], store="rec.db") as session:
        run_things()
    print(session.id, session.events_written)

Child processes started through multiprocessing record into the same session:
forked children keep the recorder; spawned ones start it while unpickling
their Process object (see capture.actors).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

from .capture.backends import backend_name
from .capture.plan import Plan, build_plan
from .capture.recorder import Recorder
from .store.pipe import WriterProcess
from .store.writer import create_session

DEFAULT_STORE = os.path.join(".cinescope", "recordings.db")
DEFAULT_PLAN = os.path.join(".cinescope", "plan.toml")


class Recording:
    def __init__(self, plan: Plan, store: str, *, name: str | None = None,
                 argv: list[str] | None = None, main_alias: str | None = None,
                 main_file: str | None = None):
        self.plan = plan
        self.store = os.path.abspath(store)
        self.name = name
        self.argv = list(sys.argv if argv is None else argv)
        self.main_alias = main_alias
        self.main_file = main_file
        self.id: int | None = None
        self.recorder: Recorder | None = None
        self.started = 0.0
        self.duration = 0.0
        self._previous_sigterm = None

    def start(self) -> "Recording":
        backend = backend_name()
        self.id = create_session(self.store, name=self.name, argv=self.argv,
                                 plan=self.plan.to_dict(), level=self.plan.max_level,
                                 backend=backend)
        config = {"store": self.store, "session": self.id, "plan": self.plan.to_dict(),
                  "main_alias": self.main_alias, "main_file": self.main_file}
        self.recorder = Recorder(self.plan, self._sink_factory(), main_alias=self.main_alias,
                                 main_file=self.main_file,
                                 child_starter=(start_child, config))
        self.started = time.monotonic()
        self.recorder.start()
        self._install_sigterm()
        return self

    def _sink_factory(self):
        store, session = self.store, self.id

        def factory():
            return WriterProcess(store, session, self.recorder.modules, self.recorder.arena)
        self._pid = os.getpid()
        return factory

    def _install_sigterm(self) -> None:
        """SIGTERM with no handler of the program's: write what was recorded,
        then die of SIGTERM as the program would have."""
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread
            pass

    def _on_sigterm(self, signum, frame) -> None:
        self.finish(exit_status=-signal.SIGTERM, status="terminated")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def finish(self, exit_status: int | None = 0, status: str = "finished",
               error: str | None = None) -> None:
        rec = self.recorder
        if rec is None or os.getpid() != self._pid:
            return
        self.recorder = None
        self.duration = time.monotonic() - self.started
        rec.stop(exit_info={"exit_status": exit_status},
                 session_end={"exit_status": exit_status, "status": status, "error": error})
        if self._previous_sigterm is not None:
            with contextlib.suppress(ValueError):
                if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                    signal.signal(signal.SIGTERM, self._previous_sigterm)

    def counts(self) -> tuple[int, int]:
        """(events written, events dropped) for the whole session, all processes."""
        from .store.store import Store
        with Store(self.store) as store:
            session = store.session(self.id)
        return session["events_written"], session["events_dropped"]


def start_child(config: dict) -> None:
    """Runs in a spawned child process (while its Process object is unpickled):
    record this process into the parent's session."""
    plan = Plan.from_dict(config["plan"])
    rec_holder: dict = {}

    def factory():
        return WriterProcess(config["store"], config["session"], rec_holder["rec"].modules,
                             rec_holder["rec"].arena)

    rec = Recorder(plan, factory, main_alias=config.get("main_alias"),
                   main_file=config.get("main_file"),
                   parent_actor=config.get("parent_actor"),
                   child_starter=(start_child, {k: v for k, v in config.items()
                                                if k not in ("parent_actor", "name")}),
                   process_name=config.get("name") or "child")
    rec_holder["rec"] = rec
    try:
        rec.start()
    except Exception as exc:  # the child must run even if recording cannot
        sys.stderr.write(f"cinescope: not recording child process {os.getpid()}: {exc}\n")


@contextlib.contextmanager
def record(trace=(), *, plan: str | None = None, level: str | None = None,
           store: str = DEFAULT_STORE, name: str | None = None):
    """Record the code a plan selects while the block runs."""
    recording = Recording(build_plan(plan, list(trace), level), store, name=name).start()
    try:
        yield recording
    except BaseException:
        recording.finish(exit_status=1, status="failed")
        raise
    recording.finish()
