"""From every file's facts to findings: actors, channels and who uses them,
state and who touches it, exceptions, complexity.

A function runs in the actors (thread, task, process, executor job) whose
entry function reaches it by calls (analyzer/index.py); a function no
actor reaches runs in whoever calls it, named "main" here.
"""
from __future__ import annotations

from .findings import Finding
from .index import INIT_LIKE, Index, short, target_of
from .ranking import rank, score

MAIN = "main"
COMPLEX_AT = 10
PUTS = {"put", "put_nowait", "send", "send_bytes"}


def _names(items, limit=4) -> str:
    items = list(dict.fromkeys(items))
    text = ", ".join(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


class _Combiner:
    def __init__(self, facts_by_path: dict[str, dict]):
        self.ix = Index(facts_by_path)
        self.actors = self.ix.actors()
        self.runs_in: dict[str, set[str]] = {}       # fid -> actor entry fids
        for entry in self.actors:
            for fid in self.ix.reach(entry):
                self.runs_in.setdefault(fid, set()).add(entry)
        self.findings: list[Finding] = []

    def label(self, entry: str) -> str:
        if entry == MAIN:
            return MAIN
        a = self.actors[entry]
        return f"{short(entry)} ({a['kind']}{', several' if a['many'] else ''})"

    def actors_of(self, fid: str) -> set[str]:
        return self.runs_in.get(fid) or {MAIN}

    def add(self, kind, target, where_id, reason, details):
        path, line, end = self.ix.where(where_id)
        self.findings.append(Finding(kind, target, path, line, end, reason,
                                     round(score(kind, details), 2), details))

    # -- channels -------------------------------------------------------------------
    def channels(self) -> dict[str, dict]:
        ix, chans, alias, todo = self.ix, {}, {}, []
        for fid, fn in ix.funcs.items():
            for i, (kind, line, names) in enumerate(fn.get("channels", [])):
                cid = f"{fid}:{i}"
                chans[cid] = {"type": kind, "line": line, "names": names, "creator": fid,
                              "ops": []}
            for name, i in fn.get("chan_locals", {}).items():
                todo.append((fid, name, f"{fid}:{i}"))
        class_attr = {}
        for cid, cls in ix.classes.items():
            module = cid.partition(":")[0]
            for attr, (qual, i) in cls.get("chan_attrs", {}).items():
                class_attr[(cid, attr)] = f"{module}:{qual}:{i}"
        while todo:                     # follow channels passed as arguments
            fid, name, chan = todo.pop()
            if (fid, name) in alias:
                continue
            alias[(fid, name)] = chan
            fn = ix.funcs[fid]
            for ref, pos, passed in fn.get("passes", []):
                if passed != name:
                    continue
                if ref[0] == "spawn":
                    spawn = fn["spawns"][ref[1]]
                    callees = ix.resolve_call(fid, spawn["target"])[:1]
                else:
                    callees = ix.resolve_call(fid, ref)
                for callee, offset in callees:
                    params = ix.funcs[callee].get("params", [])
                    if isinstance(pos, int) and pos + offset < len(params):
                        todo.append((callee, params[pos + offset], chan))
                    elif isinstance(pos, str) and pos in params:
                        todo.append((callee, pos, chan))
        for fid, fn in ix.funcs.items():
            module, _, qual = fid.partition(":")
            for name, op, line in fn.get("ops", []):
                chan = None
                if name.startswith("self.") and fn.get("cls"):
                    for c in ix.mro(f"{module}:{fn['cls']}"):
                        chan = chan or class_attr.get((c, name[5:]))
                else:
                    chan = alias.get((fid, name)) or alias.get((f"{module}:<module>", name))
                if chan in chans:
                    chans[chan]["ops"].append((fid, "put" if op in PUTS else "get", line))
        return chans

    def channel_findings(self, chans) -> dict[str, list[str]]:
        used_by: dict[str, list[str]] = {}
        for chan in chans.values():
            ops = chan["ops"]
            if not ops:
                continue
            puts = list(dict.fromkeys(f for f, op, _ in ops if op == "put"))
            gets = list(dict.fromkeys(f for f, op, _ in ops if op == "get"))
            put_actors = set().union(*(self.actors_of(f) for f in puts)) if puts else set()
            get_actors = set().union(*(self.actors_of(f) for f in gets)) if gets else set()
            names = [n.replace("self.", "") for n in chan["names"]]
            for f in puts + gets:
                for entry in self.actors_of(f):
                    used_by.setdefault(entry, []).append(names[0])

            def side(funcs):
                return _names([short(f) + (f" ({self.actors[f]['kind']})" if f in self.actors
                                            else "") for f in funcs]) or "nothing found"
            creator = chan["creator"]
            modules = {f.partition(":")[0] for f in puts + gets + [creator]}
            details = {
                "channel_type": chan["type"], "names": names, "created_in": target_of(creator),
                "line": chan["line"], "puts": [target_of(f) for f in puts],
                "gets": [target_of(f) for f in gets],
                "actors": sorted(self.label(a) for a in put_actors | get_actors),
                "cross_actor": bool(put_actors and get_actors and put_actors != get_actors),
                "cross_module": len(modules) > 1,
                "plan_targets": sorted({target_of(f) for f in puts + gets + [creator]})}
            made = "module level" if creator.endswith(":<module>") else short(creator)
            reason = (f"{chan['type']} `{' / '.join(names)}` (made in {made}): "
                      f"put by {side(puts)}; got by {side(gets)}")
            self.add("channel", target_of(creator), creator, reason, details)
        return used_by

    # -- actors ---------------------------------------------------------------------
    def actor_findings(self, used_by):
        for entry, a in self.actors.items():
            sites = [f"{short(f) or f.partition(':')[0]} line {line}" for f, line in a["sites"]]
            chans = sorted(set(used_by.get(entry, [])))
            reason = (f"{short(entry)} runs as {'several ' if a['many'] else 'a '}"
                      f"{a['kind']}{'s' if a['many'] else ''}, started in {_names(sites, 3)}")
            if chans:
                reason += f"; it uses the channel{'s' if len(chans) > 1 else ''} {_names(chans)}"
            details = {"actor_kind": a["kind"], "several": a["many"],
                       "started_in": [[target_of(f), line] for f, line in a["sites"]],
                       "channels": chans, "plan_targets": [target_of(entry)]}
            self.add("actor", target_of(entry), entry, reason, details)

    # -- state ----------------------------------------------------------------------
    def state_findings(self):
        ix = self.ix
        for cid in ix.classes:
            module, _, cqual = cid.partition(":")
            if "<locals>" in cqual:
                continue
            own = {fid: ix.funcs[fid] for fid in ix.by_class.get(cid, ())}
            changing = {short(fid).rsplit(".", 1)[1]: sorted(fn["writes"])
                        for fid, fn in own.items()
                        if fn.get("writes") and fid.rsplit(".", 1)[1] not in INIT_LIKE}
            if not changing:
                continue
            actors = set().union(*(self.actors_of(f) for f in own))
            labels = sorted(self.label(a) for a in actors)
            what = "; ".join(f"{m} changes {_names(attrs, 3)}" for m, attrs in
                             list(changing.items())[:4])
            more = f" (and {len(changing) - 4} more methods)" if len(changing) > 4 else ""
            reason = f"{cqual} instances change state outside __init__: {what}{more}"
            if len(actors) > 1:
                reason += f"; its methods run in {len(actors)} actors: {_names(labels)}"
            self.add("stateful_class", f"{module}:{cqual}", cid, reason,
                     {"methods": changing, "actors": labels, "plan_targets": [cid]})
            self.shared_class_state(cid, cqual, changing)

    def shared_class_state(self, cid, cqual, changing):
        ix = self.ix
        family = ix.family(cid)
        members = [(fid, ix.funcs[fid]) for c in family for fid in ix.by_class.get(c, ())]
        attrs = sorted({a for attrs in changing.values() for a in attrs})
        shared, all_actors, writers = {}, set(), set()
        for attr in attrs:
            touch, write = set(), set()
            for fid, fn in members:
                if fid.rsplit(".", 1)[1] in INIT_LIKE:
                    continue
                if attr in fn.get("writes", {}):
                    write |= self.actors_of(fid)
                    touch |= self.actors_of(fid)
                elif attr in fn.get("reads", ()):
                    touch |= self.actors_of(fid)
            if len(touch) > 1 and touch - {MAIN} and write:
                shared[attr] = sorted(self.label(a) for a in touch)
                all_actors |= touch
                writers |= write
        if not shared:
            return
        labels = sorted(self.label(a) for a in all_actors)
        reason = (f"{cqual}.{_names(shared, 3)} is changed by "
                  f"{_names(m for m, a in changing.items() if set(a) & set(shared))} "
                  f"and touched from {len(all_actors)} actors: {_names(labels)}")
        details = {"attributes": shared, "actors": labels,
                   "writer_actors": sorted(self.label(a) for a in writers),
                   "plan_targets": [cid]}
        self.add("shared_state", cid, cid, reason, details)

    def shared_globals(self):
        ix = self.ix
        for module in ix.modules:
            funcs = [(fid, ix.funcs[fid]) for fid in ix.by_module.get(module, ())
                     if not fid.endswith(":<module>")]
            names = sorted({g for _, fn in funcs for g in fn.get("gwrites", ())})
            for name in names:
                touch, write = set(), set()
                for fid, fn in funcs:
                    if name in fn.get("gwrites", ()):
                        write |= self.actors_of(fid)
                    if name in fn.get("gwrites", ()) or name in fn.get("greads", ()):
                        touch |= self.actors_of(fid)
                if len(touch) > 1 and touch - {MAIN}:
                    labels = sorted(self.label(a) for a in touch)
                    writers = [short(f) for f, fn in funcs if name in fn.get("gwrites", ())]
                    reason = (f"module global {name} is changed by {_names(writers)} and "
                              f"touched from {len(touch)} actors: {_names(labels)}")
                    self.add("shared_state", module, f"{module}:<module>", reason,
                             {"global": name, "actors": labels, "plan_targets": [module],
                              "writer_actors": sorted(self.label(a) for a in write)})

    # -- exceptions and complexity ---------------------------------------------------
    def function_findings(self):
        for fid, fn in self.ix.funcs.items():
            if fid.endswith(":<module>"):
                continue
            name, target = short(fid), target_of(fid)
            raises = sorted({r[0].rsplit(".", 1)[-1] for r in fn.get("raises", ())}
                            - {"NotImplementedError"})
            swallows = [{"catches": [c.rsplit(".", 1)[-1] for c in h[0]] or ["everything"],
                         "broad": h[2], "line": h[3]} for h in fn.get("handlers", ()) if h[1]]
            if raises or swallows:
                parts = []
                if raises:
                    parts.append(f"raises {_names(raises)}")
                for h in swallows[:2]:
                    what = ("every exception" if h["catches"] == ["everything"]
                            else _names(h["catches"]))
                    parts.append(f"catches {what} without re-raising (line {h['line']})")
                self.add("exceptions", target, fid, f"{name} " + "; ".join(parts),
                         {"raises": raises, "swallows": swallows, "plan_targets": [target]})
            cc = fn.get("complexity", 1)
            if cc >= COMPLEX_AT:
                lines = fn["end_line"] - fn["line"] + 1
                self.add("complex", target, fid,
                         f"{name} has cyclomatic complexity {cc} over {lines} lines",
                         {"complexity": cc, "lines": lines, "plan_targets": [target]})


def combine(facts_by_path: dict[str, dict]) -> list[Finding]:
    """Every finding of a set of files' facts (path -> facts), ranked."""
    c = _Combiner(facts_by_path)
    used_by = c.channel_findings(c.channels())
    c.actor_findings(used_by)
    c.state_findings()
    c.shared_globals()
    c.function_findings()
    return rank(c.findings)
