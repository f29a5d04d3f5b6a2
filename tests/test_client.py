"""The device client against the simulated unit, over in-memory, pty serial and TCP links."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest

from firmware_bridge.client import (
    CommandRejected,
    CommandTimeout,
    DeviceClient,
    LoadNotOnGrid,
)
from firmware_bridge.codec import FrameDecoder, encode
from firmware_bridge.links import open_link
from firmware_bridge.messages import (
    DeviceState,
    ErrorCode,
    EventCode,
    Heartbeat,
    Hello,
    SetLoad,
)
from firmware_bridge.transports.base import LinkClosed
from tests.conftest import LINKS, running_sim


async def wait_until(pred, timeout: float = 5.0, step: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


async def handles_up(sim) -> None:
    """The simulated lifter has taken up the handles: a load now stays on."""
    await wait_until(lambda: sim.unit.lifter.held and sim.unit.lifter.position_mm > 50)


@pytest.mark.parametrize("kind", LINKS)
async def test_hello_info_and_telemetry(kind):
    async with running_sim(kind, seed=3, cables=2) as sim, DeviceClient(sim.link) as dev:
        info = dev.info
        assert info.serial == "HSSIM0000001"
        assert info.cable_count == 2
        assert info.max_load_half_kg == 200
        assert info.protocol_version == 1
        assert 100 in info.telemetry_rates_hz
        batches = []
        async with contextlib.aclosing(dev.telemetry()) as stream:
            async for b in stream:
                batches.append(b)
                if len(batches) == 5:
                    break
        t = [int(x) for b in batches for x in b.t_us]
        # 100 Hz, nothing missing between batches
        assert all(b - a == 10_000 for a, b in itertools.pairwise(t)), t
        assert batches[-1].position_mm.shape == (9, 2)  # 10 asked; 9 of 2 cables fit a frame
        h = dev.health
        assert h.bad_frames == 0 and h.last_sample_age_s is not None and h.last_sample_age_s < 0.5


@pytest.mark.parametrize("kind", LINKS)
async def test_set_load_is_acked_with_applied_value_and_ramps(kind):
    async with running_sim(kind, seed=3) as sim, DeviceClient(sim.link) as dev:
        await handles_up(sim)
        assert await dev.set_load(12.5) == (12.5,)
        assert sim.unit.targets == [25]
        # The motor reaches the load through the unit's ramp (10 kg/s), not at once.
        await wait_until(lambda: sim.unit.applied_half_kg == [25], timeout=3)
        await dev.stop()
        assert sim.unit.applied_half_kg == [0]
        assert dev.health.retries == 0


@pytest.mark.parametrize("kind", LINKS)
async def test_load_above_max_is_nacked(kind):
    async with running_sim(kind, max_kg=50.0) as sim, DeviceClient(sim.link) as dev:
        with pytest.raises(CommandRejected) as e:
            await dev.set_load(50.5)
        assert e.value.error == ErrorCode.LOAD_ABOVE_MAX
        assert e.value.detail == 100
        assert "maximum is 50 kg" in str(e.value)
        assert sim.unit.targets == [0]


async def test_off_grid_load_never_reaches_the_wire():
    async with running_sim("memory") as sim, DeviceClient(sim.link) as dev:
        before = sim.unit.frames_in
        with pytest.raises(LoadNotOnGrid):
            await dev.set_load(12.3)
        assert dev.health.commands == 1  # only CONFIGURE_TELEMETRY from the handshake
        assert sim.unit.targets == [0]
        assert sim.unit.frames_in - before <= 2  # heartbeats at most


@pytest.mark.parametrize("kind", LINKS)
async def test_dropped_ack_is_retried(kind):
    # The first ACK is CONFIGURE_TELEMETRY's (handshake); then SET_LOAD loses one too.
    async with running_sim(kind, drop_ack=1) as sim, DeviceClient(sim.link) as dev:
        assert dev.health.retries == 1
        await handles_up(sim)
        sim.unit.faults.drop_acks = 1
        assert await dev.set_load(20) == (20.0,)
        assert dev.health.retries == 2
        assert dev.health.timeouts == 0
        assert sim.unit.faults.dropped == 2


async def test_no_ack_at_all_raises_a_clear_timeout_after_retries():
    async with running_sim("memory") as sim, DeviceClient(sim.link) as dev:
        sim.unit.faults.drop_acks = 100
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(CommandTimeout, match="no ACK from the unit after 4 attempts"):
            await dev.set_load(10)
        assert loop.time() - t0 >= 4 * 0.25 - 0.05
        assert dev.health.retries == 3 and dev.health.timeouts == 1


@pytest.mark.parametrize("kind", LINKS)
async def test_unit_deloads_when_host_goes_silent(kind):
    """Host sends HELLO and a load, then nothing: the lease expires and the load ramps to 0."""
    async with running_sim(kind, seed=5) as sim:
        link = sim.link if not isinstance(sim.link, str) else await open_link(sim.link)
        dec = FrameDecoder()
        unit = sim.unit
        await handles_up(sim)  # the lifter takes the handles with or without a host
        await link.send(encode(Hello(), 1))
        await link.send(encode(SetLoad((40,)), 2))
        async with asyncio.timeout(5):
            while unit.applied_half_kg[0] < 40:
                await link.send(encode(Heartbeat(), 3))  # any frame renews the lease
                await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        silent_at = loop.time()
        await wait_until(lambda: unit.applied_half_kg == [0], timeout=3)
        took = loop.time() - silent_at
        # lease 0.5 s + ramp 20 kg at 30 kg/s (0.67 s) + motor lag and tick slack
        assert took <= 0.5 + 20 / 30 + 0.3
        assert unit.state == DeviceState.LEASE_LOST
        frames = []

        def codes() -> list[int]:
            return [f.msg.code for f in frames if hasattr(f.msg, "code")]

        async with asyncio.timeout(10):  # both events are sent by now: read until they are in
            while not {EventCode.LEASE_EXPIRED, EventCode.DELOADED} <= set(codes()):
                frames += dec.feed(await link.read())
        await link.close()
    codes = codes()
    assert EventCode.LEASE_EXPIRED in codes
    assert EventCode.DELOADED in codes


async def test_set_load_refused_after_lease_lost_until_hello():
    async with running_sim("memory") as sim:
        dev = DeviceClient(sim.link)
        await dev.__aenter__()
        unit = sim.unit
        lost_at: list[int] = []
        log = unit.log

        def spy(event: str, **kw: object) -> None:
            if event == "lease_expired":
                lost_at.append(unit.now_us)
            log(event, **kw)

        unit.log = spy
        for t in dev._tasks[1:]:
            t.cancel()  # stop heartbeats: the host "hangs"
        t0 = unit.now_us
        # One last frame, renewed by the unit at t0 or later: nothing is sent after it.
        assert (await dev.get_status()).state == DeviceState.ACTIVE
        await wait_until(lambda: unit.state == DeviceState.LEASE_LOST, timeout=20)
        assert len(lost_at) == 1 and lost_at[0] - t0 >= 500_000  # the whole lease, not less
        with pytest.raises(CommandRejected) as e:
            await dev.set_load(5)
        assert e.value.error == ErrorCode.NOT_READY
        await dev.__aexit__(None, None, None)


async def test_emergency_stop_latches_until_cleared():
    async with running_sim("memory", seed=2) as sim, DeviceClient(sim.link) as dev:
        await handles_up(sim)
        await dev.set_load(30)
        await wait_until(lambda: sim.unit.applied_half_kg[0] > 20)
        await dev.emergency_stop()
        assert sim.unit.applied_half_kg == [0]  # cut at once, no ramp
        with pytest.raises(CommandRejected) as e:
            await dev.set_load(5)
        assert e.value.error == ErrorCode.EMERGENCY_STOP_LATCHED
        await asyncio.sleep(0.3)
        assert sim.unit.state == DeviceState.EMERGENCY_STOP  # still latched
        await dev.clear_emergency_stop()
        assert sim.unit.state == DeviceState.ACTIVE
        assert sim.unit.targets == [0]  # clearing never brings the load back by itself
        assert await dev.set_load(5) == (5.0,)


async def test_close_leaves_the_unit_unloaded_at_once():
    async with running_sim("memory", seed=2) as sim:
        async with DeviceClient(sim.link) as dev:
            await handles_up(sim)
            await dev.set_load(20)
        await wait_until(lambda: sim.unit.targets == [0], timeout=20)
        # Checked in the same loop iteration the STOP was seen in: the lease still held means
        # deloaded by STOP, not by waiting for the lease.
        assert sim.unit.lease_held


async def test_link_loss_ends_telemetry_and_fails_commands():
    async with running_sim("memory") as sim, DeviceClient(sim.link) as dev:
        got = []

        async def consume():
            async for b in dev.telemetry():
                got.append(b)

        task = asyncio.create_task(consume())
        await wait_until(lambda: got, timeout=20)
        sim.link._inbox.put_nowait(b"")  # the unit hangs up
        await asyncio.wait_for(task, 2)
        assert got
        with pytest.raises(LinkClosed):
            await dev.set_load(5)


async def test_open_link_rejects_bad_urls():
    from firmware_bridge.transports.base import LinkError

    for url in ["ftp://x", "serial:", "tcp://nohostport", "sim://?cables=3", "sim://?bogus=1"]:
        with pytest.raises(LinkError):
            await open_link(url)


async def test_heartbeat_renews_the_lease_at_10_hz():
    async with running_sim("memory") as sim, DeviceClient(sim.link) as dev:
        before = sim.unit.frames_in
        await asyncio.sleep(2.0)
        beats = sim.unit.frames_in - before
        assert 18 <= beats <= 22  # 10 Hz, nothing else sent
        assert sim.unit.state == DeviceState.ACTIVE  # four lease periods later, still held
        assert dev.health.device_frames_lost == 0


async def test_load_modes_through_the_client():
    from firmware_bridge.messages import Mode

    async with running_sim("memory") as sim, DeviceClient(sim.link) as dev:
        await dev.set_mode(Mode.ECCENTRIC, 140)
        assert sim.unit.mode == (Mode.ECCENTRIC, 140, 0, 0)
        with pytest.raises(CommandRejected, match="BAD_ARGUMENT"):
            await dev.set_mode(Mode.ECCENTRIC, 160)  # eccentric overload is capped at 150%
        assert sim.unit.mode == (Mode.ECCENTRIC, 140, 0, 0)
        assert "spotter" in dev.info.as_dict()["modes"]


async def test_status_and_events_reach_the_host():
    async with running_sim("memory", seed=2) as sim, DeviceClient(sim.link) as dev:
        status = await dev.get_status()
        assert status.state == DeviceState.ACTIVE and status.targets_half_kg == (0,)
        events = []

        async def listen():
            async for e in dev.events():
                events.append(EventCode(e.code))
                if e.code == EventCode.DELOADED:
                    return

        task = asyncio.create_task(listen())
        await asyncio.sleep(0)
        await dev.set_load(10)  # nobody holds the handles: the unit deloads by itself
        await asyncio.wait_for(task, 3)
        assert events[:2] == [EventCode.HANDLE_RELEASED, EventCode.DELOADED]
