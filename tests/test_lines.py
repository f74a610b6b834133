"""Level full: every executed line of a function and the locals it changed."""


def test_lines_and_changed_locals(record):
    rec = record("lines.py", trace=["lines:compute=full", "lines:other"])
    assert rec.returncode == 0 and rec.stdout == "sum=3 8\n"
    lines = rec.events("line")
    assert {e["location"]["function"] for e in lines} == {"compute"}   # other is at debug
    steps = [(e["data"]["line"], e["data"]["locals"]) for e in lines]
    # line 5 sets total; the loop header binds i; the body adds to total; ...
    assert steps[0] == (5, {"total": 0})
    assert steps[1] == (6, {"i": 0})
    assert steps[2] == (7, {})                 # total += 0 leaves total at 0
    assert (6, {"i": 1}) in steps and (7, {"total": 1}) in steps
    assert (7, {"total": 3}) in steps
    assert steps[-2] == (8, {"label": "sum=3"})
    assert steps[-1] == (9, {})                # the return line
    call = rec.calls_of("compute")[0]
    assert all(e["call"] == call["id"] for e in lines)
    assert [e["location"]["line"] for e in lines] == [s[0] for s in steps]


def test_full_level_from_plan_file(record, tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text('level = "minimal"\ntrace = ["lines"]\n[levels]\n"lines:other" = "full"\n')
    rec = record("lines.py", plan=plan)
    assert {e["location"]["function"] for e in rec.events("line")} == {"other"}
    compute = rec.calls_of("compute")[0]
    assert "args" not in compute["data"]          # compute stays at minimal
    assert rec.calls_of("other")[0]["data"]["args"] == {"x": 4}
