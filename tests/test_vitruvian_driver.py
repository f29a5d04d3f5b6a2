"""The vitruvian:// driver against the simulated trainer (sim/vitruvian_unit.py: a real GATT
server in bumble, MTU 23, written from the shared docs, not from the driver), through the real
BleakClient: the link at MTU 23, STOP past a hung read, polling after a read error, a dropped
link with the weight kept on, the trainer's own deload, the rep target, the velocity unit, and
the demo.

Tests that need a whole set run on a warped loop (firmware_bridge/clock.py, as `--speed 0`):
simulated time, so a 13-rep set takes seconds. Tests about real-time latency run on the ordinary
loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import struct

from firmware_bridge import vitruvian as v
from firmware_bridge.clock import loop_factory
from firmware_bridge.devices import device_client
from firmware_bridge.messages import EventCode, SampleStatus
from firmware_bridge.vitruvian_client import DELOAD_REASON, LET_DOWN, LET_DOWN_NOW
from sim.vitruvian_unit import _UNITS
from tests.procs import run


async def wait_until(pred, timeout=10.0, step=0.01):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(step)


def warped(coro_fn):
    """Run an async test body on a warped loop (simulated time, as fast as it goes)."""
    with asyncio.Runner(loop_factory=loop_factory(0)) as runner:
        return runner.run(coro_fn())


def gather(stream) -> tuple[list, asyncio.Task]:
    """Everything an async iterator (a client's events or telemetry) yields, as it comes."""
    got: list = []

    async def take():
        async for item in stream:
            got.append(item)

    return got, asyncio.get_running_loop().create_task(take())


def sim_of(url: str):
    return _UNITS[asyncio.get_running_loop()][url]


async def collect(dev, n: int, timeout: float = 10.0) -> list:
    got = []

    async def take():
        async for b in dev.telemetry():
            got.append(b)
            if len(got) == n:
                return

    await asyncio.wait_for(take(), timeout)
    return got


async def test_connects_at_mtu_23_and_drives_the_trainer():
    url = "vitruvian://sim?seed=3"
    async with device_client(url) as dev:
        sim = sim_of(url)
        assert dev.client.mtu_size == 23  # as bleak on BlueZ reports: never refused
        assert dev.info.cable_count == 2 and dev.info.max_load_kg == 100.0
        # The first commands on a new link: stop, then reset.
        assert [c for _, c in sim.commands[:2]] == [v.STOP, v.INIT]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        got = await collect(dev, 20, 5)  # polled back to back, about 20 Hz
        assert 0.7 <= loop.time() - t0 <= 1.5
        assert got[-1].position_mm.shape == (1, 2)
        await wait_until(lambda: sim.unit.lifter.held, 20)
        assert await dev.set_load(12.5, reps=10) == (12.5, 12.5)
        p = sim.programs[-1]
        assert p["rep_field"] == 13 and p["target_kg_per_cable"] == 12.5
        dev.program_mode = v.ProgramMode.PUMP
        await dev.set_load(12.5, reps=10)
        assert sim.programs[-1]["rep_field"] == 13
        stops = sim.stops
        await dev.stop()  # three stops, confirmed by a sample with no load
        assert sim.stops == stops + 3 and max(sim.applied_kg) < 0.25  # no load, to the half kg
        await wait_until(lambda: sim.applied_kg == (0.0, 0.0), 1.0)  # the last grams ramp off


async def test_a_hung_read_never_holds_up_stop():
    url = "vitruvian://sim?seed=4&hang_read_after=60"
    async with device_client(url) as dev:
        sim = sim_of(url)
        # The stuck link's request slot lets nothing through (the sim models that), so the stop
        # goes out first on a new link: the trainer advertises every 20 ms, so that is quick.
        await wait_until(lambda: sim.unit.lifter.held, 20)
        await dev.set_load(10.0, reps=10)
        await wait_until(lambda: sim.hung_reads == 1, 10)
        await asyncio.sleep(0.3)  # the read has hung a while: the link's request slot is stuck
        loop = asyncio.get_running_loop()
        stops, t0 = sim.stops, loop.time()
        stopping = loop.create_task(dev.stop(confirm=False))
        await wait_until(lambda: sim.stops > stops, 2.0, step=0.005)
        assert loop.time() - t0 < 0.5  # STOP reached the trainer, past a read that never ends
        await stopping
        assert not sim.active and sim.kg == 0.0
        # The link came back (stop first on it) and polling goes on.
        batches = await collect(dev, 5, 5)
        assert not batches[-1].samples["cable"]["load_half_kg"][-1].any()


async def test_polling_goes_on_after_a_read_error():
    url = "vitruvian://sim?seed=5&read_error_at=10"
    async with device_client(url) as dev:
        sim = sim_of(url)
        await wait_until(lambda: sim.read_errors == 1, 10)
        reads = sim.sample_reads
        await collect(dev, 10, 5)  # samples keep coming from the same open client
        assert sim.sample_reads >= reads + 10 and sim.connections == 1
        assert dev.health.frames_received >= 10


def test_a_dropped_link_with_the_weight_on_is_stopped_first():
    url = "vitruvian://sim?seed=6&drop_link_at=4&keep_weight=1"

    async def body():
        async with device_client(url) as dev:
            sim = sim_of(url)
            events, watcher = gather(dev.events())
            await wait_until(lambda: sim.unit.lifter.held, 30)
            await dev.set_load(15.0, reps=10)
            started = next(t for t, c in reversed(sim.commands) if c[:1] == b"\x04")
            await wait_until(lambda: sim.link_drops == 1, 30)
            await wait_until(lambda: any(e.code == EventCode.STOPPED for e in events), 30)
            after = [c for t, c in sim.commands if t >= started + 4]
            assert after[:2] == [v.STOP, v.INIT]  # on the new link: stop and reset first
            # The weight stayed on through the drop until that stop took it off.
            assert [c for t, c in sim.releases if t >= started][:1] == ["stop"]
            assert sim.connections == 2 and not sim.active
            await wait_until(lambda: sim.applied_kg == (0.0, 0.0), 5)
            codes = [e.code for e in events]
            assert codes.index(EventCode.LEASE_EXPIRED) < codes.index(EventCode.STOPPED)
            assert dev.notices[:2] == [LET_DOWN_NOW, LET_DOWN]  # the person is told
            batch = (await collect(dev, 3))[-1]
            assert not batch.samples["cable"]["load_half_kg"][-1].any()
            watcher.cancel()

    warped(body)


def test_the_trainers_own_deload_ends_the_set_with_the_reason():
    url = "vitruvian://sim?seed=7&self_deload_at=6"

    async def body():
        async with device_client(url) as dev:
            sim = sim_of(url)
            events, watcher = gather(dev.events())
            seen, looker = gather(dev.telemetry())
            await wait_until(lambda: sim.unit.lifter.held, 30)
            await dev.set_load(12.5, reps=10)
            await wait_until(lambda: any(e.code == EventCode.DELOADED for e in events), 30)
            assert sim.self_deloads == 1
            assert dev.deload_reason == DELOAD_REASON and DELOAD_REASON in dev.notices
            flagged = [b for b in seen
                       if b.samples["cable"]["status"][-1][0] & SampleStatus.SAFETY_DELOAD]
            assert flagged and not flagged[-1].tension_n.any()  # the handles are let go
            await wait_until(lambda: sim.stops >= 2, 5)  # the driver made it final
            looker.cancel()
            watcher.cancel()

    warped(body)


def test_ten_working_reps_release_at_the_bottom_of_the_tenth_and_speeds_are_true():
    url = "vitruvian://sim?seed=8"

    async def body():
        async with device_client(url) as dev:
            sim = sim_of(url)
            loop = asyncio.get_running_loop()
            seen = []  # (host s, batch)

            async def look():
                async for b in dev.telemetry():
                    seen.append((loop.time() - sim.now_s, b))

            looker = loop.create_task(look())
            await wait_until(lambda: sim.unit.lifter.held, 30)
            await dev.set_load(10.0, reps=10)
            await wait_until(lambda: any(c == "rep target" for _, c in sim.releases), 120)
            await wait_until(lambda: dev.rep_count is not None and dev.rep_count.down == 13, 5)
            assert sim.down == 13 and dev.rep_count.working == 10
            released_at = next(t for t, c in sim.releases if c == "rep target")
            assert released_at == sim.rep_log[12]["bottom_s"]  # the 10th working rep's bottom
            assert [r["working"] for r in sim.rep_log] == [0, 0, 0, *range(1, 11)]
            await asyncio.sleep(1.0)
            looker.cancel()
            offset = sorted(o for o, _ in seen)[len(seen) // 2]
            for rep in sim.rep_log[3:]:
                _true_speeds(rep, seen, offset)

    warped(body)


def _true_speeds(rep: dict, seen: list, offset: float) -> None:
    """Peak velocity (cable A) and peak power (both cables) over the rep's lift, from the
    driver's telemetry, within 5% of the simulated truth."""
    lo, hi = rep["start_s"] + offset, rep["top_s"] + offset
    lift = [b for _, b in seen if lo <= b.t_us[-1] / 1e6 <= hi + 0.05]
    assert len(lift) >= 5, rep
    peak_v = max(float(b.velocity_m_s[-1][0]) for b in lift)
    peak_p = max(float((b.tension_n[-1] * b.velocity_m_s[-1]).sum()) for b in lift)
    assert abs(peak_v - rep["peak_velocity_m_s"]) <= 0.05 * rep["peak_velocity_m_s"], rep
    assert abs(peak_p - rep["peak_power_w"]) <= 0.05 * rep["peak_power_w"], rep


def test_demo_runs_the_plans_rep_targets(monkeypatch):
    """In process, as `halfstep demo --device vitruvian://sim` (warped): every set's program
    carries the reps the set is for (not "unlimited", so the trainer's lifter does not fall
    back to its defaults)."""
    from controller.simulated import demo
    url = "vitruvian://sim?seed=7"
    briefed: list[int] = []
    real_brief = demo.brief

    def spy(person, dev, item, load):
        real_brief(person, dev, item, load)
        briefed.append(dev.target_reps)

    monkeypatch.setattr(demo, "brief", spy)

    async def body():
        result = await demo.run_demo(url, 7, lambda line: None, today=dt.date(2026, 11, 16))
        sim = sim_of(url)
        return result, [p["rep_field"] for p in sim.programs]

    result, fields = warped(body)
    assert result.sets and briefed and None not in briefed
    assert fields == [n + 3 for n in briefed]  # working + calibration, as briefed
    for rec in result.sets:
        assert 0 < rec.full_reps <= 13


def test_a_deload_by_the_trainer_ends_the_sessions_set_with_the_reason():
    """The product's path: the demo's session on a trainer that deloads by itself in its first
    set; the set ends as the session ends a set whose handles were let go, and the driver
    says why (its notices, its log warning, a DELOADED event)."""
    from controller.simulated import demo
    url = "vitruvian://sim?seed=7&self_deload_at=8"
    lines: list[str] = []

    async def body():
        result = await demo.run_demo(url, 7, lines.append, today=dt.date(2026, 11, 16))
        return result, sim_of(url).self_deloads

    result, deloads = warped(body)
    assert deloads == 1
    assert result.sets[0].ended_by == f"unit deloaded: {DELOAD_REASON}", lines
    assert any(c.deload_reason == DELOAD_REASON or DELOAD_REASON in c.notices
               for c in result.clients)
    # ...and the session says it to the person, once, where the set's lines are.
    assert sum(x.strip() == DELOAD_REASON for x in lines) == 1, lines
    assert result.status == "finished"  # the session went on to its end


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


def test_docked_and_held_come_from_the_learned_rest_position():
    """An overhead pulley rests with 400 mm of cable out: docked there, held when pulled
    further (a fixed "< 5 mm docked, > 20 mm held" would say held at rest)."""
    from firmware_bridge.vitruvian_client import VitruvianClient

    dev = VitruvianClient("vitruvian://sim")
    batches = []
    dev._publish = batches.append

    def sample(pos_mm: float, vel_mm_s: float = 0.0) -> bytes:
        p, vel = round(pos_mm * 10), round(vel_mm_s * 10)
        return struct.pack("<IhhHhhHH", 0, p, vel, 0, p, vel, 0, 0) + bytes(8)

    for i in range(80):  # 4 s at rest
        dev._on_sample(sample(400.0), i / 20)
    rest = batches[-1].samples["cable"]["status"][-1]
    assert all(s & SampleStatus.DOCKED and not s & SampleStatus.HANDLE_HELD for s in rest)
    assert dev.docked_at_us is not None
    dev._on_sample(sample(520.0, 300.0), 4.05)
    held = batches[-1].samples["cable"]["status"][-1]
    assert all(s & SampleStatus.HANDLE_HELD and not s & SampleStatus.DOCKED for s in held)
    assert batches[-1].velocity_m_s[-1].tolist() == [0.3, 0.3]  # sent in 0.1 mm/s


def test_legacy_rep_packets_count_through_the_driver():
    url = "vitruvian://sim?seed=9&legacy_reps=1"

    async def body():
        async with device_client(url) as dev:
            sim = sim_of(url)
            await wait_until(lambda: sim.unit.lifter.held, 30)
            await dev.set_load(5.0, reps=2)
            await wait_until(lambda: sim.down >= 5, 120)
            await wait_until(lambda: dev.rep_count is not None and dev.rep_count.down == 5, 5)
            assert dev.rep_count.legacy and dev.rep_count.working == 2
            assert len(sim.reps_sent[-1]) == 6
            assert struct.unpack_from("<H", sim.reps_sent[-1], 4)[0] == 5

    warped(body)


def test_the_session_counts_working_reps_after_the_trainers_calibration_reps():
    """Every program starts with 3 calibration reps: the session shows them as warm-up, never
    counts them as work, and ends the set at the plan's working reps (the trainer's own count
    being working + 3), not 3 reps early."""
    from controller.simulated import demo
    url = "vitruvian://sim?seed=7"
    lines: list[str] = []

    async def body():
        result = await demo.run_demo(url, 7, lines.append, today=dt.date(2026, 11, 16))
        return result, [p["working_reps"] for p in sim_of(url).programs]

    result, working = warped(body)
    first = result.sets[0]
    assert first.ended_by == "target reached" and working[0] == 10
    assert first.full_reps == working[0] == 10  # all ten after the calibration reps
    assert sum("warm-up rep" in x for x in lines) == 3 * len(result.sets), lines
    assert all(r.index > 3 for r in first.reps)  # the calibration reps are not in the set
