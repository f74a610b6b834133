"""A few readable lines about a session: what `make demo` prints."""
from __future__ import annotations

from collections import Counter


def short_value(value, width: int = 40) -> str:
    """A one-line rendering of a captured value (see capture.values)."""
    if isinstance(value, dict):
        if value.get("redacted"):
            text = "<redacted>"
        elif "repr" in value:
            text = value["repr"]
        elif "items" in value:
            kind = value["type"]
            if kind == "dict":
                inner = ", ".join(f"{short_value(k, 15)}: {short_value(v, 15)}"
                                  for k, v in value["items"])
                text = "{" + inner + "}"
            else:
                inner = ", ".join(short_value(v, 15) for v in value["items"])
                text = {"list": "[{}]", "tuple": "({})"}.get(kind, kind + "({})").format(inner)
            if "len" in value:
                text = text[:-1] + f", ... {value['len']} items" + text[-1]
        elif "value" in value and value.get("type") == "str":
            text = repr(value["value"]) + f"... ({value['len']} chars)"
        elif "exception" in value or "type" in value:
            text = f"<{value.get('type', '?')}>"
        else:
            text = str(value)
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def summarize(store, session_id: int | None = None) -> str:
    s = store.session(session_id)
    counts = store.counts(s["id"])
    actors = store.actors(s["id"])
    lines = [f"session {s['id']}{' (' + s['name'] + ')' if s['name'] else ''}: "
             f"{' '.join(s['argv'])}",
             f"  status {s['status']}, exit {s['exit_status']}, "
             f"{s['events_written']} events, {s['events_dropped']} dropped, "
             f"level {s['level']}, backend {s['backend']}"]
    if s["error"]:
        lines.append(f"  recording problems: {s['error']}")
    lines.append("  events: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    kinds = Counter(a["kind"] for a in actors)
    lines.append("  actors: " + ", ".join(f"{n} {k}{'es' if n > 1 and k == 'process' else 's' if n > 1 else ''}"
                                          for k, n in sorted(kinds.items())))
    for a in actors:
        parent = next((p["name"] for p in actors if p["id"] == a["parent"]), None)
        lines.append(f"    {a['kind']:<8} {a['name'] or a['key']}"
                     + (f"  (spawned by {parent})" if parent else ""))
    events = store.events(s["id"], kinds=("state", "send", "receive", "raise"))
    names = {o["id"]: f"{o['type'].rsplit('.', 1)[-1]} #{o['id']}" for o in store.objects(s["id"])}
    states = [e for e in events if e["kind"] == "state"]
    if states:
        lines.append("  state changes:")
        for e in states[:12]:
            changes = "; ".join(
                f"{k} {short_value(c.get('old'), 20) if 'old' in c else '(new)'} -> "
                f"{short_value(c.get('new'), 20)}" for k, c in e["data"]["changes"].items())
            lines.append(f"    {names.get(e['object'], e['object'])} "
                         f"[{e['data']['method'] or 'outside a method'}] {changes}")
        if len(states) > 12:
            lines.append(f"    ... {len(states) - 12} more")
    sends = {e["message"]: e for e in events if e["kind"] == "send" and e["message"]}
    receives = {e["message"]: e for e in events if e["kind"] == "receive" and e["message"]}
    if sends:
        paired = [m for m in sends if m in receives]
        lines.append(f"  messages: {len(sends)} sent, {len(paired)} received "
                     f"({len(sends) - len(paired)} never received)")
        for m in list(sends)[:8]:
            r = receives.get(m)
            lines.append(f"    {sends[m]['actor_name']} -> {r['actor_name'] if r else '?'}: "
                         f"{short_value(sends[m]['data'].get('value'), 50)}")
    raises = [e for e in events if e["kind"] == "raise"]
    if raises:
        lines.append("  exceptions:")
        for e in raises[:6]:
            exc = e["data"].get("exception") or {}
            lines.append(f"    {exc.get('type', '?')}: {exc.get('message', '')} "
                         f"(leaving {e['location']['function']} in {e['actor_name']})")
    return "\n".join(lines)
