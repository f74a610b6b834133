"""Questions to a recording: what an actor did, how an object's state evolved,
who sent what to whom, the call stack at a moment, who set a value.

    from cinescope.store import History
    with History("recordings.db") as h:           # the latest session
        h.call_stack_at(event=1234)
        h.value_history(7, "balance")
        h.last_write(7, "balance", before=1234)

Events are the dictionaries of `Store.events` (docs/json.md). The other
results are the dataclasses below. Every question reads what it needs by an
index: an event by its id (the `events` key, or the one chunk whose id range
holds it), an actor's events around a time (`events_actor_ts`,
`chunks_actor_ts`), an object's state changes (`events_object_ts`), the
messages of a session (`events_session_kind_ts`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..capture import records as R
from . import chunks
from .schema import StoreError
from .store import Store, _unpack, chunk_event, jsonable

MISSING = {"missing": True}      # `old` of an attribute that did not exist before


@dataclass(frozen=True)
class Frame:
    """One call open on a stack: the call event, and where."""
    call: int
    function: str | None
    module: str | None
    file: str | None
    line: int | None
    object: int | None
    ts: int


@dataclass(frozen=True)
class Change:
    """One attribute of one object changed by one event."""
    event: int
    ts: int
    t: float
    actor: int
    actor_name: str | None
    object: int
    attr: str
    old: object
    new: object
    deleted: bool
    method: str | None       # None: changed from outside the object's methods
    call: int | None         # the method call that made it


@dataclass(frozen=True)
class Message:
    """A send paired with its receive (either may be missing)."""
    message: int
    channel: int | None
    value: object
    send: dict | None
    receive: dict | None

    @property
    def received(self) -> bool:
        return self.receive is not None

    @property
    def latency_ns(self) -> int | None:
        if self.send is None or self.receive is None:
            return None
        return self.receive["ts"] - self.send["ts"]


@dataclass(frozen=True)
class Write:
    """Who set a value: the change, and the call stack it was made from."""
    change: Change
    stack: list[Frame] = field(default_factory=list)


class History:
    """The questions, over one session of a store (the latest by default)."""

    def __init__(self, store: str | Store, session: int | None = None):
        self.store = store if isinstance(store, Store) else Store(store)
        self._own = not isinstance(store, Store)
        info = self.store.session(session)
        self.session = info["id"]
        self.conn = self.store.conn
        self.start_ns = self._one("SELECT start_ns FROM sessions WHERE id = ?",
                                  (self.session,))[0]
        self._chunk_cache: dict[int, dict[int, tuple]] = {}
        self._locations: dict | None = None
        self._names: dict | None = None

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        if self._own:
            self.store.close()

    # -- reading ------------------------------------------------------------------
    def _one(self, sql: str, params=()):
        try:
            return self.conn.execute(sql, params).fetchone()
        except Exception as exc:
            raise StoreError(f"store {self.store.path} cannot be read ({exc})") from None

    def _rows(self, sql: str, params=()) -> list[dict]:
        return self.store._query(sql, params)

    def _loc(self, loc: int | None) -> dict | None:
        if self._locations is None:
            self._locations = self.store._locations()
        if loc is not None and loc not in self._locations:
            self._locations = self.store._locations()
        return self._locations.get(loc)

    def actor_name(self, actor: int | None) -> str | None:
        """The name of an actor (thread, task, process) by its id."""
        return self._name(actor)

    def _name(self, actor: int | None) -> str | None:
        if self._names is None or actor not in self._names:
            self._names = {r["id"]: r["name"] for r in self._rows(
                "SELECT id, name FROM actors WHERE session = ?", (self.session,))}
        return self._names.get(actor)

    def _row_events(self, where: str, params=(), order: str = "ts, id",
                    limit: int | None = None, index: str | None = None,
                    scoped: bool = True) -> list[dict]:
        """Events of the `events` table; `index`: the one to read by, when the
        key says the session already (an object's or an actor's id);
        `scoped=False` when the keys are event ids (unique in the store): the
        session's index would be read instead of the ids'."""
        table = f"events e INDEXED BY {index}" if index else "events e"
        scoped = scoped and not index
        session = "e.session = ? AND " if scoped else ""
        sql = ("SELECT e.*, a.name AS actor_name, l.file, l.line, l.function, l.module "
               f"FROM {table} LEFT JOIN actors a ON a.id = e.actor "
               f"LEFT JOIN locations l ON l.id = e.location WHERE {session}{where} "
               f"ORDER BY {order}")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        args = (self.session, *params) if scoped else tuple(params)
        return [Store._event(row, self.start_ns) for row in self._rows(sql, args)]

    def _chunk(self, row: dict) -> dict[int, tuple]:
        """A chunk's events by id (decoded once)."""
        first = row["first_id"]
        events = self._chunk_cache.get(first)
        if events is None:
            decoded = self.store.decode_chunk(first, row["ts0"], row["count"], row["data"])
            events = {e[0]: (row["actor"],) + e for e in decoded}
            if len(self._chunk_cache) > 64:
                self._chunk_cache.pop(next(iter(self._chunk_cache)))
            self._chunk_cache[first] = events
        return events

    def _chunk_event(self, item: tuple) -> dict:
        actor = item[0]
        return chunk_event(item[1:], self.session, self.start_ns, actor, self._name(actor),
                           self._loc(item[4]))

    def event(self, event_id: int) -> dict:
        """One event by its id."""
        found = [e for e in self._row_events("e.id = ?", (event_id,), scoped=False)
                 if e["session"] == self.session]
        if found:
            return found[0]
        rows = self._rows("SELECT first_id, last_id, actor, ts0, count, data FROM chunks "
                          "WHERE first_id <= ? AND session = ? ORDER BY first_id DESC LIMIT 1",
                          (event_id, self.session))
        if rows and rows[0]["last_id"] >= event_id:
            item = self._chunk(rows[0]).get(event_id)
            if item is not None:
                return self._chunk_event(item)
        raise StoreError(f"session {self.session} has no event {event_id}; "
                         "`cinescope events` lists them")

    def actor_id(self, actor: str | int) -> int:
        """An actor given by id, key or name (the first of that name)."""
        return self.store._actor_ids(self.session, actor)[0]

    # -- what an actor did ------------------------------------------------------------
    def timeline(self, actor: str | int, t0: float | None = None,
                 t1: float | None = None) -> list[dict]:
        """The actor's events between t0 and t1 (seconds since the session
        started; None: from the start, to the end), in time order."""
        actor = self.actor_id(actor)
        lo = self.start_ns + round(t0 * 1e9) if t0 is not None else 0
        hi = self.start_ns + round(t1 * 1e9) if t1 is not None else 2 ** 63 - 1
        out = self._row_events("e.actor = ? AND e.ts BETWEEN ? AND ?", (actor, lo, hi))
        for row in self._chunks_of(actor, lo, hi):
            out += [self._chunk_event(item) for item in self._chunk(row).values()
                    if lo <= item[3] <= hi]
        out.sort(key=lambda e: (e["ts"], e["id"]))
        return out

    def recent(self, actor: str | int, n: int, before: dict | None = None) -> list[dict]:
        """The actor's last n events (before the event `before`, if given), in
        time order. Reads the newest chunks only."""
        actor = self.actor_id(actor)
        key = (before["ts"], before["id"]) if before is not None else (2 ** 63 - 1,) * 2
        out = self._row_events("e.actor = ? AND (e.ts < ? OR (e.ts = ? AND e.id < ?))",
                               (actor, key[0], key[0], key[1]),
                               order="e.ts DESC, e.id DESC", limit=n)
        items: list[tuple] = []
        hi = key[0]
        while True:
            rows = self._rows("SELECT first_id, last_id, actor, ts0, ts1, count, data "
                              "FROM chunks WHERE actor = ? AND ts0 <= ? "
                              "ORDER BY ts0 DESC LIMIT 2", (actor, hi))
            for row in rows:
                items += [i for i in self._chunk(row).values() if (i[3], i[1]) < key]
            items.sort(key=lambda i: (i[3], i[1]), reverse=True)
            del items[n:]
            if len(rows) < 2 or (len(items) == n and items[-1][3] >= rows[-1]["ts0"]):
                break
            hi = rows[-1]["ts0"] - 1
        # the n newest of rows and chunk items, made into events only now
        merged = [(e["ts"], e["id"], e) for e in out] + [(i[3], i[1], i) for i in items]
        merged.sort(key=lambda m: (m[0], m[1]))
        return [m[2] if isinstance(m[2], dict) else self._chunk_event(m[2])
                for m in merged[-n:]]

    def return_of(self, call: dict) -> dict | None:
        """The return (or raise) that ended a call; None while it is open.
        Reads the stacks of the actor's later chunks (the calls open when each
        starts) to find the one it ended in, not every event in between."""
        if call["kind"] != "call":
            raise ValueError("return_of needs a call event")
        rows = self._rows("SELECT first_id, last_id, actor, ts0, ts1, count, data, stack "
                          "FROM chunks WHERE actor = ? AND ts1 >= ? ORDER BY ts0",
                          (call["actor"], call["ts"]))
        candidates = []
        for row in rows:
            if row["first_id"] > call["id"] and call["id"] not in (
                    c for c, _ in chunks.decode_stack(row["stack"], row["first_id"])):
                candidates.append(row)      # the call had ended: in this chunk's start
                break                       # or in the one before
            candidates = [row]
        for row in candidates:
            ended = [i for i in self._chunk(row).values()
                     if i[2] == R.RETURN and i[5] == call["id"] and not i[7]]
            if ended:
                return self._chunk_event(min(ended, key=lambda i: (i[3], i[1])))
        raised = self._row_events("e.call = ? AND e.kind = ?", (call["id"], R.RAISE),
                                  index="events_call", limit=1)
        return raised[0] if raised else None

    def _chunks_of(self, actor: int, lo: int, hi: int) -> list[dict]:
        """The actor's chunks with events between lo and hi. One actor's chunks
        follow each other in time: they start at the last one starting at or
        before lo (both lookups by the (actor, ts0) index)."""
        first = self._one("SELECT max(ts0) FROM chunks WHERE actor = ? AND ts0 <= ?",
                          (actor, lo))[0]
        return self._rows("SELECT first_id, last_id, actor, ts0, ts1, count, data FROM chunks "
                          "WHERE actor = ? AND ts0 BETWEEN ? AND ? AND ts1 >= ? ORDER BY ts0",
                          (actor, first if first is not None else lo, hi, lo))

    def _last_event(self, actor: int, ts: int) -> dict | None:
        """The actor's last event at or before ts."""
        rows = self._row_events("e.actor = ? AND e.ts <= ?", (actor, ts),
                                order="e.ts DESC, e.id DESC", limit=1)
        best = rows[0] if rows else None
        chunk = self._rows("SELECT first_id, last_id, actor, ts0, ts1, count, data FROM chunks "
                           "WHERE actor = ? AND ts0 <= ? ORDER BY ts0 DESC LIMIT 1",
                           (actor, ts))
        if chunk:
            items = [i for i in self._chunk(chunk[0]).values() if i[3] <= ts]
            if items:
                item = max(items, key=lambda i: (i[3], i[1]))
                if best is None or (item[3], item[1]) > (best["ts"], best["id"]):
                    best = self._chunk_event(item)
        return best

    def step(self, actor: int, at: dict | None, forward: bool) -> dict | None:
        """The actor's event right after (before) `at` in time order; from the
        start (end) when `at` is None."""
        if at is None:
            key = (-1, -1) if forward else (2 ** 63 - 1, 2 ** 63 - 1)
        else:
            key = (at["ts"], at["id"])
        if forward:
            rows = self._row_events("e.actor = ? AND (e.ts > ? OR (e.ts = ? AND e.id > ?))",
                                    (actor, key[0], key[0], key[1]), limit=1)
            chunks_near = self._chunks_of(actor, key[0], key[0]) + self._rows(
                "SELECT first_id, last_id, actor, ts0, ts1, count, data FROM chunks "
                "WHERE actor = ? AND ts0 > ? ORDER BY ts0 LIMIT 1", (actor, key[0]))
        else:
            rows = self._row_events("e.actor = ? AND (e.ts < ? OR (e.ts = ? AND e.id < ?))",
                                    (actor, key[0], key[0], key[1]),
                                    order="e.ts DESC, e.id DESC", limit=1)
            chunks_near = self._rows(
                "SELECT first_id, last_id, actor, ts0, ts1, count, data FROM chunks "
                "WHERE actor = ? AND ts0 <= ? ORDER BY ts0 DESC LIMIT 2", (actor, key[0]))
        best = rows[0] if rows else None
        for row in chunks_near:
            items = [i for i in self._chunk(row).values()
                     if ((i[3], i[1]) > key if forward else (i[3], i[1]) < key)]
            if not items:
                continue
            item = (min if forward else max)(items, key=lambda i: (i[3], i[1]))
            if best is None or (((item[3], item[1]) < (best["ts"], best["id"])) == forward):
                best = self._chunk_event(item)
        return best

    # -- call stacks ------------------------------------------------------------------
    def call_stack_at(self, event: int | None = None, *, actor: str | int | None = None,
                      t: float | None = None) -> list[Frame]:
        """The calls open at an event (its own call included), or in an actor
        at time t (seconds since the session started); outermost first."""
        if event is not None:
            at = self.event(event)
        elif actor is not None and t is not None:
            at = self._last_event(self.actor_id(actor), self.start_ns + round(t * 1e9))
            if at is None:
                return []
        else:
            raise ValueError("call_stack_at needs an event, or an actor and a time t")
        if at["kind"] == "call":
            innermost = at["id"]
        elif at["kind"] in ("return", "raise") and event is None:
            # after a return, the call it returned from is no longer open
            innermost = self.event(at["call"])["parent"] if at["call"] else None
        else:
            innermost = at["call"]
        stack = []
        while innermost is not None:
            call = self.event(innermost)
            location = call["location"] or {}
            stack.append(Frame(call["id"], location.get("function"), location.get("module"),
                               location.get("file"), location.get("line"), call["object"],
                               call["ts"]))
            innermost = call["parent"]
        stack.reverse()
        return stack

    # -- state ----------------------------------------------------------------------------
    def objects(self, spec: str | int) -> list[int]:
        """Object ids: an id, or every object of a class ("module:Class",
        "module.Class" or just "Class")."""
        if isinstance(spec, int) or str(spec).isdigit():
            return [int(spec)]
        name = str(spec).replace(":", ".")
        names = [name]
        module, _, cls = name.rpartition(".")
        if module and module == self._main_module():
            names.append("__main__." + cls)     # the program's own classes
        rows = self._rows(
            "SELECT id FROM objects WHERE session = ? AND (type IN (?, ?) OR type LIKE ? "
            "ESCAPE '\\') ORDER BY id",
            (self.session, names[0], names[-1],
             "%." + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")))
        if not rows:
            raise StoreError(f"session {self.session} recorded no object {spec!r}; "
                             "plan its class to record its state")
        return [r["id"] for r in rows]

    def _main_module(self) -> str | None:
        """The module name the program's own file has (its __main__)."""
        argv = self.store.session(self.session)["argv"]
        if not argv:
            return None
        if argv[0] == "-m":
            return argv[1] if len(argv) > 1 else None
        return os.path.splitext(os.path.basename(argv[0]))[0]

    def state_history(self, target: str | int, attr: str | None = None) -> list[Change]:
        """Every change to an object (an id), or to the objects of a class
        ("module:Class"); "module:Class.attr" names one attribute of them."""
        if attr is None and isinstance(target, str) and "." in target.partition(":")[2]:
            target, attr = target.rsplit(".", 1)
        out = []
        for obj in self.objects(target):
            out += self.value_history(obj, attr)
        out.sort(key=lambda c: (c.ts, c.event))
        return out

    def value_history(self, obj: int, attr: str | None = None, *,
                      before: int | None = None,
                      after: tuple[int, int] | None = None) -> list[Change]:
        """The changes of one object (of one attribute), oldest first; with
        `before`, only those that happened before that event; with `after`
        (ts, event id), only those after it."""
        where, params = "e.object = ? AND e.kind = ? AND e.object IS NOT NULL", [obj, R.STATE]
        # each bound as an index range on ts, then the tie on the same ts by id
        if before is not None:
            at = self.event(before)
            where += " AND e.ts <= ? AND (e.ts < ? OR e.id < ?)"
            params += [at["ts"], at["ts"], at["id"]]
        if after is not None:
            where += " AND e.ts >= ? AND (e.ts > ? OR e.id > ?)"
            params += [after[0], after[0], after[1]]
        out = []
        for e in self._row_events(where, params, order="e.ts, e.id", index="events_object_ts"):
            out += self._changes_of(e, obj, attr)
        return out

    def last_changes(self, obj: int, n: int,
                     before: tuple[int, int] | None = None) -> tuple[list[Change], bool]:
        """The object's last n change events (before (ts, event id), if given),
        oldest first, and whether there were earlier ones. Costs the same
        whatever the length of the object's history."""
        where, params = "e.object = ? AND e.kind = ? AND e.object IS NOT NULL", [obj, R.STATE]
        if before is not None:
            where += " AND e.ts <= ? AND (e.ts < ? OR e.id < ?)"
            params += [before[0], before[0], before[1]]
        rows = self._row_events(where, params, order="e.ts DESC, e.id DESC", limit=n + 1,
                                index="events_object_ts")
        out = []
        for e in reversed(rows[:n]):
            out += self._changes_of(e, obj, None)
        return out, len(rows) > n

    @staticmethod
    def _changes_of(e: dict, obj: int, attr: str | None) -> list[Change]:
        return [Change(e["id"], e["ts"], e["t"], e["actor"], e["actor_name"], obj, name,
                       change.get("old", MISSING), change.get("new"),
                       bool(change.get("deleted")), e["data"].get("method"), e["call"])
                for name, change in (e["data"].get("changes") or {}).items()
                if attr is None or name == attr]

    def state_at(self, obj: int, before: int | None = None) -> dict:
        """Object `obj`'s recorded attributes just before event `before` (None:
        at the end): its latest checkpoint (store schema 3: every 64 changes)
        and the changes after it, so that any moment costs the same."""
        key = (2 ** 63 - 1, 2 ** 63 - 1)
        if before is not None:
            at = self.event(before)
            key = (at["ts"], at["id"])
        state: dict = {}
        since = None
        row = self._one("SELECT ts, event, state FROM checkpoints WHERE object = ? AND "
                        "ts <= ? AND (ts < ? OR event < ?) ORDER BY ts DESC, event DESC "
                        "LIMIT 1", (obj, key[0], key[0], key[1]))
        if row is not None:
            state = jsonable(_unpack(row[2]))
            since = (row[0], row[1])
        for change in self.value_history(obj, before=before, after=since):
            if change.deleted:
                state.pop(change.attr, None)
            elif change.new is not MISSING:
                state[change.attr] = change.new
        return state

    def last_write(self, obj: int, attr: str, before: int | None = None) -> Write | None:
        """Who set obj.attr last (before an event): the change, the method,
        and the stack it was called from."""
        # newest first, a page at a time: an object may have millions of changes
        key = (2 ** 63 - 1, 2 ** 63 - 1)
        if before is not None:
            at = self.event(before)
            key = (at["ts"], at["id"])
        while True:
            page = self._row_events(
                "e.object = ? AND e.kind = ? AND e.object IS NOT NULL AND e.ts <= ? "
                "AND (e.ts < ? OR e.id < ?)", (obj, R.STATE, key[0], key[0], key[1]),
                order="e.ts DESC, e.id DESC", limit=64, index="events_object_ts")
            for e in page:
                changes = self._changes_of(e, obj, attr)
                if changes:
                    return Write(changes[-1], self.call_stack_at(e["id"]))
            if len(page) < 64:
                return None
            key = (page[-1]["ts"], page[-1]["id"])

    # -- messages -----------------------------------------------------------------------------
    def message_flow(self, sender: str | int | None = None, receiver: str | int | None = None,
                     t0: float | None = None, t1: float | None = None) -> list[Message]:
        """Sends paired with their receives, in the order sent; a send never
        received has `receive` None. `sender`/`receiver`: actors; with a
        receiver, a sender's unreceived sends are listed too (they may have
        been meant for it)."""
        lo = self.start_ns + round(t0 * 1e9) if t0 is not None else 0
        hi = self.start_ns + round(t1 * 1e9) if t1 is not None else 2 ** 63 - 1
        send_actor = self.actor_id(sender) if sender is not None else None
        receive_actor = self.actor_id(receiver) if receiver is not None else None
        # the pairs, by id, in SQL: by the actors' (actor, ts) index, then the message index
        if send_actor is not None:
            sends = "s.actor = ? AND s.kind = ? AND s.ts BETWEEN ? AND ?"
            params: list = [send_actor, R.SEND, lo, hi]
            table = "events s INDEXED BY events_actor_ts"
        else:
            sends = "s.session = ? AND s.kind = ? AND s.ts BETWEEN ? AND ?"
            params = [self.session, R.SEND, lo, hi]
            table = "events s"
        pairs = self._rows(
            f"SELECT s.id AS send, r.id AS receive, r.actor AS receiver FROM {table} "
            "LEFT JOIN events r ON r.message = s.message AND r.kind = ? "
            "AND r.session = s.session "
            f"WHERE {sends} ORDER BY s.ts, s.id", [R.RECEIVE, *params])
        if receive_actor is not None:
            pairs = [p for p in pairs if p["receive"] is None or p["receiver"] == receive_actor]
        if send_actor is None:
            # receives whose send was not recorded (a send by unplanned code)
            where = "r.kind = ? AND r.ts BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM events " \
                    "s WHERE s.message = r.message AND s.kind = ?)"
            if receive_actor is not None:
                orphans = self._rows("SELECT r.id AS receive FROM events r INDEXED BY "
                                     f"events_actor_ts WHERE r.actor = ? AND {where}",
                                     (receive_actor, R.RECEIVE, lo, hi, R.SEND))
            else:
                orphans = self._rows(f"SELECT r.id AS receive FROM events r WHERE "
                                     f"r.session = ? AND {where}",
                                     (self.session, R.RECEIVE, lo, hi, R.SEND))
            pairs += [{"send": None, "receive": o["receive"]} for o in orphans]
        ids = [i for p in pairs for i in (p["send"], p["receive"]) if i is not None]
        events = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for e in self._row_events(f"e.id IN ({','.join('?' * len(chunk))})", chunk,
                                      scoped=False):
                events[e["id"]] = e
        out = []
        for p in pairs:
            send, receive = events.get(p["send"]), events.get(p["receive"])
            first = send or receive
            out.append(Message(first["message"], first["object"], first["data"].get("value"),
                               send, receive))
        out.sort(key=lambda m: ((m.send or m.receive)["ts"], (m.send or m.receive)["id"]))
        return out

    def actor_messages(self, actor: str | int, n: int,
                       before: tuple[int, int] | None = None) -> list[Message]:
        """The actor's last n sends and receives (before (ts, event id), if
        given), oldest first, each paired with its other side (None: not
        received, or sent by unrecorded code). Reads the session's messages,
        newest first, not the actor's other events."""
        actor = self.actor_id(actor)
        key = before if before is not None else (2 ** 63 - 1, 2 ** 63 - 1)
        mine = self._row_events(
            "e.session = ? AND e.kind IN (?, ?) AND e.actor = ? AND e.ts <= ? "
            "AND (e.ts < ? OR e.id < ?)", (self.session, R.SEND, R.RECEIVE, actor, key[0],
                                            key[0], key[1]),
            order="e.ts DESC, e.id DESC", limit=n, index="events_session_kind_ts")
        out = []
        for e in reversed(mine):
            other = None
            if e["message"] is not None:
                other_kind = R.RECEIVE if e["kind"] == "send" else R.SEND
                found = self._row_events("e.message = ? AND e.session = ? AND e.kind = ?",
                                         (e["message"], self.session, other_kind),
                                         index="events_message", limit=1)
                other = found[0] if found else None
            send, receive = (e, other) if e["kind"] == "send" else (other, e)
            out.append(Message(e["message"], e["object"], e["data"].get("value"), send, receive))
        return out

    # -- correlation ------------------------------------------------------------------------
    def correlated(self, event_id: int) -> list[dict]:
        """What belongs with an event: for a call, its return or raise, the
        calls it made and what happened in it; for a send or receive, the
        other side; for anything else, its call."""
        at = self.event(event_id)
        if at["kind"] in ("send", "receive") and at["message"] is not None:
            return self._row_events("e.message = ? AND e.session = ?",
                                    (at["message"], self.session), index="events_message")
        call = at["id"] if at["kind"] == "call" else at["call"]
        if call is None:
            return [at]
        out = [self.event(call)] if call != at["id"] else [at]
        out += self._row_events("e.call = ? AND e.call IS NOT NULL", (call,),
                                index="events_call")
        head = out[0]
        ended = any(e["kind"] == "raise" for e in out)
        for row in self._chunks_of(head["actor"], head["ts"], 2 ** 63 - 1):
            if ended:
                break
            for item in self._chunk(row).values():
                if item[5] == call and item[1] != call:
                    out.append(self._chunk_event(item))   # its return, and its callees
                    ended = ended or item[2] == R.RETURN and not item[7]
        out.sort(key=lambda e: (e["ts"], e["id"]))
        return out

    # -- outliers --------------------------------------------------------------------------
    def exceptions(self) -> list[tuple[dict, list[Frame]]]:
        """Every raise, oldest first, with the calls open when it left its frame."""
        return [(e, self.call_stack_at(e["id"]))
                for e in self._row_events("e.kind = ?", (R.RAISE,))]

    def call_durations(self) -> list[tuple[int, int, int, dict | None]]:
        """(call id, actor, duration ns, location) of every call that returned,
        in the order they started. Generators and coroutines are left out
        (their time between a yield and a resumption is not theirs), and so
        are calls that raised. Reads every call, once."""
        open_calls: dict[int, tuple[int, int, int | None]] = {}
        out: list[tuple[int, int, int, int, int | None]] = []
        for row in self._rows("SELECT first_id, last_id, actor, ts0, count, data FROM chunks "
                              "WHERE session = ? ORDER BY first_id", (self.session,)):
            for item in self._chunk(row).values():
                actor, event_id, kind, ts, loc, link, _, flag, _ = item
                if kind == R.CALL:
                    if not flag:                        # not a resumption
                        open_calls[event_id] = (ts, actor, loc)
                elif link in open_calls:
                    start, actor, loc = open_calls.pop(link)
                    if not flag:                        # a return, not a yield
                        out.append((start, link, actor, ts - start, loc))
        rows = self._row_events("e.kind IN (?, ?)", (R.CALL, R.RETURN))     # schema 1
        for e in rows:
            if e["kind"] == "call":
                if not e["data"].get("resumed"):
                    open_calls[e["id"]] = (e["ts"], e["actor"], e["location"])
            elif e["call"] in open_calls:
                start, actor, loc = open_calls.pop(e["call"])
                if not e["data"].get("yielded"):
                    out.append((start, e["call"], actor, e["ts"] - start, loc))
        out.sort(key=lambda d: (d[0], d[1]))
        return [(call, actor, took, loc if isinstance(loc, dict) or loc is None
                 else self._loc(loc)) for _, call, actor, took, loc in out]

    def slowest_calls(self, n: int = 10, function: str | None = None) -> list[dict]:
        """The n calls that took longest (a call event with `duration_ns`), the
        slowest first; only `function`'s when given. Reads every call."""
        calls: dict[int, dict] = {}
        durations: list[tuple[int, int]] = []
        for row in self._rows("SELECT first_id, last_id, actor, ts0, count, data FROM chunks "
                              "WHERE session = ? ORDER BY first_id", (self.session,)):
            for item in self._chunk(row).values():
                _, event_id, kind, ts, loc, link, _, flag, _ = item
                if kind == R.CALL:
                    calls[event_id] = (ts, loc)
                elif link in calls and not flag:        # a return (not a yield)
                    start, loc = calls.pop(link)
                    durations.append((ts - start, link))
        for e in self._row_events("e.kind IN (?, ?)", (R.CALL, R.RETURN)):   # schema 1
            if e["kind"] == "call":
                calls[e["id"]] = (e["ts"], None)
            elif e["call"] in calls and not e["data"].get("yielded"):
                durations.append((e["ts"] - calls.pop(e["call"])[0], e["call"]))
        durations.sort(reverse=True)
        out = []
        for took, call in durations:
            event = self.event(call)
            if function is None or (event["location"] or {}).get("function") == function:
                out.append(dict(event, duration_ns=took))
                if len(out) == n:
                    break
        return out
