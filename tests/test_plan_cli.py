"""`halfstep plan ...` end to end: files people write, and what they are told."""

from __future__ import annotations

import json

import pytest

from tests.procs import run


def test_init_next_show(tmp_path):
    f = tmp_path / "plan.json"
    res = run("plan", "init", "--file", str(f), "--profile", "older", "--name", "Ann",
              "--painful", "knee", "--start", "2026-11-23",
              "--exercise", "sit to stand:lower:multi:8", "--exercise", "row:upper:multi:5")
    assert res.returncode == 0, res.stderr
    saved = json.loads(f.read_text())
    assert saved["profile"]["kind"] == "older" and saved["profile"]["painful_regions"] == ["knee"]
    assert [e["name"] for e in saved["program"]["exercises"]] == ["sit to stand", "row"]
    res = run("plan", "next", "--file", str(f), "--today", "2026-11-23")
    assert res.returncode == 0, res.stderr
    assert "assessment" in res.stdout and "Finding your level" in res.stdout
    assert "[ASSESS-1]" not in res.stdout  # plain words; rule ids with --explain
    assert "never hold your breath" in res.stdout
    res = run("plan", "next", "--file", str(f), "--today", "2026-11-23", "--explain")
    assert "[ASSESS-1]" in res.stdout
    out = json.loads(run("plan", "next", "--file", str(f), "--today", "2026-11-23",
                         "--json").stdout)
    assert [i["assessment_loads_kg"] for i in out["items"]] == [[8.0], [5.0]]  # ladders
    assert all(r["plain"] for i in out["items"] for r in i["reasons"])
    assert all(r["rule"] for i in out["items"] for r in i["reasons"])
    res = run("plan", "show", "--file", str(f))
    assert "Ann: older profile, 2 sessions a week, painful: knee" in res.stdout
    # Never overwrites a plan (and its history) by accident.
    res = run("plan", "init", "--file", str(f), "--profile", "pain")
    assert res.returncode == 2 and "--force" in res.stderr


@pytest.mark.parametrize("edit,message", [
    (lambda p: p["profile"].update(kind="teen"), "profile.kind='teen'"),
    (lambda p: p["profile"].update(sessions_per_week=5), "outside 2-3"),
    (lambda p: p["program"]["exercises"][0].update(first_load_kg=10.3), "multiple of 0.5"),
    (lambda p: p["program"]["exercises"][0].update(region="middle"),
     "program.exercises.0.region"),
    (lambda p: p.update(history=[{"date": "2026-11-25", "pain_during": 11}]),
     "history.0.pain_during=11"),
    (lambda p: p.update(history=[{"date": "2026-11-25", "sets": [
        {"exercise": "bench", "load_kg": 10.0, "full_reps": 5}]}]), "'bench' is not in the"),
    (lambda p: p["program"].pop("start_date"), "program.start_date: missing"),
    (lambda p: p.update(surprise=1), "surprise"),
])
def test_next_on_a_bad_plan_file_says_what_is_wrong_and_exits_2(tmp_path, edit, message):
    f = tmp_path / "plan.json"
    assert run("plan", "init", "--file", str(f), "--profile", "older",
               "--start", "2026-11-23").returncode == 0
    data = json.loads(f.read_text())
    edit(data)
    f.write_text(json.dumps(data))
    res = run("plan", "next", "--file", str(f))
    assert res.returncode == 2, res
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_not_json_and_missing_file(tmp_path):
    f = tmp_path / "plan.json"
    f.write_text("{nope")
    res = run("plan", "next", "--file", str(f))
    assert res.returncode == 2 and "not valid JSON" in res.stderr
    res = run("plan", "next", "--file", str(tmp_path / "none.json"))
    assert res.returncode == 2 and "No such file" in res.stderr


def test_trial_with_a_flare_and_a_gap_shows_every_behaviour():
    """A person in pain through the real runner: loads rise, a flare is answered by the pain
    rules, a 3-week gap is followed by a recalibration and a lower restart."""
    res = run("plan", "trial", "--profile", "pain", "--persons", "1", "--weeks", "10",
              "--flare-week", "2", "--gap-start-week", "5", "--gap-weeks", "3", "--miss", "0",
              "--jobs", "1", "--seed", "2", "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    rows = data["sessions"]
    weeks = {r["week"] for r in rows}
    assert not weeks & {4, 5, 6} and {0, 1, 2, 3, 7, 8, 9} <= weeks  # the gap (from 0)
    rules = [{n: it["rules"] for n, it in r["items"].items()} for r in rows]
    assert any("PROG-1" in x or "DP-2" in x for r in rules for x in r.values())  # loads rise
    flare = [r["pain"] for r in rows if r["week"] == 1]
    calm = [r["pain"] for r in rows if r["week"] == 3]
    assert max(flare) > max(calm)
    after = [i for i, r in enumerate(rows) if r["week"] >= 7]
    # Phases count training done: three weeks off do not move the training week on.
    assert rows[after[0]]["training_week"] - rows[after[0] - 1]["training_week"] <= 1
    first, second = rules[after[0]], rules[after[1]]
    assert all(x == ["RECAL-1"] for x in first.values())  # a short recalibration first
    assert any("GAP-1" in x for x in second.values())  # then a lower restart
    assert any(rule in x for r in rules for x in r.values()
               for rule in ("PAIN-AMBER", "PAIN-RED", "PAIN-SETTLE", "FLAG-1"))
    prof = data["profiles"][0]
    assert prof["highest_fraction"] <= 0.85
