"""Actors: threads, asyncio tasks and child processes, their spawns and exits.

No interpreter event marks a thread, task or process starting or ending, so
these are hooked where the standard library starts them:

- ``threading.Thread.start`` (spawn, in the spawner) and
  ``Thread._bootstrap_inner`` (the new thread's actor, and its exit);
  ``threading.excepthook`` notes the exception a thread ended with;
- ``BaseEventLoop.create_task`` (spawn) and a done callback (exit: result,
  exception or cancelled);
- ``multiprocessing``'s ``BaseProcess.start`` (spawn) and ``_bootstrap`` (the
  child records into the same session as its own actor, and its exit code).

A thread's spawn is recorded when planned code (level debug or more) calls
``start()`` itself (so the standard library's helper threads, such as
multiprocessing's queue feeders, stay out); a task's when its coroutine is
planned; a child process's always, since it records into the same session.
An actor also appears whenever one of its events is recorded.
"""
from __future__ import annotations

import asyncio.base_events
import itertools
import sys
import threading
import time
from multiprocessing import process as mp_process

from . import records as R

_monotonic_ns = time.monotonic_ns


class _ChildStarter:
    """Pickled with a Process object: unpickling it in a spawned child starts
    recording there before the child runs its target."""

    def __init__(self, starter):
        self.starter = starter

    def __reduce__(self):
        return self.starter


class Actors:
    def __init__(self, rec):
        self.rec = rec
        self.task_keys: dict = {}          # asyncio.Task -> actor key
        self._spawn_info: dict = {}        # asyncio.Task -> (its spawn record's info, spawner)
        self._thread_keys: dict = {}       # id(Thread) -> actor key chosen at start()
        self._numbers = itertools.count(1)

    def _key(self, letter: str) -> str:
        return f"p{self.rec.pid}.{letter}{next(self._numbers)}"

    def after_fork(self) -> None:
        self.task_keys.clear()
        self._spawn_info.clear()
        self._thread_keys.clear()

    # -- adoption: actors first seen through one of their events ------------
    def adopt_thread(self, thread: threading.Thread) -> tuple[str, tuple | None]:
        """(key, actor record) for a thread whose spawn was not recorded."""
        if thread is threading.main_thread():
            return self.rec.process_actor, None
        key = self._key("t")
        return key, (R.ACTOR, _monotonic_ns(), key, "thread", thread.name, None, thread.ident)

    def adopt_task(self, task, st) -> str:
        key = self._key("a")
        self.task_keys[task] = key
        st.describe((R.ACTOR, _monotonic_ns(), key, "task", _task_name(task), st.actor, None))
        task.add_done_callback(self._task_done)
        return key

    # -- hooks -----------------------------------------------------------------
    def install(self) -> None:
        rec = self.rec
        actors = self
        thread_start = threading.Thread.start
        bootstrap_inner = threading.Thread._bootstrap_inner
        excepthook = threading.excepthook

        def start(thread, *args, **kwargs):
            if rec.active and not getattr(thread, "cinescope_internal", False):
                try:
                    actors._spawn_thread(thread, sys._getframe(1))
                except Exception as exc:
                    rec._fail(exc)
            return thread_start(thread, *args, **kwargs)

        def _bootstrap_inner(thread):
            key = actors._thread_keys.pop(id(thread), None)
            if key is None or not rec.active:
                return bootstrap_inner(thread)
            st = rec.bind_thread(key)
            st.describe((R.ACTOR, _monotonic_ns(), key, "thread", thread.name,
                     actors._parents.pop(key, None), thread.ident))
            try:
                return bootstrap_inner(thread)
            finally:
                if rec.active:
                    rec.check_hook()
                    info = {"exception": st.exception} if st.exception else {}
                    st.push((R.EXIT, _monotonic_ns(), key, info))

        def thread_excepthook(args, /):
            try:
                if rec.active and args.exc_value is not None:
                    rec.thread_state().exception = rec.capture_exception(args.exc_value)
            except Exception:
                pass
            return excepthook(args)

        self._parents: dict = {}
        rec.patch(threading.Thread, "start", start)
        rec.patch(threading.Thread, "_bootstrap_inner", _bootstrap_inner)
        rec.patch(threading, "excepthook", thread_excepthook)
        self._install_tasks()
        self._install_processes()

    def _spawn_thread(self, thread, frame) -> None:
        rec = self.rec
        site = rec.site(frame, direct=True)
        if not site[2]:
            return
        st = rec.thread_state()
        spawner = rec.current_actor(st)
        key = self._key("t")
        self._thread_keys[id(thread)] = key
        self._parents[key] = spawner
        target = getattr(thread, "_target", None)
        info = {"kind": "thread", "name": thread.name, "daemon": thread.daemon}
        if target is not None:
            info["target"] = getattr(target, "__qualname__", repr(target))[:200]
        st.push((R.SPAWN, _monotonic_ns(), spawner, site[0], site[1], key, info))

    def _install_tasks(self) -> None:
        rec = self.rec
        actors = self
        create_task = asyncio.base_events.BaseEventLoop.create_task

        def patched_create_task(loop, coro, *args, **kwargs):
            task = create_task(loop, coro, *args, **kwargs)
            if rec.active:
                try:
                    actors._spawn_task(task, coro, sys._getframe(1))
                except Exception as exc:
                    rec._fail(exc)
            return task

        rec.patch(asyncio.base_events.BaseEventLoop, "create_task", patched_create_task)
        set_name = asyncio.tasks.__dict__.get("_set_task_name")
        if set_name is not None:
            # 3.11 and 3.12 name a task only after loop.create_task returned it
            def patched_set_task_name(task, name):
                set_name(task, name)
                spawn = actors._spawn_info.pop(task, None)
                if spawn is not None and name is not None and rec.active:
                    info, parent = spawn
                    info["name"] = _task_name(task)
                    rec.thread_state().describe((R.ACTOR, _monotonic_ns(), actors.task_keys[task],
                                             "task", info["name"], parent, None))
            rec.patch(asyncio.tasks, "_set_task_name", patched_set_task_name)

    def _spawn_task(self, task, coro, frame) -> None:
        rec = self.rec
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        coro_frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if code is None or coro_frame is None or not (code in rec.codes or rec.level_for(
                code, coro_frame.f_globals.get("__name__"))):
            return
        site = rec.site(frame)
        st = rec.thread_state()
        spawner = rec.current_actor(st)
        if task in self.task_keys:   # an eager task already ran and was adopted
            return
        key = self._key("a")
        self.task_keys[task] = key
        ts = _monotonic_ns()
        name = _task_name(task)
        info = {"kind": "task", "name": name}
        if code is not None:
            info["coroutine"] = code.co_qualname
        st.push((R.SPAWN, ts, spawner, site[0], site[1], key, info))
        st.describe((R.ACTOR, ts, key, "task", name, spawner, None))
        self._spawn_info[task] = (info, spawner)
        task.add_done_callback(self._task_done)

    def _task_done(self, task) -> None:
        rec = self.rec
        key = self.task_keys.pop(task, None)
        self._spawn_info.pop(task, None)
        if key is None or not rec.active:
            return
        try:
            if task.cancelled():
                rec.offer_exception(task._make_cancelled_error(), key, cancelled=True)
                info = {"cancelled": True}
            elif task.exception() is not None:
                rec.offer_exception(task.exception(), key)
                info = {"exception": rec.capture_exception(task.exception())}
            else:
                info = {"result": rec.snap.capture(task.result())} if rec.rank >= 2 else {}
            rec.thread_state().push((R.EXIT, _monotonic_ns(), key, info))
        except Exception as exc:
            rec._fail(exc)

    # -- processes -----------------------------------------------------------
    def _install_processes(self) -> None:
        rec = self.rec
        BaseProcess = mp_process.BaseProcess
        start = BaseProcess.start
        bootstrap = BaseProcess._bootstrap

        def patched_start(process):
            if not rec.active:
                return start(process)
            ts = _monotonic_ns()
            st = rec.thread_state()
            spawner = rec.current_actor(st)
            if rec.child_starter is not None:
                starter, config = rec.child_starter
                process._cinescope_child = _ChildStarter(
                    (starter, (dict(config, parent_actor=spawner, name=process.name),)))
            try:
                start(process)
            finally:
                process.__dict__.pop("_cinescope_child", None)
            try:
                code, line, _ = rec.site(sys._getframe(1))
                target = getattr(process, "_target", None)
                info = {"kind": "process", "name": process.name, "pid": process.pid}
                if target is not None:
                    info["target"] = getattr(target, "__qualname__", repr(target))[:200]
                st.push((R.SPAWN, ts, spawner, code, line, f"p{process.pid}", info))
            except Exception as exc:
                rec._fail(exc)

        def patched_bootstrap(process, *args, **kwargs):
            # runs in the child, for every start method
            if rec.active:
                rec.process_name = process.name
                rec.thread_state().describe((R.ACTOR, _monotonic_ns(), rec.process_actor,
                                         "process", process.name, rec.parent_actor, rec.pid))
            code = bootstrap(process, *args, **kwargs)
            rec.stop(exit_info={"exitcode": code})
            return code

        rec.patch(BaseProcess, "start", patched_start)
        rec.patch(BaseProcess, "_bootstrap", patched_bootstrap)


def _task_name(task) -> str:
    try:
        return task.get_name()
    except Exception:
        return "Task"
