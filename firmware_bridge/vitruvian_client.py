"""`vitruvian://ADDRESS` (or `vitruvian://sim?seed=1`): a Vitruvian trainer with the same
surface as DeviceClient, so the demo, the session runner and the planner drive it unchanged.

The trainer has no lease, no ACKs and no telemetry stream, and a lost link may leave the weight
on (shared/vitruvian.md). So the driver:

- polls the sample characteristic back to back, one read in flight, each read given 1.5 s;
  5 timeouts in a row are a lost link, a read error only costs that read (polling goes on);
- never makes STOP wait behind a read: the read (or heartbeat) in flight is abandoned and the
  stop written at once; if it is not answered within 0.15 s (or the read had hung for 0.5 s),
  the link's one request slot is stuck behind that read (ATT answers requests in order; BlueZ
  keeps the request queued after we stop waiting), so the link is dropped and the stop goes out
  first on a new one. Where the trainer declares write-without-response, a stop is also sent
  that way (commands are not queued behind a request). Stop is written three times in all
  (stops were observed to be lost mid-set);
- on any link trouble reconnects and writes stop and reset *first*, confirms zero load from a
  sample and tells the person to let the handles down (a warning, an event, `notices`);
- ends the set when the trainer deloads by itself (its status word), saying why;
- learns where the handles rest per setup (overhead pulleys rest with cable out) and derives
  DOCKED / HANDLE_HELD from that;
- starts sets with a program frame: load per cable, working reps + 3 calibration reps.

The parts: the connection, its recovery and the client's lifecycle here; the commands and the
stop path firmware_bridge/vitruvian_commands.py; polling, the sample mapping and the streams
vitruvian_samples.py; the timings and what the person is told vitruvian_policy.py; the frames
themselves firmware_bridge/vitruvian.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog

from firmware_bridge import vitruvian as v
from firmware_bridge.client import CommandTimeout, LinkHealth
from firmware_bridge.messages import PROTOCOL_VERSION, DeviceInfo, EventCode, ModeBits
from firmware_bridge.transports.base import LinkClosed, LinkError
from firmware_bridge.vitruvian_commands import VitruvianCommands, unloaded
from firmware_bridge.vitruvian_policy import (
    CONNECT_TIMEOUT_S,
    DELOAD_REASON,
    HEARTBEAT_S,
    LET_DOWN,
    LET_DOWN_NOW,
    NOT_STOPPED,
    POLL_HZ,
    READ_ERROR_BACKOFF_S,
    READ_TIMEOUT_S,
    RECOVER_BUDGET_S,
    STOP_BEHIND_READ_S,
    STUCK_S,
    TIMEOUTS_LOST,
    WRITE_TIMEOUT_S,
    ZERO_CONFIRM_S,
    ZERO_KG,
    G,
)
from firmware_bridge.vitruvian_samples import VitruvianSamples

# Names that have always been importable from here.
__all__ = ["CONNECT_TIMEOUT_S", "DELOAD_REASON", "HEARTBEAT_S", "LET_DOWN", "LET_DOWN_NOW",
           "NOT_STOPPED", "POLL_HZ", "READ_ERROR_BACKOFF_S", "READ_TIMEOUT_S", "RECOVER_BUDGET_S",
           "STOP_BEHIND_READ_S", "STUCK_S", "TIMEOUTS_LOST", "WRITE_TIMEOUT_S", "ZERO_CONFIRM_S",
           "ZERO_KG", "G", "VitruvianClient"]

log = structlog.get_logger("firmware_bridge.vitruvian")


class VitruvianClient(VitruvianCommands, VitruvianSamples):
    # Every program starts with reps the trainer uses to calibrate the range: real movements,
    # not work. The session leaves them out of the set's count (and its target).
    warmup_reps = v.CALIBRATION_REPS

    def __init__(self, url: str):
        self.url = url
        self.info: DeviceInfo | None = None
        self.client: Any = None
        self.transport = self  # the surface the runner looks at (sim_unit for simulations)
        self.sim: Any = None  # the simulated trainer, for vitruvian://sim
        self.sim_unit: Any = None
        self._sim_backend: Any = None  # the bleak backend that reaches the simulated trainer
        self._serial = ""
        self._subs: list[asyncio.Queue] = []
        self._event_subs: list[asyncio.Queue] = []
        self._tasks: list[asyncio.Task] = []
        self._gatt = asyncio.Lock()  # one GATT operation in flight (overlaps lost rep counts)
        # The GATT call in flight: (task, what, since); reads and heartbeats are abandoned
        # by a stop, which must never wait behind them.
        self._inflight: tuple[asyncio.Task, str, float] | None = None
        self._urgent = 0  # stops waiting: no new read starts
        self._closed: BaseException | None = None
        self._closing = False
        self._recovery: asyncio.Task | None = None
        self._ready = False  # stop and reset written on the current link: polling may run
        self._timeouts_in_row = 0
        self._last_sample_at: float | None = None
        self.last_unit_us: int | None = None  # the newest sample (host-stamped)
        self.docked_at_us: int | None = None
        self._health = LinkHealth()
        self.rep_count: v.RepCount | None = None
        self.target_reps: int | None = None  # working reps the trainer is to count to
        self.program_mode = v.ProgramMode.OLD_SCHOOL  # the trainer's own load profile
        self.rest = (v.RestBaseline(), v.RestBaseline())  # where each cable rests
        self._velocity_checks = (v.VelocityCheck(), v.VelocityCheck())
        self._deloaded = False  # the trainer's deload bit, as last seen
        self.deload_reason: str | None = None  # why the trainer ended the last set itself
        self.notices: list[str] = []  # what the person must be told (also logged, as events)
        self._load_on = False  # a program frame was written and not stopped since
        self._last_half_kg = 0  # the load on the heavier cable in the newest sample
        self._seq = 0

    # ---- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> VitruvianClient:
        self.client = await self._connect()
        try:
            await self._safe_start()
        except BaseException:
            self._closing = True  # this disconnect is ours, not link trouble
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(), 3.0)
            raise
        self.info = DeviceInfo(PROTOCOL_VERSION, (0, 0, 0), self._serial, 2, 200, 1, 20, 60,
                               # SET_MODE is not taken (set_mode): its modes are program
                               # frames of its own, so only constant is offered to the host.
                               2000, int(ModeBits.CONSTANT),
                               (int(POLL_HZ),))
        self._tasks = [self._keep(self._poll, "vitruvian-poll"),
                       self._keep(self._heartbeat, "vitruvian-heartbeat")]
        log.info("device_connected", link=self.url, serial=self._serial,
                 mtu=getattr(self.client, "mtu_size", None))
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Close: a recovery in progress is let finish (it is what takes the weight off), then
        stop is written (this trainer keeps a load on without us) and the link dropped."""
        self._closing = True
        if self._recovering():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._recovery), RECOVER_BUDGET_S)
        await self._cancel_tasks()
        if self.client is not None and self.client.is_connected:
            with contextlib.suppress(Exception):
                await self._write(v.STOP, timeout_s=1.0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(), 3.0)
        self._fail(LinkClosed(f"{self.url}: closed"))

    def _keep(self, loop_fn: Callable[[], Any], name: str) -> asyncio.Task:
        """A background loop, started again if it ever ends while the client is open (a
        polling task that died of one read error left a driver "open" and blind)."""
        task = asyncio.get_running_loop().create_task(loop_fn(), name=name)

        def again(t: asyncio.Task) -> None:
            if self._closing or self._closed is not None:
                return
            error = None if t.cancelled() else t.exception()
            log.warning("vitruvian_task_restarted", link=self.url, task=name, error=repr(error))
            self._tasks = [x for x in self._tasks if x is not t]
            self._tasks.append(self._keep(loop_fn, name))

        task.add_done_callback(again)
        return task

    async def _cancel_tasks(self) -> None:
        """The poll and heartbeat loops (and a recovery) end with the client."""
        tasks = [t for t in (*self._tasks, self._recovery) if t is not None and not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        self._abandon_inflight()

    async def _connect(self) -> Any:
        """A connected BleakClient (simulated or real). No MTU is demanded: BlueZ reports 23."""
        from bleak import BleakClient

        parts = urlsplit(self.url)
        target = parts.netloc or parts.path.lstrip("/")
        if target == "sim":
            return await self._connect_sim(BleakClient, parse_qs(parts.query))
        from bleak import BleakScanner
        from bleak_retry_connector import establish_connection

        try:
            device = await BleakScanner.find_device_by_address(target, timeout=CONNECT_TIMEOUT_S)
        except Exception as e:
            raise LinkError(f"{self.url}: Bluetooth is not available here ({e})") from None
        if device is None:
            raise LinkError(f"{self.url}: no trainer {target!r} found in 10 s")
        self._serial = (device.name or target)[-12:]
        try:
            return await establish_connection(BleakClient, device, device.name or target,
                                              disconnected_callback=self._on_disconnect)
        except Exception as e:
            raise LinkError(f"{self.url}: cannot connect ({e})") from None

    async def _connect_sim(self, bleak_client: Any, query: dict[str, list[str]]) -> Any:
        """The simulated trainer for this URL (one per URL and loop), through the real
        BleakClient over a bumble link."""
        from firmware_bridge.simulators import simulator

        start_trainer = simulator("vitruvian", self.url)
        text = query.get("seed", ["1"])[-1]
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            raise LinkError(f"{self.url}: seed={text!r} is not a whole number (0-9)")
        if self.sim is None:
            try:
                self.sim, self._sim_backend = await start_trainer(self.url, int(text))
            except ValueError as e:
                raise LinkError(str(e)) from None
            self.sim_unit = getattr(self.sim, "unit", None)
        self._serial = "VFORMSIM"
        client = bleak_client(self.sim.address, backend=self._sim_backend,
                              disconnected_callback=self._on_disconnect,
                              timeout=CONNECT_TIMEOUT_S)
        try:
            await client.connect()
        except Exception as e:
            raise LinkError(f"{self.url}: cannot connect ({e})") from None
        return client

    async def _safe_start(self) -> None:
        """Stop and reset before anything else on every new link (a lost link may have left the
        weight on), then subscribe to the rep counts."""
        await self._write(v.STOP)
        await self._write(v.INIT)
        await self.client.start_notify(v.REPS_UUID, self._on_reps)
        self._ready = True

    def _on_disconnect(self, client: Any) -> None:
        """bleak's callback: our own disconnects are expected; any other is link trouble."""
        if self._closing or client is not self.client:
            return
        self._link_trouble("the trainer disconnected")

    def _fail(self, exc: BaseException) -> None:
        if self._closed is None:
            self._closed = exc
        for q in self._subs + self._event_subs:
            if q.full():
                q.get_nowait()
            q.put_nowait(None)

    # ---- link trouble ---------------------------------------------------------------------------

    def _link_trouble(self, why: str) -> None:
        """Start the recovery once: the trainer may still hold the weight."""
        if self._closing or self._closed is not None:
            return
        if self._recovering():
            return
        log.warning("vitruvian_link_trouble", link=self.url, reason=why)
        self._emit(EventCode.LEASE_EXPIRED)
        self._tell(LET_DOWN_NOW)
        self._recovery = asyncio.get_running_loop().create_task(
            self._recover(why), name="vitruvian-recover")

    async def _recover(self, why: str) -> None:
        """Reconnect, stop and reset first, confirm zero load, tell the person."""
        self._ready = False
        self._abandon_inflight()
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + RECOVER_BUDGET_S
        old, self.client = self.client, None
        self._gatt = asyncio.Lock()  # calls stuck on the old link do not hold up the new one
        with contextlib.suppress(Exception):
            await asyncio.wait_for(old.disconnect(), 2.0)
        delay = 0.2
        while True:
            try:
                self.client = await self._connect()
                await self._safe_start()
                break
            except Exception as e:  # any failure to connect: try again
                log.warning("vitruvian_reconnect_failed", link=self.url, error=str(e))
                if loop.time() + delay > give_up_at:
                    self._tell(NOT_STOPPED, error=True)
                    self._fail(LinkClosed(f"{self.url}: {why}; not reachable again"))
                    return
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
        self._timeouts_in_row = 0
        await self._confirm_zero()
        self._tell(LET_DOWN)

    async def _confirm_zero(self) -> None:
        """A sample with no load on either cable, stop written again if one is late."""
        for _ in range(3):
            try:
                await self.wait_for_sample(unloaded, ZERO_CONFIRM_S)
                self._emit(EventCode.STOPPED)
                return
            except CommandTimeout:
                with contextlib.suppress(CommandTimeout, LinkClosed):
                    await self._write(v.STOP)
        log.error("vitruvian_load_not_confirmed_off", link=self.url)

    def _tell(self, text: str, *, error: bool = False) -> None:
        """Something the person must know now: logged as a warning and kept in `notices` (the
        events that go with it are on `events()`)."""
        self.notices.append(text)
        (log.error if error else log.warning)("vitruvian_tell_person", link=self.url,
                                              message=text)
