"""Where a movement starts and stops, from the positions it passes through.

Speed near a stop is the least trustworthy part of a trace: it is small, noisy, and for a
smooth human movement it fades in and out gradually (a minimum-jerk movement's speed grows as
the square of time), so extrapolating the speed edge lands late on a slow start and early on
a slow arrival. Positions in the steep middle of a movement are the most trustworthy part. So
a movement between two resting levels is fitted by the times it crosses 10%, 20% ... 90% of
the way, against the two shapes smooth movements take (half-cosine and minimum jerk): the
crossing times are a straight line in the shape's own time, whose ends are the start and the
stop. The better-fitting shape is kept; a movement that fits neither is left to the caller.
"""

from __future__ import annotations

import math

FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _cosine(s: float) -> float:
    return (1.0 - math.cos(math.pi * s)) / 2.0


def _minjerk(s: float) -> float:
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def _inverse(shape: object, f: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if shape(mid) < f:  # type: ignore[operator]
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# The shape's own time at which each fraction of the way is passed.
SHAPES = {name: tuple(_inverse(fn, f) for f in FRACTIONS)
          for name, fn in (("cosine", _cosine), ("minjerk", _minjerk))}
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
