"""The warped event loop: faster than real time, or as fast as possible, consistently."""

from __future__ import annotations

import asyncio
import time

from firmware_bridge.clock import loop_factory


def run(speed, coro_fn):
    with asyncio.Runner(loop_factory=loop_factory(speed)) as r:
        return r.run(coro_fn())


def test_speed_zero_jumps_to_timers_in_order():
    order = []

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def sleeper(d):
            await asyncio.sleep(d)
            order.append((d, round(loop.time() - t0, 6)))

        await asyncio.gather(*(sleeper(d) for d in (300.0, 5.0, 60.0)))

    real = time.monotonic()
    run(0, main)
    assert time.monotonic() - real < 2.0  # six virtual minutes
    assert order == [(5.0, 5.0), (60.0, 60.0), (300.0, 300.0)]


def test_speed_factor_scales_time():
    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.sleep(2.0)
        return loop.time() - t0

    real = time.monotonic()
    virtual = run(20, main)
    elapsed = time.monotonic() - real
    assert virtual >= 2.0
    assert elapsed < 1.0  # 2 s of loop time at 20x is ~0.1 s


def test_timeouts_use_the_warped_clock():
    async def main():
        try:
            async with asyncio.timeout(10):
                await asyncio.Event().wait()
        except TimeoutError:
            return asyncio.get_running_loop().time()

    assert run(0, main) >= 10.0


def test_a_stalled_process_slows_simulated_time_instead_of_jumping_it():
    """Design contract 16: 2 s of real time blocked (a browser starting, a busy machine) moves
    the 10x clock by one tick, not 20 s, so the simulated unit's lease cannot expire from it;
    waiting still runs at 10x."""
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.01)
        t0 = loop.time()
        time.sleep(2.0)  # the whole process stalls
        await asyncio.sleep(0)
        stalled = loop.time() - t0
        t1 = loop.time()
        await asyncio.sleep(1.0)
        return stalled, loop.time() - t1

    real = time.monotonic()
    stalled, slept = run(10, main)
    assert stalled <= 0.011
    assert 1.0 <= slept < 1.2
    assert time.monotonic() - real < 2.5
