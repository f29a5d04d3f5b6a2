"""DeviceClient: the host side of a unit, used as `async with DeviceClient(url) as dev`.

It owns the link's background work (reader, heartbeat) for as long as the `async with` lasts,
sends absolute commands with a sequence number and waits for the ACK carrying the applied
value (bounded retries, then a clear exception), and fans telemetry out to subscribers through
bounded queues that drop the oldest batch rather than ever block the reader.

This module is the connection (open, handshake, reader, heartbeat, close); the command path is
in `client_commands`, the incoming side in `client_streams`, the shared errors and helpers in
`client_common` (all importable from here as before).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

import structlog

from firmware_bridge import wirelog
from firmware_bridge.client_commands import CommandPath
from firmware_bridge.client_common import (
    CommandRejected,
    CommandTimeout,
    DeviceError,
    LinkHealth,
    LoadNotOnGrid,
    first_batch,
    kg_to_half_kg,
)
from firmware_bridge.client_streams import TelemetryStreams, _Subscriber
from firmware_bridge.codec import FrameDecoder
from firmware_bridge.links import open_link
from firmware_bridge.messages import Ack, DeviceInfo, Heartbeat, Nack, Status, Stop
from firmware_bridge.transports.base import LinkClosed, Transport
from firmware_bridge.unit_clock import UnitClock

__all__ = ["CommandRejected", "CommandTimeout", "DeviceClient", "DeviceError", "LinkHealth",
           "LoadNotOnGrid", "first_batch", "kg_to_half_kg"]

log = structlog.get_logger("firmware_bridge.client")


class DeviceClient(CommandPath, TelemetryStreams):
    def __init__(
        self,
        link: str | Transport,
        *,
        ack_timeout_s: float = 0.25,
        retries: int = 3,
        heartbeat_hz: float = 10.0,
        telemetry_rate_hz: int = 100,
        telemetry_batch: int = 10,
    ):
        self._link = link
        self.url = link if isinstance(link, str) else link.url
        self.ack_timeout_s = ack_timeout_s
        self.retries = retries
        self.heartbeat_hz = heartbeat_hz
        self.telemetry_rate_hz = telemetry_rate_hz
        self.telemetry_batch = telemetry_batch
        self.transport: Transport | None = None
        self.info: DeviceInfo | None = None
        self.status: Status | None = None
        self._decoder = FrameDecoder()
        self._seq = 0
        self._pending: dict[int, asyncio.Future[Ack | Nack]] = {}
        self._hello: asyncio.Future[DeviceInfo] | None = None
        self._telemetry_subs: list[_Subscriber] = []
        self._event_subs: list[_Subscriber] = []
        self._tasks: list[asyncio.Task] = []
        self._last_sample_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.unit_clock = UnitClock()
        self.last_unit_us: int | None = None  # the newest sample's time, unit clock
        self.docked_at_us: int | None = None  # the last sample with every handle docked
        self._last_device_seq: int | None = None
        self._closed: BaseException | None = None
        self._load_on = False
        self._health = LinkHealth()
        self._status_waiters: list[asyncio.Future[Status]] = []
        self._closing = False
        self._gone_dropped = 0
        # Unknown until HELLO is answered; bound as null so every line has the same keys.
        self.log = log.bind(link=self.url, device_serial=None, firmware=None)

    # ---- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> DeviceClient:
        self.transport = (
            await open_link(self._link) if isinstance(self._link, str) else self._link
        )
        writer = wirelog.recorder(self.url)
        if writer is not None and not self.url.startswith("replay:"):
            self.transport = wirelog.RecordingTransport(self.transport, writer)
        loop = self._loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._reader(), name="device-reader"))
        try:
            self.info = await self._handshake()
            await self.configure_telemetry(self.telemetry_rate_hz, self.telemetry_batch)
        except BaseException:
            await self._shutdown(send_stop=False)
            raise
        self.log = self.log.bind(device_serial=self.info.serial,
                                 firmware=self.info.firmware_version)
        structlog.contextvars.bind_contextvars(
            device_serial=self.info.serial, firmware=self.info.firmware_version, link=self.url)
        self.log.info("device_connected", cables=self.info.cable_count,
                      max_load_kg=self.info.max_load_kg, protocol=self.info.protocol_version)
        self._tasks.append(loop.create_task(self._heartbeat(), name="device-heartbeat"))
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._shutdown(send_stop=True)

    async def _shutdown(self, *, send_stop: bool) -> None:
        if send_stop and self._load_on and self._closed is None:
            # A clean close leaves the unit unloaded now, not when the lease runs out.
            with contextlib.suppress(LinkClosed, OSError):
                await self._send(Stop(), self._next_seq())
        self._closing = True
        pending = [t for t in self._tasks if not t.done()]
        for _ in range(5):  # a cancel can be lost in a race (asyncio.wait_for in 3.11): repeat
            if not pending:
                break
            for t in pending:
                t.cancel()
            _, still = await asyncio.wait(pending, timeout=0.5)
            pending = list(still)
        for t in self._tasks:
            if t.done() and not t.cancelled():
                t.exception()  # retrieved: a task that died of a lost link says so in the log
        self._tasks.clear()
        if self.transport is not None:
            await self.transport.close()
        self._fail_waiters(LinkClosed(f"{self.url}: client closed"))

    # ---- the link's background work -------------------------------------------------------

    async def _heartbeat(self) -> None:
        period = 1.0 / self.heartbeat_hz
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self._closing:
            await self._send(Heartbeat(), self._next_seq())
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def _reader(self) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self.transport.read()
                for frame in self._decoder.feed(data):
                    self._count_seq(frame.seq)
                    self._dispatch(frame.msg, loop)
        except (LinkClosed, OSError) as e:
            self._closed = e
            self.log.warning("link_closed", reason=str(e))
            self._fail_waiters(e if isinstance(e, LinkClosed) else LinkClosed(str(e)))

    def _count_seq(self, seq: int) -> None:
        if self._last_device_seq is not None:
            gap = (seq - self._last_device_seq - 1) & 0xFF
            if gap < 128:  # a larger "gap" is a reordering or a device reboot, not loss
                self._health.device_frames_lost += gap
        self._last_device_seq = seq

    def _fail_waiters(self, exc: BaseException) -> None:
        for fut in list(self._pending.values()) + self._status_waiters:
            if not fut.done():
                fut.set_exception(exc)
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(exc)
        for s in self._telemetry_subs + self._event_subs:
            if s.queue.full():
                s.queue.get_nowait()
            s.queue.put_nowait(None)
