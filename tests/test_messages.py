"""Messages: each send paired with its receive, across threads, tasks and processes."""
import pytest


def pairs(rec):
    sends = {e["message"]: e for e in rec.events("send")}
    receives = {e["message"]: e for e in rec.events("receive")}
    return sends, receives


def test_queue_messages_between_threads(record):
    rec = record("threads_queue.py", trace=["threads_queue"])
    assert rec.returncode == 0, rec.stderr
    sends, receives = pairs(rec)
    assert len(sends) == 8 and set(sends) == set(receives)
    actors = {a["id"]: a for a in rec.actors()}
    for message, send in sends.items():
        receive = receives[message]
        assert send["data"]["value"] == receive["data"]["value"]
        assert receive["ts"] >= send["ts"]
        assert send["object"] == receive["object"]       # the same queue
        if send["data"]["value"]["items"][0] != "lifo":
            assert actors[send["actor"]]["name"].startswith("producer-")
            assert actors[receive["actor"]]["name"] == "consumer"
    # the consumer receives each producer's items in the order they were sent
    for name in ("p0", "p1"):
        got = [r["data"]["value"]["items"][1] for r in sorted(receives.values(), key=lambda e: e["ts"])
               if r["data"]["value"]["items"][0] == name]
        assert got == [0, 1, 2]
    # LIFO: the last sent is the first received, and the pairing still holds
    lifo = sorted((r for r in receives.values() if r["data"]["value"]["items"][0] == "lifo"),
                  key=lambda e: e["ts"])
    assert [r["data"]["value"]["items"][1] for r in lifo] == [1, 0]


def test_asyncio_queue_messages_between_tasks(record):
    rec = record("asyncio_queue.py", trace=["asyncio_queue"])
    assert rec.returncode == 0, rec.stderr
    sends, receives = pairs(rec)
    assert [s["data"]["value"] for s in sorted(sends.values(), key=lambda e: e["ts"])] == \
        [0, 1, 2, None]
    assert set(sends) == set(receives)
    names = {a["id"]: a["name"] for a in rec.actors()}
    assert {names[s["actor"]] for s in sends.values()} == {"producer"}
    assert {names[r["actor"]] for r in receives.values()} == {"consumer"}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_messages_across_processes(record, method):
    rec = record("mp_channels.py", method, trace=["mp_channels"])
    assert rec.returncode == 0, rec.stderr
    assert "{'echo': [1, 2, 3], 'n': 3} 0" in rec.stdout
    sends, receives = pairs(rec)
    assert len(sends) == 2 and set(sends) == set(receives)
    actors = {a["id"]: a for a in rec.actors()}
    child = next(a for a in actors.values() if a["name"] == "echo-child")
    assert child["kind"] == "process"
    by_value = {str(s["data"]["value"]): (s, receives[m]) for m, s in sends.items()}
    queue_send, queue_receive = by_value[str({"type": "list", "items": [1, 2, 3]})]
    assert actors[queue_send["actor"]]["kind"] == "process" and queue_send["actor"] != child["id"]
    assert queue_receive["actor"] == child["id"]
    pipe_send = next(s for s in sends.values() if s["actor"] == child["id"])
    assert actors[receives[pipe_send["message"]]["actor"]]["name"] == "MainProcess"
