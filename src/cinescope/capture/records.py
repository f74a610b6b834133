"""Record kinds: the compact tuples the program's threads hand to the writer.

A record is a tuple whose first item is its kind and second a nanosecond
timestamp (time.monotonic_ns, one clock for every process of the machine).
Layouts, by kind:

    CALL     (CALL, ts, actor, code, args | None, object | None, resumed)
             args: the msgpack bytes of {name: captured value} (capture.values' encoder)
    RETURN   (RETURN, ts, actor, code, (value,) | NO_VALUE, yielded)
             value: the msgpack bytes of the captured value (a 1-tuple: a list
             once through the pipe, which no captured value is)
    RAISE    (RAISE, ts, actor, code, line, exception)
    STATE    (STATE, ts, actor, code | None, object, changes)
    LINE     (LINE, ts, actor, code, line, changed_locals)
    SEND     (SEND, ts, actor, code, line, message_id, channel, value)
    RECEIVE  (RECEIVE, ts, actor, code, line, message_id, channel, value)
    SPAWN    (SPAWN, ts, actor, code, line, child_actor, info)
    EXIT     (EXIT, ts, actor, info)

and two that describe rather than happen:

    ACTOR    (ACTOR, ts, actor, kind, name, parent_actor, ident)
    OBJECT   (OBJECT, ts, object, type_name, address)
    ERROR    (ERROR, ts, message)       recording stopped or skipped something

`actor` is a key unique in the session ("p<pid>", "p<pid>.t<n>", "p<pid>.a<n>");
`object` and `channel` are keys unique in the process; values were already
captured by capture.values.
"""
CALL, RETURN, RAISE, STATE, SEND, RECEIVE, SPAWN, EXIT, LINE = range(1, 10)
ACTOR, OBJECT, ERROR = 100, 101, 102

EVENT_KINDS = {
    CALL: "call", RETURN: "return", RAISE: "raise", STATE: "state", SEND: "send",
    RECEIVE: "receive", SPAWN: "spawn", EXIT: "exit", LINE: "line",
}
KIND_CODES = {name: code for code, name in EVENT_KINDS.items()}


class _NoValue:
    """Marks a return whose value is not recorded (level minimal)."""
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _NoValue()
