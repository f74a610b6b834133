"""`cinescope dap`: debugpy, with the recording behind it.

The server sits between the editor and debugpy's adapter (relay.py) and
passes everything through, except:

- `initialize`: the capabilities gain supportsStepBack and
  supportsDataBreakpoints;
- `launch`: the program runs under `cinescope record` (recording.py);
- at a stop, `scopes` gain "History: self", "Messages" and "Recent calls"
  (scopes.py), after the store has caught up with the program;
- `stepBack` and `reverseContinue` are answered here (debugpy has no answer
  and would hang): the stopped thread enters history mode (travel.py), where
  its stack, scopes, variables and evaluations come from the recording, and
  `next`, `stepIn`, `stepOut` and `continue` move through the recording until
  they pass its end and the live program shows again;
- data breakpoints on recorded attributes are answered here
  (data_breakpoints.py): live through the recorder, and in history mode;
- Cinescope's own frames (the runner under the program) are left out of
  stack traces.
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading

from ..store.schema import StoreError
from ..store.store import jsonable
from . import scopes
from .children import ChildSessions
from .data_breakpoints import HIT_EXPRESSION, DataBreakpoints, data_id, describe_hit, \
    watch_expression
from .recording import ConfigError, Recording, attach_arguments, launch_arguments, parse_sync, \
    sync_expression
from .relay import AdapterGone, Relay
from .travel import HistoricFrame, Travel
from .variables import HISTORY_BASE, Handles, preview, variable

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ATTR = re.compile(r"self\.([A-Za-z_][A-Za-z0-9_]*)")
HOVER_CHANGES = 20


class DapServer:
    def __init__(self, relay: Relay, spawned_adapter: bool = True):
        """`spawned_adapter`: debugpy's adapter was started for this session
        (False: a child session, relayed to the adapter of its parent)."""
        self.relay = relay
        self.spawned_adapter = spawned_adapter
        self.recording: Recording | None = None
        self.handles = Handles()
        self.breakpoints: dict[str, set[int]] = {}
        self.data = DataBreakpoints()
        self.program_watches = False     # the program may hold watches (debugger_watch)
        self.stopped_thread: int | None = None
        self._lock = threading.Lock()
        self._reset_stop()
        relay.requests.update({
            "initialize": self.initialize, "launch": self.launch, "attach": self.attach,
            "setBreakpoints": self.set_breakpoints, "stackTrace": self.stack_trace,
            "scopes": self.scopes, "variables": self.variables, "evaluate": self.evaluate,
            "stepBack": self.step_back, "reverseContinue": self.reverse_continue,
            "next": self.next, "stepIn": self.step_in, "stepOut": self.step_out,
            "continue": self.continue_,
            "cinescope/timeline": self.timeline, "cinescope/stateHistory": self.state_history,
            "cinescope/messages": self.messages,
            "dataBreakpointInfo": self.data_breakpoint_info,
            "setDataBreakpoints": self.set_data_breakpoints,
        })
        relay.events.update({"stopped": self._on_stopped, "continued": self._on_continued,
                             "process": self._on_process})
        relay.events["debugpyAttach"] = self._on_debugpy_attach
        relay.reverse["startDebugging"] = self._on_start_debugging
        relay.on_adapter_gone = self._on_adapter_gone
        self.children = ChildSessions(run_session)

    # -- the stop's state -------------------------------------------------------------
    def _reset_stop(self) -> None:
        with self._lock:
            self.handles.clear()
            self.synced: dict | None = None          # debugger_sync's answer at this stop
            self.frame_threads: dict[int, int] = {}  # live frame id -> thread id
            self.selves: dict[int, dict] = {}        # live frame id -> its sync answer
            self.travel: Travel | None = None
            self.travel_thread: int | None = None
            self.history_frames: dict[int, HistoricFrame] = {}
            self.locals_refs: dict[int, int] = {}    # debugpy's Locals reference -> frame
            self.self_refs: dict[int, int] = {}      # debugpy's `self` reference -> frame

    def _on_stopped(self, event: dict) -> dict | None:
        self._reset_stop()
        body = event.get("body") or {}
        self.stopped_thread = body.get("threadId")
        if self.program_watches and body.get("reason") in ("breakpoint", "step"):
            # maybe a watched change: ask the program, then tell the stop
            threading.Thread(target=self._tell_stop, args=(body,), daemon=True,
                             name="cinescope-dap-stop").start()
            return None
        return event

    def _tell_stop(self, body: dict) -> None:
        try:
            frame_id = self._frame_of(body["threadId"])
            response = self.relay.ask("evaluate", {"expression": HIT_EXPRESSION,
                                                   "frameId": frame_id, "context": "clipboard"})
            hit = parse_sync((response.get("body") or {}).get("result", "")) \
                if response.get("success") else None
            removed = not self.data.live
            if removed:     # removed while the program ran, too late: clear them now
                self._watch_live()
        except (StoreError, TimeoutError, AdapterGone, KeyError):
            hit = None
        if hit:
            text = describe_hit(hit) + (" (a data breakpoint removed while the program ran)"
                                        if removed else "")
            body = dict(body, reason="data breakpoint", description=text, text=text,
                        hitBreakpointIds=hit.get("breakpoints") or [])
        self.relay.event("stopped", body)

    def _on_continued(self, event: dict) -> dict:
        self._reset_stop()
        self.stopped_thread = None
        return event

    def _on_process(self, event: dict) -> dict:
        if self.recording is not None:
            self.recording.pid = (event.get("body") or {}).get("systemProcessId")
        return event

    def _child(self, configuration: dict) -> dict:
        return self.children.rewrite(configuration, self.recording.store
                                     if self.recording is not None else None)

    def _on_start_debugging(self, request: dict) -> dict:
        """A subprocess to debug: its session, too, comes through this server."""
        args = dict(request.get("arguments") or {})
        try:
            args["configuration"] = self._child(dict(args.get("configuration") or {}))
        except OSError as exc:      # no port of our own: the child is debugged without history
            self.relay.event("output", {"category": "console", "output":
                                        f"cinescope: a subprocess is debugged without "
                                        f"history ({exc})\n"})
            return request
        return dict(request, arguments=args)

    def _on_debugpy_attach(self, event: dict) -> dict:
        return dict(event, body=self._child(dict(event.get("body") or {})))

    def _on_adapter_gone(self, reason: str) -> None:
        if self.relay.ended.is_set() or self.relay.client_gone.is_set():
            return          # the session was over: debugpy leaving is its end
        self.relay.event("output", {"category": "console",
                                    "output": f"cinescope: {reason}; the recording is kept"
                                              + (f" in {self.recording.store}"
                                                 if self.recording else "") + "\n"})
        self.relay.event("terminated")

    # -- setting up -----------------------------------------------------------------
    def initialize(self, request: dict) -> None:
        def rewrite(response):
            if response.get("success"):
                response.setdefault("body", {}).update(supportsStepBack=True,
                                                       supportsDataBreakpoints=True)
            return response
        self.relay.forward(request, rewrite)

    def launch(self, request: dict) -> None:
        try:
            arguments, store = launch_arguments(request.get("arguments") or {})
        except ConfigError as exc:
            self.relay.respond(request, error=f"cinescope: {exc}")
            return
        if store is not None:
            os.makedirs(os.path.dirname(store), exist_ok=True)
            self.recording = Recording(store)
        self.relay.forward(dict(request, arguments=arguments))

    def attach(self, request: dict) -> None:
        try:
            arguments, store = attach_arguments(request.get("arguments") or {})
        except ConfigError as exc:
            self.relay.respond(request, error=f"cinescope: {exc}")
            return
        if self.spawned_adapter and ("connect" in arguments or "port" in arguments):
            self.relay.respond(request, error=(
                'cinescope: attach with "connect" goes to the adapter debugpy started in the '
                'program, which an editor reaches directly; to attach through cinescope dap, '
                'use "listen": {"host": "127.0.0.1", "port": N} and start the program with '
                'python -m debugpy --connect 127.0.0.1:N -m cinescope record ...'))
            return
        if store is not None:
            self.recording = Recording(store)
        self.relay.forward(dict(request, arguments=arguments))

    def set_breakpoints(self, request: dict) -> None:
        args = request.get("arguments") or {}
        path = (args.get("source") or {}).get("path")
        if path:
            self.breakpoints[os.path.realpath(path)] = {
                b.get("line") for b in args.get("breakpoints") or [] if b.get("line")}
            self.breakpoints[path] = self.breakpoints[os.path.realpath(path)]
        self.relay.forward(request)

    # -- the live stop, with history --------------------------------------------------
    def _in_history(self, thread_id) -> bool:
        return (self.travel is not None and self.travel_thread == thread_id
                and not self.travel.live)

    def stack_trace(self, request: dict) -> None:
        thread_id = (request.get("arguments") or {}).get("threadId")
        if self._in_history(thread_id):
            self.relay.respond(request, self._history_stack())
            return

        def rewrite(response):
            body = response.get("body") or {}
            frames = body.get("stackFrames") or []
            kept = [f for f in frames
                    if not ((f.get("source") or {}).get("path") or "").startswith(_PACKAGE_DIR)]
            if len(kept) != len(frames):
                body["stackFrames"] = kept
                if "totalFrames" in body:
                    body["totalFrames"] -= len(frames) - len(kept)
            with self._lock:
                for f in kept:
                    self.frame_threads[f["id"]] = thread_id
            return response
        self.relay.forward(request, rewrite)

    def _sync(self, frame_id: int, also: tuple | None = None):
        """debugger_sync in the program's frame: the store catches up (once
        per stop) and says the frame's actor and recorded `self`. `also`: a
        request for debugpy sent along with it; then (answer, its response)."""
        if frame_id in self.selves and also is None:
            return self.selves[frame_id]
        flush = self.synced is None
        asks = [("evaluate", {"expression": sync_expression(flush), "frameId": frame_id,
                              "context": "watch"})]
        if also is not None:
            asks.append(also)
        responses = self.relay.ask_all(asks)
        response = responses[0]
        answer = parse_sync((response.get("body") or {}).get("result", "")) \
            if response.get("success") else {}
        if flush and answer and self.recording is not None:
            try:
                self.recording.wait_synced(answer)
            except StoreError as exc:      # shown in place of the history scopes
                answer["error"] = str(exc)
            self.synced = answer
        self.selves[frame_id] = answer
        return (answer, responses[1]) if also is not None else answer

    def scopes(self, request: dict) -> None:
        args = request.get("arguments") or {}
        frame_id = args.get("frameId")
        if frame_id in self.history_frames:
            self.relay.respond(request, {"scopes": self._history_scopes(frame_id)})
            return
        if self.recording is None or frame_id not in self.frame_threads:
            self.relay.forward(request)
            return
        # debugpy's scopes and the sync at once: one round trip to the program
        answer, response = self._sync(frame_id, also=("scopes", args))
        if not response.get("success"):
            self.relay.respond(request, error=response.get("message") or "scopes failed")
            return
        try:
            extra = self._live_scopes(answer)
        except (StoreError, TimeoutError) as exc:
            reason = str(exc)
            extra = [{"name": "History", "variablesReference": self.handles.add(
                lambda: [{"name": "unavailable", "value": reason,
                          "variablesReference": 0}]), "expensive": False}]
        body = dict(response.get("body") or {})
        for scope in body.get("scopes") or []:
            if scope.get("name") == "Locals":
                self.locals_refs[scope.get("variablesReference")] = frame_id
        body["scopes"] = list(body.get("scopes") or []) + extra
        self.relay.respond(request, body)

    def _live_scopes(self, answer: dict) -> list[dict]:
        if answer.get("error"):
            raise StoreError(answer["error"])
        if not answer.get("actor"):
            return []
        h = self.recording.history()
        actor = h.actor_id(answer["actor"])
        out = []
        obj = self._object(h, answer)
        if obj is not None:
            out.append(scopes.self_scope(h, obj, None, self.handles))
        out.append(scopes.messages_scope(h, actor, None, self.handles))
        out.append(scopes.calls_scope(h, actor, None, self.handles))
        return out

    @staticmethod
    def _object(h, answer: dict) -> int | None:
        address = answer.get("self")
        if address is None:
            return None
        row = h.conn.execute("SELECT max(id) FROM objects WHERE session = ? AND pid = ? AND "
                             "address = ?", (h.session, answer.get("pid"), address)).fetchone()
        return row[0] if row else None

    def variables(self, request: dict) -> None:
        ref = (request.get("arguments") or {}).get("variablesReference")
        if self.handles.owns(ref):
            found = self.handles.children(ref)
            if found is None:
                self.relay.respond(request, error="this variable is no longer available "
                                                  "(the program moved on)")
            else:
                self.relay.respond(request, {"variables": found})
            return
        frame_id = self.locals_refs.get(ref)
        if frame_id is None:
            self.relay.forward(request)
            return

        def rewrite(response):      # remember the frame's `self`: data breakpoints on it
            for v in (response.get("body") or {}).get("variables") or []:
                if v.get("name") == "self" and v.get("variablesReference"):
                    self.self_refs[v["variablesReference"]] = frame_id
            return response
        self.relay.forward(request, rewrite)

    # -- history mode ---------------------------------------------------------------
    def _travel(self, thread_id: int) -> Travel:
        """The thread's history walk, started at its live moment."""
        if self.recording is None:
            raise StoreError("this session is not recording: launch it through cinescope dap "
                             "(the program is not run under cinescope record)")
        if self.travel is not None and self.travel_thread == thread_id:
            return self.travel
        answer = self._sync(self._frame_of(thread_id))
        if not answer.get("actor"):
            raise StoreError("nothing is recorded in this thread")
        h = self.recording.history()
        self.travel, self.travel_thread = Travel(h, h.actor_id(answer["actor"])), thread_id
        return self.travel

    def _frame_of(self, thread_id: int) -> int:
        """A live frame of a stopped thread: one the editor was shown at this
        stop (its sync answer may be known already), else debugpy's top one."""
        for frame_id, thread in self.frame_threads.items():
            if thread == thread_id:
                return frame_id
        frames = self.relay.ask("stackTrace", {"threadId": thread_id, "levels": 1})
        top = ((frames.get("body") or {}).get("stackFrames") or [None])[0]
        if top is None:
            raise StoreError(f"thread {thread_id} is not stopped")
        self.frame_threads[top["id"]] = thread_id
        return top["id"]

    def _moved(self, request: dict, moved: bool, reason: str, what: str) -> None:
        thread_id = (request.get("arguments") or {}).get("threadId")
        travel = self.travel
        self.handles.clear()
        self.history_frames.clear()
        if not moved and request["command"] in ("stepBack", "reverseContinue"):
            description = f"{what}: no earlier recorded moment"
        elif travel is None or travel.live:
            description = "back to the live program"
        else:
            e = travel.event
            description = (f"{what}: recorded moment #{e['id']}, "
                           f"t+{(e['ts'] - travel.history.start_ns) / 1e9:.6f}s, "
                           f"in {travel.history.actor_name(travel.actor)}")
        body = {"reason": reason, "threadId": thread_id, "description": description,
                "text": description, "allThreadsStopped": True, "preserveFocusHint": False}
        change = travel.reached_change if travel is not None and not travel.live else None
        if travel is not None:
            travel.reached_change = None
        if moved and change is not None:
            where = f"in {change.method}" if change.method else "outside its methods"
            new = "<deleted>" if change.deleted else preview(change.new, 40)
            text = (f"{what}: {change.attr} changed {preview(change.old, 40)} → {new} {where}"
                    f" ({change.actor_name}), recorded moment #{change.event}")
            body.update(reason="data breakpoint", description=text, text=text,
                        hitBreakpointIds=self.data.ids_of(change.object, change.attr))
        self.relay.respond(request, {"allThreadsContinued": False}
                           if request["command"] == "continue" else None)
        self.relay.event("stopped", body)

    def _history_request(self, request: dict, move, reason: str, what: str) -> None:
        thread_id = (request.get("arguments") or {}).get("threadId")
        try:
            travel = self._travel(thread_id)
        except (StoreError, TimeoutError, AdapterGone) as exc:
            self.relay.respond(request, error=f"cinescope: cannot go back: {exc}")
            return
        self._moved(request, move(travel), reason, what)

    def step_back(self, request: dict) -> None:
        self._history_request(request, lambda t: t.step_back(), "step", "step back")

    def reverse_continue(self, request: dict) -> None:
        every = not (request.get("arguments") or {}).get("singleThread")
        self._history_request(request, lambda t: t.run_to(self.breakpoints, False,
                                                          self.data.recorded(), every),
                              "breakpoint", "reverse continue")

    def _forward(self, request: dict, move, reason: str, what: str) -> None:
        thread_id = (request.get("arguments") or {}).get("threadId")
        if not self._in_history(thread_id):
            self.relay.forward(request)
            return
        self._moved(request, move(self.travel), reason, what)

    def next(self, request: dict) -> None:
        self._forward(request, lambda t: t.step_forward(), "step", "step")

    def step_in(self, request: dict) -> None:
        self._forward(request, lambda t: t.step_forward(into=True), "step", "step in")

    def step_out(self, request: dict) -> None:
        self._forward(request, lambda t: t.step_out(), "step", "step out")

    def continue_(self, request: dict) -> None:
        every = not (request.get("arguments") or {}).get("singleThread")
        self._forward(request, lambda t: t.run_to(self.breakpoints, True,
                                                  self.data.recorded(), every), "breakpoint",
                      "continue")

    def _history_stack(self) -> dict:
        travel = self.travel
        frames = travel.frames()
        out = []
        self.history_frames.clear()
        e = travel.event
        stamp = f"#{e['id']} t+{(e['ts'] - travel.history.start_ns) / 1e9:.6f}s"
        for i, frame in enumerate(frames):
            frame_id = HISTORY_BASE + i
            self.history_frames[frame_id] = frame
            out.append({"id": frame_id, "name": f"{frame.function} [recorded {stamp}]",
                        "line": frame.line, "column": 1,
                        "source": {"path": frame.file, "name": os.path.basename(frame.file or
                                                                                "?")},
                        "presentationHint": "normal" if i == 0 else "subtle"})
        return {"stackFrames": out, "totalFrames": len(out)}

    def _history_scopes(self, frame_id: int) -> list[dict]:
        frame = self.history_frames[frame_id]
        travel = self.travel
        h = travel.history
        values = dict(frame.locals)
        if frame.returned is not None:
            values.update({f"(return {k})": v for k, v in frame.returned.items()})
        out = [scopes.locals_scope(values, self.handles)]
        before = travel.event
        if frame.object is not None:
            out.append(scopes.self_scope(h, frame.object, before, self.handles))
        out.append(scopes.messages_scope(h, travel.actor, before, self.handles))
        out.append(scopes.calls_scope(h, travel.actor, before, self.handles))
        return out

    def evaluate(self, request: dict) -> None:
        args = request.get("arguments") or {}
        frame = self.history_frames.get(args.get("frameId"))
        if frame is None:
            attr = _ATTR.fullmatch((args.get("expression") or "").strip())
            if (args.get("context") == "hover" and attr is not None
                    and self.recording is not None and args.get("frameId") in self.frame_threads):
                self._hover(request, args["frameId"], attr.group(1))
            else:
                self.relay.forward(request)
            return
        expression = (args.get("expression") or "").strip()
        value, found = None, False
        if _NAME.fullmatch(expression) and expression in frame.locals:
            value, found = frame.locals[expression], True
        elif _ATTR.fullmatch(expression) and frame.object is not None:
            h = self.travel.history
            state = h.state_at(frame.object, before=self.travel.event["id"])
            attr = _ATTR.fullmatch(expression).group(1)
            if attr in state:
                value, found = state[attr], True
        if not found:
            self.relay.respond(request, error=f"{expression!r} was not recorded at this "
                                              "moment (in history mode only recorded names "
                                              "and self.attr can be shown)")
            return
        var = variable(expression, value, self.handles)
        self.relay.respond(request, {"result": var["value"], "type": var.get("type"),
                                     "variablesReference": var["variablesReference"]})

    # -- live hover: the value and its recorded history ------------------------------------
    def _hover(self, request: dict, frame_id: int, attr: str) -> None:
        """debugpy's value of self.attr, followed by its recorded changes."""
        answer, response = self._sync(frame_id, also=("evaluate", request["arguments"]))
        body = dict(response.get("body") or {})
        if not response.get("success"):
            self.relay.respond(request, error=response.get("message") or "cannot evaluate")
            return
        try:
            h = self.recording.history() if not answer.get("error") else None
            obj = self._object(h, answer) if h is not None else None
            changes = [c for c in h.last_changes(obj, HOVER_CHANGES * 4)[0]
                       if c.attr == attr][-HOVER_CHANGES:] if obj is not None else []
        except StoreError:
            changes = []
        if changes:
            steps = " → ".join(preview(c.new, 20) for c in changes[-4:])
            last = changes[-1]
            body["result"] = (f"{body.get('result', '')}    recorded: {steps} "
                              f"(last in {last.method or 'no method'})")
            if not body.get("variablesReference"):
                body["variablesReference"] = self.handles.add(lambda: [
                    {"name": f"#{c.event} {c.method or ''}".strip(),
                     "value": f"{preview(c.old, 40)} → {preview(c.new, 40)}",
                     "variablesReference": 0} for c in reversed(changes)])
        self.relay.respond(request, body)

    # -- data breakpoints ------------------------------------------------------------
    def data_breakpoint_info(self, request: dict) -> None:
        args = request.get("arguments") or {}
        try:
            obj, pid, address, attr = self._watchable(args)
        except StoreError as exc:
            self.relay.respond(request, {"dataId": None, "description": str(exc)})
            return
        kind = self._type_of(obj)
        self.relay.respond(request, {
            "dataId": data_id(obj, pid, address, attr), "accessTypes": ["write"],
            "canPersist": False,
            "description": f"when {attr} of {kind} #{obj} changes (recorded by cinescope)"})

    def _watchable(self, args: dict) -> tuple:
        """(recorded object, pid, live address, attr) a dataBreakpointInfo names:
        `self.attr` in a frame, or an attribute listed under a frame's `self`
        (debugpy's Locals, or History: self)."""
        if self.recording is None:
            raise StoreError("this session is not recording: data breakpoints need "
                             "cinescope dap's launch")
        name = (args.get("name") or "").strip()
        ref, frame_id = args.get("variablesReference"), args.get("frameId")
        attr_match = _ATTR.fullmatch(name)
        if attr_match is not None:
            attr = attr_match.group(1)
        elif _NAME.fullmatch(name) and ref is not None:
            attr, frame_id = name, self.self_refs.get(ref, frame_id)
        else:
            raise StoreError("only an attribute of a recorded object can be watched "
                             "(self.attr, or an attribute under self)")
        h = self.recording.history()
        obj = self.handles.object_of(ref) if ref is not None else None
        if obj is None and frame_id in self.history_frames:
            obj = self.history_frames[frame_id].object
        if obj is not None:
            row = h.conn.execute("SELECT pid, address FROM objects WHERE id = ?",
                                 (obj,)).fetchone()
            return obj, row[0], row[1], attr
        if frame_id not in self.frame_threads or (attr_match is None
                                                   and ref not in self.self_refs):
            raise StoreError("only an attribute of a recorded object can be watched")
        answer = self._sync(frame_id)
        obj = self._object(h, answer) if not answer.get("error") else None
        if obj is None:
            raise StoreError("this frame's self is not recorded: plan its class at level "
                             "debug or full")
        return obj, answer.get("pid"), answer.get("self"), attr

    def _type_of(self, obj: int) -> str:
        row = self.recording.history().conn.execute(
            "SELECT type FROM objects WHERE id = ?", (obj,)).fetchone()
        return row[0] if row else "object"

    def set_data_breakpoints(self, request: dict) -> None:
        args = request.get("arguments") or {}
        out = self.data.replace(args.get("breakpoints") or [])
        if self.recording is not None and self.recording.pid is not None:
            verdict = self._watch_live()
            for bp in out:
                reason = verdict.get(str(bp.get("id")))
                if reason:
                    bp.update(verified=False, message=reason)
        self.relay.respond(request, {"breakpoints": out})

    def _watch_live(self) -> dict:
        """Hand the live watches to the stopped program; per id, why not. (A
        program that runs keeps its watches until the next stop.)"""
        pid = self.recording.pid
        live = [w for w in self.data.watches if w.address is not None and w.pid == pid]
        if self.stopped_thread is None:
            return {str(w.id): "set data breakpoints while the program is stopped"
                    for w in live}
        try:
            frame_id = self._frame_of(self.stopped_thread)
            response = self.relay.ask("evaluate", {
                "expression": watch_expression(self.data.watches, pid),
                "frameId": frame_id, "context": "clipboard"})
        except (StoreError, TimeoutError, AdapterGone) as exc:
            return {str(w.id): f"cannot reach the program: {exc}" for w in live}
        verdict = parse_sync((response.get("body") or {}).get("result", "")) \
            if response.get("success") else {}
        if not response.get("success"):
            return {str(w.id): response.get("message") or "the program did not answer"
                    for w in live}
        self.program_watches = bool(live)
        return {k: v for k, v in verdict.items() if v}

    # -- custom requests: the data of an editor's views -------------------------------------
    def _history_for(self, request: dict):
        if self.recording is None:
            raise StoreError("this session is not recording")
        if self.synced is None and self.frame_threads:
            # stopped, and the store not caught up yet at this stop
            self._sync(next(iter(self.frame_threads)))
        return self.recording.history()

    def _actor(self, h, args: dict):
        """An actor from "actor" (id, key or name), or from a stopped "threadId"."""
        if args.get("actor") is not None:
            return h.actor_id(args["actor"])
        thread_id = args.get("threadId")
        if thread_id is None:
            return None
        answer = self._sync(self._frame_of(thread_id))
        if not answer.get("actor"):
            raise StoreError("nothing is recorded in this thread")
        return h.actor_id(answer["actor"])

    def _custom(self, request: dict, answer) -> None:
        try:
            body = answer(self._history_for(request), request.get("arguments") or {})
        except (StoreError, ValueError, TimeoutError) as exc:
            self.relay.respond(request, error=f"cinescope: {exc}")
            return
        self.relay.respond(request, to_json(body))

    def timeline(self, request: dict) -> None:
        """{actor | threadId, t0?, t1?, limit?}: the actor's events, the last
        `limit` (1000) of them, oldest first."""
        def answer(h, args):
            actor = self._actor(h, args)
            if actor is None:
                raise ValueError('say whose timeline: "actor" or "threadId"')
            events = h.timeline(actor, args.get("t0"), args.get("t1"))
            return {"session": h.session, "actor": actor,
                    "events": events[-int(args.get("limit") or 1000):]}
        self._custom(request, answer)

    def state_history(self, request: dict) -> None:
        """{target: object id or "module:Class[.attr]", attr?}: each change."""
        def answer(h, args):
            if args.get("target") is None:
                raise ValueError('say what: "target", an object id or "module:Class.attr"')
            return {"session": h.session,
                    "changes": h.state_history(args["target"], args.get("attr"))}
        self._custom(request, answer)

    def messages(self, request: dict) -> None:
        """{sender?, receiver?, t0?, t1?}: sends paired with their receives."""
        def answer(h, args):
            return {"session": h.session, "messages": h.message_flow(
                args.get("sender"), args.get("receiver"), args.get("t0"), args.get("t1"))}
        self._custom(request, answer)


def to_json(value):
    """Query results (dataclasses, recorded values) as JSON can carry them."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in jsonable(value).items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return jsonable(value)


def run_session(client_in, client_out, adapter_in, adapter_out,
                spawned_adapter: bool = False) -> None:
    """One debug session between a client's streams and debugpy's adapter's."""
    relay = Relay(client_in, client_out, adapter_in, adapter_out)
    server = DapServer(relay, spawned_adapter)
    try:
        relay.run()
    finally:
        server.children.close()
        if server.recording is not None:
            server.recording.close()


def serve(client_in, client_out, adapter) -> None:
    """One debug session: the client's streams and a started debugpy adapter
    process (stdin/stdout pipes)."""
    try:
        run_session(client_in, client_out, adapter.stdout, adapter.stdin, True)
    finally:
        try:
            adapter.stdin.close()
        except OSError:
            pass
        try:
            adapter.wait(timeout=5)
        except Exception:
            adapter.kill()

