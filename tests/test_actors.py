"""Spawns and exits of threads, tasks and processes, linked spawner -> spawned."""
import pytest


def test_threads_spawn_and_exit(record):
    rec = record("threads_queue.py", trace=["threads_queue"])
    actors = {a["id"]: a for a in rec.actors()}
    main = next(a for a in actors.values() if a["kind"] == "process")
    spawns = rec.events("spawn")
    assert sorted(s["data"]["name"] for s in spawns) == ["consumer", "producer-0", "producer-1"]
    for spawn in spawns:
        child = actors[spawn["other_actor"]]
        assert spawn["actor"] == main["id"]
        assert child["kind"] == "thread" and child["name"] == spawn["data"]["name"]
        assert child["parent"] == main["id"] and child["spawn_event"] == spawn["id"]
        exits = [e for e in rec.events("exit") if e["actor"] == child["id"]]
        assert len(exits) == 1 and exits[0]["ts"] > spawn["ts"]
        # everything the thread did happened between its spawn and its exit
        own = [e for e in rec.events() if e["actor"] == child["id"]]
        assert all(spawn["ts"] <= e["ts"] <= exits[0]["ts"] for e in own)


def test_thread_that_raises(record, tmp_path):
    program = tmp_path / "crashy.py"
    program.write_text(
        "import threading\n"
        "def work():\n"
        "    raise KeyError('gone')\n"
        "t = threading.Thread(target=work, name='crasher')\n"
        "t.start(); t.join()\n"
        "print('main goes on')\n")
    rec = record(program, trace=["crashy"])
    assert rec.returncode == 0 and rec.stdout == "main goes on\n"
    assert "KeyError: 'gone'" in rec.stderr       # Python's own thread excepthook still runs
    crasher = next(a for a in rec.actors() if a["name"] == "crasher")
    [exit_event] = [e for e in rec.events("exit") if e["actor"] == crasher["id"]]
    assert exit_event["data"]["exception"]["type"] == "KeyError"


def test_tasks_spawn_and_exit_with_outcome(record):
    rec = record("asyncio_queue.py", trace=["asyncio_queue"])
    actors = {a["id"]: a for a in rec.actors()}
    spawns = {s["data"]["name"]: s for s in rec.events("spawn")}
    assert {"producer", "consumer", "failing", "sleeper"} <= set(spawns)
    main_task = actors[spawns["producer"]["actor"]]
    assert main_task["kind"] == "task" and spawns["producer"]["data"]["coroutine"] == "produce"
    exits = {actors[e["actor"]]["name"]: e["data"] for e in rec.events("exit")}
    assert exits["consumer"] == {"result": {"type": "list", "items": [0, 1, 2]}}
    assert exits["failing"]["exception"]["type"] == "RuntimeError"
    assert exits["sleeper"] == {"cancelled": True}
    # the events inside a task carry the task as their actor
    consume_calls = [e for e in rec.events("call") if e["location"]["function"] == "consume"]
    assert {actors[e["actor"]]["name"] for e in consume_calls} == {"consumer"}


@pytest.mark.parametrize("level", ["debug", "minimal"])   # minimal: the C rings on 3.12+
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_child_process_is_an_actor_of_the_session(record, method, level):
    rec = record("mp_channels.py", method, trace=["mp_channels"], level=level)
    actors = {a["id"]: a for a in rec.actors()}
    [spawn] = [s for s in rec.events("spawn") if s["data"]["kind"] == "process"]
    child = actors[spawn["other_actor"]]
    assert child["name"] == "echo-child" and child["pid"] == spawn["data"]["pid"]
    assert child["parent"] == spawn["actor"]
    [exit_event] = [e for e in rec.events("exit") if e["actor"] == child["id"]]
    assert exit_event["data"] == {"exitcode": 0}
    child_calls = [e for e in rec.events("call") if e["actor"] == child["id"]]
    assert [c["location"]["function"] for c in child_calls] == ["child"]
    # the parent's records are the parent's: none is written twice by the child
    parent_calls = [e for e in rec.events("call") if e["actor"] == spawn["actor"]]
    assert [c["location"]["function"] for c in parent_calls] == ["main"]
