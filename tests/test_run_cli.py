"""`halfstep run` and `halfstep history` as people use them, and a `kill -9` mid-session."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import sqlite3
import time

from tests.procs import Background, run


def init(tmp_path, profile="pain"):
    res = run("plan", "init", "--file", str(tmp_path / "plan.json"), "--profile", profile,
              "--start", "2026-11-16")
    assert res.returncode == 0, res.stderr


def test_run_a_simulated_session_and_find_it_in_the_history(tmp_path):
    init(tmp_path)
    plan, db = str(tmp_path / "plan.json"), str(tmp_path / "h.sqlite")
    res = run("run", "--file", plan, "--db", db, "--speed", "0", "--pain", "2",
              "--today", "2026-11-16", timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Pain during cable squat (0-10): 2" in res.stdout
    sets = int(re.search(r"session 1: finished, (\d+) sets", res.stdout).group(1))
    assert 6 <= sets <= 15  # a ladder of 2-5 test sets for each of the three exercises
    listing = run("history", "list", "--db", db).stdout
    assert f"2026-11-16  finished          {sets:>4}" in listing
    shown = json.loads(run("history", "show", "1", "--db", db, "--json").stdout)
    assert len(shown["sets"]) == sets and shown["checkins"][-1]["exercise"] is None
    rows = list(csv.DictReader(io.StringIO(run("history", "export", "--db", db).stdout)))
    assert list(rows[0]) == ["Date", "Workout Name", "Duration", "Exercise Name", "Set Order",
                             "Weight", "Reps", "Distance", "Seconds", "Notes",
                             "Workout Notes", "RPE"]
    assert len(rows) == sets and {r["Exercise Name"] for r in rows} == {
        "cable squat", "seated row", "chest press"}
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert len(saved["history"]) == 1 and len(saved["history"][0]["sets"]) == sets
    # The next session is planned from it: working sets now, with reasons.
    nxt = json.loads(run("plan", "next", "--file", plan, "--today", "2026-11-19",
                         "--json").stdout)
    assert {i["kind"] for i in nxt["items"]} == {"work"}


def test_a_rep_recounted_mid_set_is_said_and_the_count_follows(tmp_path):
    # The simulated person takes up the slack with a short pull before each set: rep 1 at
    # first, then not a rep once the set's range is clear; the set still ends at its target.
    init(tmp_path)
    plan, db = str(tmp_path / "plan.json"), str(tmp_path / "h.sqlite")
    res = run("run", "--file", plan, "--db", db, "--speed", "0", "--pain", "2", "--device",
              "sim://?seed=1&setup_pull=150", "--today", "2026-11-16", timeout=120)
    assert res.returncode == 0, res.stderr
    first_set = res.stdout.split("  set 1: ", 1)[1].split("  set 1 done: ", 1)
    assert re.search(r"rep 1 recounted: a rep -> not a rep \(2\d% of the set's range\); "
                     r"0/10 reps", first_set[0])
    counts = [int(c) for c in re.findall(r"rep\s+(\d+)/10", first_set[0])]
    done = int(re.match(r"(\d+) reps", first_set[1]).group(1))
    assert counts[-1] == done == 10  # the recount is not the set's end
    shown = json.loads(run("history", "show", "1", "--db", db, "--json").stdout)
    assert shown["sets"][0]["full_reps"] == done


def test_pain_check_ins_are_asked_and_checked(tmp_path):
    init(tmp_path)
    plan, db = str(tmp_path / "plan.json"), str(tmp_path / "h.sqlite")
    # Reps in reserve skipped (answers given in advance: {}); the pains typed: a bad answer is
    # asked again; ! is a red flag, then its kind (Enter: not sure).
    answers = "eleven\n3\n2\n!\n\n"
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "a.json").write_text("{}")
    exe = str(Path(sys.executable).parent / "halfstep")
    res = subprocess.run([exe, "run", "--file", plan, "--db", db, "--speed", "0", "--today",
                          "2026-11-16", "--answers", str(tmp_path / "a.json"), "--no-panel"],
                         input=answers, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "'eleven' is not a whole number from 0 to 10: please answer a whole number" \
        in res.stdout
    assert "RED FLAG: something else that worries you" in res.stdout
    assert "the program is paused" in res.stdout
    shown = json.loads(run("history", "show", "1", "--db", db, "--json").stdout)
    assert shown["status"] == "stopped: red flag" and shown["red_flags"] == ["other"]
    assert [c["pain"] for c in shown["checkins"]] == [3, 2]
    nxt = run("plan", "next", "--file", plan, "--today", "2026-11-19")
    assert "PAUSED" in nxt.stdout and "medical reassessment" in nxt.stdout


def test_history_errors_are_clear(tmp_path):
    res = run("history", "list", "--db", str(tmp_path / "none.sqlite"))
    assert res.returncode == 2 and "no history yet" in res.stderr
    res = run("run", "--file", str(tmp_path / "none.json"), "--db", str(tmp_path / "h.sqlite"))
    assert res.returncode == 2 and "No such file" in res.stderr
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00\x9a\xff")
    res = run("plan", "next", "--file", str(junk))
    assert res.returncode == 2 and "not a plan file" in res.stderr
    res = run("history", "list", "--db", str(junk))
    assert res.returncode == 2 and "not a halfstep history" in res.stderr.lower()
    assert "Traceback" not in res.stderr


def test_kill_9_mid_session_keeps_every_finished_set(tmp_path):
    init(tmp_path)
    db = tmp_path / "h.sqlite"
    proc = Background("run", "--file", str(tmp_path / "plan.json"), "--db", str(db),
                      "--speed", "25", "--pain", "2", "--yes", "--today", "2026-11-16")
    try:
        deadline = time.monotonic() + 90
        sets = 0
        while time.monotonic() < deadline and sets < 3:
            time.sleep(0.2)
            if db.exists():
                con = sqlite3.connect(db, timeout=5)
                try:
                    sets = con.execute("SELECT COUNT(*) FROM sets").fetchone()[0]
                except sqlite3.OperationalError:
                    sets = 0
                con.close()
        assert sets >= 3, "the session did not get far enough"
        proc.proc.send_signal(signal.SIGKILL)
        proc.proc.wait(10)
        seen_before_kill = sets
    finally:
        proc.stop()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = con.execute("SELECT id, full_reps FROM sets").fetchall()
    assert len(rows) >= seen_before_kill
    for set_id, full_reps in rows:  # every finished set came with all its reps
        n = con.execute("SELECT COUNT(*) FROM reps WHERE set_id=? AND kind='full'",
                        (set_id,)).fetchone()[0]
        assert n == full_reps
    assert con.execute("SELECT status FROM sessions").fetchone()[0] == "running"
    con.close()
    # The next program run opens it fine and lists the killed session as interrupted.
    listed = run("history", "list", "--db", str(db)).stdout
    assert "stopped" in listed and "running" not in listed
    shown = json.loads(run("history", "show", "1", "--db", str(db), "--json").stdout)
    assert shown["notes"] == "interrupted"


def test_ctrl_c_mid_set_stops_keeps_the_reps_updates_the_plan_and_exits_130(tmp_path):
    """Ctrl-C in the middle of a set: STOP is sent and confirmed, the set is kept with the reps
    done, the session is recorded as interrupted, plan.json has it (the next run does not
    repeat it), exit 130."""
    init(tmp_path)
    db, plan = tmp_path / "h.sqlite", tmp_path / "plan.json"
    proc = Background("run", "--file", str(plan), "--db", str(db), "--no-panel", "--speed",
                      "10", "--pain", "2", "--yes", "--today", "2026-11-16")
    try:
        seen: list[str] = []
        in_set_2 = reps = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and reps < 3:
            line = proc.out.get(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(line)
            in_set_2 = in_set_2 or line.strip().startswith("set 2:")
            reps += bool(in_set_2 and re.match(r"\s+rep\s+\d+", line))
        assert reps >= 3, "\n".join(seen[-20:])
        proc.proc.send_signal(signal.SIGINT)
        assert proc.proc.wait(30) == 130
    finally:
        proc.stop()
    shown = json.loads(run("history", "show", "1", "--db", str(db), "--json").stdout)
    assert shown["status"] == "stopped" and shown["notes"] == "interrupted"
    last = shown["sets"][-1]
    assert last["set_index"] == 2 and last["ended_by"] == "stopped from Ctrl-C"
    assert last["full_reps"] >= 2
    assert any(e["kind"] == "stop" and "Ctrl-C" in e["cause"] for e in shown["safety_events"])
    saved = json.loads(plan.read_text())
    assert len(saved["history"]) == 1 and saved["history"][0]["status"] == "stopped"
    assert [s["full_reps"] for s in saved["history"][0]["sets"]][-1] == last["full_reps"]
