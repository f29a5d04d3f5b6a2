"""Runs a SimUnit against a byte link on the event loop's clock (real, scaled or virtual)."""

from __future__ import annotations

import asyncio
import contextlib

from firmware_bridge.transports.base import LinkClosed, Transport
from sim.firmware import SimUnit


async def tick_forever(unit: SimUnit, flush) -> None:  # noqa: ANN001
    """Tick at the unit's control rate on absolute deadlines, catching up if the loop lagged."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while True:
        hz = unit.tick_hz
        n += 1
        due = start + n / hz
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        unit.tick()
        await flush()
        if unit.tick_hz != hz:  # the host changed the telemetry rate: restart the schedule
            start, n = loop.time(), 0


async def pump_input(unit: SimUnit, link: Transport, flush) -> None:  # noqa: ANN001
    while True:
        unit.receive(await link.read())
        await flush()


async def run_unit(unit: SimUnit, link: Transport) -> None:
    """Serve one host over one link until the link closes or the task is cancelled."""

    async def flush() -> None:
        out = unit.take_output()
        if out:
            with contextlib.suppress(LinkClosed):
                await link.send(out)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(tick_forever(unit, flush))
            tg.create_task(pump_input(unit, link, flush))
    except* LinkClosed:
        pass
