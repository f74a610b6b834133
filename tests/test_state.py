"""State changes: per object, per method, old -> new."""


def changes_by_method(rec, type_suffix):
    objects = {o["id"]: o for o in _objects(rec)}
    out = []
    for e in rec.events("state"):
        if objects[e["object"]]["type"].endswith(type_suffix):
            out.append((e["data"]["method"], e["data"]["changes"]))
    return out


def _objects(rec):
    from cinescope.store import Store
    with Store(str(rec.store)) as store:
        return store.objects()


def test_state_changes_per_method(record):
    rec = record("stateful.py", trace=["stateful:Counter"])
    assert rec.returncode == 0, rec.stderr
    changes = changes_by_method(rec, "Counter")
    assert changes[0] == ("Counter.__init__", {
        "value": {"new": 10},
        "history": {"new": {"type": "list", "items": []}}})
    assert changes[1] == ("Counter.bump", {
        "value": {"old": 10, "new": 15},
        "history": {"old": {"type": "list", "items": []},
                    "new": {"type": "list", "items": [5]}}})
    # bump_twice sets a label itself, then each nested bump reports its own change
    assert changes[2] == ("Counter.bump_twice", {"label": {"new": "twice"}})
    assert [m for m, _ in changes[3:5]] == ["Counter.bump", "Counter.bump"]
    assert changes[3][1]["value"] == {"old": 15, "new": 16}
    assert changes[4][1]["value"] == {"old": 16, "new": 17}
    # a change from outside any method is found when the next method starts
    assert changes[5] == (None, {"value": {"old": 17, "new": 100}})
    # read() changes nothing: no state event for it
    assert changes[6] == ("Counter.reset", {
        "label": {"old": "twice", "deleted": True}, "value": {"old": 100, "new": 0}})
    assert len(changes) == 7


def test_state_event_links_to_its_method_call(record):
    rec = record("stateful.py", trace=["stateful:Counter"])
    calls = {e["id"]: e for e in rec.events("call")}
    for e in rec.events("state"):
        if e["data"]["method"] is None:
            continue
        call = calls[e["call"]]
        assert call["location"]["function"] == e["data"]["method"]
        assert call["object"] == e["object"]


def test_slotted_objects(record):
    rec = record("stateful.py", trace=["stateful:Slotted"])
    assert changes_by_method(rec, "Slotted") == [
        ("Slotted.__init__", {"x": {"new": 1}}),
        ("Slotted.set", {"x": {"old": 1, "new": 2}}),
    ]


def test_minimal_level_records_no_state(record):
    rec = record("stateful.py", trace=["stateful:Counter"], level="minimal")
    assert rec.events("state") == []
    assert len(rec.events("call")) == 7   # __init__, bump, bump_twice (+2 bumps), read, reset
