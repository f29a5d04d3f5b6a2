"""The trial: simulated people train for weeks through the real session runner.

Every session is `SessionRunner.run()`, the code `halfstep run` runs, against the in-process
simulated unit over the real device client, with a real SQLite history per person. The person
(controller/simulated/person.py) lifts on the unit and answers every question through
`Question.parse`; their body holds the truth (1RM per exercise, pain), which the report
compares the plan with. People miss sessions and come back the next day; a scenario adds a pain
flare and a gap of weeks.

To make thousands of sessions affordable: the unit runs its control loop and telemetry at 25 Hz
(a rate the protocol offers) a batch at a time, the client sends heartbeats at 4 Hz (the lease
is 500 ms), rests between sets pass 30 times faster, with the person's recovery in them
(the runner's rests go through its `sleep`), the unit raises the load at 30 kg/s, and the
person lowers the handles briskly (the lifting speeds, which the estimates read, are
unchanged). Everything else is a live session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from controller.planning.models import (
    PlanFile,
    ProfileKind,
)
from controller.planning.pauses import pause_state
from controller.planning.plan_history import replay
from controller.planning.plan_updates import record_clearance
from controller.planning.starter import default_plan
from controller.simulated.person import PersonIO, SimPerson

WEEKDAYS = {2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}
TELEMETRY_HZ = 25
TELEMETRY_BATCH = 7  # 280 ms a batch: under the 300 ms the session calls degraded
REST_SCALE = 60.0  # rests between sets pass this much faster, the person's recovery with them
RAMP_KG_S = 60.0  # the unit raises the load this fast (10 kg/s by default): less waiting
CLEARANCE_DAYS = 7  # a clinician sees the person this long after a red flag


@dataclass(frozen=True)
class Scenario:
    weeks: int = 12
    flare_week: int = 0  # a week of pain from outside the training (0: none)
    gap_start_week: int = 0  # weeks without training from here (0: none)
    gap_weeks: int = 0
    miss_prob: float = 0.1  # a planned session missed, made up the next day
    start: dt.date = dt.date(2026, 1, 5)  # a Monday

    def in_gap(self, week: int) -> bool:
        return bool(self.gap_weeks) and self.gap_start_week <= week < (
            self.gap_start_week + self.gap_weeks)


@dataclass
class ItemRow:
    kind: str  # work | assessment
    planned_kg: float
    set_loads: list[float]
    reps: list[int]
    true_1rm: float
    estimate_before: float | None
    estimate_after: float | None
    rules: list[str] = field(default_factory=list)  # the prescription's rule ids


@dataclass
class SessionRow:
    day: dt.date
    week: int  # calendar week of the trial
    training_week: int
    phase: str
    status: str  # finished | stopped... | paused | rest (too soon)
    items: dict[str, ItemRow] = field(default_factory=dict)
    pain: int | None = None
    red_flag: str | None = None
    max_fraction: float = 0.0  # the heaviest set as a fraction of true 1RM
    asked: list[str] = field(default_factory=list)


@dataclass
class PersonResult:
    kind: str
    index: int
    rows: list[SessionRow]
    plan: PlanFile


async def _person(kind: ProfileKind, index: int, seed: int, sc: Scenario,
                  folder: Path) -> PersonResult:
    from controller.core.history import History
    from controller.core.session import ProgramPaused, RestToday, SessionRunner
    from firmware_bridge.client import DeviceClient

    pseed = seed * 1000 + index
    plan = default_plan(kind, sc.start, name=f"{kind.value}-{index}")
    person = SimPerson(plan, pseed, rest_scale=REST_SCALE, brisk=True)
    rng = random.Random(f"trial-{pseed}")
    days = WEEKDAYS[plan.profile.sessions_per_week]
    rows: list[SessionRow] = []
    url = (f"sim://?seed={pseed}&control_hz={TELEMETRY_HZ}&coarse=true&pickup=2"
           f"&ramp_kg_s={RAMP_KG_S}")
    owed = False  # a missed session, made up on the next day
    last_trained: dt.date | None = None
    with History(folder / f"{kind.value}-{index}.sqlite") as history:
        for offset in range(sc.weeks * 7):
            day = sc.start + dt.timedelta(days=offset)
            week = offset // 7
            planned = day.weekday() in days
            if sc.in_gap(week) or not (planned or owed):
                owed = owed and not sc.in_gap(week)
                continue
            if planned and rng.random() < sc.miss_prob:
                owed = True
                continue
            owed = False
            person.body.flare = 4.0 if sc.flare_week and week == sc.flare_week else 0.0
            if last_trained is not None:
                person.body.rested((day - last_trained).days)
            pause = pause_state(plan, day)
            if pause is not None and (day - pause.date).days >= CLEARANCE_DAYS:
                plan = record_clearance(plan, "simulated clinician", day, day)
            io = PersonIO(person)
            runner = SessionRunner(
                lambda: DeviceClient(url, telemetry_rate_hz=TELEMETRY_HZ,
                                     telemetry_batch=TELEMETRY_BATCH, heartbeat_hz=4),
                plan, history, io, day, brief=person.brief, sleep=_rest)
            rx = runner.rx
            row = SessionRow(day, week, rx.week, rx.phase.value, "paused")
            before = {i.exercise: i for i in rx.items}
            try:
                result = await runner.run()
            except RestToday:
                row.status, row.asked, owed = "rest", io.asked, True
                rows.append(row)
                continue
            except ProgramPaused:  # not cleared yet: nothing loaded
                rows.append(row)
                continue
            plan = runner.plan
            row.status = result.status
            row.red_flag = result.red_flag.value if result.red_flag else None
            row.asked = io.asked
            log = result.log
            row.pain = None if log is None else log.pain_during
            row.max_fraction = person.max_fraction
            person.max_fraction = 0.0
            exercises = {e.name: e for e in plan.program.exercises}
            for name, item in before.items():
                sets = [s for s in (log.sets if log else []) if s.exercise == name]
                if not sets:
                    continue
                after = replay(plan, exercises[name], day + dt.timedelta(days=1)).one_rm
                row.items[name] = ItemRow(item.kind, item.load_kg, [s.load_kg for s in sets],
                                          [s.full_reps for s in sets],
                                          person.body.one_rm[name], item.one_rm_kg, after,
                                          [x.rule for x in item.reasons if x.rule != "DOSE-1"])
            rows.append(row)
            person.session_over()
            last_trained = day
    return PersonResult(kind.value, index, rows, plan)


async def _rest(seconds: float) -> None:
    await asyncio.sleep(seconds / REST_SCALE)


def _run_one(args: tuple[str, int, int, Scenario]) -> PersonResult:
    """One person in this process, on the warped loop (as fast as the simulation allows)."""
    from firmware_bridge.clock import loop_factory

    kind, index, seed, sc = args
    # Each person's history is thrown away afterwards: in memory-backed /dev/shm where there
    # is one, so its fsyncs (synchronous=FULL, as in use) cost the trial no disk waits.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="halfstep-trial-", dir=shm) as tmp, \
            asyncio.Runner(loop_factory=loop_factory(0)) as runner:
        return runner.run(_person(ProfileKind(kind), index, seed, sc, Path(tmp)))


def _quiet() -> None:
    """Worker processes: no wire logs, warnings only (a trial is thousands of sessions)."""
    from controller.core.logs import configure_logging
    from firmware_bridge import wirelog

    wirelog.enable(None)
    configure_logging("text", "error")


def run_trial(kinds: list[str], persons: int, sc: Scenario, seed: int = 1,
              jobs: int | None = None) -> list[PersonResult]:
    """Every person of every profile, in parallel over `jobs` processes."""
    return run_people([(k, i, seed, sc) for k in kinds for i in range(persons)], jobs)


def run_people(work: list[tuple[str, int, int, Scenario]],
               jobs: int | None = None) -> list[PersonResult]:
    """People (profile, index, seed, scenario), the longest first, over `jobs` processes;
    results in the order given."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    # The costliest first (weeks x sessions a week), so no worker is left with a long one at
    # the end while the others idle.
    order = sorted(range(len(work)), key=lambda i: -_cost(work[i]))
    if jobs == 1:
        _quiet()
        done = {i: _run_one(work[i]) for i in order}
    else:
        with ProcessPoolExecutor(jobs, initializer=_quiet) as pool:
            done = dict(zip(order, pool.map(_run_one, [work[i] for i in order]), strict=True))
    return [done[i] for i in range(len(work))]


def _cost(w: tuple[str, int, int, Scenario]) -> float:
    kind, _, _, sc = w
    spw = default_plan(ProfileKind(kind), sc.start).profile.sessions_per_week
    return (sc.weeks - sc.gap_weeks) * spw * (1.4 if kind == "athlete" else 1.0)


def rows_json(results: list[PersonResult]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        for row in r.rows:
            d = asdict(row)
            d["day"] = row.day.isoformat()
            out.append({"profile": r.kind, "person": r.index, **d})
    return out
