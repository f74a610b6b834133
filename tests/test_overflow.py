"""A full buffer follows its policy, and every dropped event is counted."""
import pytest

N = 20000
EXPECTED = 2 * N + 1     # a call and a return per tick, and the process's exit


def plan(tmp_path, policy):
    path = tmp_path / f"{policy}.toml"
    path.write_text(f'trace = ["overflow:tick"]\nlevel = "debug"\n'
                    f'[buffer]\nsize = 16\noverflow = "{policy}"\n')
    return path


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_dropping_policies_count_every_drop(record, tmp_path, policy):
    rec = record("overflow.py", str(N), plan=plan(tmp_path, policy))
    assert rec.returncode == 0 and rec.stdout == "done\n"
    session = rec.session()
    events = rec.events("call", "return", "exit")
    assert session["events_dropped"] > 0
    assert session["events_written"] == len(events)
    assert session["events_written"] + session["events_dropped"] == EXPECTED
    values = [e["data"]["args"]["i"] for e in events if e["kind"] == "call"]
    if policy == "drop_oldest":      # the latest history is kept
        assert values[-1] == N - 1
        assert rec.events("exit")
    else:                            # the earliest history is kept
        assert values[0] == 0
    # a return whose call was dropped is kept, unpaired; the rest pair up
    calls = {e["id"] for e in events if e["kind"] == "call"}
    assert all(e["call"] is None or e["call"] in calls for e in events if e["kind"] == "return")
    # the process is still described: nothing that describes is ever dropped
    assert [a["kind"] for a in rec.actors()] == ["process"]


def test_block_policy_loses_nothing(record, tmp_path):
    rec = record("overflow.py", str(N), plan=plan(tmp_path, "block"))
    assert rec.returncode == 0 and rec.stdout == "done\n"
    session = rec.session()
    assert session["events_dropped"] == 0
    assert session["events_written"] == EXPECTED
    values = [e["data"]["args"]["i"] for e in rec.events("call")]
    assert values == list(range(N))
    summary = rec.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"cinescope: {EXPECTED} events written, 0 dropped")
