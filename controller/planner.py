"""The progression planner: pure functions from profile, program and history to today's plan.

Every prescription carries its reasons: a rule id (documented in docs/planner.md, from
shared/domain.md) and the data that triggered it. Loads are always multiples of 0.5 kg, never
above the profile's intensity cap for the phase or the unit's maximum.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controller.body_regions import hurt_regions, loaded_regions, named_regions
from controller.models import (
    Exercise,
    PhaseName,
    PlanFile,
    ProfileKind,
    RedFlag,
    SessionLog,
    SetLog,
)
from controller.red_flags import advice_for, describe, where_asked

GRID = 0.5
SAFETY_DISCOUNT = 0.05  # EST-1/EST-2: estimates are discounted before use
MAX_RISE_PER_SESSION = 0.05  # EST-3
VALID_REPS = 10  # EST-1: Epley/Brzycki are valid to about 10 reps
MIN_VELOCITY_M_S = 0.17  # EST-2: minimum velocity threshold (bench; cable moves similar)
ADAPTATION_CAP = 0.60  # PHASE-1: adaptation stays within 40-60% 1RM
FULL_ROM_PCT = 85.0  # TECH-1
GAP_DAYS = 14  # GAP-1
GAP_CUT_PER_WEEK = 0.10
GAP_CUT_MAX = 0.30
RED_CUT = 0.10  # PAIN-RED, PAIN-SETTLE, DELOAD-1
CLEARANCE_CUT = 0.30  # FLAG-1: back after a red flag, as after the longest gap
REASSESS_DAYS = 42  # REASSESS-1: reassess every 4-6 weeks
CLEAR_HINT = ("Record their all-clear to resume: halfstep plan clear --red-flag --by NAME (or on "
              "the panel).")


@dataclass(frozen=True)
class Dose:
    sets_adaptation: int
    sets_progression: int
    reps_adaptation: tuple[int, int]
    reps_progression: tuple[int, int]
    rest_s: int
    cap: float  # of 1RM, in progression and maintenance
    start: float  # of 1RM, first working load
    cadence_days: int
    velocity_loss_cap: float
    deload_after: int  # consecutive failed sessions


DOSE = {
    ProfileKind.ATHLETE: Dose(3, 4, (10, 12), (8, 12), 120, 0.85, 0.60, 7, 0.30, 3),
    ProfileKind.PAIN: Dose(2, 3, (12, 15), (10, 15), 75, 0.75, 0.50, 14, 0.20, 2),
    ProfileKind.OLDER: Dose(2, 3, (12, 15), (10, 15), 105, 0.70, 0.45, 28, 0.20, 2),
}


@dataclass(frozen=True)
class Reason:
    rule: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "text": self.text, "data": self.data}


@dataclass(frozen=True)
class ExercisePlan:
    exercise: str
    kind: str  # "work" | "assessment"
    sets: int
    reps: tuple[int, int]  # range
    target_reps: int
    load_kg: float
    rest_s: int
    cues: tuple[str, ...]
    reasons: tuple[Reason, ...]
    change: str  # "start" | "up" | "hold" | "down" | "assess"
    one_rm_kg: float | None
    assessment_loads_kg: tuple[float, ...] = ()
    cap_kg: float | None = None  # the most a set may carry today, whoever asks (work sets)

    def as_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "kind": self.kind, "sets": self.sets,
                "reps": list(self.reps), "target_reps": self.target_reps,
                "load_kg": self.load_kg, "rest_s": self.rest_s, "cues": list(self.cues),
                "change": self.change, "one_rm_kg": self.one_rm_kg,
                "assessment_loads_kg": list(self.assessment_loads_kg), "cap_kg": self.cap_kg,
                "reasons": [r.as_dict() for r in self.reasons]}


@dataclass(frozen=True)
class Prescription:
    date: dt.date
    week: int
    phase: PhaseName
    status: str  # "train" | "paused"
    items: tuple[ExercisePlan, ...]
    reasons: tuple[Reason, ...]
    advice: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "week": self.week, "phase": self.phase.value,
                "status": self.status, "advice": self.advice,
                "reasons": [r.as_dict() for r in self.reasons],
                "items": [i.as_dict() for i in self.items]}


# ---- load arithmetic ------------------------------------------------------------------------


def floor_grid(kg: float) -> float:
    return math.floor(kg / GRID + 1e-9) * GRID


def step_kg(load: float, ex: Exercise) -> float:
    """STEP-1: max(0.5 kg, 2.5%) for upper-body/small moves, 5% for large lower-body moves,
    never above 10% (except that 0.5 kg is the smallest step there is), on the 0.5 kg grid."""
    pct = 0.05 if (ex.region == "lower" and ex.multi_joint) else 0.025
    raw = min(load * pct, load * 0.10)
    return max(GRID, round(raw / GRID) * GRID)


# ---- 1RM estimation -------------------------------------------------------------------------


def epley(w: float, r: int) -> float:
    return w * (1 + r / 30)


def brzycki(w: float, r: int) -> float:
    return 36 * w / (37 - r)


def estimate_from_reps(w: float, reps_to_failure: int) -> float | None:
    """EST-1: the lower of Epley and Brzycki, discounted; None outside the valid rep range."""
    if w <= 0 or not 1 <= reps_to_failure <= VALID_REPS:
        return None
    return min(epley(w, reps_to_failure), brzycki(w, reps_to_failure)) * (1 - SAFETY_DISCOUNT)


def estimate_from_velocity(points: list[tuple[float, float]],
                           mvt: float = MIN_VELOCITY_M_S) -> tuple[float, float] | None:
    """EST-2: load-velocity profile over >= 3 loads, trusted at R^2 >= 0.8; (1RM, R^2)."""
    loads = sorted({w for w, _ in points})
    if len(loads) < 3:
        return None
    w = np.array([p[0] for p in points])
    v = np.array([p[1] for p in points])
    slope, intercept = np.polyfit(w, v, 1)
    pred = slope * w + intercept
    ss_tot = float(((v - v.mean()) ** 2).sum())
    r2 = 1 - float(((v - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0
    if slope >= 0 or r2 < 0.8:
        return None
    return float((mvt - intercept) / slope * (1 - SAFETY_DISCOUNT)), float(r2)


def assess(sets: list[SetLog]) -> tuple[float | None, list[Reason]]:
    """1RM from a session's assessment sets: the lower of the rep and velocity estimates."""
    reasons: list[Reason] = []
    by_reps = [e for s in sets if (e := estimate_from_reps(s.load_kg, s.full_reps + (s.rir or 0)))]
    est = None
    if by_reps:
        est = float(np.median(by_reps))
        reasons.append(Reason("EST-1", f"1RM {est:.1f} kg from {len(by_reps)} submaximal sets "
                              "(lower of Epley and Brzycki, 5% safety discount)",
                              {"estimates_kg": [round(e, 1) for e in by_reps]}))
    points = [(s.load_kg, s.mean_concentric_m_s) for s in sets
              if s.mean_concentric_m_s is not None]
    lvp = estimate_from_velocity(points)
    if lvp is not None:
        reasons.append(Reason("EST-2", f"load-velocity profile gives {lvp[0]:.1f} kg "
                              f"(R^2 {lvp[1]:.2f})", {"r2": round(lvp[1], 3)}))
        est = lvp[0] if est is None else min(est, lvp[0])
    return est, reasons


# ---- phases ---------------------------------------------------------------------------------


def week_of(plan: PlanFile, day: dt.date) -> int:
    return max(0, (day - plan.program.start_date).days // 7)


def phase_of(plan: PlanFile, week: int) -> PhaseName:
    for span in plan.program.phases:
        if span.first_week <= week and (span.last_week is None or week <= span.last_week):
            return span.phase
    return plan.program.phases[-1].phase


# ---- what the history says about one exercise ------------------------------------------------


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
    tested_kg: float | None = None  # heaviest assessment load so far, if none gave an estimate
    assessed_on: dt.date | None = None


def _working(s: SessionLog, name: str) -> list[SetLog]:
    return [x for x in s.sets if x.exercise == name and not x.assessment]


def replay(plan: PlanFile, ex: Exercise, until: dt.date) -> ExerciseState:
    """Fold the history (sessions before `until`) into the state the next decision needs."""
    dose = DOSE[plan.profile.kind]
    st = ExerciseState()
    for s in plan.history:
        if s.date >= until:
            break
        mine = [x for x in s.sets if x.exercise == ex.name]
        if not mine:
            continue
        if st.last_date is not None and st.one_rm is not None:
            gap = (s.date - st.last_date).days
            if gap >= GAP_DAYS:  # GAP-1: strength fades in 2-4 weeks off; so does the estimate
                st.one_rm *= 1 - min(GAP_CUT_MAX, GAP_CUT_PER_WEEK * (gap // 7))
        tests = [x for x in mine if x.assessment]
        if tests:
            st.assessed_on = s.date
            est, _ = assess(tests)
            if est is None:
                st.tested_kg = max(x.load_kg for x in tests)
            else:
                st.one_rm = est if st.one_rm is None else min(
                    est, st.one_rm * (1 + MAX_RISE_PER_SESSION))
        work = _working(s, ex.name)
        if work:
            load = max(x.load_kg for x in work)
            lo = (dose.reps_adaptation if phase_of(plan, week_of(plan, s.date)) in (
                PhaseName.ASSESSMENT, PhaseName.ADAPTATION) else dose.reps_progression)[0]
            if st.load is None or load > st.load:
                st.last_change_date = s.date
            st.load = load
            st.reps = [x.full_reps for x in work]
            weakest = min(work, key=lambda x: x.full_reps)
            st.min_rir = weakest.rir
            st.failed_streak = st.failed_streak + 1 if min(st.reps) < lo else 0
            st.technique_ok, st.technique_why = technique(work, dose.velocity_loss_cap, lo)
            # EST-3: working sets tell the estimate only where the person said how close to
            # failure they were (RIR); it never rises more than 5% a session.
            rated = [e for x in work if x.rir is not None
                     and (e := estimate_from_reps(x.load_kg, x.full_reps + x.rir))]
            if rated and st.one_rm is not None:
                st.one_rm = min(max(rated), st.one_rm * (1 + MAX_RISE_PER_SESSION))
        st.last_date = s.date
    return st


def technique(sets: list[SetLog], velocity_loss_cap: float,
              min_reps: int) -> tuple[bool, dict[str, Any]]:
    """TECH-1: no partial reps, every rep >= 85% of the reference range, and the first working
    set's velocity loss under the cap over the reps the range asks of everyone (its bottom):
    later sets carry the fatigue of the earlier ones, and the reps above the bottom of the range
    are the double-progression reps, expected to be harder."""
    why: dict[str, Any] = {}
    partials = sum(s.partial_reps for s in sets)
    if partials:
        why["partial_reps"] = partials
    roms = [s.min_rom_pct for s in sets if s.min_rom_pct is not None]
    if roms and min(roms) < FULL_ROM_PCT:
        why["min_rom_pct"] = round(min(roms), 1)
    first = sets[0].velocity_loss if sets else None
    v = sets[0].rep_velocities_m_s if sets else []
    if len(v) >= min_reps >= 1 and max(v[:min_reps]) > 0:
        first = 1 - v[min_reps - 1] / max(v[:min_reps])
    if first is not None and first > velocity_loss_cap:
        why["velocity_loss"] = round(first, 3)
        why["velocity_loss_cap"] = velocity_loss_cap
    return not why, why


# ---- the decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """FLAG-1: the program is paused since `date` by these red flags, until an all-clear."""

    date: dt.date
    kinds: tuple[RedFlag, ...]
    checkin: str  # where it was reported (a question id, or "history")
    advice: str

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "red_flags": [k.value for k in self.kinds],
                "what": describe(list(self.kinds)), "checkin": self.checkin,
                "where": where_asked(self.checkin), "advice": self.advice}


@dataclass(frozen=True)
class _FlagEvent:
    date: dt.date
    kind: RedFlag
    checkin: str
    at: dt.datetime | None = None


def settle_reports(plan: PlanFile) -> list[tuple[dt.date, str]]:
    """PAIN-SETTLE: how the painful region was after each session, in date order: the
    person's own reports, else the older fields (`pain_settled`, `pain_after` above the pain
    during the session)."""
    out: list[tuple[dt.date, str]] = []
    for s in plan.history:
        if s.after:
            out += [(a.date, "settled" if a.answer == "soreness" else a.answer) for a in s.after]
        elif (old := _older_settle(s)) is not None:
            out.append((s.date + dt.timedelta(days=1), old))
    return sorted(out, key=lambda r: r[0])


def _older_settle(s: SessionLog) -> str | None:
    """Older logs: `pain_settled`, else `pain_after` above the pain during the session."""
    if s.pain_settled is not None:
        return "settled" if s.pain_settled else "raised"
    if s.pain_after is not None:
        return "raised" if s.pain_after > (s.pain_during or 0) else "settled"
    return None


def _persisting_pain(plan: PlanFile) -> list[_FlagEvent]:
    """Pain reported raised again 48 h or more after it was first reported raised, with no
    settled report in between: pain that does not improve within 48-72 h (a red flag)."""
    events, first = [], None
    cleared = [c.date for c in plan.clearances] + list(plan.medical_clearance)
    for day, answer in settle_reports(plan):
        if any(first is not None and first <= c <= day for c in cleared):
            first = None  # a clinician has seen it since: counting starts again
        if answer != "raised":
            first = None
        elif first is None:
            first = day
        elif (day - first).days >= 2:
            events.append(_FlagEvent(day, RedFlag.PAIN_NOT_SETTLING, "pain since last session"))
            first = day
    return events


def _flag_events(plan: PlanFile, today: dt.date) -> list[_FlagEvent]:
    events = {(r.date, r.kind): _FlagEvent(r.date, r.kind, r.checkin, r.at)
              for r in plan.red_flag_reports}
    for s in plan.history:
        for k in s.red_flags:
            events.setdefault((s.date, k), _FlagEvent(s.date, k, "session"))
    for e in _persisting_pain(plan):
        events.setdefault((e.date, e.kind), e)
    # Every flag counts, whatever day is asked about: a flag dated after `today` (a session
    # run with an earlier --today, a check-in dated ahead) still pauses.
    return sorted(events.values(),
                  key=lambda e: (e.date, e.at or dt.datetime.min.replace(tzinfo=dt.UTC)))


def _cleared(plan: PlanFile, flag: _FlagEvent, today: dt.date) -> bool:
    if any(flag.date <= c <= today for c in plan.medical_clearance):
        return True
    for c in plan.clearances:
        if c.date > today:
            continue
        if c.date > flag.date or (c.date == flag.date and (
                flag.at is None or c.at is None or c.at > flag.at)):
            return True
    return False


def last_red_flag(plan: PlanFile, today: dt.date) -> dt.date | None:
    """The date of the latest red flag up to today (cleared or not)."""
    events = _flag_events(plan, today)
    return events[-1].date if events else None


def pause_state(plan: PlanFile, today: dt.date) -> Pause | None:
    """FLAG-1: paused while any red flag (reported, or the pain rule's) has no all-clear after
    it; a flag reported today pauses today. The pause dates from the first flag not cleared,
    lists them all, and gives the most urgent advice among them (a later, milder flag never
    hides an urgent one)."""
    open_ = [e for e in _flag_events(plan, today) if not _cleared(plan, e, today)]
    if not open_:
        return None
    kinds = tuple(dict.fromkeys(e.kind for e in open_))
    return Pause(open_[0].date, kinds, open_[0].checkin, advice_for(list(kinds)))


def next_session(plan: PlanFile, today: dt.date) -> Prescription:
    """Today's prescription for every exercise in the program, with the reasons for each."""
    week = week_of(plan, today)
    phase = phase_of(plan, week)
    pause = pause_state(plan, today)
    session_reasons = [Reason("PHASE-1", f"week {week}: {phase.value}",
                              {"week": week, "phase": phase.value})]
    if pause is not None:
        return Prescription(
            today, week, phase, "paused", (), (*session_reasons, Reason(
                "FLAG-1", f"red flag on {pause.date}: {describe(list(pause.kinds))}. The "
                "program is paused until a clinician's all-clear is recorded", pause.as_dict())),
            advice=f"{pause.advice} {CLEAR_HINT}")
    flag = last_red_flag(plan, today)
    items = tuple(_plan_exercise(plan, ex, today, phase, flag)
                  for ex in plan.program.exercises)
    return Prescription(today, week, phase, "train", items, tuple(session_reasons))


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
    if overall > max(s.pain_by_exercise.values()) and _loads_painful_region(plan, ex):
        pain = max(pain, overall)
    return pain


def _settle_of(plan: PlanFile, last: SessionLog) -> str | None:
    """The latest report on the region after the last session (stored on that session):
    settled | raised | None. A report before the session that followed belongs to the one
    before it, and is never counted twice."""
    if last.after:
        answer = last.after[-1].answer
        return "settled" if answer == "soreness" else answer
    return _older_settle(last)


def _last_session(plan: PlanFile, today: dt.date) -> SessionLog | None:
    past = [s for s in plan.history if s.date < today]
    return past[-1] if past else None


def _cues(plan: PlanFile, phase: PhaseName) -> tuple[str, ...]:
    cues = ["Breathe out as you pull and in as you return; never hold your breath."]
    if phase in (PhaseName.ASSESSMENT, PhaseName.ADAPTATION):
        cues.append("Technique first: the whole range, about 2 s out and 2-3 s back.")
    if plan.profile.kind != ProfileKind.ATHLETE:
        cues.append("Pain up to 3/10 while training is fine; at 4-5 hold and tell us; "
                    "stop if it passes 5.")
    return tuple(cues)


def _plan_exercise(plan: PlanFile, ex: Exercise, today: dt.date, phase: PhaseName,
                   flag: dt.date | None) -> ExercisePlan:
    kind = plan.profile.kind
    dose = DOSE[kind]
    st = replay(plan, ex, today)
    cues = _cues(plan, phase)
    unit_max = plan.program.unit_max_kg
    reasons: list[Reason] = [Reason("DOSE-1", f"{kind.value} profile: "
                                    f"{dose.sets_progression} sets max, rest {dose.rest_s} s",
                                    {"profile": kind.value})]
    if st.one_rm is None:
        # Too light last time (more than 10 reps in reserve-adjusted terms): start heavier.
        base = st.tested_kg * 1.5 if st.tested_kg is not None else ex.first_load_kg
        loads = tuple(min(unit_max, floor_grid(base * f)) for f in (1.0, 1.3, 1.6))
        reasons.append(Reason("ASSESS-1", "estimate the 1RM from submaximal sets: 3 rising "
                              "loads, each stopped with 2-3 reps in reserve, never a maximal "
                              "lift", {"loads_kg": list(loads),
                                       "previous_test_kg": st.tested_kg}))
        return ExercisePlan(ex.name, "assessment", 3, (3, 10), 8, loads[0], dose.rest_s, cues,
                            tuple(reasons), "assess", st.one_rm, loads)

    early = phase in (PhaseName.ASSESSMENT, PhaseName.ADAPTATION)
    last = _last_session(plan, today)
    if (phase == PhaseName.PROGRESSION and st.assessed_on is not None and st.last_date
            and (today - st.assessed_on).days >= REASSESS_DAYS
            and (today - st.last_date).days < GAP_DAYS
            and (flag is None or (today - flag).days >= 4 * 7)  # rebuild after a red flag
            and (last is None or pain_for(plan, last, ex) < 4)):
        # Submaximal loads from the current estimate, none above the profile's cap.
        loads = tuple(min(unit_max, floor_grid(st.one_rm * min(f, dose.cap)))
                      for f in (0.55, 0.65, 0.75))
        reasons.append(Reason("REASSESS-1", f"{(today - st.assessed_on).days} days since the "
                              "last assessment: reassess with submaximal sets (every 4-6 weeks)",
                              {"loads_kg": list(loads), "one_rm_kg": round(st.one_rm, 1)}))
        return ExercisePlan(ex.name, "assessment", 3, (3, 10), 8, loads[0], dose.rest_s, cues,
                            tuple(reasons), "assess", st.one_rm, loads)
    reps = dose.reps_adaptation if early else dose.reps_progression
    sets = dose.sets_adaptation if early else dose.sets_progression
    cap_pct = ADAPTATION_CAP if early else dose.cap
    cap = min(unit_max, floor_grid(st.one_rm * cap_pct))
    change = "hold"
    target = reps[0]
    if st.load is None:
        load = max(GRID, floor_grid(st.one_rm * dose.start))
        change = "start"
        reasons.append(Reason("START-1", f"first working load {load:.1f} kg = "
                              f"{dose.start:.0%} of the estimated 1RM {st.one_rm:.1f} kg",
                              {"one_rm_kg": round(st.one_rm, 1), "fraction": dose.start}))
        if last is not None and _settle_of(plan, last) == "raised" and \
                _loads_painful_region(plan, ex):
            start = load
            load = max(GRID, floor_grid(start * (1 - RED_CUT)))
            reasons.append(Reason("PAIN-SETTLE", "pain had not settled after the last session "
                                  f"(24-48 h rule): start {RED_CUT:.0%} lower",
                                  {"settled": False, "from_kg": start}))
            change = "down"
        trained = [s.date for s in plan.history if s.sets and s.date < today]
        if flag is not None and (not trained or max(trained) <= flag):  # none since the flag
            start = load
            load = max(GRID, floor_grid(start * (1 - CLEARANCE_CUT)))
            change = "down"
            reasons.append(Reason("FLAG-1", "back after a red flag with medical clearance: "
                                  f"start {CLEARANCE_CUT:.0%} lower and rebuild",
                                  {"red_flag_date": flag.isoformat(), "from_kg": start}))
    else:
        load, change, target = _decide(plan, ex, st, dose, reps, today, last, flag, reasons)
    if load > cap:
        if change == "up":  # no room to add load: keep working at the top of the range
            change, target = "hold", reps[1]
        reasons.append(Reason("CAP-1", f"capped at {cap:.1f} kg: {cap_pct:.0%} of the estimated "
                              f"1RM {st.one_rm:.1f} kg in {phase.value}"
                              + (" and the unit's maximum" if cap == unit_max else ""),
                              {"cap_kg": cap, "one_rm_kg": round(st.one_rm, 1)}))
        load = cap
    # Reductions stop at the smallest load there is: resistance never disappears silently.
    load = min(max(GRID, load), max(GRID, cap))
    return ExercisePlan(ex.name, "work", sets, reps, max(reps[0], min(target, reps[1])),
                        load, dose.rest_s, cues, tuple(reasons), change, st.one_rm,
                        cap_kg=max(GRID, cap))


def _decide(plan: PlanFile, ex: Exercise, st: ExerciseState, dose: Dose,
            reps: tuple[int, int], today: dt.date, last: SessionLog | None,
            flag: dt.date | None, reasons: list[Reason]) -> tuple[float, str, int]:
    """The rules in priority order; the first that changes or holds the load decides."""
    assert st.load is not None and st.last_date is not None
    load = st.load
    lo, hi = reps
    gap = (today - st.last_date).days
    if flag is not None and st.last_date <= flag:  # the first session since the flag
        new = floor_grid(load * (1 - CLEARANCE_CUT))
        reasons.append(Reason("FLAG-1", f"back after a red flag with medical clearance: restart "
                              f"{CLEARANCE_CUT:.0%} lower and rebuild",
                              {"red_flag_date": flag.isoformat(), "from_kg": load}))
        return new, "down", lo
    if gap >= GAP_DAYS:
        weeks = gap // 7
        cut = min(GAP_CUT_MAX, GAP_CUT_PER_WEEK * weeks)
        new = floor_grid(load * (1 - cut))
        reasons.append(Reason("GAP-1", f"{gap} days since the last session: restart {cut:.0%} "
                              "lower and recalibrate from how the sets feel",
                              {"gap_days": gap, "cut": cut, "from_kg": load}))
        return new, "down", lo
    pain = 0 if last is None else pain_for(plan, last, ex)
    if last is not None:  # what hurt is reduced, not everything
        if pain >= 6:
            new = floor_grid(load * (1 - RED_CUT))
            reasons.append(Reason("PAIN-RED", f"pain {pain}/10 during the last session is red "
                                  f"(6+): reduce {RED_CUT:.0%} and reassess",
                                  {"pain_during": pain, "from_kg": load}))
            return new, "down", lo
        settle = _settle_of(plan, last)
        if settle == "raised" and _loads_painful_region(plan, ex):
            new = floor_grid(load * (1 - RED_CUT))
            reasons.append(Reason("PAIN-SETTLE", "pain had not settled after the last session "
                                  f"(24-48 h rule): reduce {RED_CUT:.0%} and reassess",
                                  {"pain_after": last.pain_after, "settled": False,
                                   "from_kg": load}))
            return new, "down", lo
    if st.failed_streak >= dose.deload_after:
        new = floor_grid(load * (1 - RED_CUT))
        reasons.append(Reason("DELOAD-1", f"{st.failed_streak} sessions in a row below "
                              f"{lo} reps: deload {RED_CUT:.0%}",
                              {"failed_sessions": st.failed_streak, "from_kg": load}))
        return new, "down", lo
    if last is not None and 4 <= pain <= 5:
        reasons.append(Reason("PAIN-AMBER", f"pain {pain}/10 last time is amber "
                              "(4-5): hold the load", {"pain_during": pain}))
        return load, "hold", min(hi, max(lo, min(st.reps)))
    phase = phase_of(plan, week_of(plan, today))
    if phase == PhaseName.MAINTENANCE:
        reasons.append(Reason("MAINT-1", "maintenance: hold the load, 2-3 sessions a week", {}))
        return load, "hold", min(hi, max(lo, min(st.reps)))
    if not st.technique_ok:
        why = st.technique_why
        parts = []
        if "partial_reps" in why:
            parts.append(f"{why['partial_reps']} partial rep(s)")
        if "min_rom_pct" in why:
            parts.append(f"a rep at {why['min_rom_pct']:.0f}% of the full range (< 85%)")
        if "velocity_loss" in why:
            parts.append(f"velocity loss {why['velocity_loss']:.0%} in the first set "
                         f"(cap {why['velocity_loss_cap']:.0%})")
        reasons.append(Reason("TECH-1", "technique not yet consistent (" + "; ".join(parts)
                              + "): hold the load", why))
        return load, "hold", min(hi, max(lo, min(st.reps)))
    done = min(st.reps)
    if done < hi:
        # One more rep a session; two when the weakest set still had 3+ reps in reserve.
        step = 2 if st.min_rir is not None and st.min_rir >= 3 else 1
        target = min(hi, max(lo, done + step))
        reasons.append(Reason("DP-1", f"{done} reps on the weakest set: aim for {target} at the "
                              "same load before adding load",
                              {"reps": st.reps, "top": hi, "reps_in_reserve": st.min_rir}))
        return load, "hold", target
    since = (today - st.last_change_date).days if st.last_change_date else 10**6
    if since < dose.cadence_days:
        reasons.append(Reason("CAD-1", f"top of the range on every set, but the load went up "
                              f"{since} days ago; the {plan.profile.kind.value} profile "
                              f"progresses every {dose.cadence_days} days",
                              {"days_since_increase": since, "cadence_days": dose.cadence_days}))
        return load, "hold", hi
    step = step_kg(load, ex)
    reasons.append(Reason("DP-2", f"{hi} reps on every set with preserved technique: "
                          "add load, back to the bottom of the range",
                          {"reps": st.reps, "top": hi}))
    reasons.append(Reason("STEP-1", f"step {step:.1f} kg for a "
                          f"{'large lower-body' if ex.region == 'lower' and ex.multi_joint else 'upper-body or small'} "  # noqa: E501
                          "move", {"step_kg": step, "from_kg": load}))
    return load + step, "up", lo


def _loads_painful_region(plan: PlanFile, ex: Exercise) -> bool:
    """Whether unsettled pain speaks for this exercise: it loads one of the person's painful
    regions, or none of their exercises does (then we cannot tell, and reduce all)."""
    painful = named_regions(plan.profile.painful_regions)
    if not painful or not any(loaded_regions(e) & painful for e in plan.program.exercises):
        return True
    return bool(loaded_regions(ex) & painful)
