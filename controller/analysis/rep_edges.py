"""Where a movement starts and stops, from the positions it passes through.

Speed near a stop is the least trustworthy part of a trace: it is small, noisy, and for a
smooth human movement it fades in and out gradually, so extrapolating the speed edge lands late
on a slow start and early on a slow arrival. Positions in the steep middle of a movement are
the most trustworthy part. So a movement between two resting levels is fitted by the times it
crosses 10%, 20% ... 90% of the way, against the shapes smooth movements take: the crossing
times are a straight line in the shape's own time, whose ends are the start and the stop. The
shapes are the half-cosine, minimum jerk, and minimum jerk in a warped time that starts or
stops slower (a bar ground off the chest, eased into its top), where a speed edge misleads
most. The best-fitting shape is kept; a movement that fits none is left to the caller.
"""

from __future__ import annotations

import math
from collections.abc import Callable

FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _cosine(s: float) -> float:
    return (1.0 - math.cos(math.pi * s)) / 2.0


def _minjerk(s: float) -> float:
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def _inverse(shape: Callable[[float], float], f: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if shape(mid) < f:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _slow_start(a: float) -> Callable[[float], float]:
    """Minimum jerk in a time that starts slower: a bar ground off the chest."""
    return lambda s: _minjerk(s ** a)


def _slow_stop(a: float) -> Callable[[float], float]:
    """The same, arriving slowly: a bar eased to a stop."""
    return lambda s: 1.0 - _minjerk((1.0 - s) ** a)


# The shape's own time at which each fraction of the way is passed.
SHAPES = {name: tuple(_inverse(fn, f) for f in FRACTIONS)
          for name, fn in (("cosine", _cosine), ("minjerk", _minjerk),
                           ("slow start", _slow_start(1.35)), ("slower start", _slow_start(1.7)),
                           ("slow stop", _slow_stop(1.35)), ("slower stop", _slow_stop(1.7)))}
MAX_RESIDUAL = 0.03  # of the movement's duration: worse than this fits neither shape


def crossings(t: list[float], p: list[float], j0: int, j1: int, a: float, b: float,
              mid: int) -> list[float] | None:
    """Times at which p passes each fraction of the way from level a to level b, between
    indices j0 and j1; the lower fractions are searched back from `mid` (the fastest point),
    the upper ones forward from it, so noise at the resting ends cannot fool them."""
    d = b - a
    if d == 0 or not j0 < mid < j1:
        return None
    u = [(p[k] - a) / d for k in range(j0, j1 + 1)]
    m = mid - j0
    out = []
    for f in FRACTIONS:
        if u[m] >= f:
            k = m
            while k > 0 and u[k - 1] >= f:
                k -= 1
            if k == 0:
                return None
        else:
            k = m + 1
            while k < len(u) and u[k] < f:
                k += 1
            if k == len(u):
                return None
        u0, u1 = u[k - 1], u[k]
        w = (f - u0) / (u1 - u0) if u1 != u0 else 1.0
        out.append(t[j0 + k - 1] + min(max(w, 0.0), 1.0) * (t[j0 + k] - t[j0 + k - 1]))
    return out


def fit(times: list[float]) -> tuple[float, float, str] | None:
    """(start, stop, shape) of a movement from its crossing times, or None if no shape fits."""
    best: tuple[float, float, float, str] | None = None
    n = len(times)
    tm = sum(times) / n
    for name, s in SHAPES.items():
        sm = sum(s) / n
        var = sum((x - sm) ** 2 for x in s)
        dur = sum((x - sm) * (y - tm) for x, y in zip(s, times, strict=True)) / var
        if dur <= 0:
            continue
        t0 = tm - dur * sm
        res = math.sqrt(sum((t0 + dur * x - y) ** 2 for x, y in zip(s, times, strict=True)) / n)
        if best is None or res / dur < best[0]:
            best = (res / dur, t0, t0 + dur, name)
    if best is None or best[0] > MAX_RESIDUAL:
        return None
    return best[1], best[2], best[3]
