"""The progression planner: pure functions from profile, program and history to today's plan.

Every prescription carries its reasons: a rule id (documented in docs/planner.md, from
shared/domain.md), the data that triggered it, and the same in plain words for the person.
Loads are always multiples of 0.5 kg, never above the profile's intensity cap for the phase or
the unit's maximum. Phases follow the training done, not the calendar
(controller/planning/replay.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from controller.planning.assessment import (
    GRID,
    LADDER_SETS,
    RECAL_SETS,
    TEST_FRACTION,
    estimate_from_reps,
    floor_grid,
    mvt_for,
)
from controller.planning.dose import BAND, DOSE, Dose
from controller.planning.exercise_guide import Guide, breathing_cue, guide, tempo_cue
from controller.planning.models import Exercise, PhaseName, PlanFile, ProfileKind, SessionLog
from controller.planning.pauses import CLEAR_HINT, Pause, last_red_flag, pause_state, settle_reports
from controller.planning.red_flags import describe
from controller.planning.replay import (
    GAP_DAYS,
    ExerciseState,
    last_session,
    loads_painful_region,
    pain_for,
    performance_goal,
    phase_of,
    replay,
    settle_of,
    technique,
    too_soon,
    training_week,
)

__all__ = ["BAND", "CLEAR_HINT", "DOSE", "GRID", "ExercisePlan", "Pause", "Prescription", "Reason",
           "estimate_from_reps", "floor_grid", "next_session", "pain_for", "pause_state",
           "phase_of", "replay", "settle_reports", "step_kg", "technique", "training_week",
           "warmup_kg"]

ADAPTATION_CAP = 0.60  # PHASE-1: adaptation stays within 40-60% 1RM
GAP_CUT_PER_WEEK = 0.10
GAP_CUT_MAX = 0.30
RED_CUT = 0.10  # PAIN-RED, PAIN-SETTLE, DELOAD-1
CLEARANCE_CUT = 0.30  # FLAG-1: back after a red flag, as after the longest gap
REASSESS_DAYS = 35  # REASSESS-1: reassess every 4-6 weeks (5)
RAMP_STEP = 0.10  # PROG-1: toward the profile's band, never more than 10% a session
WARMUP_FRACTION = 0.5  # WARMUP-1: one light set at about half the working load
WARMUP_MIN_WORK_KG = 2.0  # WARMUP-1: at or below this working load, no warm-up set
WARMUP_REPS = {ProfileKind.ATHLETE: 8, ProfileKind.PAIN: 10, ProfileKind.OLDER: 10}


@dataclass(frozen=True)
class Reason:
    rule: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    plain: str = ""  # the same, for the person: no rule ids, no percentages of 1RM

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "text": self.text, "plain": self.plain, "data": self.data}


@dataclass(frozen=True)
class ExercisePlan:
    exercise: str
    kind: str  # "work" | "assessment"
    sets: int  # an assessment: the most test sets the ladder may take
    reps: tuple[int, int]  # range
    target_reps: int
    load_kg: float  # an assessment: the first test set's load
    rest_s: int
    cues: tuple[str, ...]
    reasons: tuple[Reason, ...]
    change: str  # "start" | "up" | "hold" | "down" | "assess"
    one_rm_kg: float | None
    assessment_loads_kg: tuple[float, ...] = ()  # the ladder's first load (the rest follow)
    cap_kg: float | None = None  # the most a set may carry today, whoever asks
    test_fraction: float | None = None  # a ladder: no test set above this of the estimate
    mvt_m_s: float | None = None  # a ladder: the exercise's minimum velocity threshold
    warmup_kg: float | None = None  # WARMUP-1: one light set before the working sets
    warmup_reps: int = 0
    guide: Guide | None = None  # setup, cues, what to avoid, a drawing (exercise_guide.py)

    @property
    def dose_plain(self) -> str:
        """Today's dose for this exercise in one plain sentence (loads in kg, 1 decimal)."""
        if self.kind == "assessment":
            return (f"A few test sets, each a little heavier, starting at {self.load_kg:.1f} "
                    "kg; stop each when you have 2-3 reps left")
        if self.kind == "warmup":  # the session runner's warm-up set, made from a work item
            kg = self.warmup_kg if self.warmup_kg is not None else self.load_kg
            return f"One light warm-up set of {self.target_reps} at {kg:.1f} kg"
        text = (f"{self.sets} set{'s' if self.sets != 1 else ''} of {self.target_reps} at "
                f"{self.load_kg:.1f} kg"
                + (f", {self.rest_s} s rest between sets" if self.sets > 1 else ""))
        if self.warmup_kg is not None:
            text += (f", after one light warm-up set of {self.warmup_reps} at "
                     f"{self.warmup_kg:.1f} kg")
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "kind": self.kind, "sets": self.sets,
                "reps": list(self.reps), "target_reps": self.target_reps,
                "load_kg": self.load_kg, "rest_s": self.rest_s, "cues": list(self.cues),
                "change": self.change, "one_rm_kg": self.one_rm_kg,
                "assessment_loads_kg": list(self.assessment_loads_kg), "cap_kg": self.cap_kg,
                "test_fraction": self.test_fraction, "mvt_m_s": self.mvt_m_s,
                "warmup_kg": self.warmup_kg, "warmup_reps": self.warmup_reps,
                "dose_plain": self.dose_plain,
                "guide": None if self.guide is None else self.guide.as_dict(),
                "reasons": [r.as_dict() for r in self.reasons]}


@dataclass(frozen=True)
class Prescription:
    date: dt.date
    week: int  # weeks of training done (not calendar weeks)
    phase: PhaseName
    status: str  # "train" | "paused"
    items: tuple[ExercisePlan, ...]
    reasons: tuple[Reason, ...]
    advice: str = ""
    too_soon: dict[str, Any] | None = None  # SPACE-1: the last session was too recent

    @property
    def headline(self) -> str:
        """Today in one plain line for the person (the panel's header)."""
        if self.status == "paused":
            return "Paused until a clinician's all-clear"
        if self.too_soon is not None:
            when = "today" if self.too_soon.get("hours") == 0 else "yesterday"
            return f"Rest day recommended: last session was {when}"
        checks = {r.rule for i in self.items for r in i.reasons}
        tests_only = bool(self.items) and all(i.kind == "assessment" for i in self.items)
        if self.phase == PhaseName.ASSESSMENT or (tests_only and "ASSESS-1" in checks):
            return "First sessions: finding your starting loads"
        if tests_only:
            if "RECAL-1" in checks:
                return "Welcome back: a short check of where you are"
            return f"Week {self.week}: a check of your level"
        return {PhaseName.ADAPTATION: f"Week {self.week}: getting used to the movements",
                PhaseName.PROGRESSION: f"Week {self.week}: building strength step by step",
                PhaseName.MAINTENANCE: "Keeping what you have built"}[self.phase]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "week": self.week, "phase": self.phase.value,
                "headline": self.headline,
                "status": self.status, "advice": self.advice, "too_soon": self.too_soon,
                "reasons": [r.as_dict() for r in self.reasons],
                "items": [i.as_dict() for i in self.items]}


def step_kg(load: float, ex: Exercise) -> float:
    """STEP-1: max(0.5 kg, 2.5%) for upper-body/small moves, 5% for large lower-body moves,
    never above 10% (except that 0.5 kg is the smallest step there is), on the 0.5 kg grid."""
    pct = 0.05 if (ex.region == "lower" and ex.multi_joint) else 0.025
    raw = min(load * pct, load * 0.10)
    return max(GRID, round(raw / GRID) * GRID)


def gap_cut(days: int) -> float:
    return min(GAP_CUT_MAX, GAP_CUT_PER_WEEK * (days // 7))


# ---- today --------------------------------------------------------------------------------


def next_session(plan: PlanFile, today: dt.date) -> Prescription:
    """Today's prescription for every exercise in the program, with the reasons for each."""
    week = training_week(plan, today)
    phase = phase_of(plan, week)
    pause = pause_state(plan, today)
    session_reasons = [Reason("PHASE-1", f"training week {week}: {phase.value}",
                              {"week": week, "phase": phase.value}, _phase_plain(phase, week))]
    if pause is not None:
        return Prescription(
            today, week, phase, "paused", (), (*session_reasons, Reason(
                "FLAG-1", f"red flag on {pause.date}: {describe(list(pause.kinds))}. The "
                "program is paused until a clinician's all-clear is recorded", pause.as_dict(),
                "Training is paused after the warning sign you reported, until a clinician "
                "says it is safe to go on.")),
            advice=f"{pause.advice} {CLEAR_HINT}")
    soon = too_soon(plan, today)
    if soon is not None:
        session_reasons.append(Reason(
            "SPACE-1", f"last session on {soon['last']} ({soon['hours']} h ago): at least "
            f"{soon['min_hours']} h between sessions loading the same muscles for the "
            f"{plan.profile.kind.value} profile", soon,
            f"Your last session was {'today' if soon['hours'] == 0 else 'yesterday'}: muscles "
            f"and joints need {soon['min_hours']} hours to recover between sessions. Resting "
            "today is part of the training."))
    flag = last_red_flag(plan, today)
    items = tuple(_plan_exercise(plan, ex, today, phase, flag)
                  for ex in plan.program.exercises)
    return Prescription(today, week, phase, "train", items, tuple(session_reasons),
                        too_soon=soon)


def _phase_plain(phase: PhaseName, week: int) -> str:
    return {PhaseName.ASSESSMENT: "First session: finding your starting loads with a few "
                                  "easy-to-moderate sets.",
            PhaseName.ADAPTATION: f"Week {week}: getting used to the movements with light, "
                                  "controlled loads.",
            PhaseName.PROGRESSION: f"Week {week}: loads rise step by step as you handle them.",
            PhaseName.MAINTENANCE: f"Week {week}: keeping what you have built."}[phase]


def _cues(plan: PlanFile, ex: Exercise, phase: PhaseName) -> tuple[str, ...]:
    """CUE-1: breathing in the movement's words (exercise_guide.py, one source for the
    terminal and the panel), technique first early on, and the pain rule for pain profiles."""
    cues = [breathing_cue(ex)]
    if phase in (PhaseName.ASSESSMENT, PhaseName.ADAPTATION):
        cues.append(tempo_cue(ex))
    if plan.profile.kind != ProfileKind.ATHLETE:
        cues.append("Pain up to 3/10 while training is fine; at 4-5 hold and tell us; "
                    "stop if it passes 5.")
    return tuple(cues)


def _ladder(plan: PlanFile, ex: Exercise, st: ExerciseState, rule: str, text: str, plain: str,
            start: float, sets: int, cues: tuple[str, ...]) -> ExercisePlan:
    """A submaximal ladder: rising sets, each to 2-3 reps in reserve, none above the
    profile's test fraction of the current estimate."""
    kind = plan.profile.kind
    frac = TEST_FRACTION[kind]
    unit_max = plan.program.unit_max_kg
    cap = None if st.one_rm is None else min(unit_max, floor_grid(st.one_rm * frac))
    start = min(unit_max, max(GRID, start if cap is None else min(start, cap)))
    reason = Reason(rule, text, {"first_kg": start, "max_sets": sets, "cap_kg": cap,
                                 "test_fraction": frac,
                                 "one_rm_kg": None if st.one_rm is None else round(st.one_rm, 1)},
                    plain)
    return ExercisePlan(ex.name, "assessment", sets, (1, 10), 10, start, DOSE[kind].rest_s, cues,
                        (reason,), "assess", st.one_rm, (start,), cap, frac, mvt_for(ex),
                        guide=guide(ex))


def warmup_kg(load: float) -> float | None:
    """WARMUP-1: one light set at about half the working load, on the 0.5 kg grid (at least
    0.5 kg); none when the working load is 2 kg or less (the working sets are the warm-up)."""
    if load <= WARMUP_MIN_WORK_KG:
        return None
    return max(GRID, floor_grid(load * WARMUP_FRACTION))


def _plan_exercise(plan: PlanFile, ex: Exercise, today: dt.date, phase: PhaseName,
                   flag: dt.date | None) -> ExercisePlan:
    kind = plan.profile.kind
    dose = DOSE[kind]
    st = replay(plan, ex, today)
    cues = _cues(plan, ex, phase)
    unit_max = plan.program.unit_max_kg
    how = ("stop each set when you feel 2-3 more reps would be possible (at most 10), then say "
           "how many more you could have done")
    if st.one_rm is None:
        start = st.tested_kg if st.tested_kg is not None else ex.first_load_kg
        return _ladder(plan, ex, st, "ASSESS-1", "estimate the 1RM from a submaximal ladder: "
                       f"up to {LADDER_SETS} rising sets from {start:.1f} kg, each stopped with "
                       "2-3 reps in reserve, never a maximal lift",
                       f"Finding your level: a few sets getting heavier; {how}.", start,
                       LADDER_SETS, cues)
    last = last_session(plan, today)
    gap = (today - st.last_date).days if st.last_date else 0
    if gap >= GAP_DAYS and st.load is not None:
        cut = gap_cut(gap)
        return _ladder(plan, ex, st, "RECAL-1", f"{gap} days since the last session: a short "
                       f"recalibration from {cut:.0%} below the last load "
                       f"({st.load:.1f} kg) restores the estimate; working sets restart lower",
                       f"Welcome back after {gap // 7} weeks. Today is a short check of "
                       f"where you are, starting lighter; {how}.",
                       floor_grid(st.load * (1 - cut)), RECAL_SETS, cues)
    if (phase != PhaseName.ASSESSMENT and st.assessed_on is not None and st.load is not None
            and (today - st.assessed_on).days >= REASSESS_DAYS
            and (flag is None or (today - flag).days >= 4 * 7)  # rebuild after a red flag
            and (last is None or pain_for(plan, last, ex) < 4)):
        days = (today - st.assessed_on).days
        return _ladder(plan, ex, st, "REASSESS-1", f"{days} days since the last assessment: "
                       "reassess with a submaximal ladder (every 4-6 weeks)",
                       f"Time for a check of your level (every 4-6 weeks); {how}.",
                       floor_grid(st.one_rm * 0.5), LADDER_SETS - 1, cues)
    early = phase in (PhaseName.ASSESSMENT, PhaseName.ADAPTATION)
    reps = dose.reps_adaptation if early else dose.reps_progression
    sets = dose.sets_adaptation if early else dose.sets_progression
    cap_pct = ADAPTATION_CAP if early else dose.cap
    cap = min(unit_max, floor_grid(st.one_rm * cap_pct))
    reasons: list[Reason] = [Reason("DOSE-1", f"{kind.value} profile: {sets} sets of "
                                    f"{reps[0]}-{reps[1]}, rest {dose.rest_s} s",
                                    {"profile": kind.value},
                                    f"{sets} sets of {reps[0]}-{reps[1]} reps, {dose.rest_s} s "
                                    "rest between sets.")]
    if st.load is None:
        load, change, target = _start(plan, ex, st, dose, today, last, flag, reasons)
    else:
        load, change, target = _decide(plan, ex, st, dose, reps, today, last, flag, reasons,
                                       phase)
    if load > cap:
        if change == "up":  # no room to add load: keep working at the top of the range
            change, target = "hold", reps[1]
        reasons.append(Reason("CAP-1", f"capped at {cap:.1f} kg: {cap_pct:.0%} of the estimated "
                              f"1RM {st.one_rm:.1f} kg in {phase.value}"
                              + (" and the unit's maximum" if cap == unit_max else ""),
                              {"cap_kg": cap, "one_rm_kg": round(st.one_rm, 1)},
                              "This is as heavy as this stage of your program goes."))
        load = cap
    # Reductions stop at the smallest load there is: resistance never disappears silently.
    load = min(max(GRID, load), max(GRID, cap))
    warm = warmup_kg(load)
    return ExercisePlan(ex.name, "work", sets, reps, max(reps[0], min(target, reps[1])),
                        load, dose.rest_s, cues, tuple(reasons), change, st.one_rm,
                        cap_kg=max(GRID, cap), warmup_kg=warm,
                        warmup_reps=WARMUP_REPS[kind] if warm is not None else 0,
                        guide=guide(ex))


def _start(plan: PlanFile, ex: Exercise, st: ExerciseState, dose: Dose, today: dt.date,
           last: SessionLog | None, flag: dt.date | None,
           reasons: list[Reason]) -> tuple[float, str, int]:
    assert st.one_rm is not None
    load = max(GRID, floor_grid(st.one_rm * dose.start))
    change = "start"
    reasons.append(Reason("START-1", f"first working load {load:.1f} kg = "
                          f"{dose.start:.0%} of the estimated 1RM {st.one_rm:.1f} kg",
                          {"one_rm_kg": round(st.one_rm, 1), "fraction": dose.start},
                          f"Starting at {load:.1f} kg: comfortably within what your check "
                          "showed, so you can focus on the movement."))
    if last is not None and settle_of(last) == "raised" and loads_painful_region(plan, ex):
        start = load
        load = max(GRID, floor_grid(start * (1 - RED_CUT)))
        reasons.append(Reason("PAIN-SETTLE", "pain had not settled after the last session "
                              f"(24-48 h rule): start {RED_CUT:.0%} lower",
                              {"settled": False, "from_kg": start},
                              "Your pain had not settled since last time, so a little "
                              "lighter today."))
        change = "down"
    trained = [s.date for s in plan.history if s.sets and s.date < today]
    if flag is not None and (not trained or max(trained) <= flag):  # none since the flag
        start = load
        load = max(GRID, floor_grid(start * (1 - CLEARANCE_CUT)))
        change = "down"
        reasons.append(Reason("FLAG-1", "back after a red flag with medical clearance: "
                              f"start {CLEARANCE_CUT:.0%} lower and rebuild",
                              {"red_flag_date": flag.isoformat(), "from_kg": start},
                              "Welcome back after your all-clear: we restart lighter and "
                              "build up again."))
    return load, change, dose.reps_adaptation[0]


def _decide(plan: PlanFile, ex: Exercise, st: ExerciseState, dose: Dose,
            reps: tuple[int, int], today: dt.date, last: SessionLog | None, flag: dt.date | None,
            reasons: list[Reason], phase: PhaseName) -> tuple[float, str, int]:
    """The rules in priority order; the first that changes or holds the load decides."""
    assert st.load is not None and st.last_date is not None and st.one_rm is not None
    load = st.load
    lo, hi = reps
    if flag is not None and st.last_date <= flag:  # the first session since the flag
        new = floor_grid(load * (1 - CLEARANCE_CUT))
        reasons.append(Reason("FLAG-1", f"back after a red flag with medical clearance: restart "
                              f"{CLEARANCE_CUT:.0%} lower and rebuild",
                              {"red_flag_date": flag.isoformat(), "from_kg": load},
                              "Welcome back after your all-clear: we restart lighter and "
                              "build up again."))
        return new, "down", lo
    if st.last_was_test and st.gap_days >= GAP_DAYS:  # the recalibration after a gap is done
        cut = gap_cut(st.gap_days)
        kept = st.pre_gap_one_rm is not None and st.one_rm >= 0.95 * st.pre_gap_one_rm
        if kept:  # the recalibration found the strength kept: half the cut
            cut = round(cut / 2, 3)
        new = floor_grid(load * (1 - cut))
        reasons.append(Reason("GAP-1", f"{st.gap_days} days off: restart {cut:.0%} lower "
                              + ("(half the cut: the recalibration found the strength kept) "
                                 if kept else "") + "and build back up (at most 10% a session)",
                              {"gap_days": st.gap_days, "cut": cut, "from_kg": load,
                               "strength_kept": kept},
                              f"After your break we restart at {new:.1f} kg and build back "
                              "up over the next sessions."))
        return new, "down", lo
    pain = 0 if last is None else pain_for(plan, last, ex)
    if last is not None:  # what hurt is reduced, not everything
        if pain >= 6:
            new = floor_grid(load * (1 - RED_CUT))
            reasons.append(Reason("PAIN-RED", f"pain {pain}/10 during the last session is red "
                                  f"(6+): reduce {RED_CUT:.0%} and reassess",
                                  {"pain_during": pain, "from_kg": load},
                                  f"Pain was {pain}/10 last time, more than training should "
                                  f"cause: {new:.1f} kg today."))
            return new, "down", lo
        if settle_of(last) == "raised" and loads_painful_region(plan, ex):
            new = floor_grid(load * (1 - RED_CUT))
            reasons.append(Reason("PAIN-SETTLE", "pain had not settled after the last session "
                                  f"(24-48 h rule): reduce {RED_CUT:.0%} and reassess",
                                  {"pain_after": last.pain_after, "settled": False,
                                   "from_kg": load},
                                  "Your pain had not settled since last time, so a little "
                                  f"lighter today: {new:.1f} kg."))
            return new, "down", lo
    if st.failed_streak >= dose.deload_after:
        new = floor_grid(load * (1 - RED_CUT))
        reasons.append(Reason("DELOAD-1", f"{st.failed_streak} sessions in a row below "
                              f"{lo} reps: deload {RED_CUT:.0%}",
                              {"failed_sessions": st.failed_streak, "from_kg": load},
                              f"The last {st.failed_streak} sessions fell short of {lo} reps: "
                              f"a lighter {new:.1f} kg to rebuild."))
        return new, "down", lo
    settled_target = min(hi, max(lo, min(st.reps)))
    if last is not None and 4 <= pain <= 5:
        reasons.append(Reason("PAIN-AMBER", f"pain {pain}/10 last time is amber "
                              "(4-5): hold the load", {"pain_during": pain},
                              f"Pain was {pain}/10 last time: same load until it is easier."))
        return load, "hold", settled_target
    if not st.technique_ok:
        return load, "hold", _technique_hold(st, reasons, settled_target)
    early = phase in (PhaseName.ASSESSMENT, PhaseName.ADAPTATION)
    target_kg = floor_grid(st.one_rm * (dose.start if early else dose.target))
    if (load < target_kg * 0.97 and min(st.reps) >= lo
            and (st.min_rir is None or st.min_rir >= 2)):
        new = min(target_kg, max(load + GRID, floor_grid(load * (1 + RAMP_STEP))))
        reasons.append(Reason("PROG-1", f"{load:.1f} kg is below this phase's working "
                              f"intensity ({target_kg:.1f} kg of the estimated 1RM "
                              f"{st.one_rm:.1f} kg) with every set at {lo}+ reps: up at most "
                              "10% a session", {"from_kg": load, "target_kg": target_kg,
                                                "reps": st.reps, "reps_in_reserve": st.min_rir},
                              f"You handled {load:.1f} kg well on every set: {new:.1f} kg "
                              "today."))
        return new, "up", lo
    perf = performance_goal(plan)
    if phase == PhaseName.MAINTENANCE and not perf and load >= (st.peak_load or load):
        reasons.append(Reason("MAINT-1", "maintenance: hold the load, 2-3 sessions a week", {},
                              "Keeping your loads steady: this is what holds the gains."))
        return load, "hold", settled_target
    done = min(st.reps)
    if done < hi:
        # One more rep a session; two when the weakest set still had 3+ reps in reserve.
        step = 2 if st.min_rir is not None and st.min_rir >= 3 else 1
        target = min(hi, max(lo, done + step))
        reasons.append(Reason("DP-1", f"{done} reps on the weakest set: aim for {target} at the "
                              "same load before adding load",
                              {"reps": st.reps, "top": hi, "reps_in_reserve": st.min_rir},
                              f"Same load; aim for {target} reps on every set today."))
        return load, "hold", target
    cadence = dose.cadence_days * (2 if phase == PhaseName.MAINTENANCE else 1)
    since = (today - st.last_change_date).days if st.last_change_date else 10**6
    if since < cadence:
        reasons.append(Reason("CAD-1", f"top of the range on every set, but the load went up "
                              f"{since} days ago; the {plan.profile.kind.value} profile "
                              f"progresses every {cadence} days now",
                              {"days_since_increase": since, "cadence_days": cadence},
                              f"{hi} reps on every set: great. The load went up only {since} "
                              "days ago, so same load once more."))
        return load, "hold", hi
    step = step_kg(load, ex)
    if st.min_rir is not None and st.min_rir >= 3:  # the reps came easily: a bigger step
        step = min(max(GRID, floor_grid(load * 0.10)), step * 2)
    new = load + step
    reasons.append(Reason("DP-2", f"{hi} reps on every set with preserved technique: "
                          "add load, back to the bottom of the range",
                          {"reps": st.reps, "top": hi, "reps_in_reserve": st.min_rir},
                          f"{hi} reps on every set with good form, so +{step:g} kg today "
                          f"({new:.1f} kg), back to {lo} reps."))
    big = ex.region == "lower" and ex.multi_joint
    reasons.append(Reason("STEP-1", f"step {step:.1f} kg for a "
                          f"{'large lower-body' if big else 'upper-body or small'} move"
                          + (" (doubled: 3+ reps in reserve)" if st.min_rir and st.min_rir >= 3
                             else ""), {"step_kg": step, "from_kg": load}, ""))
    return new, "up", lo


def _technique_hold(st: ExerciseState, reasons: list[Reason], target: int) -> int:
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
                          + "): hold the load", why,
                          "Same load until every rep is smooth and through the whole range."))
    return target
