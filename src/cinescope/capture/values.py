"""Safe capture of Python values.

`Snapshotter.capture(value)` runs on the recorded program's thread and turns a
value into plain data (None, bool, int, float, str, bytes, lists and dicts of
those) that cannot change afterwards and that msgpack can pack later, off the
program's thread. It is bounded in depth, items, string and bytes length, and
total size; it survives cycles, and objects whose ``__repr__`` raises or is slow.

Shapes (also what `cinescope events --json` shows under "data"):

- None, bool, float, str, bytes (as a list of ints is *not* used: bytes stay
  bytes in the store and become {"type": "bytes", "hex": ...} in JSON)
- int within 64 bits as is
- truncated str: {"type": "str", "value": <prefix>, "len": N}
- list / tuple / set / frozenset: {"type": T, "items": [...], "len": N?}
  ("len" only when items were cut); a namedtuple also has "fields"
- int beyond 64 bits: {"type": "int", "repr": digits} (long ones as
  "first...last" with "digits": N; huge ones only {"bits": N, "sign": 1|-1})
- dict: {"type": "dict", "items": [[key, value], ...], "len": N?}
- other objects: {"type": "module.Qualname", "id": id(obj), "repr": "...",
  "attrs": {...}} ("attrs" from the instance __dict__ / __slots__ while the
  depth allows, "repr" only for classes that define their own __repr__);
  in state snapshots an object that has attributes is only {"type", "id"}:
  a change inside it is its own state change, not its owner's; an object with
  a secret-named attribute gets no "repr", which could show it
- {"redacted": True} in place of a secret's value
- {"type": T, "cycle": id} for a container already being captured
- {"type": T, "error": "..."} when capturing failed

User code the snapshotter runs: only a class's own ``__repr__`` (never
``__eq__``, ``__hash__``, properties, ``__getattr__`` or iteration protocols:
containers are read through the built-in types' own methods). A ``__repr__``
that raises is reported as an error; one that takes longer than
`SLOW_REPR_SECONDS` is not called again for that class in this process.

Encoding: `new_encoder(snapshotter)` gives an object whose `encode(value)`,
`encode_named(name, value)` and `encode_map(names, values)` return the msgpack
bytes (``msgpack.packb(..., use_bin_type=True)``) of `capture`, `capture_named`
and `capture_mapping(zip(names, values))`: the C encoder (capture/_values.c,
which encodes the common types itself and calls `capture_node` for the rest)
when it was built, else (or with CINESCOPE_VALUES=python) `PythonEncoder`,
which packs what `capture` returns. Both encode a str that UTF-8 cannot hold
(lone surrogates) with each surrogate as the text ``\\udXXX``
("backslashreplace"), where plain ``packb`` would raise; a value msgpack
cannot pack becomes the error shape.
"""
from __future__ import annotations

import re
import reprlib
import time
import types

import msgpack

from .native import native

SLOW_REPR_SECONDS = 0.005
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 64 - 1
_ATOMS = (type(None), bool, float)
_SEQUENCES = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}
REDACTED = {"redacted": True}
# objects shown by the interpreter's own repr, never by user code
_PLAIN_REPR = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
               types.ModuleType, types.CodeType, types.FrameType)


def redaction_pattern(names: tuple[str, ...] | list[str]) -> re.Pattern | None:
    """A case-insensitive pattern that finds any of `names` inside an identifier."""
    names = [n for n in names if n]
    if not names:
        return None
    return re.compile("|".join(re.escape(n.lower()).replace("_", "[_-]?") for n in names),
                      re.IGNORECASE)


def type_name(obj_or_type) -> str:
    cls = obj_or_type if issubclass(type(obj_or_type), type) else type(obj_or_type)
    module = getattr(cls, "__module__", None) or "?"
    qual = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    return qual if module == "builtins" else f"{module}.{qual}"


class Snapshotter:
    def __init__(self, max_depth: int = 3, max_items: int = 20, max_string: int = 200,
                 max_bytes: int = 64, redact: tuple[str, ...] = (), max_nodes: int = 500,
                 object_refs: bool = False):
        self.max_depth = max_depth
        self.max_items = max_items
        self.max_string = max_string
        self.max_bytes = max_bytes
        self.max_nodes = max_nodes
        # object_refs: an object with attributes is captured as {"type", "id"}
        # only: its own state is its own history (used for state snapshots)
        self.object_refs = object_refs
        self._secret = redaction_pattern(redact)
        self._slow_repr = _SLOW_REPR
        self._repr = reprlib.Repr()
        self._repr.maxstring = max_string
        self._repr.maxother = max_string

    # -- names ---------------------------------------------------------------
    def is_secret(self, name: object) -> bool:
        return (self._secret is not None and isinstance(name, str)
                and self._secret.search(name) is not None)

    def capture_named(self, name: str, value: object) -> object:
        """Capture a value that is stored under `name` (an argument, attribute, local)."""
        if self.is_secret(name):
            return REDACTED
        return self.capture(value)

    def capture_mapping(self, names_values) -> dict:
        """{name: captured} for (name, value) pairs, redacting secret names."""
        return {name: self.capture_named(name, value) for name, value in names_values}

    # -- values --------------------------------------------------------------
    def capture(self, value: object) -> object:
        cls = type(value)
        if cls in _ATOMS or (cls is str and len(value) <= self.max_string) or (
                cls is int and _INT64_MIN <= value <= _INT64_MAX):
            return value     # the common case, without setting up a traversal
        try:
            return self._capture(value, self.max_depth, set(), [self.max_nodes])
        except Exception as exc:  # a bug here must never reach the program
            return self.capture_failed(value, exc)

    def capture_node(self, value: object, depth: int, budget: list,
                     active: set | None = None) -> object:
        """One node as `_capture` captures it (exceptions included): the C
        encoder's way to everything but the common types. `budget`: a 1-item
        list, the nodes left, decremented in place; `active`: the ids of the
        containers being captured around it (cycles)."""
        return self._capture(value, depth, set() if active is None else active, budget)

    @staticmethod
    def capture_failed(value: object, exc: BaseException) -> dict:
        """What a value whose capture raised `exc` is recorded as."""
        try:
            text = repr(exc)
        except Exception:   # an exception's repr shows its args: a user object's repr
            text = f"<{type(exc).__name__}>"
        return {"type": _safe_type_name(value), "error": f"cannot capture: {text}"[:200]}

    def _long_str(self, value: str) -> dict:
        return {"type": "str", "value": value[: self.max_string], "len": len(value)}

    @staticmethod
    def _big_int(value: int) -> dict:
        """Beyond 64 bits: the digits, or both ends of them with their count."""
        bits = value.bit_length()
        if bits > 4000:   # str() of such ints is slow, and limited since 3.11
            return {"type": "int", "bits": bits, "sign": -1 if value < 0 else 1}
        text = repr(value)
        if len(text) <= 60:
            return {"type": "int", "repr": text}
        return {"type": "int", "repr": f"{text[:25]}...{text[-25:]}",
                "digits": len(text.lstrip("-"))}

    def _capture(self, value, depth: int, active: set, budget: list) -> object:
        budget[0] -= 1
        cls = type(value)
        if cls is str:
            return value if len(value) <= self.max_string else self._long_str(value)
        if cls is int:
            return value if _INT64_MIN <= value <= _INT64_MAX else self._big_int(value)
        if cls in _ATOMS:
            return value
        if cls is bytes or cls is bytearray:
            data = bytes(value[: self.max_bytes])
            if len(value) <= self.max_bytes and cls is bytes:
                return data
            return {"type": cls.__name__, "value": data, "len": len(value)}
        # type() and issubclass(), never isinstance(): that would read the
        # object's own __class__, which proxies and lazy objects compute
        if issubclass(cls, int):  # IntEnum, int subclasses
            return self._object(value, depth, active, budget)
        key = id(value)
        seq_type = next((t for t in _SEQUENCES if issubclass(cls, t)), None)
        if seq_type is not None or issubclass(cls, dict):
            name = _SEQUENCES.get(cls) or ("dict" if cls is dict else type_name(cls))
            if key in active:
                return {"type": name, "cycle": key}
            if depth <= 0 or budget[0] <= 0:
                size = (dict.__len__ if seq_type is None else seq_type.__len__)(value)
                return {"type": name, "len": size}
            active.add(key)
            try:
                if seq_type is None:
                    return self._dict(value, name, depth, active, budget)
                return self._sequence(value, seq_type, name, depth, active, budget)
            finally:
                active.discard(key)
        return self._object(value, depth, active, budget)

    def _sequence(self, value, seq_type, name, depth, active, budget) -> dict:
        size = seq_type.__len__(value)
        items = []
        iterator = seq_type.__iter__(value)
        fields = _namedtuple_fields(type(value)) if seq_type is tuple else None
        if fields is not None:   # a namedtuple: its field names say what is secret
            for field, item in zip(fields, iterator):
                if len(items) >= self.max_items:
                    break
                items.append(REDACTED if self.is_secret(field)
                             else self._capture(item, depth - 1, active, budget))
            out = {"type": name, "fields": list(fields[: len(items)]), "items": items}
            if len(items) < size:
                out["len"] = size
            return out
        if seq_type in (set, frozenset):
            # sets have no order; sort the captured items for a stable record
            for item in iterator:
                if len(items) >= self.max_items:
                    break
                items.append(self._capture(item, depth - 1, active, budget))
            items.sort(key=repr)
        else:
            for item in iterator:
                if len(items) >= self.max_items or budget[0] <= 0:
                    break
                items.append(self._capture(item, depth - 1, active, budget))
        out = {"type": name, "items": items}
        if len(items) < size:
            out["len"] = size
        return out

    def _dict(self, value, name, depth, active, budget) -> dict:
        size = dict.__len__(value)
        items = []
        for k, v in dict.items(value):
            if len(items) >= self.max_items or budget[0] <= 0:
                break
            captured_key = self._capture(k, 0, active, budget)
            captured_value = (REDACTED if self.is_secret(k)
                              else self._capture(v, depth - 1, active, budget))
            items.append([captured_key, captured_value])
        out = {"type": name, "items": items}
        if len(items) < size:
            out["len"] = size
        return out

    def _object(self, value, depth, active, budget) -> dict:
        cls = type(value)
        out: dict = {"type": type_name(cls), "id": id(value)}
        if issubclass(cls, BaseException):
            out["args"] = self._capture(BaseException.__dict__["args"].__get__(value),
                                        min(depth, 1), active, budget)
        if issubclass(cls, _PLAIN_REPR):
            out["repr"] = self._builtin_repr(value)
            return out
        attrs = instance_attributes(value)
        if self.object_refs and attrs:
            return out
        if any(self.is_secret(name) for name in attrs):
            pass    # a repr (a dataclass's, say) would show the secret attribute
        elif _has_own_repr(cls):
            text = self.safe_repr(value)
            if text is not None:
                out["repr"] = text
        elif cls.__module__ == "builtins" or cls.__repr__ is not object.__repr__:
            out["repr"] = self._builtin_repr(value)
        if depth > 0 and budget[0] > 0 and id(value) not in active:
            if attrs:
                active.add(id(value))
                try:
                    shown = {}
                    for name, attr in attrs.items():
                        if len(shown) >= self.max_items:
                            out["attrs_len"] = len(attrs)
                            break
                        shown[name] = (REDACTED if self.is_secret(name)
                                       else self._capture(attr, depth - 1, active, budget))
                    out["attrs"] = shown
                finally:
                    active.discard(id(value))
        return out

    def _builtin_repr(self, value) -> str:
        try:
            return self._repr.repr(value)[: self.max_string]
        except Exception as exc:
            return f"<repr failed: {type(exc).__name__}>"

    def safe_repr(self, value) -> str | None:
        """The object's own __repr__, guarded; None when it must not or cannot run."""
        cls = type(value)
        if cls in self._slow_repr:
            return None
        start = time.perf_counter()
        try:
            text = cls.__repr__(value)
            if not isinstance(text, str):
                return f"<__repr__ returned {type(text).__name__}>"
            return text if len(text) <= self.max_string else text[: self.max_string] + "..."
        except Exception as exc:
            return f"<__repr__ raised {type(exc).__name__}>"
        finally:
            if time.perf_counter() - start > SLOW_REPR_SECONDS:
                self._slow_repr.add(cls)


_SLOW_REPR: set = set()   # classes whose __repr__ was too slow: not called again here


class PythonEncoder:
    """The C Encoder's methods (capture/_values.c) in Python: the snapshotter's
    capture packed with msgpack. Used where the extension was not built, or
    with CINESCOPE_VALUES=python."""

    def __init__(self, snapshotter: Snapshotter):
        self.snapshotter = snapshotter

    def encode(self, value: object) -> bytes:
        return _pack(self.snapshotter.capture(value), value)

    def encode_named(self, name: str, value: object) -> bytes:
        return _pack(self.snapshotter.capture_named(name, value), value)

    def encode_map(self, names, values) -> bytes:
        pairs = dict(zip(names, values))
        captured = self.snapshotter.capture_mapping(pairs.items())
        try:
            return _packb(captured)
        except (TypeError, ValueError, OverflowError):   # one of them: it alone fails
            return msgpack.Packer().pack_map_header(len(captured)) + b"".join(
                _packb(name) + _pack(data, pairs[name]) for name, data in captured.items())


def _packb(data) -> bytes:
    try:
        return msgpack.packb(data, use_bin_type=True)
    except UnicodeEncodeError:      # lone surrogates: as the C encoder writes them
        return msgpack.packb(data, use_bin_type=True, unicode_errors="backslashreplace")


def _pack(data, value) -> bytes:
    """Captured `data` of `value`, packed; the error shape if msgpack cannot."""
    try:
        return _packb(data)
    except (TypeError, ValueError, OverflowError) as exc:
        return _packb(Snapshotter.capture_failed(value, exc))


def new_encoder(snapshotter: Snapshotter):
    """The C encoder for `snapshotter`, or the pure-Python one where the
    extension was not built or the environment says CINESCOPE_VALUES=python."""
    encoder = native("cinescope.capture._values", "Encoder", "CINESCOPE_VALUES")
    return encoder(snapshotter) if encoder is not None else PythonEncoder(snapshotter)


def _namedtuple_fields(cls) -> tuple | None:
    fields = cls.__dict__.get("_fields") if cls is not tuple else None
    if fields is None:
        for klass in cls.__mro__[1:]:
            if klass is tuple:
                break
            fields = klass.__dict__.get("_fields")
            if fields is not None:
                break
    if type(fields) is tuple and all(type(f) is str for f in fields):
        return fields
    return None


def _safe_type_name(value) -> str:
    try:
        return type_name(value)
    except Exception:
        return "?"


def _has_own_repr(cls: type) -> bool:
    """True when a Python-level class (not a built-in) defines __repr__."""
    for klass in cls.__mro__:
        if "__repr__" in klass.__dict__:
            return klass.__module__ != "builtins" and klass is not object
    return False


def instance_attributes(obj) -> dict:
    """The instance's own attributes (__dict__ and __slots__), read without
    running properties or __getattr__."""
    attrs: dict = {}
    try:
        d = object.__getattribute__(obj, "__dict__")
    except Exception:
        d = None
    if type(d) is dict:
        attrs.update(dict.items(d))
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__")
        if not slots:
            continue
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__") or name in attrs:
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            descriptor = klass.__dict__.get(name)
            if descriptor is None or not hasattr(descriptor, "__get__"):
                continue
            try:
                attrs[name] = descriptor.__get__(obj, klass)
            except AttributeError:
                continue  # slot not set
    return attrs
