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
import dataclasses
import datetime as dt
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import structlog

from controller.analysis.rep_report import rep_line
from controller.analysis.reps import CableRepEngine, Rep, across_cables
from controller.core import load_modes
from controller.core.events import EventBus
from controller.core.handles import docked, wait_docked, wait_handles_up
from controller.core.history import History, SetRecord, now
from controller.core.safety import DEGRADED_S, SafetyRefusal, Supervisor
from controller.planning import assessment, questions, red_flags
from controller.planning.body_regions import hurt_regions, loaded_regions
from controller.planning.models import CheckIn, PlanFile, RedFlag, SessionLog, SetLog
from controller.planning.plan_updates import (
    apply_since_last,
    record_after,
    record_clearance,
    record_red_flag,
)
from controller.planning.planner import GRID, ExercisePlan, Prescription, next_session, pause_state
from firmware_bridge.client import CommandRejected, CommandTimeout, DeviceClient, DeviceError
from firmware_bridge.messages import ErrorCode, Telemetry
from firmware_bridge.transports.base import LinkClosed, LinkError

log = structlog.get_logger("controller.core.session")

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
FRESH_S = 0.5  # samples older than this by the unit's clock never arm a set
ARM_ATTEMPTS = 3  # loads refused as not ready (fresh HELLO between) before giving up
INTERRUPT_STOP_S = 1.0  # Ctrl-C: how long STOP has to be confirmed
WARMUP_REST_S = 60  # after the warm-up set, before the first working set (at most)


class LinkLost(LinkClosed):
    pass


class SafetyStop(Exception):
    """The signal from the unit cannot be trusted: the session ends (the set is kept)."""


class Interrupted(Exception):
    """Ctrl-C: the session ends here, its sets kept and the plan updated."""


class StopRequested(Exception):
    """STOP from a surface (panel, MQTT): the set in progress ends at once."""


_STOP = object()  # put into the telemetry queue to wake the set loop


@dataclass
class LiveState:
    """What a surface shows of the session right now (published as `state`)."""

    phase: str = "idle"  # idle | armed | set | rest | paused | fault
    exercise: str | None = None
    set_index: int | None = None
    sets: int | None = None
    target_reps: int | None = None
    reps: int = 0
    partial_reps: int = 0
    applied_kg: float = 0.0
    next_kg: float | None = None
    next_max_kg: float | None = None  # the most the next set may be given (the plan's cap)
    rest_until: float | None = None  # wall clock, seconds since the epoch
    power_w: float | None = None  # mean concentric power of the last rep, all cables
    link: str = "ok"
    reason: str | None = None
    program: str = "active"  # active | paused (a red flag, until an all-clear)
    step: str | None = None  # the set ready or under way: warmup | work | assessment
    mode: str | None = None  # its load mode (controller/core/load_modes.py)
    pause: dict[str, Any] | None = None  # the flag, its date and the advice, while paused


class RunnerIO(Protocol):
    """What the runner needs from the person (controller/surfaces/panel/answers.py: terminal,
    panel and
    answers given in advance). `ask` returns the parsed answer, None when skipped, or a Flag."""

    def say(self, line: str) -> None: ...

    async def ask(self, question: questions.Question) -> Any: ...


class RedFlagRaised(Exception):
    """A red flag at a check-in: everything stops, the program pauses, nothing more is asked."""

    def __init__(self, kind: RedFlag, checkin: str):
        super().__init__(f"red flag {kind.value} at {checkin}")
        self.kind, self.checkin = kind, checkin


class RestToday(Exception):
    """The person chose to rest: the last session was too recent (SPACE-1). Nothing loaded."""


class ProgramPaused(Exception):
    """The program is paused by a red flag: no session loads the motor until an all-clear."""

    def __init__(self, rx: Prescription):
        super().__init__(paused_text(rx))
        self.rx = rx


def paused_text(rx: Prescription) -> str:
    return red_flags.pause_line(next((r.data for r in rx.reasons if r.rule == "FLAG-1"), {})) \
        + " " + rx.advice


@dataclass
class SessionResult:
    session_id: int
    status: str
    sets: list[SetRecord] = field(default_factory=list)
    log: SessionLog | None = None
    red_flag: RedFlag | None = None


async def _first(*waits: Any) -> None:
    """Until the first of these is done (the others cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def _kind_word(kind: str) -> str:
    return {"full": "a rep", "partial": "partial", "ignored": "not a rep"}.get(kind, kind)


class SessionRunner:
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
        self._deload_task: asyncio.Task | None = None
        # What the set in progress has done so far, built only if the link is lost.
        self._partial: Callable[[str], SetRecord] | None = None
        self.bus = bus or EventBus()
        self.state = LiveState()
        self.rx = next_session(plan, today)  # today's prescription, for the surfaces
        self._program_state()
        self._upcoming: tuple[ExercisePlan, int, float] | None = None  # the next set
        self._chosen: dict[str, float] = {}  # loads chosen between sets, per exercise
        self._modes: dict[str, str] = {}  # load modes chosen between sets, per exercise
        self._mode_sent: dict[int, str] = {}  # the mode last sent, per client
        self._stop_from: str | None = None
        self._need_dock = False  # after a STOP or a refused load: from the dock only
        self._told: dict[int, int] = {}  # driver notices said so far, per client
        self._warmup = self._warmup_left = 0  # the unit's calibration reps in this set
        self._dock_after_us: int | None = None  # ...docked after this unit time
        self._interrupted: str | None = None  # Ctrl-C: the session ends at its next step
        self._wake = asyncio.Event()
        self._ready: asyncio.Event | None = None  # set by end_rest(): the person is ready
        self._q: asyncio.Queue | None = None
        self._stopping: asyncio.Future | None = None
        self._early_answers: list[tuple[str, Any, str | None]] = []  # before the session row
        self._pending_flag: RedFlagRaised | None = None  # from a surface, outside a question
        self._logs: list[SetLog] = []
        self._pains: dict[str, int] = {}
        self._skipped: list[str] = []

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
        try:
            given = getattr(self.io, "answers", None)
            flagged = given.first_flag() if isinstance(given, questions.AnswerBook) else None
            if flagged is not None:  # known before the session: raised before anything loads
                qid, flag = flagged
                self._early_answers.append((qid, None, flag.kind.value))
                raise RedFlagRaised(flag.kind, qid)
            if self.rx.too_soon is not None and \
                    not await self._ask(questions.too_soon(self.rx.too_soon)):
                interrupted = False
                raise RestToday(self.rx.too_soon)
            await self._pre_session()
            await self._open()
            self._start_history()
            await self._exercises(result)
            self._upcoming = None
            await self._close()  # a clean close sends STOP: the unit is unloaded at once
            self._set_state(phase="paused", reason="session check-in", next_kg=None,
                            rest_until=None)
            overall = await self._ask(questions.session_pain())
            if overall is not None:
                self.history.record_checkin(self.session_id, None, overall)
            confidence = await self._ask(questions.confidence())
            if self._weeks_in() >= 3:  # "than a few weeks ago" needs a few weeks
                more = await self._ask(questions.capable())
            interrupted = False
        except RedFlagRaised as flag:
            interrupted = False
            await self._on_red_flag(flag, result)
        finally:
            self._upcoming = None
            await self._close()
            if interrupted and self.session_id:
                pain = max(self._pains.values(), default=None)
                self.history.finish_session(self.session_id, status="stopped",
                                            pain_during=pain, red_flags=[], notes="interrupted")
                with contextlib.suppress(Exception):  # the sets done are the planner's too
                    self._commit_plan(self._session_log("stopped", pain))
                self._emit_session(result, "stopped")
        result.session_id = self.session_id
        if result.status == "stopped: red flag":
            return result
        status = "stopped" if result.status == "safety stop" else result.status
        result.status = status
        pain = max([overall or 0, *self._pains.values()])
        self.history.finish_session(self.session_id, status=status, pain_during=pain,
                                    red_flags=[], confidence=confidence, more_capable=more)
        result.log = self._session_log(status, pain, confidence, more)
        self._commit_plan(result.log)
        self._emit_session(result, status, pain=pain)
        return result

    def _session_log(self, status: str, pain: int | None, confidence: int | None = None,
                     more: bool | None = None, flags: list[RedFlag] | None = None) -> SessionLog:
        return SessionLog(date=self.today, sets=self._logs, pain_during=pain,
                          red_flags=flags or [], pain_by_exercise=self._pains,
                          skipped=self._skipped, status=status,
                          checkin=CheckIn(confidence=confidence, more_capable=more))

    def _commit_plan(self, log: SessionLog | None = None,
                     flag: RedFlagRaised | None = None) -> None:
        """The session (and any red flag) into the plan the planner reads, saved at once."""
        plan = self.plan
        if log is not None:
            plan = plan.model_copy(update={"history": [*plan.history, log]})
        if flag is not None:
            plan = record_red_flag(plan, flag.kind, flag.checkin, self.today)
        self._replace_plan(plan)

    def _replace_plan(self, plan: PlanFile) -> None:
        """Save and prescribe again: O(history) on this loop (bench/checkin_bench.py: 16 ms at
        100 sessions, 133 ms at 1,000), so only while no link is open or no load can be on:
        before the session, after it, at a red flag, or between sessions."""
        self.plan = plan
        if self.save is not None:
            self.save(plan)
        self.rx = next_session(plan, self.today)
        self._program_state()

    def publish_state(self) -> None:
        """The state as it is now, for surfaces that start listening late."""
        self._set_state()

    def _program_state(self) -> None:
        pause = pause_state(self.plan, self.today)
        self._set_state(program="paused" if pause else "active",
                        pause=None if pause is None else pause.as_dict())

    def _weeks_in(self) -> int:
        first = next((s.date for s in self.plan.history if s.sets), None)
        return 0 if first is None else (self.today - first).days // 7

    def _start_history(self) -> None:
        if self.session_id:
            return
        info = self.dev.info if self.dev is not None else None
        self.session_id = self.history.start_session(
            self.today, profile=self.plan.profile.kind.value,
            device_serial=info.serial if info else None,
            firmware=info.firmware_version if info else None)
        structlog.contextvars.bind_contextvars(history_session=self.session_id)
        self.history.record_decisions(self.session_id, [i.as_dict() for i in self.rx.items])
        for qid, answer, flag in self._early_answers:
            self.history.record_answer(self.session_id, qid, answer, flag)
        self._early_answers.clear()

    # ---- check-ins ------------------------------------------------------------------------------

    async def _ask(self, q: questions.Question) -> Any:
        """Every question goes through here: the answer is recorded by id; a red flag, at any
        question, raises RedFlagRaised."""
        if self._pending_flag is not None:
            raise self._pending_flag
        if self._interrupted is not None:
            raise Interrupted(self._interrupted)
        self.bus.emit("state", session=self.session_id or None,
                      **{**asdict(self.state), "question": q.id})
        try:
            answer = await self.io.ask(q)
        except asyncio.CancelledError:
            if self._pending_flag is not None and not _cancelling():
                raise self._pending_flag from None
            if self._interrupted is not None and not _cancelling():
                raise Interrupted(self._interrupted) from None
            raise
        flag = answer.kind.value if isinstance(answer, questions.Flag) else None
        if self.session_id:
            self.history.record_answer(self.session_id, q.id, answer, flag)
        else:
            self._early_answers = [*self._early_answers, (q.id, answer, flag)]
        log.info("answer", question=q.id, answer=str(answer) if flag else answer)
        if isinstance(answer, questions.Flag):
            raise RedFlagRaised(answer.kind, q.id)
        return answer

    async def _pre_session(self) -> None:
        """The 24-48 h rule: how the painful region was since the last session, stored on that
        session; the prescription is made again from it (reduced, or paused)."""
        if not self.plan.history:
            return
        self._set_state(phase="paused", reason="check-in before the session")
        answer = await self._ask(questions.since_last(self.plan.profile.painful_regions))
        self._replace_plan(record_after(self.plan, answer, self.today, "pre-session"))
        pause = pause_state(self.plan, self.today)
        if pause is not None:  # raised again 48 h or more after: the 48-72 h red flag
            raise RedFlagRaised(pause.kinds[-1], questions.PRE_PAIN)
        if answer == "raised":
            self.io.say("Pain not settled since the last session: today is lighter where it "
                        "hurts (24-48 h rule).")
        elif answer == "soreness":
            self.io.say("Muscle soreness 1-3 days after training is expected: loads as "
                        "planned.")

    # ---- what surfaces may record between sessions -------------------------------------------

    def report_since_last(self, raw: object, source: str) -> dict[str, Any]:
        """The next-morning check-in from a surface (the panel): same question, same rules as
        `halfstep checkin`. Refused while a session is under way (it asks its own)."""
        if self.state.phase not in ("idle",) or self.io_busy():
            raise questions.AnswerError("a session is under way: it asks this itself",
                                        "after the session")
        q = questions.since_last(self.plan.profile.painful_regions, checkin=True)
        answer = q.parse(raw)
        if answer is None:
            raise questions.AnswerError("an answer is needed", q.allowed())
        self._replace_plan(apply_since_last(self.plan, answer, self.today, "checkin", q.id))
        flag = answer.kind.value if isinstance(answer, questions.Flag) else None
        self.history.record_answer(self.session_id or None, q.id, answer, flag)
        if self.state.program == "paused":
            self.supervisor.event("red_flag", f"red flag at {q.id} from {source}",
                                  red_flag=(self.state.pause or {}).get("red_flags"),
                                  checkin=q.id)
        return {"answer": str(answer) if flag else answer, "program": self.state.program,
                "pause": self.state.pause}

    async def red_flag_now(self, raw: object, source: str,
                           qid: str | None = None) -> dict[str, Any]:
        """A red flag from a surface outside any question (the panel's card after its question
        was gone, mid-set, in a rest): the load comes off now and the session ends at its next
        step, asking nothing more; between sessions it is recorded and pauses the program."""
        flag = questions.as_flag(raw) if isinstance(raw, str) else None
        if flag is None:
            raise questions.AnswerError(f"{raw!r} is not a red flag",
                                        "red_flag:<kind> (see /api/state's prompt red_flags)")
        where = qid[:100] if qid else source  # the question it answered, when there was one
        if self.state.phase == "idle" and not self.io_busy():
            self._replace_plan(record_red_flag(self.plan, flag.kind, where, self.today))
            self.history.record_answer(self.session_id or None, where, None, flag.kind.value)
            self.supervisor.event("red_flag", f"red flag from {source}",
                                  red_flag=flag.kind.value, checkin=where)
            return {"program": self.state.program, "pause": self.state.pause}
        self._pending_flag = RedFlagRaised(flag.kind, where)
        self._wake.set()
        if getattr(self.io, "prompt", None) is not None:
            self.io.close()  # the question on screen ends: the flag answers it
        result = await self.stop(f"red flag from {source}")
        return {"program": "paused", "stop": result}

    def clear_red_flag(self, by: str, day: dt.date | None, source: str) -> dict[str, Any]:
        """A clinician's all-clear (ClearanceError when it cannot be recorded)."""
        self._replace_plan(record_clearance(self.plan, by, day or self.today, self.today))
        self.supervisor.event("red_flag_cleared", f"all-clear by {by.strip()} recorded from "
                              f"{source}", by=by.strip())
        return {"program": self.state.program, "today": self.rx.as_dict()}

    def io_busy(self) -> bool:
        return getattr(self.io, "prompt", None) is not None

    async def _on_red_flag(self, flag: RedFlagRaised, result: SessionResult) -> None:
        """Unload at once, end the session as stopped: red flag, record which flag, pause the
        program; nothing more is asked."""
        self.supervisor.disarm(f"red flag: {flag.kind.value}", report=False)
        if self.dev is not None:
            with contextlib.suppress(Exception):
                await self._stop_confirmed()
        await self._close()
        self._start_history()
        what = red_flags.info(flag.kind)
        self.supervisor.event("red_flag", f"red flag at {flag.checkin}: {what.label}",
                              red_flag=flag.kind.value, checkin=flag.checkin,
                              advice=what.advice)
        result.status = "stopped: red flag"
        result.red_flag = flag.kind
        pain = None  # a red-flagged session has no pain number (pain_by_exercise keeps theirs)
        self.history.finish_session(self.session_id, status=result.status, pain_during=pain,
                                    red_flags=[flag.kind.value],
                                    notes=f"red flag at {flag.checkin}")
        result.log = self._session_log(result.status, pain, flags=[flag.kind])
        self._commit_plan(result.log, flag)
        self.io.say(f"RED FLAG: {what.label}. The session is stopped and the load is off; "
                    f"the program is paused. {what.advice}")
        self._emit_session(result, result.status, pain=pain)

    async def _exercises(self, result: SessionResult) -> None:
        protected: dict[str, tuple[str, int]] = {}  # region -> (exercise, pain), for today
        exercises = {e.name: e for e in self.plan.program.exercises}
        for item in self.rx.items:
            ex = exercises[item.exercise]
            hit = sorted(loaded_regions(ex) & protected.keys())
            if hit:
                by, pain = protected[hit[0]]
                self._skipped.append(item.exercise)
                self.io.say(f"\n{item.exercise}: rested today: pain {pain}/10 during {by} in "
                            f"the {' and '.join(hit)}; exercises that load it are not loaded "
                            "again today.")
                continue
            self.io.say(f"\n{item.exercise}: " + (
                f"finding your level: sets getting heavier from {item.load_kg:.1f} kg"
                if item.kind == "assessment" else
                f"{item.sets} x {item.target_reps} at {item.load_kg:.1f} kg"))
            for r in item.reasons:
                if r.plain:
                    self.io.say(f"  {r.plain}")
            if item.kind == "assessment":
                await self._ladder(item, result)
            else:
                await self._working_sets(item, result)
            if result.status == "safety stop":
                self.io.say("The session was stopped for safety: the unit's signal could "
                            "not be trusted. Check the unit before the next session.")
            if result.status != "finished":
                return
            self._upcoming = None
            self._set_state(phase="paused", reason="pain check-in", next_kg=None,
                            rest_until=None)
            answer = await self._ask(questions.pain(item.exercise))
            self._pains[item.exercise] = answer
            self.history.record_checkin(self.session_id, item.exercise, answer)
            if answer > 5:  # red: not part of the program; rest what hurt, go on with the rest
                for region in hurt_regions(ex, self.plan.profile.painful_regions):
                    protected.setdefault(region, (item.exercise, answer))

    async def _one_set(self, item: ExercisePlan, k: int, planned: float,
                       result: SessionResult) -> SetRecord | None:
        """One set with everything around it (STOP before it, the safety stop); None when the
        person chose not to go on."""
        self._upcoming = (item, k, planned)
        if not await self._go_on_after_stop():
            result.status = "stopped"
            return None
        try:
            record = await self._set_with_reconnect(item, k, self._load_for(item, planned))
        except SafetyStop as stop:
            record = stop.args[0]
            result.status = "safety stop"
        result.sets.append(record)
        if item.kind != "warmup":  # the planner reads working and test sets only
            self._logs.append(self._set_log(item, record, self._mode_for(item)))
        return record

    def _note_rir(self, rir: Any) -> None:
        if rir is not None:
            self._logs[-1] = self._logs[-1].model_copy(update={"rir": rir})

    async def _working_sets(self, item: ExercisePlan, result: SessionResult) -> None:
        """The prescribed sets at the day's load; reps in reserve asked during each rest."""
        loads = (item.load_kg,) * item.sets
        if not await self._warmup_set(item, result):
            return
        for k, planned in enumerate(loads, 1):
            if await self._one_set(item, k, planned, result) is None or \
                    result.status != "finished":
                return
            rir_q = questions.rir(item.exercise, k)
            if k < len(loads):
                self._upcoming = (item, k + 1, loads[k])
                self._note_rir(await self._rest(item.rest_s, rir_q))
            else:
                self._upcoming = None
                self._set_state(phase="paused", reason="reps in reserve", next_kg=None,
                                rest_until=None)
                self._note_rir(await self._ask(rir_q))

    async def _warmup_set(self, item: ExercisePlan, result: SessionResult) -> bool:
        """WARMUP-1: one light set before the first working set (when the plan gives one and
        this surface does them); False when the session should not go on."""
        kg = getattr(item, "warmup_kg", None)
        if not self.warmups or not kg:
            return True
        reps = int(getattr(item, "warmup_reps", 0) or 10)
        warm = dataclasses.replace(item, kind="warmup", target_reps=reps, cap_kg=kg)
        self.io.say(f"  warm-up: {kg:.1f} kg x {reps}, easy")
        if await self._one_set(warm, 0, kg, result) is None or result.status != "finished":
            return False
        self._chosen.pop(item.exercise, None)  # a load chosen for the warm-up stays there
        self._upcoming = (item, 1, item.load_kg)
        await self._rest(min(item.rest_s, WARMUP_REST_S), None)
        return True

    def _mode_for(self, item: ExercisePlan) -> str:
        """Working sets are done in the mode chosen (the plan's, or a surface's between sets);
        warm-ups and test sets always in the standard mode (a test needs a constant load)."""
        if item.kind != "work":
            return "standard"
        ex = next((e for e in self.plan.program.exercises if e.name == item.exercise), None)
        return self._modes.get(item.exercise, ex.mode if ex is not None else "standard")

    async def _ladder(self, item: ExercisePlan, result: SessionResult) -> None:
        """ASSESS-1: rising test sets, each ended by the person (or by the speed) with 2-3
        reps in reserve; after each, how many more reps they had; the next load follows from
        that and the speed, never above the test cap. A load chosen on a surface applies to
        that one set only: the ladder is never flattened."""
        mvt = item.mvt_m_s or assessment.BENCH_MVT
        frac = item.test_fraction or assessment.TEST_FRACTION[self.plan.profile.kind]
        unit_max = self.plan.program.unit_max_kg
        done: list[SetLog] = []
        load: float | None = item.load_kg
        k = 0
        while load is not None:
            k += 1
            if await self._one_set(item, k, load, result) is None or \
                    result.status != "finished":
                return
            self._chosen.pop(item.exercise, None)
            self._upcoming = None
            self._set_state(phase="paused", reason="reps in reserve", next_kg=None,
                            rest_until=None)
            self._note_rir(await self._ask(questions.rir(item.exercise, k)))
            done.append(self._logs[-1])
            load, why = assessment.next_test_load(done, mvt, frac, item.one_rm_kg, unit_max,
                                                  item.sets)
            self.io.say(f"  {why}")
            if load is not None:
                self._upcoming = (item, k + 1, load)
                await self._rest(item.rest_s, None)
        est, how = assessment.assess(done, mvt)
        if est is not None:
            self.io.say(f"  estimated 1RM {est:.1f} kg ({'; '.join(how)})")

    # ---- what the surfaces see and may ask ----------------------------------------------------

    def _set_state(self, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(self.state, k, v)
        if self.bus.wants("state"):  # converted only for someone who listens
            self.bus.emit("state", session=self.session_id or None, **asdict(self.state))

    def _emit_session(self, result: SessionResult, status: str, pain: int | None = None) -> None:
        result.session_id = self.session_id
        self._set_state(phase="idle", exercise=None, set_index=None, sets=None, step=None,
                        mode=None, target_reps=None, next_kg=None, next_max_kg=None,
                        rest_until=None,
                        applied_kg=0.0, power_w=None, reason=f"session {status}")
        work = [r for r in result.sets if r.kind != "warmup"]  # what the session trained
        self.bus.emit("session", session=self.session_id, day=self.today.isoformat(),
                      status=status, sets=len(work), reps=sum(r.full_reps for r in work),
                      volume_kg=round(sum(r.load_kg * r.full_reps for r in work), 1),
                      pain=pain)

    def _next_range(self, item: ExercisePlan, planned: float) -> tuple[float, float]:
        """Loads a person (or a remote) may choose for a set: down to the smallest step, up to
        the plan's cap for the day (an assessment set never above its own load)."""
        hi = planned if item.kind in ("assessment", "warmup") or item.cap_kg is None \
            else item.cap_kg
        return GRID, max(hi, planned)

    def _load_for(self, item: ExercisePlan, planned: float) -> float:
        return self._chosen.get(item.exercise, planned)

    def set_next_load(self, kg: float, source: str) -> float:
        """Choose the load of the next set (and the rest of this exercise's sets), between
        sets only; refused with SafetyRefusal, whose cause says why."""
        if self.state.phase == "set":
            self.supervisor.refuse("a set is in progress: the load can be changed between "
                                    "sets only", kg, None, source)
        if self._upcoming is None:
            self.supervisor.refuse("no set is coming up: a load can be chosen while a set "
                                    "is ready or during the rest before it", kg, None, source)
        item, _, planned = self._upcoming
        lo, hi = self._next_range(item, planned)
        value = self.supervisor.check_target(kg, allowed_kg=hi, source=source)
        if value < lo:
            self.supervisor.refuse("a set needs some load", value, hi, source)
        self.supervisor.check_mode(self._mode_for(item), value, allowed_kg=hi,
                                   unit_modes=self._unit_modes(), source=source)
        self._chosen[item.exercise] = value
        log.info("next_load_chosen", exercise=item.exercise, load_kg=value, source=source)
        self._set_state(next_kg=value)
        return value

    def set_next_mode(self, name: str, source: str) -> str:
        """Choose the load mode of the next set (and this exercise's sets after it), between
        working sets only, through the same gate as a load: the mode's peak at the next set's
        load must fit under its cap. SafetyRefusal says why not."""
        if self.state.phase == "set":
            self.supervisor.refuse("a set is in progress: the mode can be changed between "
                                    "sets only", self.state.applied_kg, None, source)
        if self._upcoming is None:
            self.supervisor.refuse("no set is coming up: a mode can be chosen while a set "
                                    "is ready or during the rest before it", 0.0, None, source)
        item, _, planned = self._upcoming
        if item.kind != "work":
            what = "a warm-up" if item.kind == "warmup" else "a test set"
            self.supervisor.refuse(f"{what} is done in the standard mode (a steady load); "
                                    "modes apply to working sets", planned, None, source)
        load = self._load_for(item, planned)
        hi = self._next_range(item, planned)[1]
        self.supervisor.check_mode(name, load, allowed_kg=hi, unit_modes=self._unit_modes(),
                                   source=source)
        self._modes[item.exercise] = name
        log.info("next_mode_chosen", exercise=item.exercise, mode=name, source=source)
        self._set_state(mode=name)
        return name

    def _unit_modes(self) -> int | None:
        dev = self.dev
        return dev.info.modes if dev is not None and dev.info is not None else None

    def _fitting_mode(self, item: ExercisePlan, load: float) -> str:
        """The set's mode, checked before anyone takes up the handles: a plan's mode that
        would pull above the day's cap at this load, or that the unit does not offer, gives
        way to the standard mode for this set (said, and kept as a safety event)."""
        name = self._mode_for(item)
        if name == "standard":
            return name
        try:
            self.supervisor.check_mode(name, load, allowed_kg=self._next_range(item, load)[1],
                                       unit_modes=self._unit_modes())
        except SafetyRefusal as e:
            self.io.say(f"  {e.cause}: this set is done in the standard mode")
            self._modes[item.exercise] = "standard"
            return "standard"
        return name

    async def _send_mode(self, dev: DeviceClient, item: ExercisePlan, name: str) -> None:
        """The set's mode to the unit before its load; nothing is sent for the standard mode
        on a link that never had another (the common path stays as it was)."""
        wire_mode = "standard" if name == "just_lift" else name
        if self._mode_sent.get(id(dev), "standard") == wire_mode:
            return
        await dev.set_mode(*load_modes.wire(wire_mode, self.references.get(item.exercise)))
        self._mode_sent[id(dev)] = wire_mode

    def end_rest(self, source: str) -> dict[str, Any]:
        """"Ready" on a surface: the rest ends now and the next set is armed (its load comes
        only when the handles are taken up, as after any rest)."""
        if self.state.phase != "rest" or self._ready is None or self._ready.is_set():
            return {"ok": False, "reason": "no rest is running"}
        self._ready.set()
        log.info("rest_ended", source=source)
        return {"ok": True}

    async def stop(self, source: str) -> dict[str, Any]:
        """STOP from any surface: the load comes off now (sent, retried, confirmed from
        telemetry), the set in progress ends with its reps kept, and the session waits for the
        person at the unit before the next set."""
        self.supervisor.event("stop", f"STOP from {source}", source=source)
        self._stop_from = source
        self._need_dock = True  # the load returns only from the dock, taken up again
        self._dock_after_us = self.dev.last_unit_us if self.dev is not None else None
        self.supervisor.disarm(f"STOP from {source}", report=False)
        if self._q is not None:
            _put_latest(self._q, _STOP)
        if self.dev is None:
            return {"confirmed": False, "applied_kg": 0.0,
                    "detail": "no link to the unit: it unloads by itself when its lease runs out"}
        try:
            await self._stop_confirmed()
        except LinkLost:  # before LinkClosed: it is one
            return {"confirmed": False, "applied_kg": 0.0,
                    "detail": "STOP not confirmed after 3 attempts: the unit unloads by itself "
                              "when its lease runs out"}
        except (LinkError, LinkClosed, DeviceError, OSError) as e:
            return {"confirmed": False, "applied_kg": 0.0,
                    "detail": f"the link is down ({e}): the unit unloads by itself when its "
                              "lease runs out"}
        return {"confirmed": True, "applied_kg": 0.0}

    async def _go_on_after_stop(self) -> bool:
        if self._pending_flag is not None:
            raise self._pending_flag
        if self._interrupted is not None:
            raise Interrupted(self._interrupted)
        if self._stop_from is None:
            return True
        source, self._stop_from = self._stop_from, None
        self._wake.clear()
        self._set_state(phase="paused", reason=f"stopped from {source}", applied_kg=0.0)
        return bool(await self._ask(questions.continue_after_stop(source)))

    async def _rest(self, seconds: float, question: questions.Question | None) -> Any:
        """The rest between sets, with the set's question asked meanwhile (unanswered by the
        end of the rest: skipped); a STOP cuts it short, a red flag ends it at once."""
        item, _, planned = self._upcoming  # type: ignore[misc]
        self.io.say(f"  rest {seconds} s")
        self._set_state(phase="rest", rest_until=time.time() + seconds / _speed(),
                        next_kg=self._load_for(item, planned),
                        next_max_kg=self._next_range(item, planned)[1], reason=None,
                        step=item.kind, mode=self._mode_for(item))
        self._ready = asyncio.Event()
        rest = asyncio.ensure_future(_first(self.sleep(seconds), self._ready.wait()))
        woke = asyncio.ensure_future(self._wake.wait())
        ask = asyncio.ensure_future(self._ask(question) if question is not None
                                    else asyncio.Event().wait())
        try:
            await asyncio.wait({rest, woke, ask}, return_when=asyncio.FIRST_COMPLETED)
            if ask.done() and not (rest.done() or woke.done()):
                if isinstance(ask.exception(), RedFlagRaised):
                    raise ask.exception()  # type: ignore[misc]
                await asyncio.wait({rest, woke}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (rest, woke):
                t.cancel()
            if not ask.done() and (question is None or not getattr(self.io, "committed", False)):
                ask.cancel()  # unanswered by the end of the rest: skipped
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ask
        if not ask.done():  # a red flag is being given: it stands, whatever the rest does
            return await ask
        return None if ask.cancelled() else ask.result()

    # ---- connection -----------------------------------------------------------------------------

    async def _open(self) -> None:
        dev = self.connect()
        await dev.__aenter__()
        self.dev = dev
        info = dev.info
        assert info is not None
        self.bus.emit("unit", url=dev.url, serial=info.serial,
                      firmware=info.firmware_version, cable_count=info.cable_count,
                      modes=info.modes,
                      max_kg=min(self.plan.program.unit_max_kg, info.max_load_half_kg / 2))
        self._set_state(link="ok", reason=None)

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
            self._emit_set(record)
            self._set_state(phase="fault", link="lost", applied_kg=0.0,
                            reason=f"link lost: {e}")
            n = record.full_reps
            kept = "no reps were done yet" if n == 0 else (
                "the 1 rep done is kept" if n == 1 else f"the {n} reps done are kept")
            self.io.say(f"  the link was lost: {kept}; "
                        "let the handles down slowly (some units keep the weight on until "
                        "they are reached again and stopped)")
            await self._reconnect()
            if not await self._ask(questions.resume_after_link_loss()):
                raise
            return record

    async def _run_set(self, item: ExercisePlan, k: int, load: float) -> SetRecord:
        dev = self.dev
        assert dev is not None and dev.info is not None
        mode_name = self._fitting_mode(item, load)
        target: int | None = 10 if item.kind == "assessment" else (
            item.target_reps if load_modes.mode(mode_name).target else None)
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
            if target is None and hasattr(dev, "target_reps"):
                dev.target_reps = None  # Just Lift: a unit counting reps has no target either
        # A unit that calibrates on the first reps of every set (a Vitruvian): those are
        # counted apart, never as work and never towards the target.
        self._warmup = self._warmup_left = int(getattr(dev, "warmup_reps", 0) or 0)
        self.io.say(f"  {'warm-up' if item.kind == 'warmup' else f'set {k}'}: {load:.1f} kg x "
                    f"{target or 'as many as you like (Just Lift)'}"
                    + ("" if mode_name in ("standard", "just_lift") else f", {mode_name}")
                    + " - take up the handles")
        self._set_state(phase="armed", exercise=item.exercise, set_index=k,
                        sets=item.sets, target_reps=target, step=item.kind, mode=mode_name,
                        reps=0, partial_reps=0, power_w=None, next_kg=load,
                        next_max_kg=self._next_range(item, load)[1], rest_until=None,
                        reason=None, link=self.supervisor.link)
        ended_by = "handles released"
        try:
            for attempt in range(1, ARM_ATTEMPTS + 1):
                dev = self.dev
                assert dev is not None
                why: Exception | None = None
                async with self._telemetry(dev) as q:
                    try:
                        await self._take_up(q, dev)
                    except LinkLost as e:  # the unit went quiet, nothing loaded: arm again
                        if attempt == ARM_ATTEMPTS:
                            raise
                        why = e
                    if why is None and self._stop_from is not None:
                        raise StopRequested
                    if why is None:
                        # A load chosen on a surface while this set was ready applies to it.
                        load = self._chosen.get(item.exercise, load)
                        self.supervisor.arm()  # the person took up the handles at the unit
                        allowed = self._next_range(item, load)[1]
                        value = self.supervisor.check(load, allowed_kg=allowed)
                        self.supervisor.check_mode(mode_name, value, allowed_kg=allowed,
                                                   unit_modes=dev.info.modes)
                        loop = asyncio.get_running_loop()
                        give_up_at = loop.time() + max(180.0, (target or 15) * 20.0)
                        try:
                            await self._send_mode(dev, item, mode_name)
                            await dev.set_load(value)
                        except CommandRejected as e:
                            if e.error != ErrorCode.NOT_READY or attempt == ARM_ATTEMPTS:
                                raise
                            why = e
                    if why is None:
                        self.supervisor.applied_kg = value
                        if self._stop_from is not None:  # STOP came while the load was set
                            raise StopRequested
                        self._set_state(phase="set", applied_kg=value)
                        ended_by = await self._set_loop(dev, q, engine, item, k, value,
                                                        target, give_up_at)
                        break
                assert why is not None
                await self._rearm(why, item, k)
        except StopRequested:
            ended_by = f"stopped from {self._stop_from}"
            self._finish_reps(engine, ended_by, item, k, load, target)
        await self._stop_confirmed()
        rec = record(ended_by)
        self.references[item.exercise] = engine.combined.reference_mm
        self.history.record_set(self.session_id, rec)  # committed before the next set starts
        self._emit_set(rec)
        if ended_by == "safety stop":
            raise SafetyStop(rec)
        self.io.say(f"  set {k} done: {rec.full_reps} reps"
                    + (f", {rec.partial_reps} partial" if rec.partial_reps else "")
                    + f" ({ended_by})")
        return rec

    def _on_rep(self, rep: Rep, engine: CableRepEngine, item: ExercisePlan, k: int,
                load: float, target: int | None) -> None:
        c = engine.combined
        if self._warmup_left and rep.kind == "full" and c.reps and c.reps[-1] is rep:
            c.reps.pop()  # the unit's calibration rep: shown, not counted or measured as work
            self._warmup_left -= 1
            self.io.say(f"  warm-up rep {self._warmup - self._warmup_left}/{self._warmup}: "
                        "the unit calibrates its range")
            return
        self.io.say("  " + rep_line(rep, c.full_reps, target))
        log.info("rep", exercise=item.exercise, set_index=k, count=c.full_reps,
                 rep_kind=rep.kind, mean_concentric_m_s=round(rep.mean_concentric_m_s, 3),
                 rom_mm=round(rep.rom_mm))
        if self.bus.wants("rep"):
            self.bus.emit("rep", session=self.session_id, exercise=item.exercise, set_index=k,
                          load_kg=load, count=c.full_reps, target_reps=target, **rep.as_dict())
        self._set_state(reps=c.full_reps, partial_reps=c.partial_reps,
                        power_w=None if rep.mean_concentric_power_w is None
                        else round(rep.mean_concentric_power_w, 1))

    def _finish_reps(self, engine: CableRepEngine, why: str, item: ExercisePlan, k: int,
                     load: float, target: int | None) -> None:
        self._show_reps(engine.finish(why), engine, item, k, load, target)

    def _show_reps(self, new: list[Rep], engine: CableRepEngine, item: ExercisePlan, k: int,
                   load: float, target: int | None) -> None:
        """Reps that just ended: any earlier ones they (or the set's end) made read
        differently first, so the count only moves on from there."""
        self._recount(engine, item, k, load, target, new)
        for rep in new:
            self._on_rep(rep, engine, item, k, load, target)

    def _recount(self, engine: CableRepEngine, item: ExercisePlan, k: int, load: float,
                 target: int | None, pending: list[Rep]) -> None:
        """Reps shown earlier that the set's consensus reads differently now (a first pull
        that was only settling the stance, partial reps once the range is clear): said, sent
        on as corrected reps, and the count shown again."""
        c = engine.combined
        fixes = engine.take_corrections()
        if not fixes:
            return
        # Before the reps that moved the consensus are shown: the count without them.
        count = c.full_reps - sum(r.kind == "full" for r in pending)
        partial = c.partial_reps - sum(r.kind == "partial" for r in pending)
        for was, rep in fixes:
            why = c.note(rep)
            self.io.say(f"  rep {rep.index} recounted: {_kind_word(was.kind)} -> "
                        f"{_kind_word(rep.kind)}" + (f" ({why})" if why else
                                                     f" ({rep.rom_pct or 0:.0f}% of the "
                                                     "set's range)")
                        + f"; {count}/{target or '-'} reps")
            log.info("rep_corrected", exercise=item.exercise, set_index=k, index=rep.index,
                     was=was.kind, now=rep.kind, count=count, rom_mm=round(rep.rom_mm))
            if self.bus.wants("rep"):
                self.bus.emit("rep", session=self.session_id, exercise=item.exercise,
                              set_index=k, load_kg=load, count=count, target_reps=target,
                              corrected=True, was=was.kind, note=why, **rep.as_dict())
        self._set_state(reps=count, partial_reps=partial)

    def _emit_set(self, r: SetRecord) -> None:
        data = {k: v for k, v in asdict(r).items() if k != "reps"} if self.bus.wants("set") \
            else {}
        log.info("set_done", exercise=r.exercise, set_index=r.set_index, load_kg=r.load_kg,
                 reps=r.full_reps, partial_reps=r.partial_reps, ended_by=r.ended_by)
        self.bus.emit("set", session=self.session_id, **data)

    async def _set_loop(self, dev: DeviceClient, q: asyncio.Queue, engine: CableRepEngine,
                        item: ExercisePlan, k: int, value: float, target: int | None,
                        give_up_at: float) -> str:
        """Until the set ends: returns how it ended."""
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next(q, dev)
            new = engine.feed(batch.t_us / 1e6, batch.position_mm, batch.velocity_m_s,
                              batch.tension_n)
            self._show_reps(new, engine, item, k, value, target)
            if new and target is not None and engine.combined.full_reps >= target:
                # The final rep is over (lowered, the cable slowing at the bottom): only
                # now does the load come off, never as the final rep begins.
                return "target reached"
            if new and item.kind == "assessment" and assessment.near_limit(
                    [r.mean_concentric_m_s for r in engine.combined.reps if r.full],
                    item.mvt_m_s or assessment.BENCH_MVT):
                return "speed: about 2-3 reps left"
            # A handful of samples: plain lists are cheaper than numpy reductions here.
            velocity = batch.velocity_m_s
            pos = across_cables(batch.position_mm).tolist()
            why = self.supervisor.implausible(
                max(map(abs, velocity.ravel().tolist())),
                max(batch.position_mm.ravel().tolist()), max(batch.tension_n.ravel().tolist()),
                value, moved_mm=max(pos) - min(pos),
                expected_mm=expected_travel_mm(batch.t_us, velocity))
            if why is None and loop.time() > give_up_at:
                why = "the set has not ended in the time it could take: stopping it"
            if why is not None:
                self.supervisor.event("implausible", why)
                return "safety stop"
            if engine.combined.ended_by is None and docked(batch):
                self._finish_reps(engine, "handles released", item, k, value, target)
            if engine.combined.ended_by is not None:
                unit_deload = getattr(dev, "deload_reason", None)  # the unit took it off
                if unit_deload and engine.combined.ended_by == "handles released":
                    return f"unit deloaded: {unit_deload}"
                return engine.combined.ended_by

    @contextlib.asynccontextmanager
    async def _telemetry(self, dev: DeviceClient) -> AsyncIterator[asyncio.Queue]:
        """Telemetry into a bounded queue, so waiting for it can time out safely."""
        q: asyncio.Queue[Telemetry | None] = asyncio.Queue(maxsize=256)

        async def pump() -> None:
            try:
                async for b in dev.telemetry():
                    _put_latest(q, b)
            finally:
                with contextlib.suppress(asyncio.QueueFull):
                    q.put_nowait(None)

        task = asyncio.get_running_loop().create_task(pump())
        self._q = q
        try:
            yield q
        finally:
            self._q = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _next(self, q: asyncio.Queue, dev: DeviceClient) -> Telemetry:
        """The next batch; while none comes, the supervisor degrades, deloads, then gives up."""
        while True:
            try:
                if q.empty():  # asyncio.timeout: no task per batch (wait_for makes one)
                    async with asyncio.timeout(DEGRADED_S):
                        batch = await q.get()
                else:
                    batch = q.get_nowait()
            except TimeoutError:
                state = self.supervisor.telemetry_age(dev.health.last_sample_age_s)
                if state != "ok" and self.supervisor.applied_kg > 0:
                    self._request_deload(dev)
                if state == "lost":
                    raise LinkLost("no telemetry for more than 1 s") from None
                continue
            if batch is None:
                raise LinkClosed("telemetry ended")
            if batch is _STOP:
                raise StopRequested
            self._tell_notices(dev)
            link = self.supervisor.telemetry_age(dev.health.last_sample_age_s)
            if link != self.state.link:
                self._set_state(link=link)
            if self.bus.wants("telemetry"):
                self.bus.emit("telemetry", session=self.session_id, batch=batch)
            return batch

    def _tell_notices(self, dev: DeviceClient) -> None:
        """What a driver says the person must know (a Vitruvian that deloaded by itself, or
        whose link was lost with the weight on): said once each, and kept as a safety event."""
        notices = getattr(dev, "notices", None)
        if not notices:
            return
        seen = self._told.get(id(dev), 0)
        for text in notices[seen:]:
            self.io.say(f"  {text}")
            self.supervisor.event("unit_notice", text)
        self._told[id(dev)] = len(notices)

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
        """STOP, retried until telemetry confirms the load is off (the end of every set, and
        STOP from any surface); LinkLost when it cannot be confirmed. One at a time: a STOP
        from the panel mid-set and the set's own end share the same sequence."""
        if self._stopping is None or self._stopping.done():
            self._stopping = asyncio.ensure_future(self._stop_sequence())
        await asyncio.shield(self._stopping)

    async def _stop_sequence(self) -> None:
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
        if self.state.applied_kg:
            self._set_state(applied_kg=0.0)

    async def _take_up(self, q: asyncio.Queue, dev: DeviceClient) -> None:
        """Wait for the person to take up the handles, on fresh samples only; after a STOP or
        a refused load, from the dock: docked first, then taken up again."""
        def fresh() -> Awaitable[Telemetry]:
            return self._fresh_next(q, dev)

        if self._need_dock:
            since = self._dock_after_us
            if dev.docked_at_us is None or (since is not None and dev.docked_at_us <= since):
                self._set_state(reason="put the handles back in the dock, then take them up "
                                       "again to go on")
                await wait_docked(fresh)
                self._set_state(reason=None)
            self._need_dock = False
        await wait_handles_up(fresh)

    async def _fresh_next(self, q: asyncio.Queue, dev: DeviceClient) -> Telemetry:
        """The next batch taken recently by the unit's clock: after a stall, the samples
        queued meanwhile are history, and arming is never decided on them (contract 13)."""
        stale = 0
        while True:
            batch = await self._next(q, dev)
            age = dev.sample_age_s(batch)
            if age is None or age <= FRESH_S:
                if stale:
                    log.warning("stale_samples_dropped", batches=stale, age_s=round(age or 0, 3))
                return batch
            stale += 1

    async def _rearm(self, why: Exception, item: ExercisePlan, k: int) -> None:
        """Before any load, the unit refused it as not ready, or went quiet (its lease ran out
        while this controller was held up): a safety event, a fresh HELLO, and the person
        arms again from the dock. A unit that cannot be reached is a lost link."""
        refused = isinstance(why, CommandRejected)
        self.supervisor.applied_kg = 0.0
        self.supervisor.disarm(f"arming again: {why}", report=False)
        self.supervisor.event("load_refused" if refused else "rearm",
                              f"{why}: connecting again (HELLO); the person arms again from "
                              "the dock", exercise=item.exercise, set_index=k)
        self.io.say(f"  the unit was not ready for the load ({why}): connecting again; put "
                    "the handles back, then take them up again")
        await self._close()
        try:
            await self._open()
        except (LinkError, CommandTimeout, OSError) as e:
            raise LinkLost(f"the unit could not be reached again: {e}") from e
        self._need_dock, self._dock_after_us = True, None  # a dock seen on the new link

    async def interrupt(self, source: str) -> None:
        """Ctrl-C: STOP now (confirmed within about a second), the set in progress ends with
        its reps kept, and the session ends as interrupted at its next step (saved, the plan
        updated)."""
        self._interrupted = source
        self._wake.set()
        if getattr(self.io, "prompt", None) is not None:
            self.io.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.stop(source), INTERRUPT_STOP_S)

    @staticmethod
    def _set_log(item: ExercisePlan, r: SetRecord, mode: str = "standard") -> SetLog:
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
                      assessment=item.kind == "assessment", ended_by=r.ended_by, mode=mode)


def expected_travel_mm(t_us: np.ndarray, velocity_m_s: np.ndarray) -> float:
    """How far the velocities say the cable moved over a batch, compared with how far the
    position moved (its range: a turnaround inside the batch moves the cable both ways). A
    unit may report each sample's velocity over the interval before it or after it; at 25 Hz
    the two differ by a whole retract (a handle let go at the end of a set), so the smaller is
    taken: a stuck sensor, whose position does not move at all, disagrees with both."""
    if len(t_us) < 2:
        return 0.0
    v = across_cables(velocity_m_s).tolist()  # a handful of samples: lists beat numpy here
    t = t_us.tolist()
    dt = [(b - a) / 1e6 for a, b in itertools.pairwise(t)]
    forward = sum(x * d for x, d in zip(v, dt, strict=False))  # v[:-1] with the step after
    backward = sum(x * d for x, d in zip(v[1:], dt, strict=True))  # v[1:], the step before
    return 1000 * (forward if abs(forward) < abs(backward) else backward)


def _cancelling() -> bool:
    """Whether this task itself is being cancelled (not just the future it awaited)."""
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())


def _put_latest(q: asyncio.Queue, item: object) -> None:
    """Put without waiting: a full queue loses its oldest item, never the newest."""
    if q.full():
        q.get_nowait()
    q.put_nowait(item)


def _speed() -> float:
    """How much faster than the wall clock the loop runs (the warped simulator loop)."""
    speed = getattr(asyncio.get_running_loop(), "speed", 1.0)
    return speed if speed > 0 else float("inf")
