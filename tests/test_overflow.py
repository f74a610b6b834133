"""A full buffer follows its policy, and every dropped event is counted."""
import pytest

N = 20000
EXPECTED = 2 * N + 1     # a call and a return per tick, and the process's exit


def plan(tmp_path, policy, level="debug"):
    path = tmp_path / f"{policy}.toml"
    path.write_text(f'trace = ["overflow:tick"]\nlevel = "{level}"\n'
                    f'[buffer]\nsize = 16\noverflow = "{policy}"\n')
    return path


# minimal: on 3.12+ the C hot path's rings; debug: the Python buffers
@pytest.mark.parametrize("level", ["minimal", "debug"])
@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_dropping_policies_count_every_drop(record, tmp_path, policy, level):
    rec = record("overflow.py", str(N), plan=plan(tmp_path, policy, level))
    assert rec.returncode == 0 and rec.stdout == "done\n"
    session = rec.session()
    events = rec.events("call", "return", "exit")
    assert session["events_dropped"] > 0
    assert session["events_written"] == len(events)
    assert session["events_written"] + session["events_dropped"] == EXPECTED
    if level == "debug":
        values = [e["data"]["args"]["i"] for e in events if e["kind"] == "call"]
        if policy == "drop_oldest":      # the latest history is kept
            assert values[-1] == N - 1
        else:                            # the earliest history is kept
            assert values[0] == 0
    if policy == "drop_oldest":          # the end of the story is kept
        assert rec.events("exit")
    # a return whose call was dropped is kept, unpaired; the rest pair up
    calls = {e["id"] for e in events if e["kind"] == "call"}
    assert all(e["call"] is None or e["call"] in calls for e in events if e["kind"] == "return")
    # the process is still described: nothing that describes is ever dropped
    assert [a["kind"] for a in rec.actors()] == ["process"]


@pytest.mark.parametrize("level", ["minimal", "debug"])
def test_block_policy_loses_nothing(record, tmp_path, level):
    rec = record("overflow.py", str(N), plan=plan(tmp_path, "block", level))
    assert rec.returncode == 0 and rec.stdout == "done\n"
    session = rec.session()
    assert session["events_dropped"] == 0
    assert session["events_written"] == EXPECTED
    calls = rec.events("call")
    assert len(calls) == N and all(c["location"]["function"] == "tick" for c in calls)
    if level == "debug":
        assert [e["data"]["args"]["i"] for e in calls] == list(range(N))
    summary = rec.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"cinescope: {EXPECTED} events written, 0 dropped")
