"""The unit's telemetry as the set loop reads it: a bounded queue that keeps the newest batches,
a wait that degrades, deloads and then gives up while none come, fresh samples only for arming,
and what the driver says the person must know, said once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import structlog

from controller.core.safety import DEGRADED_S
from controller.core.session.state import LinkLost, StopRequested
from firmware_bridge.client import DeviceClient
from firmware_bridge.messages import Telemetry
from firmware_bridge.transports.base import LinkClosed

if TYPE_CHECKING:
    from controller.core.session.runner import SessionRunner

log = structlog.get_logger("controller.core.session")

FRESH_S = 0.5  # samples older than this by the unit's clock never arm a set
STOP_MARK = object()  # put into the telemetry queue to wake the set loop


class TelemetryFeed:
    """The set's telemetry, read with the supervisor watching its age."""

    def __init__(self, runner: SessionRunner):
        self.r = runner
        self._told: dict[int, int] = {}  # driver notices said so far, per client
        self._deload_task: asyncio.Task | None = None

    @contextlib.asynccontextmanager
    async def open(self, dev: DeviceClient) -> AsyncIterator[asyncio.Queue]:
        """Telemetry into a bounded queue, so waiting for it can time out safely."""
        q: asyncio.Queue[Telemetry | None] = asyncio.Queue(maxsize=256)

        async def pump() -> None:
            try:
                async for b in dev.telemetry():
                    put_latest(q, b)
            finally:
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(None)

        task = asyncio.get_running_loop().create_task(pump())
        self.r.signals.q = q
        try:
            yield q
        finally:
            self.r.signals.q = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def next(self, q: asyncio.Queue, dev: DeviceClient) -> Telemetry:
        """The next batch; while none comes, the supervisor degrades, deloads, then gives up."""
        r = self.r
        while True:
            try:
                if q.empty():  # asyncio.timeout: no task per batch (wait_for makes one)
                    async with asyncio.timeout(DEGRADED_S):
                        batch = await q.get()
                else:
                    batch = q.get_nowait()
            except TimeoutError:
                state = r.supervisor.telemetry_age(dev.health.last_sample_age_s)
                if state != "ok" and r.supervisor.applied_kg > 0:
                    self._request_deload(dev)
                if state == "lost":
                    raise LinkLost("no telemetry for more than 1 s") from None
                continue
            if batch is None:
                raise LinkClosed("telemetry ended")
            if batch is STOP_MARK:
                raise StopRequested
            self._tell_notices(dev)
            link = r.supervisor.telemetry_age(dev.health.last_sample_age_s)
            if link != r.state.link:
                r.set_state(link=link)
            if r.bus.wants("telemetry"):
                r.bus.emit("telemetry", session=r.session_id, batch=batch)
            return batch

    async def fresh_next(self, q: asyncio.Queue, dev: DeviceClient) -> Telemetry:
        """The next batch taken recently by the unit's clock: after a stall, the samples
        queued meanwhile are history, and arming is never decided on them (contract 13)."""
        stale = 0
        while True:
            batch = await self.next(q, dev)
            age = dev.sample_age_s(batch)
            if age is None or age <= FRESH_S:
                if stale:
                    log.warning("stale_samples_dropped", batches=stale, age_s=round(age or 0, 3))
                return batch
            stale += 1

    def _tell_notices(self, dev: DeviceClient) -> None:
        """What a driver says the person must know (a Vitruvian that deloaded by itself, or
        whose link was lost with the weight on): said once each, and kept as a safety event."""
        notices = getattr(dev, "notices", None)
        if not notices:
            return
        seen = self._told.get(id(dev), 0)
        for text in notices[seen:]:
            self.r.io.say(f"  {text}")
            self.r.supervisor.event("unit_notice", text)
        self._told[id(dev)] = len(notices)

    def _request_deload(self, dev: DeviceClient) -> None:
        """Ask for zero without waiting on it: the unit's lease is the backstop."""
        supervisor = self.r.supervisor
        supervisor.event("deload_requested", f"telemetry {supervisor.link}",
                         load_kg=supervisor.applied_kg)
        supervisor.applied_kg = 0.0

        async def send() -> None:
            with contextlib.suppress(Exception):
                await dev.set_load(0)

        self._deload_task = asyncio.get_running_loop().create_task(send())


def put_latest(q: asyncio.Queue, item: object) -> None:
    """Put without waiting: a full queue loses its oldest item, never the newest."""
    if q.full():
        q.get_nowait()
    q.put_nowait(item)
