"""`vitruvian://ADDRESS` (or `vitruvian://sim?seed=1`): a Vitruvian trainer with the same
surface as DeviceClient, so the demo, the session runner and the planner drive it unchanged.

The trainer has no lease, no ACKs and no telemetry stream: the driver polls the sample
characteristic back to back (one read in flight), turns samples into telemetry batches, keeps the
trainer awake with a heartbeat every 2 s, starts sets with a program frame (load per cable; the
rep target with the calibration reps and the count-at-start rep added), and sends stop three
times (stops were observed to be lost mid-set).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import structlog

from firmware_bridge import vitruvian as v
from firmware_bridge.client import CommandTimeout, LinkHealth, first_batch, kg_to_half_kg
from firmware_bridge.messages import (
    PROTOCOL_VERSION,
    DeviceInfo,
    ModeBits,
    SampleStatus,
    Telemetry,
    sample_dtype,
)
from firmware_bridge.transports.base import LinkClosed, LinkError

log = structlog.get_logger("firmware_bridge.vitruvian")
POLL_HZ = 20.0


class VitruvianClient:
    def __init__(self, url: str):
        self.url = url
        self.info: DeviceInfo | None = None
        self.client: Any = None
        self.transport = self  # the surface the runner looks at (sim_unit for simulations)
        self.sim_unit: Any = None
        self._subs: list[asyncio.Queue] = []
        self._tasks: list[asyncio.Task] = []
        self._gatt = asyncio.Lock()
        self._closed: BaseException | None = None
        self._last_sample_at: float | None = None
        self.last_unit_us: int | None = None  # the newest sample (host-stamped)
        self.docked_at_us: int | None = None
        self._health = LinkHealth()
        self.rep_count: v.RepCount | None = None
        self.target_reps: int | None = None
        self.program_mode = v.ProgramMode.OLD_SCHOOL  # the trainer's own load profile
        self._seq = 0

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> VitruvianClient:
        from bleak import BleakClient

        parts = urlsplit(self.url)
        target = parts.netloc or parts.path.lstrip("/")
        if target == "sim":
            from sim.ble_unit import BumbleBackend
            from sim.vitruvian_unit import start_vitruvian_sim

            text = parse_qs(parts.query).get("seed", ["1"])[-1]
            if not (text.isascii() and text.isdigit() and len(text) <= 10):
                raise LinkError(f"{self.url}: seed={text!r} is not a whole number (0-9)")
            seed = int(text)
            sim = await start_vitruvian_sim(self.url, seed)
            self.sim_unit = sim.unit
            client = BleakClient(sim.address, backend=BumbleBackend,
                                 disconnected_callback=self._on_disconnect, timeout=10.0)
            try:
                await client.connect()
            except Exception as e:
                raise LinkError(f"{self.url}: cannot connect ({e})") from None
            serial = "VFORMSIM"
        else:
            from bleak import BleakScanner
            from bleak_retry_connector import establish_connection

            try:
                device = await BleakScanner.find_device_by_address(target, timeout=10.0)
            except Exception as e:
                raise LinkError(f"{self.url}: Bluetooth is not available here ({e})") from None
            if device is None:
                raise LinkError(f"{self.url}: no trainer {target!r} found in 10 s")
            client = await establish_connection(BleakClient, device, device.name or target,
                                                disconnected_callback=self._on_disconnect)
            serial = (device.name or target)[-12:]
        self.client = client
        if client.mtu_size < v.MIN_MTU:
            raise LinkError(f"{self.url}: MTU {client.mtu_size} < {v.MIN_MTU}")
        await client.start_notify(v.REPS_UUID, self._on_reps)
        await self._write(v.INIT)
        self.info = DeviceInfo(PROTOCOL_VERSION, (0, 0, 0), serial, 2, 200, 1, 20, 60, 2000,
                               int(ModeBits.CONSTANT | ModeBits.ECCENTRIC), (int(POLL_HZ),))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._poll(), name="vitruvian-poll"),
                       loop.create_task(self._heartbeat(), name="vitruvian-heartbeat")]
        log.info("device_connected", link=self.url, serial=serial)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1.0)
        if self.client is not None and self.client.is_connected:
            with contextlib.suppress(Exception):
                await self._write(v.STOP)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(), 3.0)
        self._fail(LinkClosed(f"{self.url}: closed"))

    def _on_disconnect(self, _client: Any) -> None:
        self._fail(LinkClosed(f"{self.url}: disconnected"))

    def _fail(self, exc: BaseException) -> None:
        if self._closed is None:
            self._closed = exc
        for q in self._subs:
            q.put_nowait(None)

    # ---- commands ----------------------------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        if self._closed is not None:
            raise LinkClosed(str(self._closed))
        async with self._gatt:  # one GATT operation in flight
            self._seq += 1
            try:
                await asyncio.wait_for(
                    self.client.write_gatt_char(v.COMMAND_UUID, data, response=True), 2.0)
            except TimeoutError:
                self._health.timeouts += 1
                raise CommandTimeout(f"{self.url}: no write response in 2 s") from None
            except Exception as e:
                raise LinkClosed(f"{self.url}: write failed ({e})") from e

    async def set_load(self, kg: float | Sequence[float], reps: int | None = None) -> tuple[
            float, ...]:
        """Start (or change) a set at `kg` per cable; `reps` is the working-rep target."""
        value = kg if isinstance(kg, int | float) else max(kg)
        kg_to_half_kg(value)  # the same 0.5 kg grid as every unit
        if value == 0:
            await self.stop(confirm=False)
            return (0.0, 0.0)
        await self._write(v.program_frame(float(value), reps or self.target_reps,
                                          self.program_mode))
        self._health.commands += 1
        return (float(value), float(value))

    async def stop(self, *, confirm: bool = True) -> None:
        for _ in range(3):  # stops were observed to be lost mid-set
            await self._write(v.STOP)
        if confirm:
            await self.wait_for_sample(lambda b: not b.samples["cable"]["load_half_kg"][-1].any(),
                                       timeout_s=5.0)

    async def set_mode(self, *args: Any, **kwargs: Any) -> None:
        raise CommandTimeout("modes are chosen in the program frame on this trainer")

    # ---- streams -------------------------------------------------------------------------------

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / POLL_HZ
        while self._closed is None:
            start = loop.time()
            async with self._gatt:  # a read in flight at a time: flooding caused drops
                data = await self.client.read_gatt_char(v.SAMPLE_UUID)
            s = v.parse_sample(bytes(data))
            if s is not None:
                self._last_sample_at = now = loop.time()
                batch = self._batch(s, now)
                self.last_unit_us = batch.t0_us
                if (batch.status[-1] & SampleStatus.DOCKED).all():
                    self.docked_at_us = batch.t0_us
                self._publish(batch)
            await asyncio.sleep(max(0.0, period - (loop.time() - start)))

    @staticmethod
    def _batch(s: v.Sample, now: float) -> Telemetry:
        rec = np.zeros(1, sample_dtype(2))
        for i in range(2):
            pos, vel = s.position_mm[i], s.velocity_mm_s[i]
            bits = SampleStatus.LEASE_ACTIVE
            if pos > 20 and vel > -400:
                bits |= SampleStatus.HANDLE_HELD
            if pos < 5:
                bits |= SampleStatus.DOCKED
            rec["cable"][0, i] = (max(0, round(pos * 10)), vel, round(s.load_kg[i] * 9.80665 * 10),
                                  round(s.load_kg[i] * 2), int(bits))
        return Telemetry(int(now * 1e6), 2, rec)

    async def _heartbeat(self) -> None:
        while self._closed is None:
            await asyncio.sleep(2.0)
            with contextlib.suppress(CommandTimeout):
                await self._write(v.HEARTBEAT)

    def _on_reps(self, _char: Any, data: bytearray) -> None:
        self.rep_count = v.parse_reps(bytes(data))

    def _publish(self, batch: Telemetry) -> None:
        for q in self._subs:
            if q.full():
                q.get_nowait()
                self._health.telemetry_dropped += 1
            q.put_nowait(batch)

    async def telemetry(self) -> AsyncIterator[Telemetry]:
        q: asyncio.Queue = asyncio.Queue(maxsize=512)
        self._subs.append(q)
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            self._subs.remove(q)

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
