"""`halfstep plan ...` end to end: files people write, and what they are told."""

from __future__ import annotations

import itertools
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
    assert "assessment" in res.stdout and "[ASSESS-1]" in res.stdout
    assert "never hold your breath" in res.stdout
    out = json.loads(run("plan", "next", "--file", str(f), "--today", "2026-11-23",
                         "--json").stdout)
    assert out["items"][0]["assessment_loads_kg"] == [8.0, 10.0, 12.5]
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


@pytest.mark.parametrize("profile", ["older", "pain", "athlete"])
def test_simulate_twelve_weeks_shows_every_behaviour(tmp_path, profile):
    png = tmp_path / "chart.png"
    saved = tmp_path / "sim.json"
    res = run("plan", "simulate", "--weeks", "12", "--profile", profile, "--seed", "1",
              "--plot", str(png), "--save", str(saved), timeout=120)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    # Loads go up (in a run without the week-3 flare: with it, pain that does not settle
    # twice in a row pauses the program for a reassessment, FLAG-1) ...
    calm = run("plan", "simulate", "--weeks", "12", "--profile", profile, "--seed", "1",
               "--flare-week", "0", timeout=120)
    assert "DP-2" in calm.stdout
    assert "PAUSED" in out and "[FLAG-1]" in out  # ... a red flag paused the program ...
    assert "[GAP-1]" in out and "restart 30% lower" in out  # ... the 3-week gap restarts lower
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads(run("plan", "simulate", "--profile", profile, "--json",
                          "--flare-week", "0", timeout=120).stdout)
    ups = [r for r in rows if "up" in r["changes"].values()]
    assert ups
    # Loads rise no faster than the profile's cadence, exercise by exercise.
    cadence = {"athlete": 7, "pain": 14, "older": 28}[profile]
    import datetime as dt
    for name in rows[0]["changes"]:
        days = [dt.date.fromisoformat(r["date"]) for r in rows if r["changes"].get(name) == "up"]
        assert all((b - a).days >= cadence for a, b in itertools.pairwise(days))
    # Holds and reductions when the simulated pain says so (the week-3 flare at least).
    painful = [r for r in rows if r["pain"] is not None and r["pain"] >= 4]
    assert painful
    assert any(f"[{rule}]" in out for rule in ("PAIN-AMBER", "PAIN-RED", "PAIN-SETTLE"))
    if profile != "athlete":
        assert "[PAIN-RED]" in out and "reduce 10%" in out
