"""The project's code as one index over every file's facts: which dotted name
is which function or class, what each call may reach, and which actors run
which functions.

Calls are resolved without running anything, so some guesses are made (the
docs say which): `obj.method()` on an object of unknown type reaches
`Class.method` only when one class of the project alone defines `method`
(and it is not a name every container has); `self.method()` reaches the
method through the class's bases and the overrides of its subclasses.
"""
from __future__ import annotations

from collections import deque

from .calls import COMMON

ACTOR_BASES = {"threading.Thread": "thread", "multiprocessing.Process": "process",
               "multiprocessing.context.Process": "process"}
INIT_LIKE = {"__init__", "__new__", "__post_init__", "__init_subclass__", "__setstate__",
             "setUp", "tearDown", "setUpClass", "tearDownClass", "__del__"}
REACH_LIMIT = 3000


def target_of(fid: str) -> str:
    """The plan target for a function id "module:qual" (nested functions are
    covered by their outermost function; a module body by its module)."""
    module, _, qual = fid.partition(":")
    qual = qual.split(".<locals>", 1)[0]
    return module if qual == "<module>" else f"{module}:{qual}"


def short(fid: str) -> str:
    return fid.partition(":")[2].replace(".<locals>", "")


class Index:
    def __init__(self, facts_by_path: dict[str, dict]):
        self.modules: dict[str, dict] = {}
        self.path_of: dict[str, str] = {}
        self.funcs: dict[str, dict] = {}
        self.classes: dict[str, dict] = {}
        self.methods_by_name: dict[str, list[str]] = {}
        self.by_class: dict[str, list[str]] = {}     # class id -> its own methods
        self.by_module: dict[str, list[str]] = {}
        for path, facts in facts_by_path.items():
            module = facts["module"]
            self.modules[module] = facts
            self.path_of[module] = path
            for qual, cls in facts["classes"].items():
                self.classes[f"{module}:{qual}"] = cls
            for qual, fn in facts["functions"].items():
                fid = f"{module}:{qual}"
                self.funcs[fid] = fn
                self.by_module.setdefault(module, []).append(fid)
                if fn.get("cls") and "<locals>" not in qual:
                    self.methods_by_name.setdefault(qual.rsplit(".", 1)[1], []).append(fid)
                    self.by_class.setdefault(f"{module}:{fn['cls']}", []).append(fid)
        self.bases: dict[str, list[str]] = {}
        self.external_bases: dict[str, list[str]] = {}
        self.subclasses: dict[str, list[str]] = {}
        for cid, cls in self.classes.items():
            inside, outside = [], []
            for dotted in cls.get("bases", []):
                found = self.resolve_dotted(self._qualify(cid, dotted))
                (inside.append(found[1]) if found and found[0] == "class"
                 else outside.append(dotted))
            self.bases[cid], self.external_bases[cid] = inside, outside
            for base in inside:
                self.subclasses.setdefault(base, []).append(cid)
        self._edges: dict[str, list[tuple[str, int]]] = {}

    def _qualify(self, cid: str, dotted: str) -> str:
        return dotted if "." in dotted else f"{cid.partition(':')[0]}.{dotted}"

    def where(self, fid_or_cid: str) -> tuple[str, int, int]:
        module = fid_or_cid.partition(":")[0]
        item = self.funcs.get(fid_or_cid) or self.classes.get(fid_or_cid) or {}
        return self.path_of.get(module, ""), item.get("line", 1), item.get("end_line", 1)

    # -- names ----------------------------------------------------------------------
    def resolve_dotted(self, dotted: str, depth: int = 0):
        """("func", fid) or ("class", cid) for a dotted name of the project."""
        parts = dotted.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:i])
            facts = self.modules.get(module)
            if facts is None:
                continue
            rest = ".".join(parts[i:])
            key = f"{module}:{rest}"
            if key in self.funcs:
                return "func", key
            if key in self.classes:
                return "class", key
            imported = facts["imports"].get(parts[i])
            if imported and depth < 5 and imported != dotted:
                return self.resolve_dotted(".".join([imported] + parts[i + 1:]), depth + 1)
            return None
        return None

    def mro(self, cid: str) -> list[str]:
        order, todo = [], [cid]
        while todo and len(order) < 50:
            c = todo.pop(0)
            if c not in order:
                order.append(c)
                todo.extend(self.bases.get(c, []))
        return order

    def family(self, cid: str) -> list[str]:
        """The class and its subclasses in the project."""
        seen, todo = [], [cid]
        while todo and len(seen) < 200:
            c = todo.pop()
            if c not in seen:
                seen.append(c)
                todo.extend(self.subclasses.get(c, []))
        return seen

    def method(self, cid: str, name: str, skip_self: bool = False) -> str | None:
        for c in self.mro(cid)[1 if skip_self else 0:]:
            fid = f"{c}.{name}"
            if fid in self.funcs:
                return fid
        return None

    def is_method(self, fid: str) -> bool:
        fn = self.funcs.get(fid, {})
        return bool(fn.get("cls")) and not fn.get("static")

    def resolve_call(self, fid: str, ref) -> list[tuple[str, int]]:
        """What a call made in `fid` may reach: [(function id, argument offset)],
        the offset being 1 when `self` is passed implicitly."""
        kind, name = ref[0], ref[1]
        module, _, qual = fid.partition(":")
        cls = self.funcs.get(fid, {}).get("cls")
        cid = f"{module}:{cls}" if cls else None
        if kind == "d":
            if "." not in name:
                nested = f"{fid}.<locals>.{name}"
                if nested in self.funcs:
                    return [(nested, 0)]
                name = f"{module}.{name}"
            found = self.resolve_dotted(name)
            if found is None:
                return []
            if found[0] == "func":
                return [(found[1], 0)]
            init = self.method(found[1], "__init__")
            return [(init, 1)] if init else []
        if kind in ("self", "super") and cid:
            out = []
            first = self.method(cid, name, skip_self=kind == "super")
            if first:
                out.append((first, 1 if self.is_method(first) else 0))
            if kind == "self":
                for sub in self.family(cid)[1:]:
                    if f"{sub}.{name}" in self.funcs:
                        out.append((f"{sub}.{name}", 1))
            return out
        if kind == "attr" and name not in COMMON:
            found = self.methods_by_name.get(name, [])
            if len(found) == 1:
                return [(found[0], 1 if self.is_method(found[0]) else 0)]
        return []

    def edges(self, fid: str) -> list[tuple[str, int]]:
        if fid not in self._edges:
            out = []
            for ref in self.funcs[fid].get("calls", []):
                out.extend(self.resolve_call(fid, ref))
            self._edges[fid] = out
        return self._edges[fid]

    def reach(self, fid: str) -> set[str]:
        """Functions a call of `fid` may run (itself included), by the guesses above."""
        seen, todo = {fid}, deque([fid])
        while todo and len(seen) < REACH_LIMIT:
            for callee, _ in self.edges(todo.popleft()):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        return seen

    # -- actors ---------------------------------------------------------------------
    def actors(self) -> dict[str, dict]:
        """Entry function id -> {"kind", "many", "sites": [[spawner fid, line]]}."""
        found: dict[str, dict] = {}
        for fid, fn in self.funcs.items():
            for spawn in fn.get("spawns", []):
                targets = self.resolve_call(fid, spawn["target"])
                if not targets:
                    continue
                entry = found.setdefault(targets[0][0], {
                    "kind": spawn["kind"], "many": False, "sites": [], "offset": targets[0][1]})
                entry["many"] = entry["many"] or spawn["many"] or bool(entry["sites"])
                entry["sites"].append([fid, spawn["line"]])
        for cid in self.classes:
            kinds = {ACTOR_BASES[b] for c in self.mro(cid)
                     for b in self.external_bases.get(c, []) if b in ACTOR_BASES}
            run = self.method(cid, "run") if kinds else None
            if run and run.startswith(cid + ".") and run not in found:
                found[run] = {"kind": kinds.pop(), "many": False,
                              "sites": [[cid, self.classes[cid]["line"]]], "offset": 1}
        return found
