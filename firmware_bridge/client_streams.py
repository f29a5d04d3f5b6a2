"""What arrives from the unit: each decoded message routed (telemetry, events, replies, status)
and telemetry and events fanned out to subscribers through bounded queues that drop the oldest
batch rather than ever block the reader. Kept apart from the command path and the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge import flight
from firmware_bridge.client_common import LinkHealth, first_batch
from firmware_bridge.codec import FrameDecoder
from firmware_bridge.messages import (
    Ack,
    DeviceInfo,
    Event,
    EventCode,
    Message,
    Nack,
    SampleStatus,
    Status,
    Telemetry,
)
from firmware_bridge.transports.base import LinkClosed
from firmware_bridge.unit_clock import UnitClock

_DOCKED = int(SampleStatus.DOCKED)  # a plain int: tested on every telemetry batch


@dataclass
class _Subscriber:
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=512))
    dropped: int = 0



class TelemetryStreams:
    """DeviceClient's incoming side (a mixin: the state is DeviceClient's, set in its
    __init__)."""

    url: str
    info: DeviceInfo | None
    status: Status | None
    log: Any
    unit_clock: UnitClock
    last_unit_us: int | None
    docked_at_us: int | None
    _decoder: FrameDecoder
    _loop: asyncio.AbstractEventLoop | None
    _pending: dict[int, asyncio.Future[Ack | Nack]]
    _hello: asyncio.Future[DeviceInfo] | None
    _status_waiters: list[asyncio.Future[Status]]
    _telemetry_subs: list[_Subscriber]
    _event_subs: list[_Subscriber]
    _last_sample_at: float | None
    _closed: BaseException | None
    _health: LinkHealth
    _gone_dropped: int
    _fail_waiters: Callable[[BaseException], None]

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
