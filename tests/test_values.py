"""Capturing values: bounds, cycles, guarded user code, redaction, and (end to end)
that no secret value reaches the store."""
from __future__ import annotations

import dataclasses
import json
import time
import types
import pytest
from conftest import jsonl, run_cinescope

from cinescope.capture import values
from cinescope.capture.plan import DEFAULT_REDACT
from cinescope.capture.values import REDACTED, Snapshotter, redaction_pattern


def qual(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def walk(data):
    """Every node of captured plain data (dicts, lists and their contents)."""
    yield data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(key)
            yield from walk(value)
    elif isinstance(data, (list, tuple)):
        for item in data:
            yield from walk(item)


def strings_in(data) -> list[str]:
    return [node for node in walk(data) if isinstance(node, str)]


# -- atoms, ints, strings, bytes ---------------------------------------------------

def test_atoms_and_64_bit_ints_are_kept_as_they_are():
    snap = Snapshotter()
    for value in (None, True, False, 0, -1, 1.5, "", "short", 2 ** 63 - 1, -(2 ** 63),
                  2 ** 64 - 1):
        captured = snap.capture(value)
        assert captured == value and type(captured) is type(value)


def test_ints_beyond_64_bits_become_their_repr():
    snap = Snapshotter()
    assert snap.capture(2 ** 64) == {"type": "int", "repr": str(2 ** 64)}
    assert snap.capture(-(2 ** 63) - 1) == {"type": "int", "repr": str(-(2 ** 63) - 1)}
    # inside a container too
    assert snap.capture([2 ** 70]) == {"type": "list",
                                       "items": [{"type": "int", "repr": str(2 ** 70)}]}


def test_a_huge_int_is_described_not_printed():
    value = 10 ** 5000      # its decimal repr would even exceed Python's int->str limit
    captured = Snapshotter().capture(value)
    assert captured == {"type": "int", "bits": value.bit_length(), "sign": 1}
    assert Snapshotter().capture(-value)["sign"] == -1


def test_a_shortened_int_repr_never_reads_as_another_number():
    # 10**300 has 301 digits: more than a captured repr may hold. Whatever is
    # recorded must not be a plain number that differs from the real one.
    value = 10 ** 300
    captured = Snapshotter().capture(value)
    assert captured["type"] == "int"
    text = captured["repr"]
    reads_as_a_number = text.lstrip("-").isdigit()
    assert not reads_as_a_number or int(text) == value, \
        f"10**300 recorded as the {len(text)}-digit number {text[:12]}...: a different number"


def test_long_strings_are_cut_and_say_their_length():
    snap = Snapshotter(max_string=10)
    assert snap.capture("x" * 10) == "x" * 10
    assert snap.capture("abcdefghijKLMNO") == {"type": "str", "value": "abcdefghij", "len": 15}
    assert snap.capture(["y" * 12]) == {
        "type": "list", "items": [{"type": "str", "value": "y" * 10, "len": 12}]}
    assert snap.capture({"k": "z" * 11})["items"][0][1] == {"type": "str", "value": "z" * 10,
                                                            "len": 11}


def test_bytes_are_cut_at_max_bytes():
    snap = Snapshotter(max_bytes=4)
    assert snap.capture(b"abcd") == b"abcd"
    assert snap.capture(b"abcdefgh") == {"type": "bytes", "value": b"abcd", "len": 8}
    assert snap.capture(bytearray(b"ab")) == {"type": "bytearray", "value": b"ab", "len": 2}
    assert snap.capture(bytearray(b"abcdef")) == {"type": "bytearray", "value": b"abcd",
                                                   "len": 6}


# -- containers: items and depth -------------------------------------------------------

def test_sequences_show_at_most_max_items_and_then_their_length():
    snap = Snapshotter(max_items=5)
    assert snap.capture(list(range(5))) == {"type": "list", "items": [0, 1, 2, 3, 4]}
    assert snap.capture(list(range(30))) == {"type": "list", "items": [0, 1, 2, 3, 4],
                                             "len": 30}
    assert snap.capture(tuple(range(7))) == {"type": "tuple", "items": [0, 1, 2, 3, 4],
                                             "len": 7}
    big_set = snap.capture(set(range(100)))
    assert big_set["type"] == "set" and big_set["len"] == 100 and len(big_set["items"]) == 5
    assert set(big_set["items"]) <= set(range(100))
    assert snap.capture(frozenset({3, 1, 2})) == {"type": "frozenset", "items": [1, 2, 3]}


def test_dicts_are_key_value_pairs_cut_at_max_items():
    snap = Snapshotter(max_items=3)
    assert snap.capture({"a": 1, 2: "b"}) == {"type": "dict", "items": [["a", 1], [2, "b"]]}
    captured = snap.capture({i: i * i for i in range(10)})
    assert captured == {"type": "dict", "items": [[0, 0], [1, 1], [2, 4]], "len": 10}


def test_depth_is_bounded():
    snap = Snapshotter(max_depth=2)
    assert snap.capture([[[1, 2, 3]]]) == {
        "type": "list", "items": [{"type": "list", "items": [{"type": "list", "len": 3}]}]}
    assert snap.capture({"a": {"b": {"c": 1}}}) == {
        "type": "dict",
        "items": [["a", {"type": "dict", "items": [["b", {"type": "dict", "len": 1}]]}]]}
    assert Snapshotter(max_depth=0).capture([1, 2, 3]) == {"type": "list", "len": 3}


def test_depth_bounds_object_attributes():
    class Node:
        def __init__(self, child=None):
            self.child = child

    chain = Node(Node(Node(Node())))
    captured = Snapshotter(max_depth=2).capture(chain)
    assert captured["type"] == qual(Node) and captured["id"] == id(chain)
    level1 = captured["attrs"]["child"]
    assert level1["id"] == id(chain.child)
    level2 = level1["attrs"]["child"]
    assert level2 == {"type": qual(Node), "id": id(chain.child.child)}   # no attrs: too deep


def test_total_size_is_bounded():
    snap = Snapshotter(max_items=1000, max_nodes=50)
    captured = snap.capture([[i] for i in range(1000)])
    assert captured["type"] == "list" and captured["len"] == 1000
    assert 0 < len(captured["items"]) < 1000
    assert sum(1 for _ in walk(captured)) < 500


def test_a_capture_does_not_change_when_the_value_does():
    value = {"xs": [1, 2], "name": "a"}
    snap = Snapshotter()
    captured = snap.capture(value)
    before = json.dumps(captured)
    value["xs"].append(3)
    value["name"] = "b"
    value["new"] = 1
    assert json.dumps(captured) == before


def test_shared_references_are_not_cycles():
    shared = [1, 2]
    captured = Snapshotter().capture([shared, shared, {"again": shared}])
    full = {"type": "list", "items": [1, 2]}
    assert captured == {"type": "list",
                        "items": [full, full, {"type": "dict", "items": [["again", full]]}]}


# -- cycles ---------------------------------------------------------------------------

def test_a_list_containing_itself():
    loop = [1]
    loop.append(loop)
    assert Snapshotter().capture(loop) == {
        "type": "list", "items": [1, {"type": "list", "cycle": id(loop)}]}


def test_lists_containing_each_other():
    a, b = ["a"], ["b"]
    a.append(b)
    b.append(a)
    assert Snapshotter(max_depth=10).capture(a) == {
        "type": "list",
        "items": ["a", {"type": "list", "items": ["b", {"type": "list", "cycle": id(a)}]}]}


def test_a_dict_cycle():
    d = {"name": "root"}
    d["self"] = d
    d["kids"] = [{"up": d}]
    captured = Snapshotter(max_depth=10).capture(d)
    assert captured == {"type": "dict", "items": [
        ["name", "root"],
        ["self", {"type": "dict", "cycle": id(d)}],
        ["kids", {"type": "list", "items": [
            {"type": "dict", "items": [["up", {"type": "dict", "cycle": id(d)}]]}]}],
    ]}


def test_an_object_attribute_cycle():
    class Peer:
        def __init__(self, name):
            self.name = name
            self.other = None

    a, b = Peer("a"), Peer("b")
    a.other, b.other = b, a
    captured = Snapshotter(max_depth=10).capture(a)
    assert captured["type"] == qual(Peer) and captured["id"] == id(a)
    inner = captured["attrs"]["other"]
    assert inner["id"] == id(b) and inner["attrs"]["name"] == "b"
    back = inner["attrs"]["other"]
    assert back == {"type": qual(Peer), "id": id(a)}   # the object being captured: no attrs
    # an object whose attribute is itself
    me = Peer("me")
    me.other = me
    assert Snapshotter().capture(me)["attrs"] == {"name": "me",
                                                  "other": {"type": qual(Peer), "id": id(me)}}


# -- user code: __repr__ only, guarded -----------------------------------------------------

def test_own_repr_is_shown_and_cut():
    class Money:
        def __init__(self, cents):
            self.cents = cents

        def __repr__(self):
            return f"Money({self.cents / 100:.2f})"

    m = Money(1250)
    assert Snapshotter().capture(m) == {"type": qual(Money), "id": id(m), "repr": "Money(12.50)",
                                        "attrs": {"cents": 1250}}

    class Wordy:
        def __repr__(self):
            return "w" * 50

    assert Snapshotter(max_string=10).capture(Wordy())["repr"] == "w" * 10 + "..."


def test_objects_without_own_repr_show_no_repr():
    class Plain:
        def __init__(self):
            self.x = 1

    p = Plain()
    assert Snapshotter().capture(p) == {"type": qual(Plain), "id": id(p), "attrs": {"x": 1}}


def test_a_repr_that_raises():
    class Broken:
        def __init__(self):
            self.v = 3

        def __repr__(self):
            raise RuntimeError("no repr for you")

    b = Broken()
    captured = Snapshotter().capture(b)
    assert captured == {"type": qual(Broken), "id": id(b),
                        "repr": "<__repr__ raised RuntimeError>", "attrs": {"v": 3}}
    # and inside a container the rest is still captured
    assert Snapshotter().capture([1, b, 2])["items"][::2] == [1, 2]


def test_a_repr_that_returns_no_string():
    class Odd:
        def __repr__(self):
            return 42

    assert Snapshotter().capture(Odd())["repr"] == "<__repr__ returned int>"


def test_a_slow_repr_is_called_once_per_class():
    calls = []

    class Slow:
        def __repr__(self):
            calls.append(id(self))
            time.sleep(values.SLOW_REPR_SECONDS * 10)
            return "Slow()"

    snap = Snapshotter()
    first, second, other = Slow(), Slow(), Slow()
    assert snap.capture(first)["repr"] == "Slow()"
    assert len(calls) == 1
    captured = snap.capture(second)
    assert captured == {"type": qual(Slow), "id": id(second)}    # not called: no repr
    assert snap.capture([other]) == {"type": "list",
                                     "items": [{"type": qual(Slow), "id": id(other)}]}
    assert calls == [id(first)]


def test_properties_and_getattr_never_run():
    runs = []

    class Sneaky:
        def __init__(self):
            self.real = 1

        @property
        def computed(self):
            runs.append("property")
            return 2

        def __getattr__(self, name):
            runs.append(f"__getattr__ {name}")
            raise AttributeError(name)

    class SlottedSneaky:
        __slots__ = ("a",)

        def __init__(self):
            self.a = 1

        @property
        def b(self):
            runs.append("slotted property")
            return 2

        def __getattr__(self, name):
            runs.append(f"slotted __getattr__ {name}")
            raise AttributeError(name)

    s, t = Sneaky(), SlottedSneaky()
    captured = Snapshotter().capture([s, t])
    assert runs == []
    assert captured["items"][0]["attrs"] == {"real": 1}
    assert captured["items"][1]["attrs"] == {"a": 1}


def test_a_class_property_named___class___never_runs():
    # proxies and lazy objects (mocks, wrapt, Django's SimpleLazyObject) define
    # __class__ as a property; running it can evaluate the lazy object
    runs = []

    class LazyProxy:
        def __init__(self):
            self.loaded = False

        @property
        def __class__(self):
            runs.append("__class__")
            return LazyProxy

    proxy = LazyProxy()
    captured = Snapshotter().capture(proxy)
    assert captured["attrs"] == {"loaded": False}
    assert runs == [], f"the __class__ property ran {len(runs)} times"


def test_eq_and_hash_never_run():
    runs = []

    class Key:
        def __init__(self, n):
            self.n = n

        def __hash__(self):
            runs.append("hash")
            return hash(self.n)

        def __eq__(self, other):
            runs.append("eq")
            return isinstance(other, Key) and other.n == self.n

    d = {Key(1): "one", Key(2): "two"}
    s = {Key(3), Key(4)}
    runs.clear()
    Snapshotter().capture([d, s])
    assert runs == []


def test_dict_subclass_methods_are_not_called():
    runs = []

    class Tricky(dict):
        def items(self):
            runs.append("items")
            return [("fake", 0)]

        def keys(self):
            runs.append("keys")
            return ["fake"]

        def __iter__(self):
            runs.append("__iter__")
            return iter(["fake"])

        def __getitem__(self, key):
            runs.append("__getitem__")
            return 0

        def __len__(self):
            runs.append("__len__")
            return 99

    t = Tricky(a=1, b=2)
    captured = Snapshotter().capture(t)
    assert runs == []
    assert captured == {"type": qual(Tricky), "items": [["a", 1], ["b", 2]]}


def test_list_subclass_iteration_is_not_called():
    runs = []

    class Lying(list):
        def __iter__(self):
            runs.append("__iter__")
            return iter(["fake"])

        def __len__(self):
            runs.append("__len__")
            return 0

    captured = Snapshotter().capture(Lying([1, 2, 3]))
    assert runs == []
    assert captured == {"type": qual(Lying), "items": [1, 2, 3]}


# -- __slots__ ------------------------------------------------------------------------

def test_slots_objects():
    class Base:
        __slots__ = ("x",)

    class Point(Base):
        __slots__ = ("y", "__hidden", "unset")

        def __init__(self):
            self.x = 1
            self.y = 2
            self.__hidden = 3

    p = Point()
    captured = Snapshotter().capture(p)
    assert captured["type"] == qual(Point) and captured["id"] == id(p)
    assert captured["attrs"] == {"x": 1, "y": 2, "_Point__hidden": 3}   # "unset" is not set


def test_slots_and_dict_together():
    class Both:
        __slots__ = ("s", "__dict__")

        def __init__(self):
            self.s = "slot"
            self.d = "dict"

    assert Snapshotter().capture(Both())["attrs"] == {"d": "dict", "s": "slot"}


# -- redaction ------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "password", "user_password", "PASSWORD", "passwd", "db_passwd", "token", "refresh_token",
    "AccessToken", "secret", "client_secret", "api_key", "API_KEY", "apikey", "apiKey",
    "api-key", "x-api-key", "authorization", "Authorization", "cookie", "Set-Cookie",
    "session_cookie"])
def test_default_names_are_secret(name):
    assert redaction_pattern(DEFAULT_REDACT).search(name)
    assert Snapshotter(redact=DEFAULT_REDACT).capture_named(name, "v") == REDACTED


@pytest.mark.parametrize("name", ["user", "username", "key", "api", "pass", "keyboard",
                                  "author", "count", "value"])
def test_ordinary_names_are_not_secret(name):
    assert redaction_pattern(DEFAULT_REDACT).search(name) is None
    assert Snapshotter(redact=DEFAULT_REDACT).capture_named(name, "v") == "v"


def test_configured_names_are_secret_too():
    snap = Snapshotter(redact=DEFAULT_REDACT + ("pin",))
    assert snap.capture_named("pin", 1234) == REDACTED
    assert snap.capture_named("PIN_code", 1234) == REDACTED
    assert snap.capture_named("password", "x") == REDACTED
    assert snap.capture_named("number", 1234) == 1234
    # without any names nothing is hidden
    assert Snapshotter().capture_named("password", "x") == "x"


def test_arguments_and_locals_are_redacted_by_name():
    snap = Snapshotter(redact=DEFAULT_REDACT)
    assert snap.capture_mapping([("user", "bob"), ("password", "hunter2"),
                                 ("api_key", "AKIA1"), ("n", 3)]) == {
        "user": "bob", "password": REDACTED, "api_key": REDACTED, "n": 3}


def test_secret_dict_keys_are_redacted_at_any_depth():
    snap = Snapshotter(redact=DEFAULT_REDACT)
    captured = snap.capture({
        "user": "bob", "Password": "hunter2", "headers": {"Authorization": "Bearer abc",
                                                          "Accept": "*/*"},
        "nested": [{"refresh_token": "rt-1"}], "Cookie": {"a": "b"}})
    assert captured == {"type": "dict", "items": [
        ["user", "bob"],
        ["Password", REDACTED],
        ["headers", {"type": "dict", "items": [["Authorization", REDACTED],
                                               ["Accept", "*/*"]]}],
        ["nested", {"type": "list", "items": [
            {"type": "dict", "items": [["refresh_token", REDACTED]]}]}],
        ["Cookie", REDACTED],
    ]}
    for secret in ("hunter2", "Bearer abc", "rt-1"):
        assert secret not in strings_in(captured)


def test_secret_attributes_are_redacted():
    class Client:
        __slots__ = ("secret_key", "__dict__")

        def __init__(self):
            self.user = "bob"
            self.token = "tok-123"
            self.secret_key = "sk-456"
            self.config = {"api_key": "AKIA-789", "region": "eu"}

    c = Client()
    captured = Snapshotter(redact=DEFAULT_REDACT).capture(c)
    assert captured["attrs"] == {
        "user": "bob", "token": REDACTED, "secret_key": REDACTED,
        "config": {"type": "dict", "items": [["api_key", REDACTED], ["region", "eu"]]}}
    assert not {"tok-123", "sk-456", "AKIA-789"} & set(strings_in(captured))


@dataclasses.dataclass
class Credentials:
    user: str
    password: str


@pytest.mark.parametrize("make", [
    lambda: Credentials("bob", "hunter2-in-a-dataclass"),
    lambda: types.SimpleNamespace(user="bob", password="hunter2-in-a-namespace"),
], ids=["dataclass", "SimpleNamespace"])
def test_a_redacted_attribute_does_not_leak_through_the_repr(make):
    obj = make()
    captured = Snapshotter(redact=DEFAULT_REDACT).capture(obj)
    assert captured["attrs"] == {"user": "bob", "password": REDACTED}
    leaked = [s for s in strings_in(captured) if obj.password in s]
    assert leaked == [], f"the secret attribute is shown in {leaked}"


# -- object_refs ------------------------------------------------------------------------

def test_object_refs_mode_captures_objects_with_attributes_as_references():
    class Account:
        def __init__(self):
            self.balance = 10

        def __repr__(self):
            return "Account()"

    class Marker:
        def __repr__(self):
            return "Marker()"

    acct, mark = Account(), Marker()
    refs = Snapshotter(object_refs=True)
    assert refs.capture(acct) == {"type": qual(Account), "id": id(acct)}
    assert refs.capture([acct, {"k": acct}]) == {"type": "list", "items": [
        {"type": qual(Account), "id": id(acct)},
        {"type": "dict", "items": [["k", {"type": qual(Account), "id": id(acct)}]]}]}
    # an object without attributes still shows its repr; plain data is unchanged
    assert refs.capture(mark) == {"type": qual(Marker), "id": id(mark), "repr": "Marker()"}
    assert refs.capture({"a": [1, "x"]}) == {"type": "dict",
                                              "items": [["a", {"type": "list",
                                                               "items": [1, "x"]}]]}
    # the default mode captures the attributes
    assert Snapshotter().capture(acct) == {"type": qual(Account), "id": id(acct),
                                           "repr": "Account()", "attrs": {"balance": 10}}


def test_exceptions_show_their_args():
    exc = KeyError("missing", 3)
    captured = Snapshotter().capture(exc)
    assert captured["type"] == "KeyError" and captured["id"] == id(exc)
    assert captured["args"] == {"type": "tuple", "items": ["missing", 3]}


# -- end to end: secrets never reach the store ---------------------------------------------

SECRETS = {
    "password": "hunter2-password-value",
    "api_key": "AKIA-api-key-value",
    "token": "tok-token-value-7f3a",
    "rotated token": "tok-token-value-7f3a"[::-1].upper(),
    "pin": "4921-pin-value",
    "authorization header": "Bearer-authorization-value",
}


def test_recorded_secrets_never_reach_the_store(record, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('level = "full"\ntrace = ["v_secrets"]\n\n[redact]\nnames = ["pin"]\n')
    rec = record("v_secrets.py", plan=plan)
    assert rec.returncode == 0, rec.stderr
    assert rec.stdout == "{'user': 'alice-visible-user', 'digits': 14}\n"

    # the raw bytes of the store and whatever journal files it has
    files = [p for p in tmp_path.iterdir() if p.name.startswith(rec.store.name)]
    assert rec.store in files
    raw = b"".join(p.read_bytes() for p in files)
    assert b"alice-visible-user" in raw          # values are stored readably...
    for what, secret in SECRETS.items():         # ...but no secret is
        assert secret.encode() not in raw, f"the {what} is in the store"

    events = run_cinescope(["events", "--store", str(rec.store), "--json"], cwd=tmp_path)
    assert events.returncode == 0, events.stderr
    for secret in SECRETS.values():
        assert secret not in events.stdout
    events = jsonl(events.stdout)

    def calls(function):
        return [e for e in events if e["kind"] == "call"
                and e["location"]["function"] == function]

    [login] = calls("login")
    assert login["data"]["args"] == {"user": "alice-visible-user",
                                     "password": {"redacted": True},
                                     "api_key": {"redacted": True}}
    [init] = calls("Client.__init__")
    assert init["data"]["args"] == {"user": "alice-visible-user", "token": {"redacted": True}}
    [rotate] = calls("Client.rotate")
    assert rotate["data"]["args"] == {"new_token": {"redacted": True}}
    [unlock] = calls("unlock")
    assert unlock["data"]["args"]["pin"] == {"redacted": True}

    # the object's token: in its state changes and wherever the object is captured
    states = [e for e in events if e["kind"] == "state"]
    first = next(e for e in states if e["call"] == init["id"])
    assert first["data"]["changes"]["token"] == {"new": {"redacted": True}}
    login_return = next(e for e in events if e["kind"] == "return" and e["call"] == login["id"])
    assert login_return["data"]["value"]["attrs"] == {"user": "alice-visible-user",
                                                      "token": {"redacted": True}, "calls": 0}
    # locals at level full: the headers dict's Authorization key
    headers = [e["data"]["locals"]["headers"] for e in events
               if e["kind"] == "line" and "headers" in e["data"]["locals"]]
    assert headers and headers[0]["items"] == [["Authorization", {"redacted": True}],
                                               ["Accept", "text/plain"]]
