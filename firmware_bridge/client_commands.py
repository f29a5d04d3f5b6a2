"""DeviceClient's command path: absolute commands sent with a sequence number, each waiting for
the ACK that carries the applied value (bounded retries, then a clear exception), plus the
HELLO handshake. Kept apart from the reader and the streams so the path a load change takes,
and every wait on it, reads in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from firmware_bridge.client_common import (
    CommandRejected,
    CommandTimeout,
    DeviceError,
    LinkHealth,
    kg_to_half_kg,
)
from firmware_bridge.codec import encode, max_samples_per_frame
from firmware_bridge.messages import (
    Ack,
    ClearEmergencyStop,
    ConfigureTelemetry,
    DeviceInfo,
    EmergencyStop,
    GetStatus,
    Hello,
    Message,
    Mode,
    Nack,
    SetLoad,
    SetMode,
    Status,
    Stop,
)
from firmware_bridge.transports.base import LinkClosed, Transport


class CommandPath:
    """DeviceClient's commands (a mixin: the state is DeviceClient's, set in its __init__)."""

    url: str
    ack_timeout_s: float
    retries: int
    transport: Transport | None
    info: DeviceInfo | None
    log: Any
    _seq: int
    _pending: dict[int, asyncio.Future[Ack | Nack]]
    _hello: asyncio.Future[DeviceInfo] | None
    _status_waiters: list[asyncio.Future[Status]]
    _closed: BaseException | None
    _load_on: bool
    _health: LinkHealth
    wait_for_sample: Callable[..., Any]

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
