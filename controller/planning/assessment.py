"""Estimating 1RM without a maximal lift: the submaximal ladder and what its sets say.

Pure functions. A ladder is a few sets at rising loads, each ended by the person with 2-3 reps
in reserve (RIR) or by the runner when the speed shows it; after each set the person says how
many more reps they had. The estimate comes from reps + RIR where that is at most 10 (Epley and
Brzycki are valid to about 10) and, where the unit measures speed, from the load-velocity
profile down to the exercise's minimum velocity. Sets ended by STOP or a lost link say nothing
about strength and are left out. No test set goes above ~80% of the current estimate (85% for
athletes), and the estimate behind that cap is never the optimistic one.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from controller.planning.models import Exercise, ProfileKind, SetLog

GRID = 0.5
SAFETY_DISCOUNT = 0.05  # EST-1/EST-2: estimates are discounted before use
VALID_REPS = 10  # EST-1: Epley/Brzycki are valid to about 10 reps
WORK_VALID_REPS = 15  # EST-3: working sets move the estimate up to 15 reps to failure (Epley)
LADDER_SETS = 5  # at most this many test sets per exercise
RECAL_SETS = 3  # a recalibration after a gap is short
RISE_MAX = 1.6  # a ladder step multiplies the load by at most this
# The most a test set may carry, of the current estimate (ASSESS-1).
TEST_FRACTION = {ProfileKind.ATHLETE: 0.83, ProfileKind.PAIN: 0.78, ProfileKind.OLDER: 0.78}
NEAR_MVT_M_S = 0.12  # a rep this close to the minimum velocity: about 2-3 reps left
# Mean concentric velocity by %1RM (shared/domain.md, bench press; MVT 0.17 m/s): the
# controller's model. sim/lifter.py keeps its own copy on purpose: the simulated person is the
# truth the estimates are checked against, and must not import what it checks.
_MCV = ((0.0, 1.70), (0.30, 1.32), (0.50, 0.95), (0.70, 0.62), (0.80, 0.47), (0.90, 0.32),
        (1.00, 0.17))
BENCH_MVT = 0.17
NOT_COUNTED = ("stopped", "link lost", "safety stop", "unit deloaded")  # cut, not tired


def mvt_for(ex: Exercise) -> float:
    """The exercise's minimum velocity threshold: squat-like moves stall faster than presses."""
    if ex.min_velocity_m_s is not None:
        return ex.min_velocity_m_s
    return 0.30 if ex.region == "lower" and ex.multi_joint else BENCH_MVT


def mcv_at(fraction: float, mvt: float = BENCH_MVT) -> float:
    """Typical first-rep velocity at this fraction of 1RM, for an exercise with this MVT."""
    p = min(1.0, max(0.0, fraction))
    for (p0, v0), (p1, v1) in itertools.pairwise(_MCV):
        if p <= p1:
            return v0 + (v1 - v0) * (p - p0) / (p1 - p0) + (mvt - BENCH_MVT) * p
    return mvt


def fraction_at(mcv: float, mvt: float = BENCH_MVT) -> float:
    """The fraction of 1RM a fresh first rep at this speed suggests (mcv_at inverted)."""
    lo, hi = 0.0, 1.0
    if mcv >= mcv_at(0.0, mvt):
        return 0.0
    if mcv <= mvt:
        return 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mcv_at(mid, mvt) > mcv else (lo, mid)
    return (lo + hi) / 2


def epley(w: float, r: float) -> float:
    return w * (1 + r / 30)


def brzycki(w: float, r: float) -> float:
    return 36 * w / (37 - r)


def estimate_from_reps(w: float, reps_to_failure: int,
                       valid: int = VALID_REPS) -> float | None:
    """EST-1: the lower of Epley and Brzycki, discounted; None outside the valid rep range."""
    if w <= 0 or not 1 <= reps_to_failure <= valid:
        return None
    return min(epley(w, reps_to_failure), brzycki(w, reps_to_failure)) * (1 - SAFETY_DISCOUNT)


def estimate_from_velocity(points: list[tuple[float, float]], mvt: float = BENCH_MVT,
                           min_loads: int = 3) -> tuple[float, float] | None:
    """EST-2: load-velocity profile over >= 3 loads, trusted at R^2 >= 0.8; (1RM, R^2). The
    ladder also reads a two-load line, only ever to lower its cap (the person's own speed,
    where the typical profile flatters a fast mover)."""
    loads = sorted({w for w, _ in points})
    if len(loads) < min_loads:
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


def counted(s: SetLog) -> bool:
    """A set that says something about strength: not cut short by STOP or a lost link."""
    return s.full_reps > 0 and not (s.ended_by or "").startswith(NOT_COUNTED)


def rep_estimate(s: SetLog, valid: int = VALID_REPS) -> float | None:
    if s.rir is None or not counted(s):
        return None
    return estimate_from_reps(s.load_kg, s.full_reps + s.rir, valid)


def speed_estimate(s: SetLog, mvt: float) -> float | None:
    """One set's first-rep speed read on the typical velocity profile (person-independent, so
    only a bound for the ladder, never the estimate itself)."""
    if s.mean_concentric_m_s is None or not counted(s):
        return None
    p = fraction_at(s.mean_concentric_m_s, mvt)
    return s.load_kg / p * (1 - SAFETY_DISCOUNT) if 0.2 <= p < 1.0 else None


def lower_bound(s: SetLog) -> float:
    """What a set proves at least (reps done plus the reps in reserve said, up to 30)."""
    return epley(s.load_kg, min(30, s.full_reps + (s.rir or 0))) * (1 - SAFETY_DISCOUNT)


def assess(sets: list[SetLog], mvt: float = BENCH_MVT) -> tuple[float | None, list[str]]:
    """1RM from a ladder: the heaviest counted set with reps + RIR at most 10, and the
    load-velocity profile where it is trusted; the lower of the two. Without either, the
    speed of the heaviest set or what it proves at least. (estimate, how it was reached)"""
    ok = [s for s in sets if counted(s)]
    if not ok:
        return None, []
    how = []
    by_reps = [(s.load_kg, e) for s in ok if (e := rep_estimate(s)) is not None]
    est = None
    if by_reps:
        est = max(by_reps)[1]  # the heaviest set: closest to 1RM, the best predictor
        how.append(f"reps + reps in reserve at {max(by_reps)[0]:.1f} kg")
    points = [(s.load_kg, s.mean_concentric_m_s) for s in ok if s.mean_concentric_m_s]
    lvp = estimate_from_velocity(points, mvt)  # type: ignore[arg-type]
    if lvp is not None:
        how.append(f"load-velocity profile (R^2 {lvp[1]:.2f})")
        est = lvp[0] if est is None else min(est, lvp[0])
    if est is None:
        heaviest = max(ok, key=lambda s: s.load_kg)
        bound = lower_bound(heaviest)
        fast = speed_estimate(heaviest, mvt)
        est = bound if fast is None else max(bound, min(fast, bound * 1.5))
        how.append("the heaviest set's reps" + (" and speed" if fast else "")
                   + " (no set came close enough to its limit)")
    return est, how


def near_limit(velocities: list[float], mvt: float) -> bool:
    """The speed of the last two reps says about 2-3 reps are left: the test set ends."""
    return len(velocities) >= 2 and (velocities[-1] + velocities[-2]) / 2 <= mvt + NEAR_MVT_M_S


def floor_grid(kg: float) -> float:
    return math.floor(kg / GRID + 1e-9) * GRID


def next_test_load(sets: list[SetLog], mvt: float, fraction: float, estimate: float | None,
                   unit_max: float, max_sets: int = LADDER_SETS) -> tuple[float | None, str]:
    """The ladder's next load, or None and why it ends. `estimate` is the current one (a
    reassessment's), `fraction` the profile's test cap."""
    if len(sets) >= max_sets:
        return None, f"{max_sets} test sets done"
    last = sets[-1]
    if (last.ended_by or "").startswith("link lost") and not (
            len(sets) > 1 and (sets[-2].ended_by or "").startswith("link lost")):
        return last.load_kg, "the link was lost during the set: the same load again"
    if not counted(last):
        return None, f"the set ended early ({last.ended_by}): no heavier set today"
    if (last.ended_by or "").startswith("speed"):
        return None, "the speed showed about 2-3 reps left: close enough"
    if last.rir is not None and last.rir <= 3 and last.full_reps + last.rir <= VALID_REPS:
        return None, f"{last.full_reps} reps with {last.rir} in reserve: close enough"
    points = [(x.load_kg, x.mean_concentric_m_s) for x in sets
              if counted(x) and x.mean_concentric_m_s is not None]
    line = estimate_from_velocity(points, mvt, min_loads=2)  # type: ignore[arg-type]
    ests = [e for e in (rep_estimate(last), speed_estimate(last, mvt), estimate,
                        line[0] if line else None) if e is not None]
    p = None if last.mean_concentric_m_s is None else fraction_at(last.mean_concentric_m_s, mvt)
    if p is not None and p >= fraction - 0.03:
        return None, "the speed shows a load close to the test cap"
    # Without an estimate yet, what the set proves at least: its reps and reps in reserve, and
    # a speed far above any near-maximal one (under 20% of 1RM).
    lows = [lower_bound(last)] + ([last.load_kg / 0.2 * (1 - SAFETY_DISCOUNT)]
                                  if p is not None and p < 0.2 else [])
    ref = min(ests) if ests else max(lows)
    cap = min(unit_max, floor_grid(ref * fraction))
    nxt = min(cap, floor_grid(last.load_kg * RISE_MAX))
    step = max(GRID, floor_grid(last.load_kg * 0.05))
    if nxt < last.load_kg + step:
        return None, f"the next load would be over {fraction:.0%} of the estimate"
    return nxt, f"{last.full_reps} reps" + (f" with {last.rir} in reserve" if last.rir is not None
                                           else "") + f": next {nxt:.1f} kg"
