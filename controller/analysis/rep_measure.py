"""Measuring one closed rep from its samples (`analyse`): phase boundaries from the velocity's
rising and falling edges extrapolated to zero (or fitted from positions), range, speeds,
tension and power. Plain lists and exact numpy-equal sums; kept apart from the streaming
detector, which only decides when a rep is over.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from controller.analysis import rep_edges
from controller.analysis.rep_types import Rep, RepKind


def _np_sum(a: list[float]) -> float:
    """Sum as numpy's add.reduce does (pairwise, blocks of eight), to the last bit: the rep
    analysis runs on plain lists (numpy's per-call cost dominates on a rep's few dozen samples)
    and gives exactly what the array version gave."""
    return _pairwise(a, 0, len(a))


def _pairwise(a: list[float], i: int, n: int) -> float:
    if n < 8:
        r = 0.0
        for k in range(i, i + n):
            r += a[k]
        return r
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[i:i + 8]
        k, end = i + 8, i + n - n % 8
        while k < end:
            r0 += a[k]
            r1 += a[k + 1]
            r2 += a[k + 2]
            r3 += a[k + 3]
            r4 += a[k + 4]
            r5 += a[k + 5]
            r6 += a[k + 6]
            r7 += a[k + 7]
            k += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for k in range(end, i + n):
            res += a[k]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, i, n2) + _pairwise(a, i + n2, n - n2)


def _crossing(t: list[float], y: list[float], i: int, level: float) -> float:
    """Time at which y passes `level` between samples i-1 and i (linear interpolation)."""
    if i <= 0:
        return t[0]
    y0, y1 = y[i - 1], y[i]
    if y1 == y0:
        return t[i]
    u = (level - y0) / (y1 - y0)
    return t[i - 1] + min(max(u, 0.0), 1.0) * (t[i] - t[i - 1])


LOW, HIGH = 0.1, 0.4  # the part of a speed edge that is close to a straight line


def _edge_zero(t: list[float], y: list[float], peak: float, i_lo: int, i_hi: int,
               i_cross_low: int | None, i_cross_high: int) -> float:
    """Fit a line to the edge between LOW and HIGH of the peak and return where it meets zero.

    The two interpolated crossings are always in the fit, so sparse samples (10 Hz) still give
    a line; dense samples (500 Hz) average out the noise of any single one.
    """
    lo, hi = LOW * peak, HIGH * peak
    ts = [_crossing(t, y, i_cross_high, hi)]
    ys = [hi]
    if i_cross_low is not None:
        ts.append(_crossing(t, y, i_cross_low, lo))
        ys.append(lo)
    for k in range(i_lo, i_hi + 1):
        if lo < y[k] < hi:
            ts.append(t[k])
            ys.append(y[k])
    n = len(ts)
    tm, ym = _np_sum(ts) / n, _np_sum(ys) / n
    dt = [x - tm for x in ts]
    var = _np_sum([d * d for d in dt])
    if var <= 0:
        return ts[0]
    slope = _np_sum([d * (yk - ym) for d, yk in zip(dt, ys, strict=True)]) / var
    if slope == 0:
        return ts[0]
    return tm - ym / slope


def _rising_edge(t: list[float], y: list[float], i0: int, ipk: int) -> float:
    """Where y (>= 0, peak at ipk) starts rising after i0, extrapolated to zero."""
    peak = y[ipk]
    lo, hi = LOW * peak, HIGH * peak
    i_lo = next((k for k in range(i0, ipk + 1) if y[k] >= lo), i0)
    i_hi = next((k for k in range(i0, ipk + 1) if y[k] >= hi), i0)
    if i_lo == i0:  # already moving at the first sample we have
        return t[i0]
    return max(t[0], _edge_zero(t, y, peak, i_lo, i_hi, i_lo, i_hi))


def _falling_edge(t: list[float], y: list[float], ipk: int, i1: int) -> float:
    """Where y (>= 0, peak at ipk) stops falling, extrapolated to zero.

    The rep may be closed as soon as the speed is under 20%, so this may lie past the data.
    """
    peak = y[ipk]
    lo, hi = LOW * peak, HIGH * peak
    i_hi = next((k for k in range(ipk, i1 + 1) if y[k] < hi), None)
    if i_hi is None:
        return t[i1]
    i_lo = next((k for k in range(ipk, i1 + 1) if y[k] < lo), None)
    if i_lo is None:  # data ends between 40% and 10%: the line through what there is
        if i1 - i_hi < 1:
            return t[i1]
        return _edge_zero(t, y, peak, i_hi, i1, None, i_hi)
    return _edge_zero(t, y, peak, i_hi, i_lo, i_lo, i_hi)


def _fitted(t: list[float], p: list[float], j0: int, j1: int, a: float, b: float,
            mid: int) -> tuple[float, float] | None:
    """Start and stop of the one movement from level a (index j0) to b (j1), if it is smooth
    enough to fit (controller.analysis.rep_edges)."""
    if abs(b - a) < 10.0:
        return None
    times = rep_edges.crossings(t, p, j0, j1, a, b, mid)
    got = rep_edges.fit(times) if times is not None else None
    return None if got is None else (got[0], got[1])


def central_velocity(t: np.ndarray, p: np.ndarray, half_span_s: float) -> np.ndarray:
    """Velocity (m/s) from positions by a centred difference over about +-half_span_s."""
    if len(t) < 2:
        return np.zeros(len(t))
    idx = np.arange(len(t))
    hi = np.searchsorted(t, t + half_span_s, side="right") - 1
    lo = np.searchsorted(t, t - half_span_s, side="left")
    hi = np.clip(np.maximum(hi, idx + 1), 0, len(t) - 1)  # at least the next sample
    lo = np.clip(np.minimum(lo, idx - 1), 0, len(t) - 1)
    dt = t[hi] - t[lo]
    return np.where(dt > 0, (p[hi] - p[lo]) / np.where(dt > 0, dt, 1.0) / 1000.0, 0.0)


def _runs(y: list[float], i0: int, i1: int) -> list[tuple[int, int, int, float]]:
    """Movements in y[i0..i1]: runs above 10% of the peak whose own peak reaches half of it.

    Each is (first index, last index, index of its peak, its peak); noise between or around
    them, however spiky, never reaches half the peak of a real movement.
    """
    if i1 < i0:
        return []
    peak = max(y[i0:i1 + 1])
    if peak <= 0:
        return []
    low, out = LOW * peak, []
    k = i0
    while k <= i1:
        if y[k] > low:
            a, top = k, k
            while k <= i1 and y[k] > low:
                if y[k] > y[top]:
                    top = k
                k += 1
            if y[top] >= 0.5 * peak:
                out.append((a, k - 1, top, y[top]))
        k += 1
    return out


def _median_step(t: np.ndarray) -> float:
    """np.median(np.diff(t)), exactly, without numpy's per-call overhead (every rep)."""
    d = sorted(np.diff(t).tolist())
    m = len(d) // 2
    return d[m] if len(d) % 2 else (d[m - 1] + d[m]) / 2


def _smooth(t: np.ndarray, v: np.ndarray, span_s: float = 0.02) -> np.ndarray:
    """Centred moving average over ~20 ms: straight edges stay put, noisy peaks shrink."""
    if len(t) < 3:
        return v
    w = round(span_s / max(_median_step(t), 1e-6))
    if w < 2:
        return v
    w |= 1
    padded = np.pad(v, w // 2, mode="edge")
    return np.convolve(padded, np.ones(w) / w, mode="valid")


def analyse(t: np.ndarray, p: np.ndarray, v: np.ndarray, f: np.ndarray | None, ib: int,
            index: int, classify: Callable[[float], tuple[RepKind, float | None]],
            fit: bool = False) -> Rep:
    """Measure one rep from its samples: swing start (0), top (ib), end of data (len).
    Plain lists from here: a rep is a few dozen samples at live rates, where numpy's per-call
    cost is most of the work (the sums are numpy's own, so the figures are the same).

    `fit`: place the phase boundaries by fitting the positions (rep_edges), for velocity that
    was differenced from positions; a unit's own measured velocity has sharp edges that are
    extrapolated as they are."""
    n = len(t)
    ib = min(ib, n - 1)
    tl, pl, vl = t.tolist(), p.tolist(), _smooth(t, v).tolist()
    pa, ptop = pl[0], pl[ib]
    vpos = [x if x > 0.0 else 0.0 for x in vl]  # np.maximum(v, 0)
    runs = _runs(vpos, 0, ib)
    if not runs:
        t0 = t_turn = tl[ib]
        vpk = 0.0
    else:
        vpk = max(pk for _, _, _, pk in runs)
        # The rise starts with the last movement that began low in the swing: a stall higher
        # up (a sticking point) is part of the rep; handling the cable before it is not.
        low = pa + 0.25 * (ptop - pa)
        first = next((r for r in reversed(runs) if pl[r[0]] <= low), runs[0])
        last = runs[-1]
        t0 = _rising_edge(tl, vpos, max(first[0] - 1, 0), first[2])
        t_turn = _falling_edge(tl, vpos, last[2], min(ib + 1, n - 1))
        if t_turn <= t0:
            t_turn = tl[ib]
    ps = _smooth(t, p, 0.03).tolist() if fit else pl  # resting levels, without sensor noise
    if fit and len(runs) == 1:  # one smooth movement up: its ends from the positions it passed
        a_i, _, mid, _ = runs[0]
        j0 = min(range(a_i + 1), key=ps.__getitem__)
        moved = _fitted(tl, pl, j0, ib, ps[j0], max(ps[mid:ib + 1]), mid)
        # A fit that starts the lift well before the bar's lowest point, or ends it after its
        # highest, is the wrong shape (a sticking point, a stop on the way): not used.
        if moved is not None:
            slack = 0.25 * (moved[1] - moved[0])  # a slow start creeps below the noise
            if moved[0] >= tl[j0] - slack and moved[1] <= tl[ib] + slack:
                t0, t_turn = moved
    p0 = float(np.interp(t0, t, p))
    rom = ptop - p0
    # Eccentric: from the top to the end of the data.
    te = tl[ib:]
    ve = [-x if x < 0.0 else 0.0 for x in vl[ib:]]  # np.maximum(-v, 0)
    eruns = _runs(ve, 0, len(ve) - 1)
    if eruns:
        t_ecc0 = _rising_edge(te, ve, max(eruns[0][0] - 1, 0), eruns[0][2])
        t_end = _falling_edge(te, ve, eruns[-1][2], len(ve) - 1)
        # A trace that runs on below where the rep began (cable reeled in) ends at that level.
        floor = p0 - 0.03 * (ptop - p0) - 2.0
        pe = pl[ib:]
        below = next((k for k, x in enumerate(pe) if x <= floor), None)
        if below is not None:
            t_end = min(t_end, _crossing(te, pe, below, floor))
        t_end = max(t_end, t_ecc0)
        if fit and len(eruns) == 1:  # one smooth lowering back to where the rep began: fitted
            _, e_last, e_mid, _ = eruns[0]
            bottom = min(ps[ib + e_last:])
            if abs(bottom - p0) < 0.15 * max(rom, 1.0):
                moved = _fitted(tl, pl, ib, n - 1, max(ps[ib:ib + e_mid + 1]), bottom,
                                ib + e_mid)
                if moved is not None:
                    t_ecc0, t_end = moved
    else:  # no lowering in the data (it ends at the top): the rep ends where it turned
        t_ecc0 = t_end = t_turn
    # A lift starts no later than its top and turns within its samples.
    t0 = min(t0, tl[ib])
    t_turn = min(max(t_turn, t0), tl[-1])
    t_ecc0 = max(t_ecc0, t_turn)
    t_end = max(t_end, t_ecc0)
    conc = max(t_turn - t0, 1e-6)
    kind, pct = classify(rom)
    peak_f = power = None
    if f is not None:
        fl = f.tolist()
        in_rep = [x for x, tk in zip(fl, tl, strict=True) if t0 <= tk <= t_end]
        peak_f = max(in_rep) if in_rep else max(fl)
        work = [x * vk for x, vk, tk in zip(fl, vl, tl, strict=True) if t0 <= tk <= t_turn]
        power = _np_sum(work) / len(work) if work else 0.0
    return Rep(
        index=index, kind=kind, start_s=t0, turn_s=t_turn, end_s=t_end, concentric_s=conc,
        eccentric_s=max(t_end - t_ecc0, 0.0), rom_mm=rom, rom_pct=pct,
        mean_concentric_m_s=rom / 1000.0 / conc, peak_concentric_m_s=vpk,
        peak_tension_n=peak_f, mean_concentric_power_w=power,
        time_under_tension_s=max(t_end - t0, 0.0))
