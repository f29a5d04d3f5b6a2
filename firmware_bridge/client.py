"""DeviceClient: the host side of a unit, used as `async with DeviceClient(url) as dev`.

It owns the link's background work (reader, heartbeat) for as long as the `async with` lasts,
sends absolute commands with a sequence number and waits for the ACK carrying the applied
value (bounded retries, then a clear exception), and fans telemetry out to subscribers through
bounded queues that drop the oldest batch rather than ever block the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import structlog

from firmware_bridge import flight, wirelog
from firmware_bridge.codec import FrameDecoder, encode, max_samples_per_frame
from firmware_bridge.links import open_link
from firmware_bridge.messages import (
    Ack,
    ClearEmergencyStop,
    ConfigureTelemetry,
    DeviceInfo,
    EmergencyStop,
    ErrorCode,
    Event,
    EventCode,
    GetStatus,
    Heartbeat,
    Hello,
    Message,
    Mode,
    Nack,
    SampleStatus,
    SetLoad,
    SetMode,
    Status,
    Stop,
    Telemetry,
)
from firmware_bridge.transports.base import LinkClosed, Transport
from firmware_bridge.unit_clock import UnitClock

log = structlog.get_logger("firmware_bridge.client")
_DOCKED = int(SampleStatus.DOCKED)  # a plain int: tested on every telemetry batch


class DeviceError(Exception):
    """Something the unit or the link did that the caller must handle."""


class CommandTimeout(DeviceError):
    pass


class CommandRejected(DeviceError):
    def __init__(self, command: str, error: int, detail: int):
        self.command = command
        self.error = error
        self.detail = detail
        try:
            name = ErrorCode(error).name
        except ValueError:
            name = f"error {error}"
        hint = ""
        if error == ErrorCode.LOAD_ABOVE_MAX:
            hint = f": the unit's maximum is {detail / 2:g} kg per cable"
        elif error == ErrorCode.BAD_ARGUMENT and command == "SET_LOAD":
            hint = f": the unit has {detail} cable(s)"
        elif error == ErrorCode.RATE_UNSUPPORTED:
            hint = f": at most {detail} Hz"
        super().__init__(f"{command} refused by the unit: {name}{hint}")


class LoadNotOnGrid(ValueError):
    pass


@dataclass
class LinkHealth:
    """How the link is doing, for the safety supervisor and for support."""

    last_sample_age_s: float | None = None  # None until the first telemetry sample
    frames_received: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0
    device_frames_lost: int = 0  # gaps in the unit's sequence numbers
    commands: int = 0
    retries: int = 0
    timeouts: int = 0
    telemetry_dropped: int = 0  # batches a slow subscriber never saw


@dataclass
class _Subscriber:
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=512))
    dropped: int = 0


async def first_batch(stream: AsyncIterator[Telemetry], pred: Callable[[Telemetry], bool],
                      timeout_s: float, url: str) -> Telemetry:
    """The first batch of `stream` that satisfies `pred` within `timeout_s`."""
    async def first() -> Telemetry:
        async for batch in stream:
            if pred(batch):
                return batch
        raise LinkClosed(f"{url}: closed while waiting for telemetry")

    try:
        return await asyncio.wait_for(first(), timeout_s)
    except TimeoutError:
        raise CommandTimeout(f"no confirming telemetry within {timeout_s:.1f} s") from None


def kg_to_half_kg(kg: float) -> int:
    """Wire units are 0.5 kg steps; a load that is not a whole number of steps is refused."""
    steps = kg * 2
    if steps != int(steps) or steps < 0:
        raise LoadNotOnGrid(f"{kg} kg is not a non-negative multiple of 0.5 kg")
    return int(steps)


class DeviceClient:
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

    # ---- commands ---------------------------------------------------------------------------

    async def set_load(self, kg: float | Sequence[float]) -> tuple[float, ...]:
        """Absolute target load in kg, one value for every cable or one per cable.

        Returns the load the unit accepted per cable (from its ACK). The caller is expected to
        have checked the value against the load rules; the unit refuses anything above its max.
        """
        info = self._require_info()
        values = [kg] * info.cable_count if isinstance(kg, int | float) else list(kg)
        steps = tuple(kg_to_half_kg(v) for v in values)
        try:
            ack = await self._command(SetLoad(steps))
        except CommandTimeout:
            # Safe state: ask once more for zero without waiting; the lease does the rest.
            with contextlib.suppress(LinkClosed, OSError):
                await self._send(Stop(), self._next_seq())
            raise
        self._load_on = any(ack.values)
        if ack.values != steps:
            self.log.warning("load_differs", requested_half_kg=steps, applied_half_kg=ack.values)
        self.log.info("load_set", applied_kg=[v / 2 for v in ack.values])
        return tuple(v / 2 for v in ack.values)

    async def stop(self, *, confirm: bool = True) -> None:
        """Ramp to zero; with `confirm`, return only once telemetry shows no load applied."""
        await self._command(Stop())
        self._load_on = False
        self.log.info("stop_sent")
        if confirm:
            info = self._require_info()
            budget = info.max_load_half_kg / max(info.ramp_down_half_kg_per_s, 1) + 1.0
            await self.wait_for_sample(lambda b: not b.samples["cable"]["load_half_kg"][-1].any(),
                                       timeout_s=budget)

    async def set_mode(self, mode: Mode, p1: int = 0, p2: int = 0, p3: int = 0) -> None:
        """A load mode the unit carries out itself (see Mode for the parameters)."""
        ack = await self._command(SetMode(int(mode), p1, p2, p3))
        self.log.info("mode_set", mode=Mode(mode).name.lower(), values=ack.values)

    async def emergency_stop(self) -> None:
        await self._command(EmergencyStop())
        self._load_on = False
        self.log.warning("emergency_stop_sent")

    async def clear_emergency_stop(self) -> None:
        await self._command(ClearEmergencyStop())
        self.log.info("emergency_stop_cleared")

    async def configure_telemetry(self, rate_hz: int, batch: int) -> None:
        info = self._require_info()
        batch = min(batch, max_samples_per_frame(info.cable_count))
        await self._command(ConfigureTelemetry(rate_hz, batch))

    async def get_status(self) -> Status:
        fut = asyncio.get_running_loop().create_future()
        self._status_waiters.append(fut)
        await self._send(GetStatus(), self._next_seq())
        return await asyncio.wait_for(fut, self.ack_timeout_s * (self.retries + 1))

    # ---- streams ----------------------------------------------------------------------------

    async def telemetry(self) -> AsyncIterator[Telemetry]:
        """Every telemetry batch from now on, until the link closes."""
        async for item in self._subscribe(self._telemetry_subs):
            yield item

    async def events(self) -> AsyncIterator[Event]:
        async for item in self._subscribe(self._event_subs):
            yield item

    async def wait_for_sample(self, pred: Callable[[Telemetry], bool],
                              timeout_s: float) -> Telemetry:
        """The first batch from now on that satisfies `pred`, or CommandTimeout."""
        return await first_batch(self.telemetry(), pred, timeout_s, self.url)

    def sample_age_s(self, batch: Telemetry) -> float | None:
        """How old the newest sample of a batch is, by the unit's clock mapped onto the host's
        (None before any telemetry): queued samples from before a stall show their age."""
        if self._loop is None or not len(batch.samples):
            return None
        return self.unit_clock.age_s(batch.t0_us + int(batch.samples["dt_us"][-1]),
                                     self._loop.time())

    @property
    def health(self) -> LinkHealth:
        h = self._health
        st = self._decoder.stats
        h.bad_frames, h.skipped_bytes = st.bad_frames, st.skipped_bytes
        h.frames_received = st.frames
        h.telemetry_dropped = sum(s.dropped for s in self._telemetry_subs) + self._gone_dropped
        if self._last_sample_at is not None and self._loop is not None:
            # The client's own loop: a surface on another thread (the panel) reads this too.
            h.last_sample_age_s = self._loop.time() - self._last_sample_at
        return h

    # ---- internals --------------------------------------------------------------------------

    def _require_info(self) -> DeviceInfo:
        if self.info is None:
            raise DeviceError("not connected: use `async with DeviceClient(url) as dev`")
        return self.info

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    async def _send(self, msg: Message, seq: int) -> None:
        if self._closed is not None:
            raise LinkClosed(f"{self.url}: link is down ({self._closed})")
        assert self.transport is not None
        await self.transport.send(encode(msg, seq))

    async def _handshake(self) -> DeviceInfo:
        loop = asyncio.get_running_loop()
        for attempt in range(self.retries + 1):
            self._hello = loop.create_future()
            await self._send(Hello(), self._next_seq())
            try:
                return await asyncio.wait_for(asyncio.shield(self._hello), self.ack_timeout_s)
            except TimeoutError:
                self._health.retries += attempt < self.retries
        self._health.timeouts += 1
        raise CommandTimeout(
            f"{self.url}: no answer to HELLO after {self.retries + 1} attempts "
            f"({self.ack_timeout_s * 1000:.0f} ms each): is a unit on this link?")

    async def _command(self, msg: Message) -> Ack:
        seq = self._next_seq()
        fut: asyncio.Future[Ack | Nack] = asyncio.get_running_loop().create_future()
        self._pending[seq] = fut
        self._health.commands += 1
        name = msg.TYPE.name
        try:
            for attempt in range(self.retries + 1):
                if attempt:
                    self._health.retries += 1
                    self.log.warning("command_retry", command=name, seq=seq, attempt=attempt)
                # The same seq on every attempt: the command is absolute, so a late ACK of an
                # earlier attempt confirms it just as well.
                await self._send(msg, seq)
                try:
                    reply = await asyncio.wait_for(asyncio.shield(fut), self.ack_timeout_s)
                except TimeoutError:
                    continue
                if isinstance(reply, Nack):
                    raise CommandRejected(name, reply.error, reply.detail)
                return reply
            self._health.timeouts += 1
            self.log.error("command_timeout", command=name, seq=seq, attempts=self.retries + 1)
            raise CommandTimeout(
                f"{name}: no ACK from the unit after {self.retries + 1} attempts "
                f"({self.ack_timeout_s * 1000:.0f} ms each) on {self.url}")
        finally:
            self._pending.pop(seq, None)

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

    def _dispatch(self, msg: Message, loop: asyncio.AbstractEventLoop) -> None:
        if isinstance(msg, Telemetry):
            self._last_sample_at = now = loop.time()
            if len(msg.samples):
                t_us = self.last_unit_us = int(msg.t_us[-1])
                self.unit_clock.note(now, t_us)
                if all(s & _DOCKED for s in msg.status[-1].tolist()):
                    self.docked_at_us = t_us
            self._publish(self._telemetry_subs, msg)
            rec = flight.recorder()
            if rec is not None:
                rec.note_telemetry(msg)
        elif isinstance(msg, Ack | Nack):
            fut = self._pending.get(msg.ref_seq)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif isinstance(msg, DeviceInfo):
            if self._hello is not None and not self._hello.done():
                self._hello.set_result(msg)
        elif isinstance(msg, Status):
            self.status = msg
            for w in self._status_waiters:
                if not w.done():
                    w.set_result(msg)
            self._status_waiters.clear()
        elif isinstance(msg, Event):
            try:
                name = EventCode(msg.code).name
            except ValueError:
                name = f"event_{msg.code}"
            self.log.info("device_event", event_code=name, cable=msg.cable, value=msg.value,
                          device_t_us=msg.t_us)
            self._publish(self._event_subs, msg)
            if msg.code == EventCode.BOOT:
                self.unit_clock.reset()
            if msg.code == EventCode.BOOT and self.info is not None and self._closed is None:
                # The unit restarted under us: its lease and load are gone; so is this session.
                self._closed = LinkClosed(f"{self.url}: the unit rebooted")
                self.log.warning("device_rebooted")
                self._fail_waiters(self._closed)

    @staticmethod
    def _publish(subs: list[_Subscriber], item: object) -> None:
        for s in subs:
            if s.queue.full():
                s.queue.get_nowait()
                s.dropped += 1
            s.queue.put_nowait(item)

    async def _subscribe(self, subs: list[_Subscriber]) -> AsyncIterator:
        sub = _Subscriber()
        subs.append(sub)
        try:
            while True:
                if self._closed is not None and sub.queue.empty():
                    return
                item = await sub.queue.get()
                if item is None:
                    return
                yield item
        finally:
            subs.remove(sub)
            self._gone_dropped += sub.dropped

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

