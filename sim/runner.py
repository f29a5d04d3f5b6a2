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
    """Tick at the unit's control rate on absolute deadlines, catching up if the loop lagged.
    With `coarse` set on the unit, one wake-up runs a telemetry batch's worth of ticks (the
    wire output is the same; commands take effect at the batch's end): for long trials."""
    loop = asyncio.get_running_loop()
    tick = unit.tick
    start = loop.time()
    n = 0
    hz = unit.tick_hz
    while True:
        k = unit.ticks_per_wake
        n += k
        delay = start + n / hz - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        for _ in range(k):
            tick()
        await flush()
        if unit.tick_hz != hz:  # the host changed the telemetry rate: restart the schedule
            start, n = loop.time(), 0
            hz = unit.tick_hz


class UnitServer:
    """Serves one host at a time; the unit and its clock outlive the links."""

    def __init__(self, unit: SimUnit):
        self.unit = unit
        self.link: Transport | None = None
        self._late: asyncio.Queue[tuple[float, bytes]] | None = None

    async def flush(self) -> None:
        unit = self.unit
        faults = unit.faults
        if (faults.disconnect_at_s is not None and faults.due("disconnect", unit.now_us / 1e6)
                and self.link is not None):
            unit.log("fault_disconnect", link=self.link.url)
            await self.link.close()
        out = unit.take_output()
        if not out or self.link is None:
            return
        if faults.jitter_ms:
            await self._send_late(out)
            return
        with contextlib.suppress(LinkClosed, OSError):
            await self.link.send(out)

    async def _send_late(self, out: bytes) -> None:
        """Jitter: each write waits a random while, in order, without holding up the unit."""
        loop = asyncio.get_running_loop()
        if self._late is None:
            self._late = asyncio.Queue()
            self._sender_task = loop.create_task(self._sender(self._late))
        self._late.put_nowait((loop.time() + self.unit.faults.delay_s(), out))

    async def _sender(self, q: asyncio.Queue[tuple[float, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, out = await q.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if self.link is not None:
                with contextlib.suppress(LinkClosed, OSError):
                    await self.link.send(out)

    async def serve_link(self, link: Transport) -> None:
        """Feed one host's bytes to the unit until its link closes. A new host takes over
        from an old one (whose link may be half dead after a crash)."""
        old = self.link
        if old is not None:
            self.unit.log("host_replaced", old=old.url, new=link.url)
            await old.close()
        self.link = link
        self.unit.log("link_open", link=link.url)
        try:
            while True:
                self.unit.receive(await link.read())
                await self.flush()
        except (LinkClosed, OSError) as e:
            self.unit.log("link_closed", link=link.url, reason=str(e))
        finally:
            if self.link is link:
                self.link = None
            await link.close()
