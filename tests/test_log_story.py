"""One story from either log (#21): the JSON log's summary and the wire log's summary of the same
session agree line for line on sets, how they ended, links, faults and the unit's events; a
flight record tells what led up to it; a support bundle carries the last sessions."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pytest

from controller.core.history import History
from controller.surfaces.cli.support import history_text
from tests.procs import HALFSTEP

SESSIONS = {  # a simulated `halfstep run` of one exercise, 4-5 sets, both logs on
    "clean": "sim://?seed=3&rest=60",
    "lost": "sim://?seed=3&rest=60&disconnect_at=20",  # the link drops in set 1
    "reboot": "sim://?seed=3&rest=60&reboot_at=20",  # the unit reboots in set 1
    "reboot_at_rest": "sim://?seed=3&rest=60&reboot_at=40",  # ... in the rest after set 1
}
SHARED = ("sets:", "  set ", "links:", "faults:", "unit events:")


def hs(state: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*HALFSTEP, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, "HALFSTEP_STATE_DIR": str(state)})


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, dict]:
    out = {}
    for name, url in SESSIONS.items():
        folder = tmp_path_factory.mktemp(name)
        state, plan, db = folder / "state", folder / "plan.json", folder / "h.sqlite"
        assert hs(state, "plan", "init", "--profile", "pain", "--exercise",
                  "seated row:upper:multi:10", "--start", "2026-11-16", "--file",
                  str(plan)).returncode == 0
        r = hs(state, "run", "--no-panel", "--speed", "0", "--pain", "2", "--yes", "--today",
               "2026-11-16", "--file", str(plan), "--db", str(db), "--device", url)
        assert r.returncode == 0, r.stderr
        (log,) = (state / "logs").glob("*.jsonl")
        (wire,) = (state / "wire").glob("*.hswl")
        out[name] = {"folder": folder, "state": state, "db": db, "log": log, "wire": wire,
                     "run": r}
    return out


def summary(run: dict, which: str) -> str:
    """`halfstep logs summary` of the run's JSON log ("log") or wire log ("wire"), once."""
    if which not in run.setdefault("summaries", {}):
        r = hs(run["state"], "logs", "summary", str(run[which]))
        assert r.returncode == 0, r.stderr
        run["summaries"][which] = r.stdout
    return run["summaries"][which]


def shared(text: str) -> list[str]:
    """The lines both summaries tell, without what only the JSON log knows (`  [...]`)."""
    return [re.sub(r"  \[.*\]$", "", line) for line in text.splitlines()
            if line.startswith(SHARED)]


@pytest.mark.parametrize("name", list(SESSIONS))
def test_both_logs_tell_the_same_story(runs, name):
    js, wire = summary(runs[name], "log"), summary(runs[name], "wire")
    assert shared(js) == shared(wire), f"JSON log:\n{js}\nwire log:\n{wire}"
    # ... and the same sets the session kept in its history.
    with sqlite3.connect(runs[name]["db"]) as db:
        kept = [r for r, in db.execute("SELECT full_reps FROM sets ORDER BY id")]
    sets = [line for line in shared(wire) if line.startswith("  set ")]
    if name == "reboot_at_rest":
        kept.remove(0)  # the set the unit never loaded
    assert [int(re.search(r"kg, (\d+) reps", x).group(1)) for x in sets] == kept


def test_a_reboot_reads_as_a_reboot_from_either_log(runs):
    for which in ("log", "wire"):
        text = summary(runs["reboot"], which)
        assert re.search(r"^  set 1: 10\.0 kg, \d+ reps, ended by unit rebooted", text, re.M)
        assert all("ended by STOP from the host" in x for x in shared(text)
                   if x.startswith("  set ") and not x.startswith("  set 1:"))
        assert "links: 2 (unit rebooted 1, closed by the host 1)" in text
        assert "faults: unit rebooted 1\n" in text
        assert "reboot 1" in text and "boot 1," in text  # the start-up BOOT is no reboot
        assert "link closed" not in text and "worth a look" not in text
    js = summary(runs["reboot"], "log")
    assert "[seated row 1: link lost]" in js  # how the controller put it, beside
    assert "logged faults: device_rebooted 1" in js


def test_a_reboot_between_sets_is_a_set_the_unit_never_loaded(runs):
    js, wire = summary(runs["reboot_at_rest"], "log"), summary(runs["reboot_at_rest"], "wire")
    assert re.search(r"^  not loaded: seated row 2, ended by unit rebooted  \[controller: "
                     r"link lost; no load reached the unit\]$", js, re.M)
    assert "not loaded" not in wire
    assert "faults: unit rebooted 1\n" in js and "faults: unit rebooted 1\n" in wire


def test_a_lost_link_and_a_clean_close_read_the_same_from_either_log(runs):
    for which in ("log", "wire"):
        lost, clean = summary(runs["lost"], which), summary(runs["clean"], which)
        assert re.search(r"^  set 1: 10\.0 kg, \d+ reps, ended by link lost", lost, re.M)
        assert "links: 2 (link lost 1, closed by the host 1)" in lost
        assert re.search(r"^faults: link lost 1(, |$)", lost, re.M)
        assert "links: 1 (closed by the host 1)" in clean and "faults: none" in clean
        assert "unit rebooted" not in lost + clean


def test_routine_unit_events_are_not_warnings(runs):
    for which in ("log", "wire"):
        t = hs(runs["clean"]["state"], "logs", "timeline", str(runs["clean"][which]),
               "--level", "warning")
        assert t.returncode == 0, t.stderr
        assert t.stdout == "", t.stdout  # a session with nothing wrong: nothing to look at
        everything = hs(runs["clean"]["state"], "logs", "timeline",
                        str(runs["clean"][which])).stdout
        assert "boot" in everything.lower() and "handle" in everything.lower()
    t = hs(runs["reboot"]["state"], "logs", "timeline", str(runs["reboot"]["wire"]),
           "--level", "warning").stdout.splitlines()
    assert len(t) == 1 and "unit rebooted" in t[0]
    assert not any("start-up" in x or "handle released" in x for x in t)


def test_a_flight_record_tells_what_led_up_to_it(runs):
    (record,) = (runs["reboot"]["state"] / "flight").glob("flight-*.json")
    body = json.loads(record.read_text())  # as the flight recorder wrote it
    assert body["reason"] == "device_rebooted"
    r = hs(runs["reboot"]["state"], "logs", "summary", str(record))
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert text.startswith(f"flight record: device_rebooted at {body['at']}")
    assert re.search(r"^window: \d\d:\d\d:\d\d\.\d{3} to \d\d:\d\d:\d\d\.\d{3} UTC "
                     r"\([\d.]+ s by the host's clock", text, re.M)
    assert re.search(r"^telemetry: \d+ samples over [\d.]+ s, 1 cable\(s\); the unit's "
                     r"clock [\d.]+ to 19\.9\d s", text, re.M)
    assert re.search(r"^cause: device_rebooted at 20\d\d-", text, re.M)
    # The set under way when the unit rebooted: its load, its reps, where the handle was.
    assert re.search(r"^load: 10\.0 kg since [\d:.]+; seated row set 1 under way, \d+ rep",
                     text, re.M)
    assert re.search(r"the last telemetry reached the host [\d.]+ s before the record", text)
    assert re.search(r"^  cable 1: position [\d.]+ mm, velocity -?[\d.]+ m/s, tension "
                     r"[\d.]+ N; the last second: position \d+ to \d+ mm, tension \d+ to \d+ "
                     r"N, (moving|still)$", text, re.M)
    assert "device_rebooted" in text.split("last events:")[1]
    assert "sessions: 1 (" in text and "faults: unit rebooted 1" in text


def test_a_support_bundle_carries_the_last_sessions(runs, tmp_path):
    run = runs["reboot"]
    out = tmp_path / "b.tar.gz"
    r = hs(run["state"], "support", "bundle", "--db", str(run["db"]), "--out", str(out),
           cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with tarfile.open(out) as tar:
        text = tar.extractfile("history.txt").read().decode()  # type: ignore[union-attr]
    lines = text.splitlines()
    assert lines[0] == f"history: {run['db']}: 1 session(s)"
    assert re.fullmatch(r"\s+1  2026-11-16  20\d\d-\d\d-\d\d \d\d:\d\d  finished\s+5\s+46\s+"
                        r"\d+\s+2  none; link lost, target reached x4", lines[2]), lines[2]
    # No database where the bundle looks by default: said, and the bundle is made.
    r = hs(run["state"], "support", "bundle", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with tarfile.open(out) as tar:
        text = tar.extractfile("history.txt").read().decode()  # type: ignore[union-attr]
    assert text.startswith("history: halfstep.sqlite: not read: ") and "no history yet" in text
    # One that cannot be read: said too.
    (tmp_path / "halfstep.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    r = hs(run["state"], "support", "bundle", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with tarfile.open(out) as tar:
        text = tar.extractfile("history.txt").read().decode()  # type: ignore[union-attr]
    assert text.startswith("history: halfstep.sqlite: not read: ")
    # A database the user named that is not one: refused, as a named plan is.
    r = hs(run["state"], "support", "bundle", "--db", str(run["log"]), "--out", str(out))
    assert r.returncode == 2 and "--db" in r.stderr and "not a Halfstep history" in r.stderr


def test_more_sessions_than_a_bundle_shows(tmp_path):
    """Only the last 20, the count of all said; one a killed program left running reads as
    the next session will record it."""
    db = tmp_path / "h.sqlite"
    with History(db) as h:
        for i in range(23):
            sid = h.start_session(dt.date(2026, 1, 1) + dt.timedelta(days=i), profile=None,
                                  device_serial=None, firmware=None)
            if i < 22:
                h.finish_session(sid, status="finished", pain_during=i % 4, red_flags=(
                    ["night_pain"] if i == 5 else []))
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 23
    text = history_text(db, named=True)
    lines = text.splitlines()
    assert lines[0] == f"history: {db}: 23 session(s); the last 20" and len(lines) == 22
    assert lines[2].split()[0] == "4" and lines[-1].split()[0] == "23"
    assert "stopped (interrupted)" in lines[-1] and "no sets" in lines[-1]
    assert re.search(r"^\s+6  2026-01-06 .* finished\s+0\s+0\s+0\s+1  night_pain; no sets$",
                     text, re.M)
