"""What each view shows, as rich renderables: events, changes and messages
as table rows, call stacks and last writes as trees, the replay cursor's
position in a few lines."""
from __future__ import annotations

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from ..store.queries import MISSING
from .console import Column, duration, highlighted, seconds, value, value_text, where

KIND_STYLES = {"call": "green", "return": "blue", "raise": "bold red", "state": "yellow",
               "send": "cyan", "receive": "magenta", "spawn": "bright_blue",
               "exit": "bright_blue", "line": "dim"}


def object_names(history) -> dict[int, str]:
    """Object id -> "Account #1" (the class's own name and the id)."""
    return {o["id"]: f"{o['type'].rsplit('.', 1)[-1]} #{o['id']}"
            for o in history.store.objects(history.session)}


def object_name(names: dict, obj: int | None) -> str:
    return "" if obj is None else names.get(obj, f"#{obj}")


# -- events -------------------------------------------------------------------------------
def event_detail(e: dict) -> str:
    """What happened, in full: arguments, the value returned, the exception,
    the attributes changed (old -> new), the item sent or received."""
    data, kind = e["data"], e["kind"]
    if kind == "call":
        args = ", ".join(f"{k}={value_text(v)}" for k, v in (data.get("args") or {}).items())
        return ("(resumed) " if data.get("resumed") else "") + args
    if kind == "return":
        if "value" not in data:
            return "(yield)" if data.get("yielded") else ""
        return ("yield " if data.get("yielded") else "-> ") + value_text(data["value"])
    if kind == "raise":
        exc = data.get("exception")
        return f"{exc['type']}: {exc['message']}" if exc else "(exception not seen)"
    if kind == "state":
        changes = "; ".join(
            f"{attr}: {value_text(c['old']) if 'old' in c else '(unset)'} -> "
            f"{'(deleted)' if c.get('deleted') else value_text(c.get('new'))}"
            for attr, c in data["changes"].items())
        return changes if data.get("method") else f"[outside a method] {changes}"
    if kind in ("send", "receive"):
        return value_text(data.get("value"))
    if kind == "line":
        changed = ", ".join(f"{k}={value_text(v)}" for k, v in (data.get("locals") or {}).items())
        return f"line {data.get('line')}" + (f": {changed}" if changed else "")
    return ", ".join(f"{k}={value_text(v)}" for k, v in data.items())     # spawn, exit


def function_of(e: dict) -> str:
    loc = e["location"]
    return (loc or {}).get("function") or ""


def at_of(e: dict) -> str:
    loc = e["location"]
    return where(loc["file"], loc["line"]) if loc else ""


TIMELINE = [Column("event", "bold", "right"), Column("t", "dim", "right"),
            Column("kind", shrink=False),
            Column("function"), Column("at", "dim"), Column("detail")]


def timeline_rows(events: list[dict], open_calls=()) -> list[tuple]:
    """One row per event; functions indented by how deep their call is.
    `open_calls`: the frames open at the first event (a window that starts
    inside calls), outermost first."""
    depth: dict[int, int] = {f.call: level for level, f in enumerate(open_calls)}
    rows = []
    for e in events:
        if e["kind"] == "call":
            level = depth.get(e["parent"], -1) + 1
            depth[e["id"]] = level
        else:
            level = depth.get(e["call"], 0)
        rows.append((str(e["id"]), seconds(e["t"]), Text(e["kind"], KIND_STYLES.get(e["kind"], "")),
                     "  " * level + function_of(e), at_of(e), _detail(e)))
    return rows


def _detail(e: dict) -> Text:
    return highlighted(event_detail(e))


# -- state --------------------------------------------------------------------------------
HISTORY = [Column("event", "bold", "right"), Column("t", "dim", "right"), Column("actor"),
           Column("object"), Column("method"), Column("attr", "bold"), Column("old"),
           Column("new")]


def history_rows(changes, names: dict) -> list[tuple]:
    return [(str(c.event), seconds(c.t), c.actor_name or str(c.actor), object_name(names, c.object),
             c.method or "(outside a method)", c.attr, value(c.old),
             Text("(deleted)", "red") if c.deleted else value(c.new)) for c in changes]


def attributes(title: str, values: dict) -> Group | Text:
    """An object's attributes (or a call's locals), one per line."""
    if not values:
        return Text(f"{title}: nothing recorded")
    width = max(len(k) for k in values)
    lines = [Text(title, "bold")]
    lines += [Text.assemble(("  " + k.ljust(width), "bold"), " = ", value(v))
              for k, v in values.items()]
    return Group(*lines)


# -- messages -----------------------------------------------------------------------------
MESSAGES = [Column("sent", "bold", "right"), Column("t", "dim", "right"), Column("from"),
            Column("to"), Column("via", "dim"), Column("received", "bold", "right"),
            Column("latency", "", "right"), Column("value")]
NOT_RECEIVED = "(not received)"


def message_rows(flow, names: dict) -> tuple[list[tuple], list[str]]:
    rows, styles = [], []
    for m in flow:
        first = m.send or m.receive
        sender = m.send["actor_name"] if m.send else "(send not recorded)"
        receiver = Text(m.receive["actor_name"]) if m.receive else \
            Text(NOT_RECEIVED, "bold red")
        rows.append((str(m.send["id"]) if m.send else "-", seconds(first["t"]), sender, receiver,
                     object_name(names, m.channel), str(m.receive["id"]) if m.receive else "-",
                     duration(m.latency_ns), value(m.value)))
        styles.append("" if m.received else "red")
    return rows, styles


# -- call stacks ------------------------------------------------------------------------------
def frame_label(f, names: dict) -> Text:
    text = Text.assemble((f.function or "?", "bold green"), "  ", (where(f.file, f.line), "dim"),
                         f"  call {f.call}")
    if f.object is not None:
        text.append(f"  on {object_name(names, f.object)}", "yellow")
    return text


def stack_tree(label, frames, names: dict) -> Tree:
    """Frames, outermost first, each a child of its caller."""
    tree = Tree(label, guide_style="dim")
    node = tree
    for f in frames:
        node = node.add(frame_label(f, names))
    if not frames:
        tree.add(Text("(no recorded call is open here)", "dim"))
    return tree


def stack_label(e: dict) -> Text:
    return Text.assemble(("call stack at event ", "bold"), (str(e["id"]), "bold"),
                         f"  ({e['actor_name'] or e['actor']}, t={seconds(e['t'])}, ",
                         (e["kind"], KIND_STYLES.get(e["kind"], "")), ")")


def write_tree(w, names: dict) -> Tree:
    """Who set a value: the change, when and in which method, and the stack
    the method was called from."""
    c = w.change
    new = Text("(deleted)", "red") if c.deleted else value(c.new)
    was = Text("  (set for the first time)") if c.old == MISSING else \
        Text.assemble("  (was ", value(c.old), ")")
    tree = Tree(Text.assemble((f"{object_name(names, c.object)}.{c.attr}", "bold"), " = ", new,
                              was), guide_style="dim")
    tree.add(f"set at event {c.event}, t={seconds(c.t)}, in {c.actor_name or c.actor}")
    tree.add(Text.assemble("by ", (c.method or "code outside its methods", "bold green"),
                           f" (call {c.call})" if c.call is not None else ""))
    stack_tree_node = tree.add("called from")
    node = stack_tree_node
    for f in w.stack:
        node = node.add(frame_label(f, names))
    if not w.stack:
        stack_tree_node.add(Text("(no recorded call)", "dim"))
    return tree


# -- replay -------------------------------------------------------------------------------------
def position(e: dict, frames, names: dict) -> Group:
    """Where the replay cursor is: the event, what it did, the open calls."""
    head = Text.assemble(("event ", "bold"), (str(e["id"]), "bold"), f"  t={seconds(e['t'])}  ",
                         (e["actor_name"] or str(e["actor"]), "bold"), "  ",
                         (e["kind"], KIND_STYLES.get(e["kind"], "")), "  ",
                         (function_of(e), "bold green"), "  ", (at_of(e), "dim"))
    lines = [head]
    detail = event_detail(e)
    if detail:
        lines.append(Text("  ") + _detail(e))
    if frames:
        lines.append(Text("  in " + " > ".join(f.function or "?" for f in frames), "dim"))
    return Group(*lines)
