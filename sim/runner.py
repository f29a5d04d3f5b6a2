"""Runs a SimUnit on the event loop's clock (real, scaled or virtual) and serves hosts over links.

The unit keeps ticking between hosts (its lease simply expires when one goes away); one host at
a time, like a real unit's single serial port or BLE central.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from firmware_bridge.transports.base import LinkClosed, Transport
from sim.firmware import SimUnit

Flush = Callable[[], Awaitable[None]]


async def tick_forever(unit: SimUnit, flush: Flush) -> None:
    """Tick at the unit's control rate on absolute deadlines, catching up if the loop lagged."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while True:
        hz = unit.tick_hz
        n += 1
        delay = start + n / hz - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        unit.tick()
        await flush()
        if unit.tick_hz != hz:  # the host changed the telemetry rate: restart the schedule
            start, n = loop.time(), 0


class UnitServer:
    def __init__(self, unit: SimUnit):
        self.unit = unit
        self.link: Transport | None = None

    async def flush(self) -> None:
        out = self.unit.take_output()
        if out and self.link is not None:
            with contextlib.suppress(LinkClosed, OSError):
                await self.link.send(out)

    async def serve_link(self, link: Transport) -> None:
        """Feed one host's bytes to the unit until its link closes."""
        if self.link is not None:
            self.unit.log("host_refused", link=link.url, reason="another host is connected")
            await link.close()
            return
        self.link = link
        self.unit.log("link_open", link=link.url)
        try:
            while True:
                self.unit.receive(await link.read())
                await self.flush()
        except (LinkClosed, OSError) as e:
            self.unit.log("link_closed", link=link.url, reason=str(e))
        finally:
            self.link = None
            await link.close()


async def run_unit(unit: SimUnit, link: Transport) -> None:
    """Serve one host over one link until the link closes or the task is cancelled."""
    server = UnitServer(unit)
    ticker = asyncio.create_task(tick_forever(unit, server.flush))
    try:
        await server.serve_link(link)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
