"""The Python API, in this very process: record a block, read it back."""
import sys
import threading

import cinescope
from cinescope.store import Store


def helper_that_counts(n):
    return sum(range(n))


class Box:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)


def test_record_a_block(tmp_path):
    store = tmp_path / "api.db"
    with cinescope.record([f"{__name__}"], store=str(store), name="api") as session:
        helper_that_counts(4)
        box = Box()
        box.add("x")
        worker = threading.Thread(target=helper_that_counts, args=(3,), name="worker")
        worker.start()
        worker.join()
    assert session.counts()[1] == 0
    with Store(str(store)) as s:
        info = s.session(session.id)
        events = s.events(session.id)
    assert info["name"] == "api" and info["status"] == "finished"
    returns = [e["data"]["value"] for e in events
               if e["kind"] == "return" and e["location"]["function"] == "helper_that_counts"]
    assert returns == [6, 3]
    [change] = [e["data"]["changes"] for e in events
                if e["kind"] == "state" and e["data"]["method"] == "Box.add"]
    assert change == {"items": {"old": {"type": "list", "items": []},
                                "new": {"type": "list", "items": ["x"]}}}
    assert {e["actor_name"] for e in events} == {"MainProcess", "worker"}
    # recording stopped: hooks are gone and nothing more is written
    assert threading.Thread.start.__module__ == "threading"
    helper_that_counts(1)
    with Store(str(store)) as s:
        assert len(s.events(session.id)) == len(events)


def test_a_failing_block_is_recorded_as_failed(tmp_path):
    store = tmp_path / "api.db"
    try:
        with cinescope.record([f"{__name__}:helper_that_counts"], store=str(store)):
            helper_that_counts(2)
            raise LookupError("inside the block")
    except LookupError:
        pass
    with Store(str(store)) as s:
        assert s.session()["status"] == "failed"
        assert [e["kind"] for e in s.events()] == ["call", "return", "exit"]



def uses_a_queue(q):
    q.put("hello")
    return q.get()


def test_queues_are_hooked_only_once_planned_code_uses_one(tmp_path):
    """A plan whose code never names a channel operation leaves queues alone:
    they cost what they cost without Cinescope."""
    import queue
    original = queue.Queue._put
    with cinescope.record([f"{__name__}:helper_that_counts", f"{__name__}:uses_a_queue"],
                          store=str(tmp_path / "q.db")) as session:
        helper_that_counts(3)
        q = queue.Queue()
        q.put(1)
        q.get()
        assert queue.Queue._put is original          # not hooked yet
        uses_a_queue(q)
        assert queue.Queue._put is not original      # hooked by the first planned put
        uses_a_queue(q)
    assert queue.Queue._put is original              # and unhooked at the end
    with Store(session.store) as s:
        sends = s.events(session.id, kinds=["send"])
        receives = s.events(session.id, kinds=["receive"])
    # hooked when the plan first met uses_a_queue, before its body ran: both
    # of its round trips are recorded and paired; the unplanned put/get are not
    assert [e["data"]["value"] for e in sends] == ["hello", "hello"]
    assert [e["message"] for e in receives] == [e["message"] for e in sends]

if hasattr(sys, "monitoring"):
    def test_another_tool_on_id_3_moves_cinescope_to_4(tmp_path):
        sys.monitoring.use_tool_id(3, "someone else")
        try:
            with cinescope.record([f"{__name__}:helper_that_counts"],
                                  store=str(tmp_path / "t.db")) as session:
                assert sys.monitoring.get_tool(4) == "cinescope"
                helper_that_counts(5)
        finally:
            sys.monitoring.free_tool_id(3)
        assert sys.monitoring.get_tool(4) is None
        with Store(session.store) as s:
            assert [e["kind"] for e in s.events()][:2] == ["call", "return"]

    def test_recording_that_cannot_start_leaves_nothing_hooked(tmp_path):
        from cinescope.capture.backends import BackendError
        sys.monitoring.use_tool_id(3, "someone")
        sys.monitoring.use_tool_id(4, "someone else")
        try:
            try:
                with cinescope.record([f"{__name__}:helper_that_counts"],
                                      store=str(tmp_path / "t.db")):
                    raise AssertionError("the block must not run")
            except BackendError as exc:
                assert "3 and 4 are both in use" in str(exc)
        finally:
            sys.monitoring.free_tool_id(3)
            sys.monitoring.free_tool_id(4)
        assert threading.Thread.start.__module__ == "threading"
        assert [t.name for t in threading.enumerate()] == ["MainThread"]
        with Store(str(tmp_path / "t.db")) as s:
            session = s.session()
        assert session["status"] == "failed"
        assert session["error"].startswith("recording could not start")



def test_each_recording_in_a_process_follows_its_own_plan(tmp_path):
    """The C path keeps each code object's mode on the code object itself;
    what one recording decided must not leak into the next."""
    store = str(tmp_path / "api.db")
    with cinescope.record([f"{__name__}:helper_that_counts"], level="minimal",
                          store=store) as first:
        helper_that_counts(2)
    with cinescope.record([f"{__name__}:Box.add"], level="minimal", store=store) as second:
        helper_that_counts(3)
        Box().add(1)
    with cinescope.record([f"{__name__}:helper_that_counts"], level="debug",
                          store=store) as third:
        helper_that_counts(4)
    with Store(store) as s:
        def calls(session):
            return [(e["kind"], e["location"]["function"], e["data"].get("value"))
                    for e in s.events(session.id, kinds=["call", "return"])]
        assert calls(first) == [("call", "helper_that_counts", None),
                                ("return", "helper_that_counts", None)]
        assert calls(second) == [("call", "Box.add", None), ("return", "Box.add", None)]
        assert calls(third) == [("call", "helper_that_counts", None),
                                ("return", "helper_that_counts", 6)]
