"""`halfstep` end to end, as separate processes over real pty and TCP links."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.client import DeviceClient
from firmware_bridge.codec import FrameDecoder
from firmware_bridge.messages import SampleStatus, Telemetry
from firmware_bridge.wirelog import RX, read_wire_log
from tests.procs import Background, run

HELD = int(SampleStatus.HANDLE_HELD)


def held(batch: Telemetry) -> np.ndarray:
    """Per sample: every cable out of the dock, under tension and above 50 mm."""
    return ((batch.status & HELD) != 0).all(axis=1) & (batch.position_mm > 50).all(axis=1)


def until_handles_taken_up(url: str, timeout: float = 40) -> None:
    """Watch the unit's telemetry (as a host that asks for no load) until the simulated lifter
    takes up the handles: a sample without them held, then one with. A fresh pickup, so the
    lifter keeps them up (with no load) for sim/lifter.py's WAIT_PATIENCE_S from now."""

    async def watch() -> None:
        async with asyncio.timeout(timeout), DeviceClient(url) as dev, \
                contextlib.aclosing(dev.telemetry()) as stream:
            seen_down = False
            async for batch in stream:
                for up in held(batch):
                    if not up:
                        seen_down = True
                    elif seen_down:
                        return

    asyncio.run(watch())


def until_host_sees_load(wire: Path, kg: float, timeout: float = 30) -> None:
    """Read the host process's wire log (written as it goes) until the unit's telemetry shows
    `kg` applied on every cable with the handles held."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for path in sorted(wire.glob("*.hswl")):
            dec = FrameDecoder()
            for rec in read_wire_log(path).records:
                if rec.kind != RX:
                    continue
                for frame in dec.feed(rec.data):
                    m = frame.msg
                    if isinstance(m, Telemetry) and (
                            held(m) & (m.load_kg == kg).all(axis=1)).any():
                        return
        time.sleep(0.05)
    raise AssertionError(f"the host never saw {kg} kg applied with the handles held")


@pytest.fixture
def pty_sim():
    sim = Background("sim", "serve", "--pty", "--seed", "2")
    try:
        url = sim.first_line()
        assert url.startswith("serial:/dev/")
        yield sim, url
    finally:
        sim.stop()


def test_device_info_over_a_real_pty(pty_sim):
    sim, url = pty_sim
    res = run("device", "info", "--device", url)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["serial"] == "HSSIM0000001"
    assert info["max_load_kg_per_cable"] == 100.0
    assert info["load_step_kg"] == 0.5
    assert info["cable_count"] == 1
    assert info["protocol_version"] == 1
    assert info["modes"] == ["constant", "eccentric", "chains", "spotter"]
    sim.wait_log("host_connected")


@pytest.mark.parametrize("kg,message", [
    ("12.3", "12.0 kg and 12.5 kg"),  # off the grid: the nearest valid loads
    ("500", "maximum of 100.0 kg"),  # above the unit: its maximum (asked of the unit first)
])
def test_bad_loads_are_refused_and_never_reach_the_unit(pty_sim, kg, message):
    sim, url = pty_sim
    res = run("device", "set-load", kg, "--device", url)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    events = [r["event"] for r in sim.drain(0.5)]
    assert "load_target" not in events and "nack" not in events  # nothing was sent


def test_sim_serve_fault_flags(tmp_path):
    sim = Background("sim", "serve", "--tcp", "127.0.0.1:0", "--reboot-at", "1",
                     "--stuck-sensor-at", "1.5")
    try:
        sim.first_line()
        assert sim.wait_log("boot", reason="reboot")["device_t_ms"] >= 1000
        sim.wait_log("fault_stuck_sensor")
    finally:
        sim.stop()


def test_set_load_and_stop_over_a_real_pty(pty_sim):
    sim, url = pty_sim
    until_handles_taken_up(url)
    res = run("device", "set-load", "12.5", "--device", url, "--hold", "1")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"applied_kg_per_cable": [12.5]}
    sim.wait_log("load_target", target_kg=[12.5])
    sim.wait_log("stop_requested")  # a clean exit deloads at once
    res = run("device", "stop", "--device", url)
    assert res.returncode == 0 and json.loads(res.stdout) == {"stopped": True}


@pytest.mark.parametrize("args,message", [
    (["device", "info", "--device", "bogus://x"], "unsupported device URL"),
    (["device", "set-load", "abc", "--device", "sim://"], "not a plain decimal number"),
    (["device", "set-load", "--device", "sim://", "--", "-1"], "negative"),
    (["sim", "serve"], "give --pty"),
    (["sim", "serve", "--tcp", "nope"], "is not HOST:PORT"),
    (["sim", "serve", "--pty", "--max-kg", "10.2"], "max_kg"),
    (["demo", "--speed", "-1"], "speed"),
])
def test_usage_errors_exit_2_with_one_clear_message(args, message):
    res = run(*args)
    assert res.returncode == 2, res
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_unreachable_unit_is_a_clear_error():
    res = run("device", "info", "--device", "tcp://127.0.0.1:1")
    assert res.returncode == 1
    assert "cannot connect" in res.stderr and "Traceback" not in res.stderr
    res = run("device", "info", "--device", "serial:/dev/does-not-exist")
    assert res.returncode == 1
    assert "cannot open serial port" in res.stderr and "Traceback" not in res.stderr


def test_demo_is_reproducible_and_summarises_every_set():
    a = run("demo", "--speed", "0", "--seed", "7", timeout=120)
    b = run("demo", "--speed", "0", "--seed", "7", timeout=120)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    table = a.stdout[a.stdout.index("set  exercise"):].splitlines()
    rows = [r for r in table[2:] if r.strip()[:1].isdigit()]
    assert len(rows) == 4
    for row in rows:
        cols = row.split()
        assert int(cols[-6]) > 0  # reps
        assert 0.1 < float(cols[-4]) < 2.0  # mean concentric velocity, m/s
    c = run("demo", "--speed", "0", "--seed", "8", timeout=120)
    assert c.returncode == 0 and c.stdout != a.stdout


def test_unit_deloads_when_the_host_process_dies_mid_set(tmp_path, monkeypatch):
    monkeypatch.setenv("HALFSTEP_STATE_DIR", str(tmp_path))  # the host's wire log goes here
    sim = Background("sim", "serve", "--tcp", "127.0.0.1:0", "--seed", "3", "--reps", "30")
    host = None
    try:
        url = sim.first_line()
        until_handles_taken_up(url)
        sim.wait_log("link_closed")  # the watching host's: not to be taken for the one below
        host = Background("device", "set-load", "20", "--device", url, "--hold", "60")
        sim.wait_log("load_target", target_kg=[20.0])
        until_host_sees_load(tmp_path / "wire", 20.0)  # load on, reps under way
        host.proc.send_signal(signal.SIGKILL)
        closed = sim.wait_log("link_closed")
        expired = sim.wait_log("lease_expired")
        deloaded = sim.wait_log("deloaded", cause="lease_expired")
    finally:
        if host:
            host.stop()
        sim.stop()
    assert expired["applied_kg"] == 20.0
    assert "lease" in expired["reason"]
    # Within the lease (500 ms, + one 10 ms tick) plus the ramp down (20 kg at 30 kg/s), plus
    # the motor's lag behind its ramped setpoint (20 ms time constant) and one more tick.
    lease_ms, ramp_ms, lag_ms = 500, 20 / 30 * 1000, 80
    assert expired["device_t_ms"] - closed["device_t_ms"] <= lease_ms + 10
    assert deloaded["after_ms"] <= ramp_ms + lag_ms
    assert deloaded["device_t_ms"] - closed["device_t_ms"] <= lease_ms + ramp_ms + lag_ms


def test_json_logs_carry_session_device_firmware_and_link():
    res = run("--log-format", "json", "--log-level", "info", "demo", "--speed", "0", "--seed", "1",
              timeout=120)
    assert res.returncode == 0
    recs = [json.loads(line) for line in res.stderr.splitlines()]
    assert len(recs) > 10
    sessions = {r["session_id"] for r in recs}
    assert len(sessions) == 1
    for r in recs:
        assert {"session_id", "device_serial", "firmware", "link", "level", "timestamp",
                "event"} <= r.keys()
    connected = [r for r in recs if r["event"] == "device_connected"]
    assert connected[0]["device_serial"] == "HSSIM0000001" and connected[0]["firmware"] == "1.0.0"
    assert all(r["device_serial"] == "HSSIM0000001" for r in recs[recs.index(connected[0]):])
    text = run("--log-level", "info", "demo", "--speed", "0", "--seed", "1", timeout=120)
    assert "device_connected" in text.stderr and not text.stderr.lstrip().startswith("{")
