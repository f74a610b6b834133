"""The C value encoder (capture/_values.c) against its reference: for every value,
Encoder(snap).encode(value) == msgpack.packb(snap.capture(value), use_bin_type=True),
byte for byte; likewise encode_named and encode_map. Also what the reference cannot
do (strings UTF-8 cannot hold, data msgpack cannot pack), failures, references and
memory, and the choice of encoder."""
from __future__ import annotations

import collections
import enum
import gc
import math
import random
import sys
import tracemalloc
import weakref

import msgpack
import pytest
from cinescope.capture._values import Encoder

from cinescope.capture import values
from cinescope.capture.plan import DEFAULT_REDACT
from cinescope.capture.values import PythonEncoder, Snapshotter, new_encoder


class _NoModule(type):
    """A class whose __module__ raises: capturing its instances fails."""
    @property
    def __module__(cls):
        raise RuntimeError("no module")


class Broken(metaclass=_NoModule):
    pass


@pytest.fixture(autouse=True)
def no_slow_repr(monkeypatch):
    """A __repr__ that a busy machine makes slow would not be called the second
    time: the two sides would differ for a reason that is not theirs."""
    monkeypatch.setattr(values, "SLOW_REPR_SECONDS", 60.0)


def packb(data) -> bytes:
    return msgpack.packb(data, use_bin_type=True)


CONFIGS = {
    "default": {"redact": DEFAULT_REDACT},
    "no redaction": {},
    "tight": {"max_depth": 1, "max_items": 3, "max_string": 5, "max_bytes": 3,
              "max_nodes": 10, "redact": DEFAULT_REDACT},
    "depth 0": {"max_depth": 0, "redact": DEFAULT_REDACT},
    "wide": {"max_depth": 6, "max_items": 50, "max_string": 1000, "max_bytes": 1000,
             "max_nodes": 40, "object_refs": True, "redact": ("pin",)},
    "one node": {"max_nodes": 1, "redact": DEFAULT_REDACT},
    "zeros": {"max_items": 0, "max_string": 0, "max_bytes": 0, "redact": DEFAULT_REDACT},
    "huge": {"max_depth": 50, "max_items": 100_000, "max_string": 1_000_000,
             "max_bytes": 1_000_000, "max_nodes": 1_000_000, "redact": DEFAULT_REDACT},
}


@pytest.fixture(params=list(CONFIGS), scope="module")
def snap(request):
    return Snapshotter(**CONFIGS[request.param])


def assert_same(snap: Snapshotter, value, what: str = "") -> bytes:
    """The C encoder and the pure-Python one give the reference's bytes."""
    got = Encoder(snap).encode(value)
    expected = packb(snap.capture(value))
    assert got == expected, f"{what or type(value).__name__}: C {got[:80]!r} != {expected[:80]!r}"
    assert PythonEncoder(snap).encode(value) == expected
    return got


# -- the values the issue names -----------------------------------------------------------

class Plain:
    def __init__(self):
        self.x = 1
        self.name = "plain"


class WithRepr:
    def __init__(self, cents):
        self.cents = cents

    def __repr__(self):
        return f"WithRepr({self.cents})"


class ReprRaises:
    def __init__(self):
        self.v = 3

    def __repr__(self):
        raise RuntimeError("no repr for you")


class Slotted:
    __slots__ = ("a", "password")

    def __init__(self):
        self.a = [1, 2]
        self.password = "hunter2"


class Color(enum.IntEnum):
    RED = 1


class Flag(enum.Enum):
    ON = "on"


Point = collections.namedtuple("Point", "x y")
Login = collections.namedtuple("Login", "user password")


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyBytes(bytes):
    pass


class MyList(list):
    pass


class MyDict(dict):
    pass


def edge_values() -> list:
    loop = [1]
    loop.append(loop)
    d = {"name": "root"}
    d["self"] = d
    d["kids"] = [{"up": d}]
    a, b = ["a"], ["b"]
    a.append(b)
    b.append(a)
    through_object = [Plain()]
    through_object[0].back = through_object          # a cycle through a fallback node
    through_subclass = MyList([1])
    through_subclass.append([through_subclass])
    shared = [1, 2]
    try:
        raise ValueError("with a traceback", 7)
    except ValueError as exc:
        raised = exc
    return [
        # ints: msgpack's encodings and the 64-bit bounds
        0, 1, -1, 31, 32, -32, -33, 127, 128, -128, -129, 255, 256, 65535, 65536, -32768,
        -32769, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32,
        2 ** 63 - 1, 2 ** 63, -(2 ** 63), -(2 ** 63) - 1, 2 ** 64 - 1, 2 ** 64, 10 ** 30,
        -(10 ** 30), 10 ** 300, 10 ** 5000, [2 ** 64, -(2 ** 63) - 1],
        # bool is not int, None
        True, False, None, [True, 1, False, 0, None],
        # floats
        0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, math.inf, -math.inf, math.nan, -math.nan,
        # strings: encodings, the cut, non-ASCII
        "", "a", "x" * 5, "x" * 6, "x" * 31, "x" * 32, "x" * 200, "x" * 201, "x" * 255,
        "x" * 256, "x" * 1000, "é", "é" * 5, "é" * 6, "é" * 200, "é" * 201, "中文" * 50,
        "中" * 201, "😀" * 3, "😀" * 201, "aé中😀" * 60, "\x00\x7f\x80\xff", "\u07ff\u0800",
        "\uffff\U00010000\U0010ffff",
        # bytes and bytearray
        b"", b"abc", b"abcd", b"x" * 64, b"x" * 65, b"x" * 255, b"x" * 256, b"x" * 70000,
        bytearray(), bytearray(b"ab"), bytearray(b"x" * 100), [b"\x00\xff", bytearray(b"z")],
        # containers
        [], (), {}, [[]], [()], [{}], list(range(15)), list(range(16)), list(range(20)),
        list(range(21)), tuple(range(30)), {i: i for i in range(25)},
        [[[[[1]]]]], {"a": {"b": {"c": {"d": 1}}}}, [(1, [2, (3, {"k": [4]})])],
        [shared, shared, {"again": shared}],
        [[i] for i in range(1000)],                 # the node budget runs out
        [list(range(30)) for _ in range(30)],
        # cycles
        loop, d, a, through_object, through_subclass,
        # dicts: secret and non-str keys
        {"password": "hunter2", "user": "alice", "api_key": 1, "Authorization": "Bearer x"},
        {1: "one", 2.5: "x", None: 0, False: 1, (1, 2): "t", b"k": 3, frozenset({1}): 4},
        {"x" * 300: 1, "é" * 300: 2, MyStr("password"): 3, MyStr("plain"): 4},
        {Color.RED: "enum key", 2 ** 70: "big key", Plain(): "object key"},
        {"token": {"nested": "secret"}, "list": [{"pin": 1234, "cookie": "c"}]},
        # tuples, namedtuples, sets
        (1, "a", None), Point(1, 2), Login("alice", "hunter2"), [Point(3, 4)],
        {1, 2, 3}, frozenset({"a", "b"}), set(range(50)), {(1, 2), (0, 5)}, set(),
        # subclasses and enums
        Color.RED, Flag.ON, MyStr("hello"), MyInt(5), MyFloat(1.5), MyBytes(b"by"),
        MyList([1, 2]), MyDict(a=1), [Color.RED, MyStr("x")],
        # objects
        Plain(), WithRepr(1250), ReprRaises(), Slotted(), [Plain(), WithRepr(5), ReprRaises()],
        {"obj": Plain(), "objs": [Plain(), Plain()]}, object(), type, Plain, len, math,
        print, (lambda: 0), Plain().__init__, math.sqrt,
        # exceptions
        KeyError("missing", 3), raised, [RuntimeError("in a list")], StopIteration(),
    ]


def test_the_edge_cases_encode_as_the_reference_does(snap):
    for value in edge_values():
        assert_same(snap, value)


def test_exact_msgpack_encodings():
    """Spot checks, independent of msgpack: the smallest encoding each time."""
    enc = Encoder(Snapshotter(max_string=10 ** 6, max_bytes=10 ** 6))
    assert enc.encode(None) == b"\xc0"
    assert enc.encode(True) == b"\xc3" and enc.encode(False) == b"\xc2"
    assert enc.encode(127) == b"\x7f" and enc.encode(128) == b"\xcc\x80"
    assert enc.encode(-32) == b"\xe0" and enc.encode(-33) == b"\xd0\xdf"
    assert enc.encode(-(2 ** 63)) == b"\xd3\x80" + b"\x00" * 7
    assert enc.encode(2 ** 64 - 1) == b"\xcf" + b"\xff" * 8
    assert enc.encode(1.0) == b"\xcb\x3f\xf0" + b"\x00" * 6
    assert enc.encode("") == b"\xa0" and enc.encode("x" * 31)[:1] == b"\xbf"
    assert enc.encode("x" * 32)[:2] == b"\xd9\x20"
    assert enc.encode("x" * 256)[:3] == b"\xda\x01\x00"
    assert enc.encode("x" * 65536)[:5] == b"\xdb\x00\x01\x00\x00"
    assert enc.encode(b"")[:2] == b"\xc4\x00"
    assert enc.encode(b"x" * 256)[:3] == b"\xc5\x01\x00"
    assert enc.encode(b"x" * 65536)[:5] == b"\xc6\x00\x01\x00\x00"


def test_header_sizes_at_their_bounds():
    """Strings, bytes, arrays and maps at the sizes where msgpack's header grows."""
    snap = Snapshotter(max_depth=3, max_items=100_000, max_string=100_000, max_bytes=100_000,
                       max_nodes=1_000_000, redact=DEFAULT_REDACT)
    many_attrs = Plain()
    for i in range(20):
        setattr(many_attrs, f"a{i}", i)
    for n in (15, 16, 31, 32, 255, 256, 65535, 65536):
        assert_same(snap, "x" * n)
        assert_same(snap, "é" * (n // 2))
        assert_same(snap, b"x" * n)
        assert_same(snap, list(range(n)))
        assert_same(snap, {i: None for i in range(min(n, 300))})
    assert_same(snap, many_attrs)


def test_the_budget_can_shrink_or_grow_an_array_header():
    # the header is written for min(len, max_items) items, then made smaller
    # when the node budget runs out first
    for nodes in (1, 2, 5, 10, 17, 18, 40, 100, 1000):
        snap = Snapshotter(max_items=1000, max_nodes=nodes)
        assert_same(snap, [[i] for i in range(1000)], f"max_nodes={nodes}")
        assert_same(snap, [[Plain()] for i in range(100)], f"objects, max_nodes={nodes}")
        assert_same(snap, {i: [i] for i in range(100)}, f"dict, max_nodes={nodes}")


def test_cycles_through_other_objects_are_marked_as_the_reference_marks_them():
    snap = Snapshotter(max_depth=10, redact=DEFAULT_REDACT)
    holder = [Plain()]
    holder[0].back = holder
    got = msgpack.unpackb(assert_same(snap, holder))
    assert got["items"][0]["attrs"]["back"] == {"type": "list", "cycle": id(holder)}
    d = {}
    d["key"] = Login("u", d)
    got = msgpack.unpackb(assert_same(snap, d))
    assert got["items"][0][1]["items"][1] == {"redacted": True}
    d2 = {}
    d2["key"] = Point(1, d2)
    got = msgpack.unpackb(assert_same(snap, d2))
    assert got["items"][0][1]["items"][1] == {"type": "dict", "cycle": id(d2)}


# -- names and maps ------------------------------------------------------------------------

def test_encode_named_redacts_secret_names(snap):
    enc = Encoder(snap)
    for name in ("password", "user", "api_key", "x", "Token", "pin", "", "é", MyStr("secret"),
                 3, None):
        for value in ("v", [1, {"password": 2}], Plain(), 2 ** 70):
            expected = packb(snap.capture_named(name, value))
            assert enc.encode_named(name, value) == expected, name
            assert PythonEncoder(snap).encode_named(name, value) == expected


def map_cases():
    return [
        ((), ()),
        (("a",), (1,)),
        (("self", "password", "n"), (Plain(), "hunter2", [1, 2, 3])),
        (("a", "b", "c"), [1, [2], {"token": 3}]),             # values as a list
        (("a", "b"), (1, 2, 3)),                                # zip stops at the shorter
        (("a", "b", "c"), (1,)),
        (("a", "b", "a"), (1, 2, 3)),                           # a name twice: its last value
        (("abc", str(b"abc", "ascii")), (1, 2)),                # equal but not identical
        (tuple(f"n{i}" for i in range(40)), tuple(range(40))),  # many names
        (tuple(f"n{i}" for i in range(16)), tuple(range(16))),  # a map16 header
        (("api_key", "x" * 300), ("k", "y" * 300)),
        ((1, "b"), ("int name", 2)),                            # not str
        (("é", "中", "😀"), (1, 2, 3)),
        (("args", "kwargs"), ((1, 2), {"password": 1})),
    ]


def test_encode_map_is_capture_mapping(snap):
    enc = Encoder(snap)
    for names, vals in map_cases():
        expected = packb(snap.capture_mapping(zip(names, vals)))
        assert enc.encode_map(names, vals) == expected, names
        assert PythonEncoder(snap).encode_map(names, vals) == expected, names


def test_a_value_that_fails_in_a_map_fails_alone():
    snap = Snapshotter(redact=DEFAULT_REDACT)
    names, vals = ("ok", "bad", "password"), (1, [Broken()], 3)
    expected = packb(snap.capture_mapping(zip(names, vals)))
    assert msgpack.unpackb(expected) == {
        "ok": 1, "bad": {"type": "list", "error": "cannot capture: RuntimeError('no module')"},
        "password": {"redacted": True}}
    assert Encoder(snap).encode_map(names, vals) == expected
    assert PythonEncoder(snap).encode_map(names, vals) == expected


def test_the_secret_cache_is_bounded_and_never_changes_a_verdict():
    snap = Snapshotter(max_items=10_000, max_nodes=100_000, redact=DEFAULT_REDACT)
    enc = Encoder(snap)
    many = {f"key{i}": i for i in range(5000)}
    assert enc.encode(many) == packb(snap.capture(many))
    assert enc.cached_names == 4096
    secrets = {"password": 1, "my_token": 2, "plain": 3, "x" * 1000 + "secret": 4}
    assert enc.encode(secrets) == packb(snap.capture(secrets))     # past the cache
    assert enc.cached_names == 4096
    fresh = Encoder(snap)
    fresh.encode({"x" * 1000: 1, "y" * 257: 2, "z" * 256: 3})
    assert fresh.cached_names == 1          # long keys are not kept


# -- what the reference cannot do -----------------------------------------------------------

SURROGATES = ["\udc80", "a\udc80b", "\ud800\udfff", "é\udcff😀", "x" * 10 + "\udc80" * 300,
              "\udc80" * 5 + "tail"]


def test_lone_surrogates_are_backslashreplaced_by_both_encoders():
    snap = Snapshotter(max_string=200, redact=DEFAULT_REDACT)
    c_enc, py_enc = Encoder(snap), PythonEncoder(snap)
    for text in SURROGATES:
        with pytest.raises(UnicodeEncodeError):
            packb(snap.capture(text))               # the reference cannot pack it
        for value in (text, [text, 1], {text: text}, {"k": text}, Point(text, 1)):
            got = c_enc.encode(value)
            assert got == py_enc.encode(value), repr(value)
            msgpack.unpackb(got)                    # valid UTF-8
        assert c_enc.encode_named(text, text) == py_enc.encode_named(text, text)
        assert c_enc.encode_map((text, "b"), (text, 2)) == py_enc.encode_map((text, "b"),
                                                                            (text, 2))
    assert msgpack.unpackb(c_enc.encode("a\udc80b")) == "a\\udc80b"
    assert msgpack.unpackb(c_enc.encode("é\udcff😀")) == "é\\udcff😀"
    # the cut and the length count the original's code points
    assert msgpack.unpackb(c_enc.encode("x" * 10 + "\udc80" * 300)) == {
        "type": "str", "value": "x" * 10 + "\\udc80" * 190, "len": 310}


def test_data_msgpack_cannot_pack_becomes_the_error_shape():
    odd = Plain()
    odd.__dict__[Plain()] = 1             # an attribute whose name is an object
    snap = Snapshotter()
    with pytest.raises(TypeError):
        packb(snap.capture(odd))
    got = Encoder(snap).encode(odd)
    assert got == PythonEncoder(snap).encode(odd)
    assert msgpack.unpackb(got) == {
        "type": f"{__name__}.Plain",
        "error": "cannot capture: TypeError(\"can not serialize 'Plain' object\")"}


# -- failures ---------------------------------------------------------------------------------

def test_a_capture_that_raises_gives_the_reference_error_shape():
    class BadRepr:
        def __repr__(self):
            raise ValueError("no")

    class MetaArgs(type):
        @property
        def __module__(cls):
            raise RuntimeError(BadRepr())      # even the exception's repr fails

    class Worse(metaclass=MetaArgs):
        pass

    snap = Snapshotter()
    for value in (Broken(), [1, Broken()], {"k": (Broken(),)}, [Worse()], Worse()):
        got = assert_same(snap, value)
        assert "error" in msgpack.unpackb(got)
    assert msgpack.unpackb(Encoder(snap).encode([Worse()])) == {
        "type": "list", "error": "cannot capture: <RuntimeError>"}
    assert msgpack.unpackb(Encoder(snap).encode(Broken())) == {
        "type": "?", "error": "cannot capture: RuntimeError('no module')"}


def test_user_code_that_changes_a_dict_while_it_is_encoded():
    holder = {}

    class Grower:
        def __repr__(self):
            holder["new"] = 1
            return "Grower()"

    snap = Snapshotter()
    holder.update(a=Grower(), b=2)
    got = Encoder(snap).encode(holder)
    holder.clear()
    holder.update(a=Grower(), b=2)
    assert got == packb(snap.capture(holder))
    assert msgpack.unpackb(got) == {
        "type": "dict", "error": "cannot capture: RuntimeError('dictionary changed size "
                                 "during iteration')"}


def without_ids(data):
    if isinstance(data, dict):
        return {k: (0 if k in ("id", "cycle") else without_ids(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [without_ids(x) for x in data]
    return data


def list_changed_by_its_item(change: str) -> list:
    """[1, item, 3] where the item's __repr__ clears the list or grows it."""
    holder = []

    class Changer:
        def __repr__(self):
            if change == "clear":
                holder.clear()
            else:
                holder.extend(range(30))
            return "Changer()"

    holder.extend([1, Changer(), 3])
    return holder


def test_user_code_that_changes_a_list_while_it_is_encoded():
    for change in ("clear", "grow"):
        snap = Snapshotter(max_items=20)
        got = msgpack.unpackb(Encoder(snap).encode(list_changed_by_its_item(change)))
        expected = snap.capture(list_changed_by_its_item(change))
        assert without_ids(got) == without_ids(expected), change
        assert len(got["items"]) == (2 if change == "clear" else 20)


def test_keyboard_interrupt_from_user_code_is_not_swallowed():
    class Interrupting:
        def __repr__(self):
            raise KeyboardInterrupt

    snap = Snapshotter()
    with pytest.raises(KeyboardInterrupt):
        snap.capture([Interrupting()])
    with pytest.raises(KeyboardInterrupt):
        Encoder(snap).encode([Interrupting()])


def test_nesting_beyond_the_recursion_limit_is_an_error_not_a_crash():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    snap = Snapshotter(max_depth=10 ** 9, max_nodes=10 ** 9)
    got = msgpack.unpackb(Encoder(snap).encode(deep))
    assert got["type"] == "list" and got["error"].startswith("cannot capture: RecursionError")
    deep_dict = {}
    for _ in range(100_000):
        deep_dict = {"k": deep_dict}
    got = msgpack.unpackb(Encoder(snap).encode(deep_dict))
    assert got["type"] == "dict" and "RecursionError" in got["error"]


def test_subclass_methods_are_never_called():
    runs = []

    class Tricky(dict):
        def items(self):
            runs.append("items")
            return [("fake", 0)]

        def __iter__(self):
            runs.append("__iter__")
            return iter(["fake"])

        def __len__(self):
            runs.append("__len__")
            return 99

    class Lying(list):
        def __iter__(self):
            runs.append("list __iter__")
            return iter(["fake"])

    class Key:
        def __hash__(self):
            return 1

        def __eq__(self, other):
            runs.append("eq")
            return self is other

    snap = Snapshotter()
    value = [Tricky(a=1), Lying([1, 2]), {Key(): 1, Key(): 2}]
    runs.clear()
    assert_same(snap, value)
    assert runs == []


# -- random values ----------------------------------------------------------------------------

KEYS = ["a", "b", "name", "password", "api_key", "user_token", "pin", "é", "中文", "", "x" * 40,
        "y" * 250, 0, 1, -7, 2 ** 40, 2 ** 70, 1.5, None, (1, "t"), b"bk"]
ALPHABETS = ["abcxyz", "abcé\xff", "a中\u0800\uffff", "a😀\U0010ffff中é"]


_TEXTS = ["".join(random.Random(i).choices(alphabet, k=3000))
          for i, alphabet in enumerate(ALPHABETS)]


def random_str(rng: random.Random) -> str:
    n = rng.choice([0, 1, 3, 4, 5, 6, 31, 32, 33, 199, 200, 201, 255, 256, 300, 1001])
    start = rng.randrange(1000)
    return rng.choice(_TEXTS)[start:start + n]


def random_atom(rng: random.Random):
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, 1, -1, 31, -32, -33, 127, 128, 255, 256, 65535, 65536,
                           2 ** 32, 2 ** 63 - 1, -(2 ** 63), 2 ** 64 - 1, 2 ** 64,
                           -(2 ** 63) - 1])
    if kind == 2:
        return rng.randint(-(2 ** rng.randrange(1, 70)), 2 ** rng.randrange(1, 70))
    if kind == 3:
        return rng.choice([0.0, -0.0, math.inf, -math.inf, math.nan,
                           rng.random() * 10 ** rng.randint(-300, 300)])
    if kind in (4, 5):
        return random_str(rng)
    if kind == 6:
        return rng.randbytes(rng.choice([0, 2, 3, 4, 63, 64, 65, 300]))
    return rng.randint(-100, 100)


def random_value(rng: random.Random, pool: list, depth: int = 0, room: list | None = None):
    """A nested value of the common types, of at most about 300 nodes."""
    room = [300] if room is None else room
    room[0] -= 1
    if depth > 5 or room[0] <= 0 or rng.random() < 0.45:
        return random_atom(rng)
    if pool and rng.random() < 0.05:
        return rng.choice(pool)                     # a shared reference
    n = min(rng.choice([0, 1, 2, 3, 4, 15, 16, 17, 21, 40]), max(room[0], 0))
    kind = rng.randrange(3)
    if kind == 0:
        value = [random_value(rng, pool, depth + 1, room) for _ in range(n)]
        if rng.random() < 0.05:
            value.append(value)                     # a cycle
    elif kind == 1:
        value = tuple(random_value(rng, pool, depth + 1, room) for _ in range(n))
    else:
        value = {rng.choice(KEYS) if rng.random() < 0.7 else random_str(rng):
                 random_value(rng, pool, depth + 1, room) for _ in range(n)}
        if rng.random() < 0.05:
            value["self"] = value
    pool.append(value)
    return value


@pytest.mark.parametrize("config", ["default", "tight", "wide", "huge"])
def test_random_nested_values(config):
    rng = random.Random(20240509)
    snap = Snapshotter(**CONFIGS[config])
    enc = Encoder(snap)
    pool: list = []
    for i in range(1500):
        value = random_value(rng, pool)
        got = enc.encode(value)
        expected = packb(snap.capture(value))
        assert got == expected, f"value {i}: {value!r:.300}"
        names = tuple(rng.sample(KEYS[:8], rng.randrange(4)))
        vals = tuple(random_value(rng, pool, 3) for _ in names)
        assert enc.encode_map(names, vals) == packb(snap.capture_mapping(zip(names, vals)))
        if len(pool) > 200:
            del pool[:100]


# -- references and memory --------------------------------------------------------------------

def test_no_references_or_memory_are_leaked():
    snap = Snapshotter(redact=DEFAULT_REDACT)
    enc = Encoder(snap)
    leaf_str = "leaf-" + "é" * 10
    leaf_list = [1, 2.5, None]
    big = 2 ** 80
    common = {"a": [leaf_str, (leaf_list, 3)], "password": leaf_str, "n": {"m": [1] * 30},
              "long": "y" * 500, "bytes": b"z" * 100, "keys": {1: 2, (1, 2): 3}}
    common["self"] = common
    obj = Plain()

    fallback = {"obj": obj, "big": big, "set": {1, 2}, "err": [ReprRaises()], "list": leaf_list,
                "sur": "a\udc80", "nt": Point(1, leaf_list)}
    failing = [leaf_list, Broken()]
    watched = [common, leaf_str, leaf_list, big, obj, fallback, failing, snap, enc]

    def run(n):
        for _ in range(n):
            enc.encode(common)
            enc.encode_named("x", common)
            enc.encode_map(("a", "token", "b"), [common, 1, leaf_list])
        for _ in range(n // 20):
            enc.encode(fallback)
            enc.encode(failing)
            enc.encode_map(("a", "a"), (fallback, failing))

    run(200)                                    # warm-up: caches fill
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        run(100_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    after = [sys.getrefcount(o) for o in watched]
    assert after == before
    assert grown < 100_000, f"{grown} bytes more after 100 000 encodings"


def test_an_encoder_in_a_cycle_is_collected():
    snap = Snapshotter()
    snap.encoder = Encoder(snap)
    gone = weakref.ref(snap)
    del snap
    gc.collect()
    assert gone() is None


# -- which encoder ----------------------------------------------------------------------------

def test_new_encoder_is_the_c_one_unless_the_environment_says_python(monkeypatch):
    snap = Snapshotter()
    monkeypatch.delenv("CINESCOPE_VALUES", raising=False)
    assert type(new_encoder(snap)) is Encoder
    assert new_encoder(snap).snapshotter is snap
    monkeypatch.setenv("CINESCOPE_VALUES", "python")
    encoder = new_encoder(snap)
    assert type(encoder) is PythonEncoder
    assert encoder.encode([1, "a"]) == packb(snap.capture([1, "a"]))


def test_new_encoder_without_the_extension_is_the_python_one(monkeypatch):
    monkeypatch.delenv("CINESCOPE_VALUES", raising=False)
    monkeypatch.setitem(sys.modules, "cinescope.capture._values", None)   # import fails
    assert type(new_encoder(Snapshotter())) is PythonEncoder


def test_the_bounds_are_the_snapshotters():
    snap = Snapshotter(max_depth=1, max_items=2, max_string=3, max_bytes=4, max_nodes=5)
    enc = Encoder(snap)
    assert msgpack.unpackb(enc.encode([[1], 2, 3])) == {
        "type": "list", "items": [{"type": "list", "len": 1}, 2], "len": 3}
    assert msgpack.unpackb(enc.encode("abcdef")) == {"type": "str", "value": "abc", "len": 6}
    assert msgpack.unpackb(enc.encode(b"abcdef")) == {"type": "bytes", "value": b"abcd",
                                                      "len": 6}
    with pytest.raises(AttributeError):
        Encoder(object())
