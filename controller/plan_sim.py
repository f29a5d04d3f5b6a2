"""Simulated weeks: the planner prescribes, a simulated person does the sets on the simulated
unit's motor and cable, the rep engine measures them, and the log goes back to the planner.

Every set runs the simulated lifter against the unit's physics and is measured by the rep
engine (the same engine the live session uses); only the wire protocol is skipped, for speed.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from controller.models import (
    DEFAULT_PHASES,
    Exercise,
    PlanFile,
    ProfileKind,
    Program,
    RedFlag,
    SessionLog,
    SetLog,
    UserProfile,
)
from controller.plan_updates import record_clearance
from controller.planner import ExercisePlan, Prescription, next_session, pause_state
from controller.reps import RepEngine
from sim.body import Body
from sim.traces import TraceSpec, simulate_set

RECOVERY_TAU_S = 90.0
WEEKDAYS = {2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}


def default_exercises(kind: ProfileKind) -> list[Exercise]:
    first = {ProfileKind.ATHLETE: (40.0, 25.0, 20.0), ProfileKind.PAIN: (15.0, 10.0, 8.0),
             ProfileKind.OLDER: (10.0, 6.0, 5.0)}[kind]
    return [
        Exercise(name="cable squat", target_muscles=["quadriceps", "glutes"], multi_joint=True,
                 region="lower", first_load_kg=first[0]),
        Exercise(name="seated row", target_muscles=["back", "biceps"], multi_joint=True,
                 region="upper", first_load_kg=first[1]),
        Exercise(name="chest press", target_muscles=["chest", "triceps"], multi_joint=True,
                 region="upper", first_load_kg=first[2]),
    ]


def default_plan(kind: ProfileKind, start: dt.date, name: str = "simulated",
                 sessions_per_week: int | None = None) -> PlanFile:
    spw = sessions_per_week or {ProfileKind.ATHLETE: 3}.get(kind, 2)
    return PlanFile(
        profile=UserProfile(name=name, kind=kind, sessions_per_week=spw,
                            painful_regions=[] if kind == ProfileKind.ATHLETE else ["knee"]),
        program=Program(start_date=start, exercises=default_exercises(kind),
                        phases=list(DEFAULT_PHASES)))


@dataclass
class SessionRow:
    date: dt.date
    week: int
    phase: str
    status: str
    loads: dict[str, float]
    reps: dict[str, int]  # fewest full reps over the working sets
    changes: dict[str, str]
    rules: dict[str, list[str]]
    one_rm_est: dict[str, float | None]
    one_rm_true: dict[str, float]
    pain: int | None
    prescription: Prescription


@dataclass
class SimResult:
    plan: PlanFile
    rows: list[SessionRow] = field(default_factory=list)


def _do_sets(item: ExercisePlan, body: Body, seed: int, rng: random.Random) -> list[SetLog]:
    """One exercise: the person does each set on the unit; the rep engine measures it."""
    logs: list[SetLog] = []
    fatigue = 0.0
    loads = item.assessment_loads_kg or (item.load_kg,) * item.sets
    for k, load in enumerate(loads):
        one_rm = body.one_rm[item.exercise]
        if load <= 0:
            continue
        if item.kind == "assessment":
            # A test set stops with 2-3 reps in reserve; the person knows roughly where.
            from sim.lifter import reps_to_failure
            target = max(1, min(10, int(reps_to_failure(load / one_rm)) - 3))
        else:
            target = item.target_reps
        spec = TraceSpec(rate_hz=50, step_s=0.01, reps=target, one_rm_kg=one_rm, load_kg=load,
                         partial_prob=0.002, pause_prob=0.05, noise_mm=1.0,
                         velocity_noise_m_s=0.01)
        trace = simulate_set(seed * 1000 + k, spec, fatigue=fatigue)
        engine = RepEngine()
        for i in range(0, len(trace.t_s), 10):
            sl = slice(i, i + 10)
            engine.feed(trace.t_s[sl], trace.position_mm[sl], trace.velocity_m_s[sl],
                        trace.tension_n[sl])
        engine.finish()
        s = engine.summary()
        full = [r for r in engine.reps if r.full]
        rir = max(0, round(trace.reps_to_failure * (1 - 0.4 * fatigue) - s.reps
                           + rng.gauss(0, 0.7)))
        logs.append(SetLog(
            exercise=item.exercise, load_kg=load, full_reps=s.reps, partial_reps=s.partial_reps,
            min_rom_pct=min((r.rom_pct or 100.0) for r in full) if full else None,
            rom_consistency=None if s.rom_consistency is None else max(0.0, s.rom_consistency),
            velocity_loss=s.velocity_loss,
            rep_velocities_m_s=[round(r.mean_concentric_m_s, 4) for r in full],
            mean_concentric_m_s=max(r.mean_concentric_m_s for r in full[:3]) if full else None,
            rir=min(20, rir), assessment=item.kind == "assessment"))
        fatigue = trace.fatigue_after * math.exp(-item.rest_s / RECOVERY_TAU_S)
    return logs


def simulate(kind: ProfileKind, weeks: int, seed: int, *, start: dt.date | None = None,
             gap_start_week: int = 0, gap_weeks: int = 0, red_flag_week: int = 0,
             flare_week: int = 0, clearance_days: int = 7) -> SimResult:
    """Session by session; `flare_week` adds a pain flare unrelated to the training (a bad
    week happens to everyone with persistent pain), `red_flag_week` a red flag."""
    start = start or dt.date(2026, 1, 5)  # a Monday
    plan = default_plan(kind, start)
    body = Body.create(kind.value, [(e.name, e.region == "lower" and e.multi_joint)
                                    for e in plan.program.exercises], seed)
    rng = random.Random(f"plan-sim-{seed}")
    result = SimResult(plan)
    days = WEEKDAYS[plan.profile.sessions_per_week]
    last_day: dt.date | None = None
    flag_raised = False
    for offset in range(weeks * 7 + 1):
        day = start + dt.timedelta(days=offset)
        week = offset // 7
        if day.weekday() not in days:
            continue
        if gap_weeks and gap_start_week <= week < gap_start_week + gap_weeks:
            continue
        rx = next_session(plan, day)
        if rx.status == "paused":
            pause = pause_state(plan, day)
            if pause is not None and (day - pause.date).days >= clearance_days:
                plan = record_clearance(plan, "simulated clinician", day, day)
                rx = next_session(plan, day)
            else:
                result.rows.append(SessionRow(day, week, rx.phase.value, "paused", {}, {}, {},
                                              {}, {}, dict(body.one_rm), None, rx))
                continue
        if last_day is not None:
            body.rested((day - last_day).days)
        session_seed = seed * 10_000 + offset
        sets: list[SetLog] = []
        for item in rx.items:
            sets += _do_sets(item, body, session_seed + len(sets), rng)
        work = {i.exercise: i.load_kg for i in rx.items if i.kind == "work"}
        during, after, settled = body.pain(work, flare=4.0 if flare_week and week == flare_week
                                           else 0.0)
        flags: list[RedFlag] = []
        if red_flag_week and week == red_flag_week and not flag_raised:
            flags, during, settled = [RedFlag.SNAP_OR_TEAR], max(during, 7), False
            flag_raised = True
        log = SessionLog(date=day, sets=sets, pain_during=during, pain_after=after,
                         pain_settled=settled, red_flags=flags)
        plan = plan.model_copy(update={"history": [*plan.history, log]})
        body.trained(work, {n: sum(1 for s in sets if s.exercise == n and not s.assessment)
                            for n in work})
        last_day = day
        result.rows.append(SessionRow(
            day, week, rx.phase.value, "train",
            {i.exercise: i.load_kg for i in rx.items},
            {i.exercise: min((s.full_reps for s in sets if s.exercise == i.exercise
                              and not s.assessment), default=0) for i in rx.items},
            {i.exercise: i.change for i in rx.items},
            {i.exercise: [r.rule for r in i.reasons if r.rule != "DOSE-1"] for i in rx.items},
            {i.exercise: i.one_rm_kg for i in rx.items}, dict(body.one_rm), during, rx))
    result.plan = plan
    return result
