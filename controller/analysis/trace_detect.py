"""What a recording's numbers mean: its position unit and which way its axis points.

People should not have to know how their tracker writes its file. The unit is the one under
which both the range and the speed of the movement are a person's (a lift spans 5 cm to 3 m
and peaks between 0.1 and 5 m/s; metres, centimetres and millimetres are ten or more times
apart). The axis comes from facts that hold for any lift, each a vote weighted by how clear
it is:

- a bar or handle at rest is held by the floor, a rack or the unit's dock, so the first
  movement out of a rest that is not a rep's start is up, and the last one into it is down;
- where there is tension, the handles were let go at the bottom (the cable reels in);
- people lift faster than they lower, and it is the lifting that slows over a set.

Pure functions; `halfstep reps` and the bench call them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

UNITS = {"m": 1000.0, "cm": 10.0, "mm": 1.0}
SPAN_MM = (40.0, 3000.0)  # a lift's plausible span
PEAK_M_S = (0.1, 5.0)  # and its plausible peak speed


@dataclass(frozen=True)
class Guess:
    value: str
    sure: bool
    why: str


def _peak_speed(t: np.ndarray, p: np.ndarray) -> float:
    """A robust peak speed in the position's units per second: over 0.1 s steps, so noise
    and jitter at any rate count for little."""
    if len(t) < 3 or t[-1] <= t[0]:
        return 0.0
    grid = np.arange(t[0], t[-1], 0.1)
    if len(grid) < 3:
        return 0.0
    q = np.interp(grid, t, p)
    return float(np.percentile(np.abs(np.diff(q)) / 0.1, 98))


def guess_unit(t: np.ndarray, raw: np.ndarray) -> Guess:
    """m, cm or mm, from the range and the speed of the movement."""
    span = float(np.percentile(raw, 99.5) - np.percentile(raw, 0.5)) if len(raw) else 0.0
    speed = _peak_speed(t, raw)
    if span <= 0 or speed <= 0:
        return Guess("mm", False, "the position hardly changes, so its unit cannot be told")

    def miss(unit: str) -> float:  # how far outside a person's span and speed, in log10
        s_mm, v = span * UNITS[unit], speed * UNITS[unit] / 1000.0
        out = 0.0
        for x, (lo, hi) in ((s_mm, SPAN_MM), (v, PEAK_M_S)):
            out += max(0.0, math.log10(lo / x), math.log10(x / hi))
        return out

    def typical(unit: str) -> float:
        return abs(math.log10(span * UNITS[unit] / 500.0)) + abs(
            math.log10(speed * UNITS[unit] / 1000.0))

    ranked = sorted(UNITS, key=lambda u: (miss(u), typical(u)))
    best = ranked[0]
    fits = [u for u in UNITS if miss(u) == 0.0]
    why = (f"a span of {span * UNITS[best]:.0f} mm moving at up to "
           f"{speed * UNITS[best] / 1000:.2f} m/s if the numbers are {best}")
    return Guess(best, len(fits) == 1, why)


def _turns(p: np.ndarray, h: float) -> list[int]:
    """Indices of alternating extremes that stand out by more than h (a zigzag)."""
    out: list[int] = []
    lo_i = hi_i = ext = 0
    direction = 0
    for i, x in enumerate(p.tolist()):
        if direction == 0:
            if x > p[hi_i]:
                hi_i = i
            if x < p[lo_i]:
                lo_i = i
            if p[hi_i] - p[lo_i] > h:
                out.append(min(lo_i, hi_i))
                direction, ext = (1, hi_i) if hi_i > lo_i else (-1, lo_i)
        elif direction == 1:
            if x > p[ext]:
                ext = i
            elif x < p[ext] - h:
                out.append(ext)
                direction, ext = -1, i
        else:
            if x < p[ext]:
                ext = i
            elif x > p[ext] + h:
                out.append(ext)
                direction, ext = 1, i
    if direction:
        out.append(ext)
    return out


@dataclass(frozen=True)
class _Leg:
    a: int
    b: int
    size: float  # signed, in the position's direction
    speed: float  # over its middle 80%, mm/s


def _legs(t: np.ndarray, p: np.ndarray, turns: list[int]) -> list[_Leg]:
    legs = []
    for a, b in itertools.pairwise(turns):
        d = p[b] - p[a]
        if d == 0:
            continue
        seg = (p[a:b + 1] - p[a]) / d  # 0 -> 1 along the leg
        i10 = int(np.argmax(seg >= 0.1))
        i90 = int(np.argmax(seg >= 0.9))
        dt = t[a + i90] - t[a + i10]
        legs.append(_Leg(a, b, float(d), 0.8 * abs(d) / dt if dt > 0 else math.inf))
    return legs


def guess_axis(t: np.ndarray, p_mm: np.ndarray, tension: np.ndarray | None = None) -> Guess:
    """"up" when the numbers grow as the load goes up (a cable paying out), else "down"."""
    if len(p_mm) < 10:
        return Guess("up", False, "too few samples to tell which way is up")
    lo, hi = np.percentile(p_mm, [2, 98])
    span = float(hi - lo)
    turns = _turns(p_mm, max(15.0, 0.15 * span))
    legs = _legs(t, p_mm, turns)
    votes: list[tuple[float, str]] = []  # (weight towards "up", why)
    if tension is not None and np.ptp(tension) > 20.0:
        held = tension >= 0.25 * float(np.percentile(tension, 90))
        if held.any() and (~held).any():
            d = float(np.median(p_mm[held]) - np.median(p_mm[~held]))
            if abs(d) > 0.05 * span:
                votes.append((3.0 if d > 0 else -3.0, "the handles rest at the "
                              + ("low" if d > 0 else "high") + " end when let go"))
    big = [g for g in legs if abs(g.size) >= 0.35 * span]
    if len(big) >= 2:
        rom = float(np.median([abs(g.size) for g in big]))
        # A rest that the set never comes back to is on a support: leaving it is lifting,
        # arriving at it is putting the bar down.
        for leg, level, sign, why in (
                (legs[0], p_mm[legs[0].a], 1.0, "the first movement lifts the bar off its "
                 "support"),
                (legs[-1], p_mm[legs[-1].b], -1.0, "the last movement puts the bar down on "
                 "its support")):
            if not any(abs(p_mm[k] - level) < 0.12 * rom for k in turns[2:-2]):
                votes.append((2.5 * sign if leg.size > 0 else -2.5 * sign, why))
        ups = [g.speed for g in big if g.size > 0 and math.isfinite(g.speed)]
        downs = [g.speed for g in big if g.size < 0 and math.isfinite(g.speed)]
        if ups and downs:
            ratio = math.log(float(np.median(ups)) / float(np.median(downs)))
            w = max(-2.0, min(2.0, ratio / 0.15))  # 15% faster counts as one clear vote
            if abs(w) > 0.3:
                votes.append((w, "the movement is faster " + ("up" if w > 0 else "down")
                              + "wards, and people lift faster than they lower"))
            trend = _slowing(ups) - _slowing(downs)
            if abs(trend) > 0.1:
                w = max(-1.5, min(1.5, trend / 0.1))
                votes.append((w, "the " + ("rising" if w > 0 else "falling")
                              + " movements slow over the set, as lifting does"))
    score = sum(w for w, _ in votes)
    if not votes:
        return Guess("up", False, "no movement clear enough to tell which way is up")
    value = "up" if score >= 0 else "down"
    agree = [why for w, why in votes if (w > 0) == (score >= 0)]
    against = [why for w, why in votes if (w > 0) != (score >= 0)]
    sure = abs(score) >= 1.0 and sum(abs(w) for w, _ in votes if (w > 0) != (score >= 0)) \
        < 0.5 * abs(sum(abs(w) for w, _ in votes if (w > 0) == (score >= 0)))
    why = "; ".join(agree) + (f" (but {'; '.join(against)})" if against else "")
    return Guess(value, sure, why)


def _slowing(speeds: list[float]) -> float:
    """How much the last third is slower than the first third (0.3: 30% slower)."""
    if len(speeds) < 3:
        return 0.0
    k = max(1, len(speeds) // 3)
    return 1.0 - float(np.mean(speeds[-k:])) / float(np.mean(speeds[:k]))


def typical_range_mm(t: np.ndarray, p_mm: np.ndarray) -> float | None:
    """The size of the recording's larger movements (the median leg standing out by 15% of
    its span), or None: a set of calf raises is not a set of squats."""
    if len(p_mm) < 10:
        return None
    lo, hi = np.percentile(p_mm, [2, 98])
    legs = _legs(t, p_mm, _turns(p_mm, max(5.0, 0.15 * float(hi - lo))))
    big = [abs(g.size) for g in legs if abs(g.size) >= 0.35 * float(hi - lo)]
    return float(np.median(big)) if big else None
