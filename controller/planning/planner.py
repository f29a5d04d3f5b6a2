"""The progression planner: pure functions from profile, program and history to today's plan.

Every prescription carries its reasons: a rule id (documented in docs/planner.md, from
shared/domain.md), the data that triggered it, and the same in plain words for the person.
Loads are always multiples of 0.5 kg, never above the profile's intensity cap for the phase or
the unit's maximum. Phases follow the training done, not the calendar
(controller/planning/plan_history.py). The value types it returns live in `prescription.py`, the
load rules it applies in `load_rules.py`; their public names stay importable from here.
"""

from __future__ import annotations

import datetime as dt

from controller.planning.assessment import (
    GRID,
    LADDER_SETS,
    RECAL_SETS,
    TEST_FRACTION,
    estimate_from_reps,
    floor_grid,
    mvt_for,
)
from controller.planning.dose import BAND, DOSE
from controller.planning.exercise_guide import breathing_cue, guide, tempo_cue
from controller.planning.load_rules import (
    ADAPTATION_CAP,
    REASSESS_DAYS,
    WARMUP_REPS,
    decide_load,
    gap_cut,
    start_load,
    step_kg,
    warmup_kg,
)
from controller.planning.models import Exercise, PhaseName, PlanFile, ProfileKind
from controller.planning.pauses import CLEAR_HINT, Pause, last_red_flag, pause_state, settle_reports
from controller.planning.plan_history import (
    GAP_DAYS,
    ExerciseState,
    last_session,
    pain_for,
    phase_of,
    replay,
    technique,
    too_soon,
    training_week,
)
from controller.planning.prescription import ExercisePlan, Prescription, Reason
from controller.planning.red_flags import describe

__all__ = ["BAND", "CLEAR_HINT", "DOSE", "GRID", "ExercisePlan", "Pause", "Prescription", "Reason",
           "estimate_from_reps", "floor_grid", "next_session", "pain_for", "pause_state",
           "phase_of", "replay", "settle_reports", "step_kg", "technique", "training_week",
           "warmup_kg"]


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
        load, change, target = start_load(plan, ex, st, dose, today, last, flag, reasons)
    else:
        load, change, target = decide_load(plan, ex, st, dose, reps, today, last, flag,
                                           reasons, phase)
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


