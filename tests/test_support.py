"""Support tooling: wire logs, replay, the flight recorder, log summaries and the bundle."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from firmware_bridge.wirelog import RX, TX, WireLogWriter, read_wire_log
from tests.procs import HALFSTEP

DEMO_URL = "sim://?seed=7&disconnect_at=156"  # lost in set 2 of the demo's ladder, after 3 reps


def hs(state: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*HALFSTEP, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HALFSTEP_STATE_DIR": str(state)})


def reps_of(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.match(r"\s+rep |\s+set \d+ done", line)]


def safety_of(state: Path) -> list[tuple[str, str]]:
    out = []
    for p in sorted((state / "logs").glob("*.jsonl")):
        for line in p.read_text().splitlines():
            e = json.loads(line)
            if e.get("event") == "safety_event":
                out.append((e["kind"], e["cause"]))
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    """A demo that loses its link in the middle of set 2, recorded."""
    state = tmp_path_factory.mktemp("state")
    r = hs(state, "demo", "--speed", "0", "--device", DEMO_URL)
    wire = sorted((state / "wire").glob("*.hswl"))
    return {"state": state, "run": r, "wire": wire[0] if wire else None}


def test_a_lost_link_is_told_in_a_few_lines(recorded):
    r = recorded["run"]
    assert r.returncode == 1 and "during set 2 of seated row after 3 rep(s)" in r.stderr
    assert "Traceback" not in r.stderr
    s = hs(recorded["state"], "logs", "summary", str(recorded["wire"]))
    assert s.returncode == 0, s.stderr
    lines = s.stdout.splitlines()
    assert len(lines) <= 12
    text = s.stdout
    assert "unit HSSIM0000001 firmware 1.0.0" in text
    assert "set 1: 10.0 kg, 10 reps, ended by STOP from the host" in text
    assert "set 2: 16.0 kg, 3 reps" in text and "ended by link lost" in text
    assert "lost 1 (" in text and "peer closed" in text
    assert re.search(r"command latency: p50 [\d.]+ ms", text)
    # The same reps the demo counted live.
    full = sum(1 for x in reps_of(r.stdout) if re.match(r"\s+rep\s+\d+/", x))
    assert f"sets: 2, reps: {full}" in text
    # The JSON log tells the same story.
    js = hs(recorded["state"], "logs", "summary",
            str(next((recorded["state"] / "logs").glob("*.jsonl"))))
    assert "safety events: disarmed 1, link_lost 1, reconnected 1" in js.stdout
    assert "link_closed 1" in js.stdout
    for line in ("links: 2 (link lost 1, closed by the host 1)", "faults: link lost 1",
                 f"sets: 2, reps: {full}"):
        assert line in text and line in js.stdout


def test_the_timeline_is_in_order_and_filters(recorded):
    t = hs(recorded["state"], "logs", "timeline", str(recorded["wire"]), "--level", "warning")
    lines = t.stdout.splitlines()
    assert lines and all(" warning " in x or " error " in x for x in lines)
    assert "link lost" in lines[-1]
    times = [x.split()[0] for x in lines]
    assert times == sorted(times)
    reps = hs(recorded["state"], "logs", "timeline", str(recorded["wire"]), "--kind", "rep")
    assert len(reps.stdout.splitlines()) >= 11
    exported = json.loads(hs(recorded["state"], "logs", "export", str(recorded["wire"]),
                             "--format", "json", "--kind", "link").stdout)
    # The demo's runner reconnects, then the person does not resume: the demo ends there.
    assert [e["text"].split(":")[0] for e in exported] == ["link opened", "link lost",
                                                           "link opened",
                                                           "link closed by the host"]
    csv_out = hs(recorded["state"], "logs", "export", str(recorded["wire"]), "--kind", "set")
    assert csv_out.stdout.splitlines()[0] == "time,level,kind,text,session"


def test_replaying_the_wire_log_reproduces_the_reps_and_the_safety_events(recorded,
                                                                           tmp_path):
    state = tmp_path / "replay-state"
    r = hs(state, "--no-wire-log", "demo", "--speed", "0", "--device",
           f"replay:{recorded['wire']}")
    assert r.returncode == 1 and "during set 2 of seated row after 3 rep(s)" in r.stderr
    assert reps_of(r.stdout) == reps_of(recorded["run"].stdout)
    assert [k for k, _ in safety_of(state)] == [k for k, _ in safety_of(recorded["state"])]
    assert safety_of(state)[0][1] == safety_of(recorded["state"])[0][1]
    # A warped replay gives the same (the recorded pace is followed in loop time).
    r10 = hs(tmp_path / "r10", "--no-wire-log", "demo", "--speed", "20", "--device",
             f"replay:{recorded['wire']}")
    assert reps_of(r10.stdout) == reps_of(recorded["run"].stdout)


def test_a_flight_record_holds_the_last_seconds(recorded):
    records = sorted((recorded["state"] / "flight").glob("flight-*.json"))
    assert records
    body = json.loads(records[-1].read_text())
    assert body["reason"] in ("link_lost", "link_closed")
    assert any(e.get("event") == "link_closed" for e in body["events"])
    tel = body["telemetry"]
    assert len(tel["t_s"]) > 100 and len(tel["position_mm"]) == 1
    assert tel["t_s"][-1] - tel["t_s"][0] <= 30.5  # the window


def test_damaged_files_give_what_can_be_read(recorded, tmp_path):
    raw = recorded["wire"].read_bytes()
    cut = tmp_path / "cut.hswl"
    cut.write_bytes(raw[: len(raw) * 2 // 3])
    s = hs(recorded["state"], "logs", "summary", str(cut))
    assert s.returncode == 0 and "reading stopped early: truncated record" in s.stdout
    assert "set 1: 10.0 kg, 10 reps" in s.stdout
    bad = tmp_path / "bad.hswl"
    head = read_wire_log(recorded["wire"])
    pos = len(raw) // 2
    bad.write_bytes(raw[:pos] + b"\xff" * 13 + raw[pos:])
    s = hs(recorded["state"], "logs", "summary", str(bad))
    assert s.returncode == 0 and "reading stopped early" in s.stdout
    assert len(read_wire_log(bad).records) < len(head.records)
    js = tmp_path / "log.jsonl"
    js.write_text('{"event": "rep", "rep_kind": "full", "level": "info"}\n{oops\n'
                  '{"event": "safety_event", "kind": "stop", "cause": "x", "level": "warning"}')
    s = hs(recorded["state"], "logs", "summary", str(js))
    assert s.returncode == 0 and "line 2 is not JSON" in s.stdout and "stop 1" in s.stdout
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)))
    s = hs(recorded["state"], "logs", "summary", str(junk))
    assert s.returncode == 2 and "neither a wire log nor a JSON log" in s.stderr
    s = hs(recorded["state"], "logs", "summary", str(tmp_path / "none.hswl"))
    assert s.returncode == 2 and "no such file" in s.stderr


def test_wire_logs_rotate_and_stay_under_their_cap(tmp_path):
    w = WireLogWriter(tmp_path, {"link": "x"}, file_cap=10_000, folder_cap=35_000)
    for i in range(400):
        w.write(RX if i % 2 else TX, bytes(200))
    w.close()
    files = sorted(tmp_path.glob("*.hswl"))
    assert len(w.files) >= 8 and len(files) < len(w.files)  # rotated, oldest pruned
    assert sum(p.stat().st_size for p in files) <= 35_000 + 10_000
    assert all(p.stat().st_size <= 10_000 for p in files)
    last = read_wire_log(w.files[-1])
    assert last.problem is None and last.meta["part"] == len(w.files)


def test_a_support_bundle_has_everything_but_secrets(recorded, tmp_path):
    state = recorded["state"]
    secret_log = state / "logs" / "halfstep-19990101.jsonl"
    secret_log.write_text(json.dumps({"event": "mqtt_connected", "level": "info",
                                      "broker": "mqtt://gym:hunter2@broker:1883",
                                      "password": "hunter2", "pin": "2468"}) + "\n")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"profile": {"name": "me"}, "mqtt": "mqtt://u:hunter2@h"}))
    r = hs(state, "support", "bundle", "--plan", str(plan))
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    assert path.is_file() and path.name.endswith(".tar.gz")
    with tarfile.open(path) as tar:
        names = tar.getnames()
        texts = {n: tar.extractfile(n).read() for n in names}  # type: ignore[union-attr]
    assert any(n.startswith("logs/") for n in names) and any(n.startswith("wire/")
                                                             for n in names)
    assert any(n.startswith("flight/") for n in names) and "config/plan.json" in names
    assert texts["history.txt"].startswith(b"history: halfstep.sqlite")  # the default
    v = json.loads(texts["versions.json"])
    assert v["versions"]["halfstep"] and v["versions"]["python"]
    assert v["unit"] == {"serial": "HSSIM0000001", "firmware": "1.0.0"}
    for n, data in texts.items():
        assert b"hunter2" not in data and b'"2468"' not in data, n
    secret_log.unlink()


def test_injected_faults_are_counted_as_the_controller_counted_them(tmp_path):
    """Dropped ACKs, corrupt and lost frames: the wire log's summary finds exactly what the
    client saw live (the same bytes, read again)."""
    import asyncio

    from controller.analysis.wire_report import analyse
    from controller.simulated.demo import run_demo
    from firmware_bridge import wirelog
    from firmware_bridge.clock import loop_factory

    url = "sim://?seed=7&drop_ack=2&corrupt=0.05&drop=0.02"

    async def main():
        demo = await run_demo(url, 7, lambda s: None)  # the demo's session, on one link
        assert len(demo.clients) == 1
        return demo.clients[0].health, demo.sets

    wirelog.enable(tmp_path)
    try:
        with asyncio.Runner(loop_factory=loop_factory(0)) as r:
            health, sets = r.run(main())
    finally:
        wirelog.enable(None)
    log = read_wire_log(next(tmp_path.glob("*.hswl")))
    s, rows = analyse(log)
    assert health.retries >= 2 and health.bad_frames > 0 and health.device_frames_lost > 0
    assert (s.retries, s.bad_frames, s.frames_lost) == (health.retries, health.bad_frames,
                                                        health.device_frames_lost)
    assert sum(1 for r in rows if r.kind == "retry") == health.retries
    assert [x["reps"] for x in s.sets] == [x.full_reps for x in sets] and len(sets) > 1
    assert s.unanswered <= 1  # the STOP sent on closing is not waited for


def test_a_session_with_a_reconnect_replays_exactly(tmp_path):
    """`halfstep run` loses its link in set 2, reconnects and finishes; replaying its wire log
    through `halfstep run` again gives the same reps and the same safety events."""
    import shutil

    state = tmp_path / "state"
    plan = tmp_path / "plan.json"
    assert hs(state, "plan", "init", "--profile", "pain", "--exercise",
              "seated row:upper:multi:10", "--start", "2026-11-16", "--file",
              str(plan)).returncode == 0
    shutil.copy(plan, tmp_path / "plan0.json")
    args = ("run", "--no-panel", "--speed", "0", "--pain", "2", "--yes", "--today",
            "2026-11-16", "--file", str(plan))
    first = hs(state, *args, "--db", str(tmp_path / "a.sqlite"), "--device",
               "sim://?seed=3&rest=60&disconnect_at=40")
    assert first.returncode == 0 and "link lost: reconnecting" in first.stdout
    wire = next((state / "wire").glob("*.hswl"))
    shutil.copy(tmp_path / "plan0.json", plan)
    again = hs(tmp_path / "replay-state", "--no-wire-log", *args, "--db",
               str(tmp_path / "b.sqlite"), "--device", f"replay:{wire}")
    assert again.returncode == 0, again.stderr
    assert reps_of(again.stdout) == reps_of(first.stdout)
    assert [k for k, _ in safety_of(tmp_path / "replay-state")] == \
        [k for k, _ in safety_of(state)] == ["link_lost", "reconnected"]
    s = hs(state, "logs", "summary", str(wire)).stdout
    assert "opened 2 time(s), lost 1" in s and "reconnects 1" in s
    # The timeline of the second link alone (after the reconnect) starts with its opening.
    second = hs(state, "logs", "timeline", str(wire), "--session", "2").stdout.splitlines()
    assert "link opened" in second[0] and not any("link lost" in x for x in second)
    assert any("rep 10" in x for x in second)


def test_a_replayed_host_that_goes_another_way_is_played_on_and_counted(recorded):
    """A controller that never sets a load: the replay waits 5 s at each recorded command, then
    plays on (counting) to the recorded link loss."""
    import asyncio

    from firmware_bridge.client import DeviceClient
    from firmware_bridge.clock import loop_factory
    from firmware_bridge.transports.base import LinkClosed

    async def main():
        async with DeviceClient(f"replay:{recorded['wire']}") as dev:
            batches = 0
            with pytest.raises(LinkClosed, match="recorded link was lost"):
                async for _ in dev.telemetry():
                    batches += 1
                raise LinkClosed(dev._closed)  # the stream ends when the link does
            return dev.transport.mismatches, batches

    with asyncio.Runner(loop_factory=loop_factory(0)) as r:
        mismatches, batches = r.run(main())
    assert mismatches == 3  # SET_LOAD, STOP, SET_LOAD never came
    assert batches > 500


def test_a_recount_is_in_the_wire_timeline_as_the_session_said_it(tmp_path):
    state = tmp_path / "state"
    r = hs(state, "demo", "--speed", "0", "--device", "sim://?seed=7&setup_pull=150")
    assert r.returncode == 0, r.stderr
    assert "  rep 1 recounted: a rep -> not a rep" in r.stdout
    wire = sorted((state / "wire").glob("*.hswl"))[0]
    reps = hs(state, "logs", "timeline", str(wire), "--kind", "rep").stdout.splitlines()
    said = [x for x in reps if "recounted" in x]
    # The wire log does not know the exercise, so each set finds its range afresh and
    # recounts the pull before it; the session carries its range from set 1 on.
    assert said and all(x.endswith("rep 1 recounted: full -> ignored") for x in said)
    # ... each before the rep that moved the set's range, which counts as the first.
    assert all("rep 1 (full" in reps[reps.index(x) + 1] for x in said)
