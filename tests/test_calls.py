"""Calls, returns and exceptions of planned code, and nothing of the rest."""
from conftest import by_id


def test_call_return_pairing_and_nesting(record):
    rec = record("calls.py", trace=["calls:fib"])
    assert rec.returncode == 0, rec.stderr
    calls = rec.calls_of("fib")
    returns = [e for e in rec.events("return") if e["location"]["function"] == "fib"]
    # fib(4) makes 9 calls; each has exactly one return that names it
    assert len(calls) == 9 and len(returns) == 9
    assert sorted(r["call"] for r in returns) == sorted(c["id"] for c in calls)
    calls_by_id = by_id(calls)
    top = [c for c in calls if c["parent"] is None]
    assert len(top) == 1 and top[0]["data"]["args"] == {"n": 4}
    for c in calls:
        if c["parent"] is not None:   # a child is called with n-1 or n-2 of its parent
            assert calls_by_id[c["parent"]]["data"]["args"]["n"] - c["data"]["args"]["n"] in (1, 2)
    top_return = next(r for r in returns if r["call"] == top[0]["id"])
    assert top_return["data"]["value"] == 3
    assert top_return["ts"] >= top[0]["ts"]


def test_only_planned_code_is_recorded(record):
    rec = record("calls.py", trace=["calls:fib", "calls:catcher"])
    functions = {e["location"]["function"] for e in rec.events()
                 if e["location"] is not None}
    assert functions == {"fib", "catcher"}


def test_exception_leaving_functions(record):
    rec = record("calls.py", trace=["calls:fail", "calls:catcher"])
    raises = rec.events("raise")[:1]     # (quiet_catcher's call of fail is the second)
    assert [r["location"]["function"] for r in raises] == ["fail"]
    exc = raises[0]["data"]["exception"]
    assert exc["type"] == "ValueError" and exc["message"] == "bad value 7"
    assert raises[0]["location"]["line"] == 9      # the raise statement
    fail_call = rec.calls_of("fail")[0]
    assert raises[0]["call"] == fail_call["id"]
    catcher_call = rec.calls_of("catcher")[0]
    assert fail_call["parent"] == catcher_call["id"]
    catcher_return = next(e for e in rec.events("return") if e["call"] == catcher_call["id"])
    assert catcher_return["data"]["value"] == "caught bad value 7"


def test_generator_yields_and_resumes(record):
    rec = record("calls.py", trace=["calls:gen"])
    events = [e for e in rec.events("call", "return")]
    yields = [e["data"]["value"] for e in events if e["data"].get("yielded")]
    assert yields == [0, 10, 20]
    final = [e for e in events if e["kind"] == "return" and not e["data"].get("yielded")]
    assert [e["data"]["value"] for e in final] == ["done"]
    resumed = [e for e in events if e["kind"] == "call" and e["data"].get("resumed")]
    assert len(resumed) == 3


def test_minimal_level_records_no_values(record):
    rec = record("calls.py", trace=["calls:fib"], level="minimal")
    call = rec.calls_of("fib")[0]
    assert "args" not in call["data"]
    assert all("value" not in r["data"] for r in rec.events("return"))
