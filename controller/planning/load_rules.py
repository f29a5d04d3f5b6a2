"""The load rules: how today's working load follows from the last sessions (docs/planner.md).

The thresholds (PHASE-1, GAP-1, PAIN-*, DELOAD-1, PROG-1, WARMUP-1 ...) and the two decisions:
the first working load after an assessment, and the next load after a working session, the
rules in priority order. `planner.py` calls these for every exercise; each appends its
`Reason` so the person always sees why.
"""

from __future__ import annotations

import datetime as dt

from controller.planning.assessment import GRID, floor_grid
from controller.planning.dose import Dose
from controller.planning.models import Exercise, PhaseName, PlanFile, ProfileKind, SessionLog
from controller.planning.plan_history import (
    GAP_DAYS,
    ExerciseState,
    loads_painful_region,
    pain_for,
    performance_goal,
    settle_of,
)
from controller.planning.prescription import Reason

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


def step_kg(load: float, ex: Exercise) -> float:
    """STEP-1: max(0.5 kg, 2.5%) for upper-body/small moves, 5% for large lower-body moves,
    never above 10% (except that 0.5 kg is the smallest step there is), on the 0.5 kg grid."""
    pct = 0.05 if (ex.region == "lower" and ex.multi_joint) else 0.025
    raw = min(load * pct, load * 0.10)
    return max(GRID, round(raw / GRID) * GRID)


def gap_cut(days: int) -> float:
    return min(GAP_CUT_MAX, GAP_CUT_PER_WEEK * (days // 7))


def warmup_kg(load: float) -> float | None:
    """WARMUP-1: one light set at about half the working load, on the 0.5 kg grid (at least
    0.5 kg); none when the working load is 2 kg or less (the working sets are the warm-up)."""
    if load <= WARMUP_MIN_WORK_KG:
        return None
    return max(GRID, floor_grid(load * WARMUP_FRACTION))


def start_load(plan: PlanFile, ex: Exercise, st: ExerciseState, dose: Dose, today: dt.date,
               last: SessionLog | None, flag: dt.date | None,
               reasons: list[Reason]) -> tuple[float, str, int]:
    """START-1: the first working load after the assessment, lower after pain that had not
    settled (PAIN-SETTLE) or a red flag (FLAG-1)."""
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


def decide_load(plan: PlanFile, ex: Exercise, st: ExerciseState, dose: Dose,
                reps: tuple[int, int], today: dt.date, last: SessionLog | None,
                flag: dt.date | None, reasons: list[Reason],
                phase: PhaseName) -> tuple[float, str, int]:
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
