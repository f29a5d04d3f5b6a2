"""The session runner: today's prescription, set by set, on a unit, with the person in the loop.

Per set: armed (waiting for the handles) -> active (the load is applied only once the handles are
taken up, and stays on through the final rep) -> complete (handles released) -> the set is
committed to the history -> rest -> next. After each exercise, and at the end, a pain check-in;
a red flag stops everything and is recorded. Every load goes through the safety supervisor.
If the link is lost the set so far is kept, the runner reconnects with backoff, and the session
waits for the person to re-arm before any load comes back.

This module is the wiring and the session's top-level flow; each part has its own module and
reaches the others through the runner: the exercises in order (exercises.py), the set loop
(set_loop.py, reading telemetry.py), rests and re-arming (rests.py), reconnecting
(reconnect.py), the STOP sequence (stop.py), check-ins (checkins.py) and the next set's load
and mode (choices.py). A STOP, Ctrl-C or a red flag is left in `runner.signals` (state.py) for
the part that acts on it at its next step.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import structlog

from controller.core.events import EventBus
from controller.core.history import History
from controller.core.safety import Supervisor
from controller.core.session.checkins import CheckIns
from controller.core.session.choices import Choices
from controller.core.session.exercises import Exercises
from controller.core.session.person import RunnerIO
from controller.core.session.reconnect import Connection
from controller.core.session.rests import Rests
from controller.core.session.set_loop import SetLoop
from controller.core.session.state import (
    LiveState,
    ProgramPaused,
    RedFlagRaised,
    RestToday,
    SessionResult,
    Signals,
    paused_text,
)
from controller.core.session.stop import Stops
from controller.core.session.telemetry import TelemetryFeed
from controller.planning import questions
from controller.planning.models import CheckIn, PlanFile, RedFlag, SessionLog, SetLog
from controller.planning.plan_updates import record_red_flag
from controller.planning.planner import ExercisePlan, next_session, pause_state
from firmware_bridge.client import DeviceClient


class SessionRunner:
    """One person's session on one unit (`run`), and what the surfaces may ask of it."""

    def __init__(self, connect: Callable[[], DeviceClient], plan: PlanFile, history: History,
                 io: RunnerIO, today: dt.date,
                 brief: Callable[[DeviceClient, ExercisePlan, float], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 bus: EventBus | None = None,
                 save: Callable[[PlanFile], None] | None = None, warmups: bool = False):
        self.connect = connect
        self.plan = plan
        self.history = history
        self.io = io
        self.today = today
        self.brief = brief  # tells a simulated person what the panel would show
        self.sleep = sleep
        self.save = save  # writes the plan file (check-ins, flags, the session's log)
        self.warmups = warmups  # a light set before each exercise's first working set
        self.dev: DeviceClient | None = None
        self.session_id = 0
        self.supervisor = Supervisor(plan.program.unit_max_kg, on_event=self._safety_event)
        self.references: dict[str, float | None] = {}
        self.bus = bus or EventBus()
        self.state = LiveState()
        self.signals = Signals()  # STOP, Ctrl-C, a red flag: left for the parts' next step
        # The parts, one job each.
        self.checkins = CheckIns(self)
        self.choices = Choices(self)
        self.feed = TelemetryFeed(self)
        self.set_loop = SetLoop(self)
        self.rests = Rests(self)
        self.connection = Connection(self)
        self.stops = Stops(self)
        self.exercises = Exercises(self)
        self.rx = next_session(plan, today)  # today's prescription, for the surfaces
        self._program_state()
        self._upcoming: tuple[ExercisePlan, int, float] | None = None  # the next set
        self.set_logs: list[SetLog] = []  # working and test sets, as the planner reads them
        self.pains: dict[str, int] = {}
        self.skipped: list[str] = []

    def _safety_event(self, kind: str, cause: str, **data: object) -> None:
        dev = self.dev
        load = data.pop("load_kg", self.supervisor.applied_kg)
        self.bus.emit("safety", session=self.session_id or None, kind=kind, cause=cause,
                      load_kg=load, **data)
        self.history.record_safety_event(
            self.session_id or None, kind, cause, load_kg=load,  # type: ignore[arg-type]
            seq=dev._seq if dev else None,  # the last command's sequence number
            firmware=dev.info.firmware_version if dev and dev.info else None, **data)

    # ---- the session --------------------------------------------------------------------------

    async def run(self) -> SessionResult:
        """Today's session. Raises ProgramPaused (nothing is loaded) while a red flag stands."""
        if self.rx.status == "paused":
            self.io.say(paused_text(self.rx))
            raise ProgramPaused(self.rx)
        result = SessionResult(0, "finished")
        overall: int | None = None
        confidence = more = None
        interrupted = True
        ask = self.checkins.ask
        try:
            given = getattr(self.io, "answers", None)
            flagged = given.first_flag() if isinstance(given, questions.AnswerBook) else None
            if flagged is not None:  # known before the session: raised before anything loads
                qid, flag = flagged
                self.checkins.early_answers.append((qid, None, flag.kind.value))
                raise RedFlagRaised(flag.kind, qid)
            if self.rx.too_soon is not None and \
                    not await ask(questions.too_soon(self.rx.too_soon)):
                interrupted = False
                raise RestToday(self.rx.too_soon)
            await self.checkins.pre_session()
            await self.connection.open()
            self.start_history()
            await self.exercises.run(result)
            self._upcoming = None
            await self.connection.close()  # a clean close sends STOP: the unit is unloaded
            self.set_state(phase="paused", reason="session check-in", next_kg=None,
                           rest_until=None)
            overall = await ask(questions.session_pain())
            if overall is not None:
                self.history.record_checkin(self.session_id, None, overall)
            confidence = await ask(questions.confidence())
            if self._weeks_in() >= 3:  # "than a few weeks ago" needs a few weeks
                more = await ask(questions.capable())
            interrupted = False
        except RedFlagRaised as flag:
            interrupted = False
            await self.stops.on_red_flag(flag, result)
        finally:
            self._upcoming = None
            await self.connection.close()
            if interrupted and self.session_id:
                self.stops.record_interrupted(result)
        result.session_id = self.session_id
        if result.status == "stopped: red flag":
            return result
        status = "stopped" if result.status == "safety stop" else result.status
        result.status = status
        pain = max([overall or 0, *self.pains.values()])
        self.history.finish_session(self.session_id, status=status, pain_during=pain,
                                    red_flags=[], confidence=confidence, more_capable=more)
        result.log = self.session_log(status, pain, confidence, more)
        self.commit_plan(result.log)
        self.emit_session(result, status, pain=pain)
        return result

    def session_log(self, status: str, pain: int | None, confidence: int | None = None,
                    more: bool | None = None, flags: list[RedFlag] | None = None) -> SessionLog:
        return SessionLog(date=self.today, sets=self.set_logs, pain_during=pain,
                          red_flags=flags or [], pain_by_exercise=self.pains,
                          skipped=self.skipped, status=status,
                          checkin=CheckIn(confidence=confidence, more_capable=more))

    def commit_plan(self, log: SessionLog | None = None,
                    flag: RedFlagRaised | None = None) -> None:
        """The session (and any red flag) into the plan the planner reads, saved at once."""
        plan = self.plan
        if log is not None:
            plan = plan.model_copy(update={"history": [*plan.history, log]})
        if flag is not None:
            plan = record_red_flag(plan, flag.kind, flag.checkin, self.today)
        self.replace_plan(plan)

    def replace_plan(self, plan: PlanFile) -> None:
        """Save and prescribe again: O(history) on this loop (bench/checkin_bench.py: 16 ms at
        100 sessions, 133 ms at 1,000), so only while no link is open or no load can be on:
        before the session, after it, at a red flag, or between sessions."""
        self.plan = plan
        if self.save is not None:
            self.save(plan)
        self.rx = next_session(plan, self.today)
        self._program_state()

    def _program_state(self) -> None:
        pause = pause_state(self.plan, self.today)
        self.set_state(program="paused" if pause else "active",
                       pause=None if pause is None else pause.as_dict())

    def _weeks_in(self) -> int:
        first = next((s.date for s in self.plan.history if s.sets), None)
        return 0 if first is None else (self.today - first).days // 7

    def start_history(self) -> None:
        if self.session_id:
            return
        info = self.dev.info if self.dev is not None else None
        self.session_id = self.history.start_session(
            self.today, profile=self.plan.profile.kind.value,
            device_serial=info.serial if info else None,
            firmware=info.firmware_version if info else None)
        structlog.contextvars.bind_contextvars(history_session=self.session_id)
        self.history.record_decisions(self.session_id, [i.as_dict() for i in self.rx.items])
        self.checkins.record_early()

    # ---- what the surfaces see ----------------------------------------------------------------

    def set_state(self, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(self.state, k, v)
        if self.bus.wants("state"):  # converted only for someone who listens
            self.bus.emit("state", session=self.session_id or None, **asdict(self.state))

    def publish_state(self) -> None:
        """The state as it is now, for surfaces that start listening late."""
        self.set_state()

    def emit_session(self, result: SessionResult, status: str, pain: int | None = None) -> None:
        result.session_id = self.session_id
        self.set_state(phase="idle", exercise=None, set_index=None, sets=None, step=None,
                       mode=None, target_reps=None, next_kg=None, next_max_kg=None,
                       rest_until=None,
                       applied_kg=0.0, power_w=None, reason=f"session {status}")
        work = [r for r in result.sets if r.kind != "warmup"]  # what the session trained
        self.bus.emit("session", session=self.session_id, day=self.today.isoformat(),
                      status=status, sets=len(work), reps=sum(r.full_reps for r in work),
                      volume_kg=round(sum(r.load_kg * r.full_reps for r in work), 1),
                      pain=pain)

    def io_busy(self) -> bool:
        return getattr(self.io, "prompt", None) is not None

    # ---- what the surfaces may ask (each answered by its part) --------------------------------

    async def stop(self, source: str) -> dict[str, Any]:
        """STOP from any surface: the load comes off now (confirmed), the set in progress ends
        with its reps kept, and the person is asked before the next set (stop.py)."""
        return await self.stops.stop(source)

    async def interrupt(self, source: str) -> None:
        """Ctrl-C: STOP now, and the session ends as interrupted at its next step (stop.py)."""
        await self.stops.interrupt(source)

    def end_rest(self, source: str) -> dict[str, Any]:
        """"Ready" on a surface: the rest ends now (rests.py)."""
        return self.rests.end_rest(source)

    def set_next_load(self, kg: float, source: str) -> float:
        """The next set's load, between sets only (choices.py); SafetyRefusal says why not."""
        return self.choices.set_next_load(kg, source)

    def set_next_mode(self, name: str, source: str) -> str:
        """The next set's load mode, between working sets only (choices.py)."""
        return self.choices.set_next_mode(name, source)

    def report_since_last(self, raw: object, source: str) -> dict[str, Any]:
        """The next-morning check-in from a surface (checkins.py)."""
        return self.checkins.report_since_last(raw, source)

    async def red_flag_now(self, raw: object, source: str,
                           qid: str | None = None) -> dict[str, Any]:
        """A red flag from a surface outside any question (checkins.py)."""
        return await self.checkins.red_flag_now(raw, source, qid)

    def clear_red_flag(self, by: str, day: dt.date | None, source: str) -> dict[str, Any]:
        """A clinician's all-clear (checkins.py)."""
        return self.checkins.clear_red_flag(by, day, source)
