"""What the history says: the training done so far (phases count it, not the calendar), each
exercise's estimate and loads, the pain a session attributes to an exercise, spacing.

Pure functions over the plan file, folded in date order; the planner decides from them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from controller.planning.assessment import (
    WORK_VALID_REPS,
    assess,
    counted,
    estimate_from_reps,
    mvt_for,
)
from controller.planning.body_regions import hurt_regions, loaded_regions, named_regions
from controller.planning.dose import DOSE
from controller.planning.models import (
    Exercise,
    PhaseName,
    PlanFile,
    ProfileKind,
    SessionLog,
    SetLog,
)
from controller.planning.pauses import older_settle

GAP_DAYS = 14  # GAP-1: two weeks or more off
MAX_RISE_PER_SESSION = 0.05  # EST-3
MAX_DROP_PER_SESSION = 0.05  # one tired day moves the estimate down only a little
FULL_ROM_PCT = 85.0  # TECH-1
# TECH-1 reads velocity loss over the first reps only: a steady tempo there is technique; the
# loss over 10-15 reps at 60-75% of 1RM is fatigue (about 30% at 10 of 20 possible reps).
VL_REPS = 5
RIR_TOP = 5  # the reps-in-reserve question's top answer means "5 or more"
MIN_HOURS = {ProfileKind.ATHLETE: 24, ProfileKind.PAIN: 48, ProfileKind.OLDER: 48}  # SPACE-1


# ---- phases: by training done ----------------------------------------------------------------


def sessions_done(plan: PlanFile, today: dt.date) -> int:
    return sum(1 for s in plan.history if s.date < today and s.sets)


def training_week(plan: PlanFile, today: dt.date) -> int:
    """Weeks of training done at the profile's frequency (week 0: the first session, the
    assessment). Weeks off do not count: three weeks trained and ten off is week 4, not 13."""
    return week_after(sessions_done(plan, today), plan.profile.sessions_per_week)


def week_after(sessions: int, per_week: int) -> int:
    """The training week of the next session after `sessions` sessions with sets."""
    return 0 if sessions == 0 else (sessions - 1) // per_week + 1


def phase_of(plan: PlanFile, week: int) -> PhaseName:
    for span in plan.program.phases:
        if span.first_week <= week and (span.last_week is None or week <= span.last_week):
            return span.phase
    return plan.program.phases[-1].phase


def performance_goal(plan: PlanFile) -> bool:
    goal = plan.profile.goal
    return goal == "performance" or (goal is None and plan.profile.kind == ProfileKind.ATHLETE)


# ---- one exercise ----------------------------------------------------------------------------


@dataclass
class ExerciseState:
    one_rm: float | None = None
    load: float | None = None  # working load of the last session with this exercise
    reps: list[int] = field(default_factory=list)  # full reps per working set, last session
    technique_ok: bool = True
    technique_why: dict[str, Any] = field(default_factory=dict)
    last_date: dt.date | None = None
    last_change_date: dt.date | None = None  # when the working load last went up
    failed_streak: int = 0
    min_rir: int | None = None  # reps in reserve on the weakest working set, if reported
    tested_kg: float | None = None  # heaviest test load so far, if none gave an estimate
    assessed_on: dt.date | None = None
    peak_load: float | None = None  # the highest working load so far
    last_was_test: bool = False  # the last session with this exercise was a ladder
    gap_days: int = 0  # days off before the last session with this exercise
    pre_gap_one_rm: float | None = None  # the estimate before the last gap of 2+ weeks
    estimate_how: list[str] = field(default_factory=list)


def working(s: SessionLog, name: str) -> list[SetLog]:
    return [x for x in s.sets if x.exercise == name and not x.assessment]


def replay(plan: PlanFile, ex: Exercise, until: dt.date) -> ExerciseState:
    """Fold the history (sessions before `until`) into the state the next decision needs."""
    st = ExerciseState()
    for step in replay_steps(plan, ex, until):
        st = step
    return st


def replay_steps(plan: PlanFile, ex: Exercise,
                 until: dt.date | None = None) -> Iterator[ExerciseState]:
    """The fold `replay` makes, yielding the state after each session of the history (before
    `until`, if given): the estimate after every session in one pass, by the planner's own
    formula (replaying the history once per session was quadratic). The same object is yielded
    each time, updated in place: copy what is kept."""
    dose = DOSE[plan.profile.kind]
    mvt = mvt_for(ex)
    st = ExerciseState()
    n = 0
    for s in plan.history:
        if until is not None and s.date >= until:
            break
        if s.sets:
            n += 1
        mine = [x for x in s.sets if x.exercise == ex.name]
        if not mine:
            yield st
            continue
        st.gap_days = (s.date - st.last_date).days if st.last_date else 0
        if st.gap_days >= GAP_DAYS:
            st.pre_gap_one_rm = st.one_rm
        tests = [x for x in mine if x.assessment]
        st.last_was_test = bool(tests)
        if tests:
            est, how = assess(tests, mvt)
            if est is None:  # nothing counted (stopped, link lost): the next ladder starts
                done = [x.load_kg for x in tests if counted(x)]  # from what was done
                st.tested_kg = max(done) if done else st.tested_kg
            else:
                st.assessed_on = s.date
                st.estimate_how = how
                # A reassessment (or the recalibration after a gap: the estimate is not cut
                # for the gap, it is measured again) may lower the estimate freely, the safe
                # direction; it rises at most 5% a session.
                st.one_rm = est if st.one_rm is None else min(
                    est, st.one_rm * (1 + MAX_RISE_PER_SESSION))
        work = working(s, ex.name)
        if work:
            week = week_after(n, plan.profile.sessions_per_week)  # n counts this session
            early = phase_of(plan, week) in (PhaseName.ASSESSMENT, PhaseName.ADAPTATION)
            lo = (dose.reps_adaptation if early else dose.reps_progression)[0]
            load = max(x.load_kg for x in work)
            if st.load is None or load > st.load:
                st.last_change_date = s.date
            st.load = load
            st.peak_load = max(load, st.peak_load or 0.0)
            st.reps = [x.full_reps for x in work]
            weakest = min(work, key=lambda x: x.full_reps)
            st.min_rir = weakest.rir
            st.failed_streak = st.failed_streak + 1 if min(st.reps) < lo else 0
            st.technique_ok, st.technique_why = technique(work, dose.velocity_loss_cap,
                                                          min(lo, VL_REPS))
            # EST-3: working sets move the estimate where the person said how close to
            # failure they were (reps + RIR up to 15), by at most 5% a session either way. "5+"
            # reps in reserve is only a floor: it may raise the estimate, never lower it.
            if st.one_rm is not None:
                exact = [e for x in work if counted(x) and x.rir is not None and x.rir < RIR_TOP
                         and (e := estimate_from_reps(x.load_kg, x.full_reps + x.rir,
                                                      WORK_VALID_REPS))]
                floors = [e for x in work if counted(x) and x.rir is not None
                          and x.rir >= RIR_TOP and (e := estimate_from_reps(
                              x.load_kg, x.full_reps + RIR_TOP, WORK_VALID_REPS))]
                new = max(exact) if exact else None
                if floors and max(floors) > (new or st.one_rm):
                    new = max(floors)
                if new is not None:
                    st.one_rm = min(max(new, st.one_rm * (1 - MAX_DROP_PER_SESSION)),
                                    st.one_rm * (1 + MAX_RISE_PER_SESSION))
        st.last_date = s.date
        yield st


def technique(sets: list[SetLog], velocity_loss_cap: float,
              min_reps: int) -> tuple[bool, dict[str, Any]]:
    """TECH-1: no partial reps (one stray partial in a session is noise), every rep >= 85% of
    the reference range, and the first working set's velocity loss under the cap over its first
    `min_reps` reps (the last two of them against the fastest two):
    later sets carry the fatigue of the earlier ones, and the reps above the bottom of the range
    are the double-progression reps, expected to be harder."""
    why: dict[str, Any] = {}
    partials = sum(s.partial_reps for s in sets)
    if partials > max(1, 0.03 * sum(s.full_reps for s in sets)):  # one stray partial is noise
        why["partial_reps"] = partials
    roms = [s.min_rom_pct for s in sets if s.min_rom_pct is not None]
    if roms and min(roms) < FULL_ROM_PCT:
        why["min_rom_pct"] = round(min(roms), 1)
    first = sets[0].velocity_loss if sets else None
    v = sets[0].rep_velocities_m_s if sets else []
    if len(v) >= min_reps >= 2 and max(v[:min_reps]) > 0:
        # The two fastest reps against the last two: one noisy rep decides nothing.
        fast = sorted(v[:min_reps])[-2:]
        first = 1 - (v[min_reps - 2] + v[min_reps - 1]) / (fast[0] + fast[1])
    if first is not None and first > velocity_loss_cap:
        why["velocity_loss"] = round(first, 3)
        why["velocity_loss_cap"] = velocity_loss_cap
    return not why, why


# ---- pain and spacing ------------------------------------------------------------------------


def pain_for(plan: PlanFile, s: SessionLog, ex: Exercise) -> int:
    """The pain a session's check-ins attribute to this exercise: its own check-in and any
    other exercise's that hurt a region this one loads; pain that came outside the exercises
    (overall above every exercise's) goes to those loading a painful region. Older logs with
    only the session's pain speak for every exercise."""
    overall = s.pain_during or 0
    if not s.pain_by_exercise:
        return overall
    mine = loaded_regions(ex)
    names = {e.name: e for e in plan.program.exercises}
    pain = 0
    for name, p in s.pain_by_exercise.items():
        other = names.get(name)
        if name == ex.name or (other is not None and p > 5 and
                               hurt_regions(other, plan.profile.painful_regions) & mine):
            pain = max(pain, p)
    if overall > max(s.pain_by_exercise.values()) and loads_painful_region(plan, ex):
        pain = max(pain, overall)
    return pain


def settle_of(last: SessionLog) -> str | None:
    """The latest report on the region after the last session (stored on that session):
    settled | raised | None. A report before the session that followed belongs to the one
    before it, and is never counted twice."""
    if last.after:
        answer = last.after[-1].answer
        return "settled" if answer == "soreness" else answer
    return older_settle(last)


def last_session(plan: PlanFile, today: dt.date) -> SessionLog | None:
    past = [s for s in plan.history if s.date < today]
    return past[-1] if past else None


def loads_painful_region(plan: PlanFile, ex: Exercise) -> bool:
    """Whether unsettled pain speaks for this exercise: it loads one of the person's painful
    regions, or none of their exercises does (then we cannot tell, and reduce all)."""
    painful = named_regions(plan.profile.painful_regions)
    if not painful or not any(loaded_regions(e) & painful for e in plan.program.exercises):
        return True
    return bool(loaded_regions(ex) & painful)


def too_soon(plan: PlanFile, today: dt.date) -> dict[str, Any] | None:
    """SPACE-1: the last session that loaded the same muscles or joints was less than the
    profile's minimum ago (48 h for pain and older, 24 h for athletes); None when it is fine.
    Sessions are dated by day, so 'yesterday' is under 48 h."""
    program = {e.name: e for e in plan.program.exercises}
    today_loads = set().union(*(loaded_regions(e) | set(e.target_muscles)
                                for e in program.values())) if program else set()
    for s in reversed(plan.history):
        if s.date > today or not s.sets:
            continue
        hours = (today - s.date).days * 24
        need = MIN_HOURS[plan.profile.kind]
        if hours >= need:
            return None
        done = {x.exercise for x in s.sets}
        shared = set().union(*(loaded_regions(program[n]) | set(program[n].target_muscles)
                               for n in done if n in program)) & today_loads if done else set()
        if shared:
            return {"last": s.date.isoformat(), "hours": hours, "min_hours": need,
                    "shared": sorted(shared)}
    return None
