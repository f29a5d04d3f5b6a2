"""The session runner: today's prescription, set by set, on a unit, with the person in the loop.

Per set: armed (waiting for the handles) -> active (the load is applied only once the handles are
taken up, and stays on through the final rep) -> complete (handles released) -> the set is
committed to the history -> rest -> next. After each exercise, and at the end, a pain check-in;
a red flag stops everything and is recorded. Every load goes through the safety supervisor.
If the link is lost the set so far is kept, the runner reconnects with backoff, and the session
waits for the person to re-arm before any load comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import structlog

from controller.handles import docked, wait_handles_up
from controller.history import History, SetRecord, now
from controller.models import CheckIn, PlanFile, RedFlag, SessionLog, SetLog
from controller.planner import ExercisePlan, next_session
from controller.rep_report import rep_line
from controller.reps import CableRepEngine
from controller.safety import DEGRADED_S, Supervisor
from firmware_bridge.client import CommandTimeout, DeviceClient
from firmware_bridge.messages import Telemetry
from firmware_bridge.transports.base import LinkClosed, LinkError

log = structlog.get_logger("controller.session")

RED_FLAG = "red_flag"
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


class LinkLost(LinkClosed):
    pass


class SafetyStop(Exception):
    """The signal from the unit cannot be trusted: the session ends (the set is kept)."""


class RunnerIO(Protocol):
    """What the runner needs from the person: the terminal now, the panel later."""

    def say(self, line: str) -> None: ...

    async def ask_pain(self, question: str) -> int | str: ...  # 0-10, or RED_FLAG

    async def ask_number(self, question: str, lo: int, hi: int) -> int | None: ...

    async def ask_yes(self, question: str) -> bool: ...


@dataclass
class SessionResult:
    session_id: int
    status: str
    sets: list[SetRecord] = field(default_factory=list)
    log: SessionLog | None = None


class SessionRunner:
    def __init__(self, connect: Callable[[], DeviceClient], plan: PlanFile, history: History,
                 io: RunnerIO, today: dt.date,
                 brief: Callable[[DeviceClient, ExercisePlan, float], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.connect = connect
        self.plan = plan
        self.history = history
        self.io = io
        self.today = today
        self.brief = brief  # tells a simulated person what the panel would show
        self.sleep = sleep
        self.dev: DeviceClient | None = None
        self.session_id = 0
        self.supervisor = Supervisor(plan.program.unit_max_kg, on_event=self._safety_event)
        self.references: dict[str, float | None] = {}
        self._deload_task: asyncio.Task | None = None
        # What the set in progress has done so far, built only if the link is lost.
        self._partial: Callable[[str], SetRecord] | None = None

    def _safety_event(self, kind: str, cause: str, **data: object) -> None:
        dev = self.dev
        load = data.pop("load_kg", self.supervisor.applied_kg)
        self.history.record_safety_event(
            self.session_id or None, kind, cause, load_kg=load,  # type: ignore[arg-type]
            seq=dev._seq if dev else None,  # the last command's sequence number
            firmware=dev.info.firmware_version if dev and dev.info else None, **data)

    # ---- the session --------------------------------------------------------------------------

    async def run(self) -> SessionResult:
        rx = next_session(self.plan, self.today)
        if rx.status == "paused":
            self.io.say(f"The program is paused. {rx.advice}")
            return SessionResult(0, "paused")
        await self._open()
        assert self.dev is not None and self.dev.info is not None
        self.session_id = self.history.start_session(
            self.today, profile=self.plan.profile.kind.value, device_serial=self.dev.info.serial,
            firmware=self.dev.info.firmware_version)
        structlog.contextvars.bind_contextvars(history_session=self.session_id)
        self.history.record_decisions(self.session_id, [i.as_dict() for i in rx.items])
        result = SessionResult(self.session_id, "finished")
        logs: list[SetLog] = []
        flags: list[RedFlag] = []
        pains: list[int] = []
        interrupted = True
        try:
            for item in rx.items:
                self.io.say(f"\n{item.exercise}: " + (
                    "assessment, one set at each of " + ", ".join(
                        f"{w:.1f}" for w in item.assessment_loads_kg) + " kg"
                    if item.kind == "assessment" else
                    f"{item.sets} x {item.target_reps} at {item.load_kg:.1f} kg"))
                for r in item.reasons:
                    self.io.say(f"  [{r.rule}] {r.text}")
                loads = item.assessment_loads_kg or (item.load_kg,) * item.sets
                for k, load in enumerate(loads, 1):
                    try:
                        record = await self._set_with_reconnect(item, k, load)
                    except SafetyStop as stop:
                        record = stop.args[0]
                        result.status = "stopped"
                    result.sets.append(record)
                    logs.append(self._set_log(item, record))
                    if result.status == "stopped":
                        break
                    if k < len(loads):
                        self.io.say(f"  rest {item.rest_s} s")
                        await self.sleep(item.rest_s)
                if result.status == "stopped":
                    self.io.say("The session was stopped for safety: the unit's signal could "
                                "not be trusted. Check the unit before the next session.")
                    break
                answer = await self.io.ask_pain(f"Pain during {item.exercise} (0-10, or ! for "
                                                "a red flag)")
                if answer == RED_FLAG:
                    flags.append(RedFlag.SNAP_OR_TEAR)
                    result.status = "red_flag"
                    break
                assert isinstance(answer, int)
                pains.append(answer)
                self.history.record_checkin(self.session_id, item.exercise, answer)
            interrupted = False
        finally:
            await self._close()  # a clean close sends STOP: the unit is unloaded at once
            if interrupted:
                self.history.finish_session(self.session_id, status="stopped",
                                            pain_during=max(pains, default=None),
                                            red_flags=[], notes="interrupted")
        overall = max(pains, default=0)
        confidence = more = None
        if result.status == "red_flag":
            self.io.say("Red flag recorded: the program is paused. Stop training and see a "
                        "doctor or physiotherapist before you train again.")
            self.supervisor.event("red_flag", "red flag reported by the user")
        else:
            overall = await self.io.ask_pain("Pain during the session overall (0-10)")
            overall = 0 if overall == RED_FLAG else int(overall)
            self.history.record_checkin(self.session_id, None, overall)
            confidence = await self.io.ask_number("How confident does moving feel (0-10)?",
                                                  0, 10)
            more = await self.io.ask_yes("Do you feel more capable than a few weeks ago?")
        self.history.finish_session(self.session_id, status=result.status,
                                    pain_during=overall, red_flags=[f.value for f in flags],
                                    confidence=confidence, more_capable=more)
        result.log = SessionLog(date=self.today, sets=logs, pain_during=min(10, overall),
                                red_flags=flags,
                                checkin=CheckIn(confidence=confidence, more_capable=more))
        return result

    # ---- connection -----------------------------------------------------------------------------

    async def _open(self) -> None:
        dev = self.connect()
        await dev.__aenter__()
        self.dev = dev

    async def _close(self) -> None:
        if self.dev is not None:
            with contextlib.suppress(Exception):
                await self.dev.__aexit__(None, None, None)
            self.dev = None

    async def _reconnect(self) -> None:
        await self._close()
        for attempt, delay in enumerate(BACKOFF_S * 3, 1):
            self.io.say(f"  link lost: reconnecting (attempt {attempt})")
            await self.sleep(delay)
            try:
                await self._open()
                self.supervisor.event("reconnected", f"link back after {attempt} attempt(s)")
                return
            except (LinkError, LinkClosed, CommandTimeout, OSError) as e:
                log.warning("reconnect_failed", attempt=attempt, error=str(e))
        raise LinkLost("the unit could not be reached again")

    # ---- one set ----------------------------------------------------------------------------

    async def _set_with_reconnect(self, item: ExercisePlan, k: int, load: float) -> SetRecord:
        try:
            return await self._run_set(item, k, load)
        except (LinkClosed, LinkLost, CommandTimeout) as e:
            assert self._partial is not None
            record = self._partial("link lost")
            self.supervisor.applied_kg = 0.0
            self.supervisor.disarm(f"link lost during the set: {e}")
            self.supervisor.event("link_lost", str(e), exercise=item.exercise, set_index=k)
            self.history.record_set(self.session_id, record)
            self.io.say(f"  the link was lost: the {record.full_reps} rep(s) done are kept; "
                        "the unit deloads by itself")
            await self._reconnect()
            if not await self.io.ask_yes("Resume the session? The load stays off until you "
                                         "take up the handles again"):
                raise
            return record

    async def _run_set(self, item: ExercisePlan, k: int, load: float) -> SetRecord:
        dev = self.dev
        assert dev is not None and dev.info is not None
        target = 10 if item.kind == "assessment" else item.target_reps
        engine = CableRepEngine(dev.info.cable_count,
                                reference_mm=self.references.get(item.exercise))
        started = now()

        def record(ended_by: str | None) -> SetRecord:
            s = engine.combined.summary()
            return SetRecord(item.exercise, k, item.kind, load, target, s.reps, s.partial_reps,
                             s.mean_concentric_m_s, s.velocity_loss, s.rom_consistency,
                             s.time_under_tension_s, ended_by, started, now(),
                             list(engine.combined.reps))

        self._partial = record
        if self.brief is not None:
            self.brief(dev, item, load)
        self.io.say(f"  set {k}: {load:.1f} kg x {target} - take up the handles")
        ended_by = "handles released"
        async with self._telemetry(dev) as q:
            await wait_handles_up(lambda: self._next(q, dev))
            self.supervisor.arm()  # the person took up the handles at the unit
            value = self.supervisor.check(load, allowed_kg=load)
            loop = asyncio.get_running_loop()
            give_up_at = loop.time() + max(180.0, target * 20.0)
            await dev.set_load(value)
            self.supervisor.applied_kg = value
            while True:
                batch = await self._next(q, dev)
                new = engine.feed(batch.t_us / 1e6, batch.position_mm, batch.velocity_m_s,
                                  batch.tension_n)
                for rep in new:
                    self.io.say("  " + rep_line(rep, engine.combined.full_reps, target))
                if new and engine.combined.full_reps >= target:
                    # The final rep is over (lowered, the cable slowing at the bottom): only
                    # now does the load come off, never as the final rep begins.
                    ended_by = "target reached"
                    break
                pos = batch.position_mm.mean(axis=1)
                span_s = (batch.t_us[-1] - batch.t_us[0]) / 1e6
                why = self.supervisor.implausible(
                    float(np.abs(batch.velocity_m_s).max()), float(batch.position_mm.max()),
                    float(batch.tension_n.max()), value, moved_mm=float(pos[-1] - pos[0]),
                    expected_mm=float(batch.velocity_m_s.mean()) * span_s * 1000)
                if why is None and loop.time() > give_up_at:
                    why = "the set has not ended in the time it could take: stopping it"
                if why is not None:
                    self.supervisor.event("implausible", why)
                    ended_by = "safety stop"
                    break
                if engine.combined.ended_by is None and docked(batch):
                    for rep in engine.finish("handles released"):
                        self.io.say("  " + rep_line(rep, engine.combined.full_reps, target))
                if engine.combined.ended_by is not None:
                    ended_by = engine.combined.ended_by
                    break
        await self._stop_confirmed()
        rec = record(ended_by)
        self.references[item.exercise] = engine.combined.reference_mm
        self.history.record_set(self.session_id, rec)  # committed before the next set starts
        if ended_by == "safety stop":
            raise SafetyStop(rec)
        self.io.say(f"  set {k} done: {rec.full_reps} reps"
                    + (f", {rec.partial_reps} partial" if rec.partial_reps else "")
                    + f" ({ended_by})")
        return rec

    @contextlib.asynccontextmanager
    async def _telemetry(self, dev: DeviceClient) -> AsyncIterator[asyncio.Queue]:
        """Telemetry into a bounded queue, so waiting for it can time out safely."""
        q: asyncio.Queue[Telemetry | None] = asyncio.Queue(maxsize=256)

        async def pump() -> None:
            try:
                async for b in dev.telemetry():
                    if q.full():
                        q.get_nowait()
                    q.put_nowait(b)
            finally:
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(None)

        task = asyncio.get_running_loop().create_task(pump())
        try:
            yield q
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _next(self, q: asyncio.Queue, dev: DeviceClient) -> Telemetry:
        """The next batch; while none comes, the supervisor degrades, deloads, then gives up."""
        while True:
            try:
                batch = await asyncio.wait_for(q.get(), DEGRADED_S)
            except TimeoutError:
                state = self.supervisor.telemetry_age(dev.health.last_sample_age_s)
                if state != "ok" and self.supervisor.applied_kg > 0:
                    self._request_deload(dev)
                if state == "lost":
                    raise LinkLost("no telemetry for more than 1 s") from None
                continue
            if batch is None:
                raise LinkClosed("telemetry ended")
            self.supervisor.telemetry_age(dev.health.last_sample_age_s)
            return batch

    def _request_deload(self, dev: DeviceClient) -> None:
        """Ask for zero without waiting on it: the unit's lease is the backstop."""
        self.supervisor.event("deload_requested", f"telemetry {self.supervisor.link}",
                              load_kg=self.supervisor.applied_kg)
        self.supervisor.applied_kg = 0.0

        async def send() -> None:
            with contextlib.suppress(Exception):
                await dev.set_load(0)

        self._deload_task = asyncio.get_running_loop().create_task(send())

    async def _stop_confirmed(self) -> None:
        """STOP, retried until telemetry confirms the load is off."""
        assert self.dev is not None
        for attempt in range(3):
            try:
                await self.dev.stop(confirm=True)
                break
            except CommandTimeout as e:
                self.supervisor.event("stop_retry", str(e), attempt=attempt + 1)
        else:
            raise LinkLost("STOP could not be confirmed")
        self.supervisor.applied_kg = 0.0
        self.supervisor.disarm("set finished", report=False)

    @staticmethod
    def _set_log(item: ExercisePlan, r: SetRecord) -> SetLog:
        full = [x for x in r.reps if x.full]
        return SetLog(exercise=item.exercise, load_kg=r.load_kg, full_reps=r.full_reps,
                      partial_reps=r.partial_reps,
                      min_rom_pct=min((x.rom_pct or 100.0) for x in full) if full else None,
                      rom_consistency=None if r.rom_consistency is None
                      else min(1.0, max(0.0, r.rom_consistency)),
                      velocity_loss=None if r.velocity_loss is None
                      else min(1.0, max(0.0, r.velocity_loss)),
                      rep_velocities_m_s=[min(5.0, round(x.mean_concentric_m_s, 4))
                                          for x in full],
                      mean_concentric_m_s=max((x.mean_concentric_m_s for x in full[:3]),
                                              default=None),
                      assessment=item.kind == "assessment")
