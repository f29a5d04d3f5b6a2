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
    Event,
    EventCode,
    ModeBits,
    SampleStatus,
    Telemetry,
    sample_dtype,
)
from firmware_bridge.transports.base import LinkClosed, LinkError

log = structlog.get_logger("firmware_bridge.vitruvian")
POLL_HZ = 20.0
READ_TIMEOUT_S = 1.5  # per sample read (the maintained app's)
TIMEOUTS_LOST = 5  # read timeouts in a row: the link is lost
READ_ERROR_BACKOFF_S = 0.1  # after a failed read, before the next one
WRITE_TIMEOUT_S = 2.0
STUCK_S = 0.5  # a read pending this long will not answer: the link's request slot is stuck
STOP_BEHIND_READ_S = 0.15  # a stop sent after abandoning a read: answered by now, or the
# link's one request slot is stuck behind that read (the trainer answers requests in order;
# BlueZ keeps the request queued after we stop waiting) and only a new link gets it through
HEARTBEAT_S = 2.0
CONNECT_TIMEOUT_S = 10.0
RECOVER_BUDGET_S = 30.0  # reconnecting after link trouble, before giving up
ZERO_CONFIRM_S = 3.0  # a sample with no load after the recovery stop, within this
ZERO_KG = 0.25  # per cable: below this, no load (0.01 kg resolution, a little noise)
G = 9.80665
LET_DOWN_NOW = ("the link to the trainer was lost and the weight may still be on: let the "
                "handles down slowly; reconnecting to stop it")
LET_DOWN = ("the trainer has been reconnected and stopped (no load): let the handles down "
            "if you have not")
NOT_STOPPED = ("the link to the trainer was lost and it could not be reached again: the weight "
               "may still be on; let the handles down slowly and switch the trainer off")
DELOAD_REASON = "the trainer took the load off by itself (deload): the set is over"


class VitruvianClient:
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
        from sim.ble_unit import BumbleBackend
        from sim.vitruvian_unit import start_vitruvian_sim

        text = query.get("seed", ["1"])[-1]
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            raise LinkError(f"{self.url}: seed={text!r} is not a whole number (0-9)")
        if self.sim is None:
            try:
                self.sim = await start_vitruvian_sim(self.url, int(text))
            except ValueError as e:
                raise LinkError(str(e)) from None
            self.sim_unit = getattr(self.sim, "unit", None)
        self._serial = "VFORMSIM"
        client = bleak_client(self.sim.address, backend=BumbleBackend,
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
                await self.wait_for_sample(_unloaded, ZERO_CONFIRM_S)
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

    # ---- commands ----------------------------------------------------------------------------

    async def _gatt_op(self, call: Callable[[Any], Any], what: str, timeout_s: float,
                       lock_timeout_s: float | None) -> asyncio.Task | None:
        """One GATT operation at a time (overlapping ones lost rep notifications): wait for the
        slot (up to `lock_timeout_s`), then for the answer (up to `timeout_s`). The settled
        task (it may have failed, or been abandoned), or None on a timeout."""
        lock, client = self._gatt, self.client
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(lock_timeout_s):
                await lock.acquire()
        except TimeoutError:
            return None
        task = None
        try:
            if client is None or client is not self.client:
                raise LinkClosed(f"{self.url}: the link changed while waiting")
            task = _start(call(client))
            self._inflight = (task, what, loop.time())
            done = await _settled(task, timeout_s)
        finally:
            if self._inflight is not None and self._inflight[0] is task:
                self._inflight = None
            lock.release()
        return task if done else None

    async def _write(self, data: bytes, *, timeout_s: float = WRITE_TIMEOUT_S) -> None:
        """A command, written with response; `timeout_s` bounds the wait for the GATT slot and
        for the answer."""
        if self._closed is not None or self.client is None:
            raise LinkClosed(str(self._closed or f"{self.url}: not connected"))
        self._seq += 1
        what = "heartbeat" if data == v.HEARTBEAT else "command"
        task = await self._gatt_op(
            lambda c: c.write_gatt_char(v.COMMAND_UUID, data, response=True), what,
            timeout_s, timeout_s)
        if task is None:
            self._health.timeouts += 1
            raise CommandTimeout(f"{self.url}: no write response in {timeout_s:g} s")
        if task.cancelled():  # the stack dropped it: the link went away under it
            raise LinkClosed(f"{self.url}: write dropped with the link")
        if task.exception() is not None:
            raise LinkClosed(f"{self.url}: write failed ({task.exception()})")

    async def set_load(self, kg: float | Sequence[float], reps: int | None = None) -> tuple[
            float, ...]:
        """Start (or change) a set at `kg` per cable; `reps` (or `target_reps`) is the
        working-rep target, which the trainer itself ends the set at."""
        value = kg if isinstance(kg, int | float) else max(kg)
        kg_to_half_kg(value)  # the same 0.5 kg grid as every unit
        if value == 0:
            await self.stop(confirm=False)
            return (0.0, 0.0)
        self._require_link()
        frame = v.program_frame(float(value), reps or self.target_reps, self.program_mode)
        await self._write(frame)
        self._load_on = True
        self._deloaded = False
        self.deload_reason = None
        self._health.commands += 1
        return (float(value), float(value))

    async def stop(self, *, confirm: bool = True) -> None:
        """Stop, never behind a read; with `confirm`, return once a sample shows no load."""
        await self._await_recovery()  # a recovery writes stop first itself
        self._urgent += 1
        try:
            await self._first_stop()
            for _ in range(2):  # stops were observed to be lost mid-set: three in all
                await self._write(v.STOP)
        finally:
            self._urgent -= 1
        self._load_on = False
        if confirm:
            await self.wait_for_sample(_unloaded, timeout_s=5.0)

    async def _first_stop(self) -> None:
        """The first stop, never queued behind a read: the read in flight is abandoned; if the
        stop then gets no answer at once, the link's request slot is stuck behind that read,
        and the stop goes out first on a new link instead."""
        pending_s = self._abandon_inflight()
        suspect = pending_s is not None or self._timeouts_in_row > 0
        self._stop_without_response(suspect)
        try:
            if pending_s is not None and pending_s >= STUCK_S:
                raise CommandTimeout("the abandoned call had been pending too long")
            await self._write(v.STOP,
                              timeout_s=STOP_BEHIND_READ_S if suspect else WRITE_TIMEOUT_S)
        except CommandTimeout:
            if not suspect:
                raise
            self._link_trouble("a stop could not get past a sample read that never answered")
            await self._await_recovery()
            if self._closed is not None or not self._ready:
                raise LinkClosed(f"{self.url}: the trainer could not be reached to stop "
                                 "it") from None

    async def _await_recovery(self) -> None:
        """Wait (bounded) for a recovery in progress: it brings the link back, stopped."""
        if self._recovering():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._recovery), RECOVER_BUDGET_S)

    def _stop_without_response(self, suspect: bool) -> None:
        """With a read in flight, a write *request* would queue behind it in the stack (BlueZ
        and bumble keep one ATT request outstanding); a write *command* does not. Sent only if
        the trainer declares write-without-response on the command characteristic."""
        if not suspect or self.client is None:
            return
        with contextlib.suppress(Exception):
            char = self.client.services.get_characteristic(v.COMMAND_UUID)
            if char is not None and "write-without-response" in char.properties:
                _start(self.client.write_gatt_char(char, v.STOP, response=False))

    def _abandon_inflight(self) -> float | None:
        """Give up the read (or heartbeat) in flight, if any: how long it had been pending (a
        command pending past STUCK_S is reported too: the link is stuck behind it).
        We stop waiting for it; the stack may still hold its request (BlueZ does; bumble frees
        its slot on cancel), which is why the stop after it is given so little time."""
        if self._inflight is None:
            return None
        task, what, since = self._inflight
        pending_s = asyncio.get_running_loop().time() - since
        if task.done() or (what == "command" and pending_s < STUCK_S):
            return None
        if what != "command":  # a command (a program, a stop) is waited for, not abandoned
            task.cancel()
        return pending_s

    def _require_link(self) -> None:
        if self._closed is not None:
            raise LinkClosed(str(self._closed))
        if self._recovering():
            raise CommandTimeout(f"{self.url}: reconnecting to the trainer; no new load")

    async def set_mode(self, *args: Any, **kwargs: Any) -> None:
        raise CommandTimeout("modes are chosen in the program frame on this trainer")

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
                _retrieve)
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


def _unloaded(batch: Telemetry) -> bool:
    """No load on any cable in the batch's newest sample."""
    return not batch.samples["cable"]["load_half_kg"][-1].any()


def _start(coro: Any) -> asyncio.Task:
    """A GATT call as a task of its own: abandoning it (or the stack cancelling it when the
    link drops) never cancels the loop that made it."""
    task = asyncio.get_running_loop().create_task(coro)
    task.add_done_callback(_retrieve)
    return task


async def _settled(task: asyncio.Task, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for `task` (done, failed or cancelled: True); on timeout it is
    cancelled (False). If our caller is cancelled, so is the call."""
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
    return bool(done)


def _retrieve(task: asyncio.Task) -> None:
    """An abandoned GATT call's outcome is of no interest, but is taken (no asyncio noise)."""
    if not task.cancelled():
        task.exception()
