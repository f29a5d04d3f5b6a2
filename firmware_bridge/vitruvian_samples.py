"""The vitruvian:// driver's view of the trainer: samples polled back to back (one read in
flight), each mapped to a telemetry batch of our protocol (DOCKED and HANDLE_HELD from the
learned rest positions, SAFETY_DELOAD from the trainer's own deload bits), rep counts from its
notifications, the heartbeat, and the telemetry and event streams the session reads.

Mixed into VitruvianClient (firmware_bridge/vitruvian_client.py); apart so that what the
driver reads, and how it translates it, reads without the connection and command handling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import structlog

from firmware_bridge import vitruvian as v
from firmware_bridge.client import CommandTimeout, LinkHealth, first_batch
from firmware_bridge.messages import Event, EventCode, SampleStatus, Telemetry, sample_dtype
from firmware_bridge.transports.base import LinkClosed
from firmware_bridge.vitruvian_commands import retrieve
from firmware_bridge.vitruvian_policy import (
    DELOAD_REASON,
    HEARTBEAT_S,
    POLL_HZ,
    READ_ERROR_BACKOFF_S,
    READ_TIMEOUT_S,
    TIMEOUTS_LOST,
    ZERO_KG,
    G,
)

log = structlog.get_logger("firmware_bridge.vitruvian")


class VitruvianSamples:
    """VitruvianClient's polling, sample mapping and streams (mixed into VitruvianClient)."""

    # ---- polling -------------------------------------------------------------------------------

    async def _poll(self) -> None:
        """Read samples back to back, for as long as the client is open. No error ends this
        loop: a failed read is logged and polling goes on; only 5 timeouts in a row (or a
        disconnect) are a lost link, which the recovery handles while polling waits."""
        loop = asyncio.get_running_loop()
        period = 1.0 / POLL_HZ
        while self._closed is None:
            start = loop.time()
            if not self._may_read():
                await asyncio.sleep(0.01)
                continue
            try:
                data = await self._read_sample()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._health.bad_frames += 1
                log.warning("vitruvian_read_failed", link=self.url, error=repr(e))
                await asyncio.sleep(READ_ERROR_BACKOFF_S)
                continue
            if data is not None:
                self._on_sample(data, loop.time())
            await asyncio.sleep(max(0.0, period - (loop.time() - start)))

    def _may_read(self) -> bool:
        """Reads wait for a new link's stop and reset, and for a stop in progress (which they
        must never hold up), except while a recovery needs samples to confirm zero load."""
        return self._ready and (not self._urgent or self._recovering())

    def _recovering(self) -> bool:
        return self._recovery is not None and not self._recovery.done()

    async def _read_sample(self) -> bytes | None:
        """One sample read, given READ_TIMEOUT_S; None if it timed out or STOP abandoned it."""
        if not self._may_read():
            return None
        task = await self._gatt_op(lambda c: c.read_gatt_char(v.SAMPLE_UUID), "read",
                                   READ_TIMEOUT_S, None)
        if task is None:
            self._on_timeout()
            return None
        if task.cancelled():
            return None  # abandoned for a stop
        data = bytes(task.result())  # a read error is raised here
        self._timeouts_in_row = 0
        return data

    def _on_timeout(self) -> None:
        self._timeouts_in_row += 1
        self._health.timeouts += 1
        log.warning("vitruvian_read_timeout", link=self.url, in_row=self._timeouts_in_row)
        if self._timeouts_in_row >= TIMEOUTS_LOST:
            self._link_trouble(f"{TIMEOUTS_LOST} sample reads in a row went unanswered")

    def _on_sample(self, data: bytes, now: float) -> None:
        s = v.parse_sample(data)
        if s is None:
            self._health.bad_frames += 1
            return
        self._last_sample_at = now
        self._health.frames_received += 1
        self._last_half_kg = round(max(s.load_kg) * 2)
        self._learn(s, now)
        self._watch_status(s)
        batch = self._batch(s, now)
        self.last_unit_us = batch.t0_us
        if all(int(x) & SampleStatus.DOCKED for x in batch.status[-1]):
            self.docked_at_us = batch.t0_us
        self._publish(batch)

    def _learn(self, s: v.Sample, now: float) -> None:
        """The rest baselines, and the velocity unit checked against the positions."""
        for i in range(2):
            pos, vel = s.position_mm[i], s.velocity_mm_s[i]
            self.rest[i].update(now, pos, vel, loaded=s.load_kg[i] >= ZERO_KG)
            if self._velocity_checks[i].update(now, pos, vel):
                log.warning("vitruvian_velocity_unit_suspect", link=self.url, cable=i,
                            velocity_mm_s=vel, note="reported velocity and the position's "
                            "rate of change disagree 10x: is it still 0.1 mm/s?")

    def _watch_status(self, s: v.Sample) -> None:
        """The trainer's deload bits (warning, then occurred): a deload it makes by itself
        ends the set, and says why, at the first of them (the load is already coming off at
        the warning, and a stop at the end of the set clears the other)."""
        deloading = s.deloaded or s.deload_warning
        if deloading and not self._deloaded and self.deload_reason is None:
            self.deload_reason = DELOAD_REASON
            log.warning("vitruvian_deloaded", link=self.url, reason=DELOAD_REASON,
                        status=f"0x{int(s.status or 0):04x}")
            self._emit(EventCode.DELOADED)
            self._tell(DELOAD_REASON)
            asyncio.get_running_loop().create_task(self._stop_after_deload()).add_done_callback(
                retrieve)
        self._deloaded = deloading

    async def _stop_after_deload(self) -> None:
        """Make the trainer's own deload final: stop and reset, as the apps end a set."""
        with contextlib.suppress(CommandTimeout, LinkClosed):
            await self.stop(confirm=False)
            await self._write(v.INIT)

    def _batch(self, s: v.Sample, now: float) -> Telemetry:
        """One sample as a telemetry batch: DOCKED / HANDLE_HELD from the learned rest
        positions; while the trainer says it deloaded, no tension (so the set ends as the
        handles released, the way the session already ends sets)."""
        rec = np.zeros(1, sample_dtype(2))
        for i in range(2):
            pos, vel, load = s.position_mm[i], s.velocity_mm_s[i], s.load_kg[i]
            bits = SampleStatus.LEASE_ACTIVE
            if self.rest[i].held(pos, vel):
                bits |= SampleStatus.HANDLE_HELD
            if self.rest[i].docked(pos):
                bits |= SampleStatus.DOCKED
            if s.deloaded or s.deload_warning:
                bits |= SampleStatus.SAFETY_DELOAD
                load = 0.0
            rec["cable"][0, i] = (min(0xFFFF, max(0, round(pos * 10))),
                                  max(-32768, min(32767, round(vel))),
                                  min(0xFFFF, round(load * G * 10)), round(load * 2), int(bits))
        return Telemetry(int(now * 1e6), 2, rec)

    async def _heartbeat(self) -> None:
        while self._closed is None:
            await asyncio.sleep(HEARTBEAT_S)
            if self._recovering():
                continue
            with contextlib.suppress(CommandTimeout, LinkClosed):
                await self._write(v.HEARTBEAT)

    def _on_reps(self, _char: Any, data: bytearray) -> None:
        count = v.parse_reps(bytes(data))
        if count is not None:
            self.rep_count = count

    # ---- streams -------------------------------------------------------------------------------

    def _emit(self, code: EventCode) -> None:
        """An event on `events()`, as DeviceClient's units send them."""
        ev = Event(int(asyncio.get_running_loop().time() * 1e6), int(code), 0xFF,
                   self._last_half_kg)
        self._publish_to(self._event_subs, ev)

    def _publish(self, batch: Telemetry) -> None:
        self._publish_to(self._subs, batch)

    def _publish_to(self, subs: list[asyncio.Queue], item: object) -> None:
        for q in subs:
            if q.full():
                q.get_nowait()
                self._health.telemetry_dropped += 1
            q.put_nowait(item)

    async def _subscribe(self, subs: list[asyncio.Queue]) -> AsyncIterator[Any]:
        q: asyncio.Queue = asyncio.Queue(maxsize=512)
        subs.append(q)
        try:
            while self._closed is None or not q.empty():
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            subs.remove(q)

    async def telemetry(self) -> AsyncIterator[Telemetry]:
        """Every sample from now on (one per batch), until the client closes."""
        async for item in self._subscribe(self._subs):
            yield item

    async def events(self) -> AsyncIterator[Event]:
        """What the trainer did by itself (DELOADED) and what the link did (LEASE_EXPIRED when
        it was lost, STOPPED once the reconnected trainer showed no load)."""
        async for item in self._subscribe(self._event_subs):
            yield item

    async def wait_for_sample(self, pred: Callable[[Telemetry], bool],
                              timeout_s: float) -> Telemetry:
        return await first_batch(self.telemetry(), pred, timeout_s, self.url)

    def sample_age_s(self, batch: Telemetry) -> float | None:
        """This trainer's samples carry no clock of their own: they are stamped with the host's
        (the loop's) time as they are read, so their age is the host's."""
        return asyncio.get_running_loop().time() - batch.t0_us / 1e6

    @property
    def health(self) -> LinkHealth:
        if self._last_sample_at is not None:
            self._health.last_sample_age_s = (asyncio.get_running_loop().time()
                                              - self._last_sample_at)
        return self._health
