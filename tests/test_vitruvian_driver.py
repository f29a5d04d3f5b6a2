"""The vitruvian:// driver against a simulated Vitruvian behind a real GATT server (bumble),
through the real BleakClient: program frames, stops, polled samples, rep notifications."""

from __future__ import annotations

import asyncio
import re
import struct

from firmware_bridge import vitruvian as v
from firmware_bridge.devices import device_client
from sim.vitruvian_unit import _UNITS
from tests.procs import run


async def wait_until(pred, timeout=10.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.02)


async def test_driver_surface_against_the_simulated_trainer():
    url = "vitruvian://sim?seed=3"
    async with device_client(url) as dev:
        sim = _UNITS[asyncio.get_running_loop()][url]
        assert dev.info.cable_count == 2 and dev.info.max_load_kg == 100.0
        # Polled samples become telemetry batches at about 20 Hz.
        got = []

        async def take():
            async for b in dev.telemetry():
                got.append(b)
                if len(got) == 20:
                    return

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.wait_for(take(), 5)
        assert 0.7 <= loop.time() - t0 <= 1.5
        assert got[-1].position_mm.shape == (1, 2)
        # A set: the program frame carries the load per cable and reps + 3 + 1.
        await wait_until(lambda: sim.unit.lifter.held)
        assert await dev.set_load(12.5, reps=10) == (12.5, 12.5)
        frame = sim.programs[-1]
        assert frame[0x04] == 14 and struct.unpack_from("<f", frame, 0x58)[0] == 12.5
        assert frame == v.program_frame(12.5, 10)
        assert sim.unit.targets == [25, 25]
        dev.program_mode = v.ProgramMode.PUMP  # every documented field, for a given mode
        await dev.set_load(12.5, reps=10)
        assert sim.programs[-1] == v.program_frame(12.5, 10, v.ProgramMode.PUMP)
        assert struct.unpack_from("<hhf", sim.programs[-1], 0x30) == (50, 450, 10.0)
        # Rep notifications: the first 3 reps calibrate and are not work.
        await wait_until(lambda: dev.rep_count is not None and dev.rep_count.down >= 5, 60)
        assert dev.rep_count.working == dev.rep_count.down - 3
        # Stop is sent three times and confirmed by the samples.
        await dev.stop()
        assert sim.stops == 3
        assert sim.unit.applied_half_kg == [0, 0]


def test_demo_and_a_session_on_the_simulated_trainer(tmp_path):
    res = run("demo", "--speed", "0", "--device", "vitruvian://sim?seed=7", timeout=180)
    assert res.returncode == 0, res.stderr
    total = re.search(r"^total: (\d+) reps", res.stdout, re.M)  # the demo's ladder, summed
    assert total and int(total.group(1)) > 0 and "estimated 1RM" in res.stdout
    assert run("plan", "init", "--file", str(tmp_path / "p.json"), "--profile", "pain",
               "--start", "2026-11-16").returncode == 0
    res = run("run", "--file", str(tmp_path / "p.json"), "--db", str(tmp_path / "h.sqlite"),
              "--device", "vitruvian://sim?seed=1", "--speed", "0", "--pain", "2",
              "--today", "2026-11-16", timeout=180)
    assert res.returncode == 0, res.stderr
    assert re.search(r"session 1: finished, \d+ sets", res.stdout), res.stdout
