"""The calls part of a module's facts (analyzer/facts.py): channels made and
used, actors started, arguments passed, containers changed in place.

A mixin of facts._Visitor: it uses the visitor's `fn` (the function being
read), `dotted`, `callref`, `visit` and `loop_depth`.
"""
from __future__ import annotations

import ast

# dotted constructors of message channels, and what they are
CHANNEL_TYPES = {
    f"{mod}.{name}": f"{mod}.{name}"
    for mod, names in {
        "queue": ("Queue", "LifoQueue", "PriorityQueue", "SimpleQueue"),
        "asyncio": ("Queue", "LifoQueue", "PriorityQueue"),
        "asyncio.queues": ("Queue", "LifoQueue", "PriorityQueue"),
        "multiprocessing": ("Queue", "SimpleQueue", "JoinableQueue", "Pipe"),
        "multiprocessing.queues": ("Queue", "SimpleQueue", "JoinableQueue"),
    }.items() for name in names
}
# `ctx.Queue()`, `manager.Queue()`: a channel whatever the object is
CHANNEL_ATTRS = {"Queue": "multiprocessing.Queue", "SimpleQueue": "multiprocessing.SimpleQueue",
                 "JoinableQueue": "multiprocessing.JoinableQueue", "Pipe": "multiprocessing.Pipe"}
PUT_OPS = {"put", "put_nowait", "send", "send_bytes"}
GET_OPS = {"get", "get_nowait", "recv", "recv_bytes"}

# spawns: dotted callee -> (actor kind, where the target is)
SPAWNS = {
    "threading.Thread": ("thread", "target"), "threading.Timer": ("thread", 1),
    "_thread.start_new_thread": ("thread", 0), "asyncio.to_thread": ("thread", 0),
    "multiprocessing.Process": ("process", "target"),
    "multiprocessing.context.Process": ("process", "target"),
    "asyncio.create_task": ("task", "call"), "asyncio.ensure_future": ("task", "call"),
    "asyncio.gather": ("task", "calls"),
}
SPAWN_ATTRS = {  # obj.method(...) whatever obj is
    "create_task": ("task", "call"), "submit": ("executor", 0), "run_in_executor": ("executor", 1),
    "apply_async": ("executor", 0), "map_async": ("executor", 0), "imap_unordered": ("executor", 0),
    "starmap": ("executor", 0), "map": ("executor", 0), "imap": ("executor", 0),
    "Process": ("process", "target"),
}
MUTATORS = {"append", "extend", "insert", "pop", "popleft", "appendleft", "remove", "clear",
            "add", "discard", "update", "setdefault", "popitem", "sort", "reverse",
            "extendleft", "rotate", "difference_update", "intersection_update"}

# method names too common to guess a class from (containers, files, threads):
# calls of these are not kept
COMMON = set().union(*(dir(t) for t in (list, dict, set, str, bytes, object))) | {
    "get", "put", "put_nowait", "get_nowait", "send", "recv", "close", "read", "write",
    "run", "start", "join", "stop", "open", "flush", "wait", "set", "acquire", "release",
    "cancel", "result", "done", "submit", "map", "items", "keys", "values", "add", "call",
    "apply", "execute", "process", "handle", "main", "next", "reset", "load", "dump",
    "connect", "shutdown", "notify", "notify_all", "is_set", "clear", "copy", "send_bytes",
    "recv_bytes", "task_done", "qsize", "empty", "full", "readline", "seek", "tell"}


class CallFacts:
    def _channel_kind(self, value):
        if not isinstance(value, ast.Call):
            return None
        name = self.dotted(value.func)
        if name in CHANNEL_TYPES:
            return CHANNEL_TYPES[name]
        if isinstance(value.func, ast.Attribute) and value.func.attr in CHANNEL_ATTRS:
            return CHANNEL_ATTRS[value.func.attr]
        return None

    def _channel_bind(self, target, value):
        kind = self._channel_kind(value)
        if kind is None:
            return
        fn = self.fn
        names = target.elts if isinstance(target, ast.Tuple) else [target]
        index = len(fn.channels)
        bound = []
        for t in names:
            if isinstance(t, ast.Name):
                fn.chan_locals[t.id] = index
                bound.append(t.id)
            elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                    t.value.id == fn.self_name and fn.self_name:
                self.classes[fn.cls]["chan_attrs"][t.attr] = [fn.qualname, index]
                bound.append("self." + t.attr)
        if bound:
            fn.channels.append([kind, value.lineno, bound])

    def v_Call(self, node):
        fn = self.fn
        func = node.func
        if isinstance(func, ast.Attribute):
            op, obj = func.attr, func.value
            if op in PUT_OPS or op in GET_OPS:
                if isinstance(obj, ast.Name):
                    fn.ops.append([obj.id, op, node.lineno])
                elif isinstance(obj, ast.Attribute) and isinstance(obj.value, ast.Name) and \
                        obj.value.id == fn.self_name and fn.self_name:
                    fn.ops.append(["self." + obj.attr, op, node.lineno])
            if op in MUTATORS:
                self._mutated(obj, node.lineno)
        elif isinstance(func, ast.Name) and func.id == "setattr" and node.args and \
                isinstance(node.args[0], ast.Name) and node.args[0].id == fn.self_name and \
                len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and \
                isinstance(node.args[1].value, str) and fn.self_name:
            fn.writes.setdefault(node.args[1].value, node.lineno)
        ref = self.callref(func)
        skip = self._spawn(node, ref)
        if ref is not None and ref[1] and (
                ref[0] in ("self", "super") or (ref[0] == "attr" and ref[1] not in COMMON)
                or (ref[0] == "d" and ("." in ref[1] or ref[1] in fn.locals))):
            fn.calls.add(tuple(ref))           # only calls that may reach project code
            self._passes(ref, node.args, node.keywords, 0)
        self.visit(func)
        for arg in node.args:
            if arg in skip:
                for inner in [arg.func] + arg.args + [k.value for k in arg.keywords]:
                    self.visit(inner)
            else:
                self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)

    def _passes(self, ref, args, keywords, offset):
        for i, arg in enumerate(args):
            if isinstance(arg, ast.Name):
                self.fn.passes.append([ref, i + offset, arg.id])
        for kw in keywords:
            if kw.arg and isinstance(kw.value, ast.Name):
                self.fn.passes.append([ref, kw.arg, kw.value.id])

    def _spawn(self, node, ref):
        """Record an actor started by this call; return the call arguments that
        are the actor's own calls (`create_task(f(x))`), not calls made here."""
        name = ref[1] if ref and ref[0] == "d" else None
        spec = SPAWNS.get(name) if name else None
        if spec is None and isinstance(node.func, ast.Attribute):
            spec = SPAWN_ATTRS.get(node.func.attr)
        if spec is None:
            return ()
        kind, where = spec
        kws = {k.arg: k.value for k in node.keywords if k.arg}
        many = self.loop_depth > 0
        skip = []
        if where in ("call", "calls"):
            calls = node.args if where == "calls" else node.args[:1] or [kws.get("coro")]
            for call in calls:
                if isinstance(call, ast.Call):
                    target = self.callref(call.func)
                    if target:
                        self._add_spawn(kind, target, node.lineno, many)
                        self._passes(["spawn", len(self.fn.spawns) - 1], call.args,
                                     call.keywords, 0)
                    skip.append(call)
            return skip
        if where == "target":
            target, args = kws.get("target"), kws.get("args")
            if target is None and len(node.args) > 1:
                target, args = node.args[1], node.args[2] if len(node.args) > 2 else None
            args = args.elts if isinstance(args, (ast.Tuple, ast.List)) else []
        else:
            target = node.args[where] if len(node.args) > where else kws.get("function")
            args = node.args[where + 1:]
            if isinstance(node.func, ast.Name) and name == "_thread.start_new_thread":
                args = node.args[1].elts if len(node.args) > 1 and isinstance(
                    node.args[1], ast.Tuple) else []
        if target is None or not isinstance(target, (ast.Name, ast.Attribute)):
            return ()
        ref = self.callref(target)
        if ref:
            self._add_spawn(kind, ref, node.lineno, many)
            self._passes(["spawn", len(self.fn.spawns) - 1], args, [], 0)
        return ()

    def _add_spawn(self, kind, target, line, many):
        self.fn.spawns.append({"kind": kind, "target": target, "line": line, "many": many})
