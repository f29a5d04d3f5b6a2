"""A set's own levels: the range most of its reps share, and what lies around the set.

The first movement of a recording is often not a rep: a bar lifted from the floor rises from
far below where the reps start, a bar unracked starts from hooks well above their bottom; the
last one may be the bar racked from the top. Judging each rep alone (the first as the
reference) gets these wrong and never recovers. Judged against the set's consensus, they
stand out: the consensus range is the one most reps agree on within 15%, and its reps' starts
give the set's bottom. Reps are classed again every time the consensus moves.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from controller.analysis.reps import Rep, RepEngine

BAND = 0.85  # reps within 15% of each other agree on the range
DWELL = 0.2  # of the rise's peak speed: slower than this is a stop on the way
FAR = 0.35  # of the range: a start this far from the set's bottom is not where its reps start
LEAD_IN = "before the set (unracking or setting up)"
FROM_BELOW = "lifted from below the set's start (from the floor): measured from the start"


@dataclass(frozen=True)
class Levels:
    start: float  # position where the rep began
    top: float
    low_after: float  # the lowest position after its top, in its samples


def levels(t: np.ndarray, p: np.ndarray, rep: Rep, ib: int) -> Levels:
    ib = min(ib, len(p) - 1)
    return Levels(float(np.interp(rep.start_s, t, p)), float(p[ib]), float(np.min(p[ib:])))


def consensus(roms: list[float]) -> tuple[float, list[int]] | None:
    """(the range the set's reps share, which of them share it).

    Groups are reps within 15% of each other. The largest range wins unless a shorter one is
    more than twice as common: a set's full reps are its longest, and a few short ones early
    (partial reps, an unrack) must not make the next full ones look too long, while a lift
    from the floor, once, gives way as soon as the reps outnumber it.
    """
    if not roms:
        return None
    order = sorted(range(len(roms)), key=lambda i: roms[i])
    xs = [roms[i] for i in order]
    groups = [(bisect.bisect_right(xs, r / BAND) - bisect.bisect_left(xs, BAND * r), k)
              for k, r in enumerate(xs)]
    most = max(n for n, _ in groups)
    _, k = max((xs[k], k) for n, k in groups if 2 * n >= most)
    lo, hi = bisect.bisect_left(xs, BAND * xs[k]), bisect.bisect_right(xs, xs[k] / BAND)
    members = [order[j] for j in range(lo, hi)]
    return statistics.median(roms[i] for i in members), members


def cut_index(p: np.ndarray, v: np.ndarray, ib: int, level: float, band: float) -> int | None:
    """Where a rise that passed through `level` on its way to the top (index ib) really began:
    the stillest moment while it was within `band` of that level."""
    below = np.flatnonzero(p[:ib] <= level + band)
    if len(below) == 0:
        return None
    j = int(below[-1])
    k = j
    while k > 0 and p[k - 1] >= level - band:
        k -= 1
    c = k + int(np.argmin(np.abs(v[k:j + 1])))
    # Only a rise that stopped there (standing up with the bar, then lifting) is two
    # movements; one that passed through at speed is one rep of a larger range.
    return c if abs(v[c]) < DWELL * float(np.max(v[:ib + 1])) else None


def reconsider(e: RepEngine, final: bool, skip: int | None = None) -> list[tuple[Rep, Rep]]:
    """Class the engine's reps again; returns (was, now) for each rep that changed."""
    before = {r.index: r for r in e.reps}
    measured = sum(why == FROM_BELOW for why in e._why.values())
    _reconsider(e, final)
    if sum(why == FROM_BELOW for why in e._why.values()) != measured:
        _reconsider(e, final)  # a rep measured again moves the consensus: once more
    return [(before[r.index], r) for r in e.reps
            if r.index in before and before[r.index] is not r and r.index != skip]


def _median_without(xs: list[float], k: int) -> float:
    """The median of sorted xs without its k-th element, in constant time."""
    n = len(xs) - 1

    def at(i: int) -> float:
        return xs[i if i < k else i + 1]

    return at(n // 2) if n % 2 else (at(n // 2 - 1) + at(n // 2)) / 2


def _reconsider(e: RepEngine, final: bool) -> None:
    cfg = e.config
    reps = e.reps
    if not reps:
        return
    for i in [i for i, why in e._why.items() if why == LEAD_IN]:
        del e._why[i]  # judged afresh on every pass: the consensus may have come to it
    pool = [r for r in reps if r.rom_mm >= cfg.min_rom_mm]
    if e._carried:
        ref = e.reference_mm
        members = [r for r in pool if ref and BAND <= r.rom_mm / ref <= 1 / BAND]
    else:
        got = consensus([r.rom_mm for r in pool])
        if got is None:
            return
        ref, idx = got
        members = [pool[i] for i in idx]
        e.reference_mm = ref
    if not ref or not members:
        return
    member_ids = {r.index for r in members}
    bottoms = [e._levels[r.index].start for r in members if r.index in e._levels]
    bottom = statistics.median(bottoms) if bottoms else None
    first_member, last_member = min(member_ids), max(member_ids)
    # Where the other reps start (each rep without itself): only reps whose samples are kept
    # can be measured again, so only they are looked at.
    keyed = sorted((e._levels[r.index].start, r.index) for r in pool if r.index in e._levels)
    starts = [x for x, _ in keyed]
    where = {i: k for k, (_, i) in enumerate(keyed)}
    for k, r in enumerate(reps):
        new = r
        lv = e._levels.get(r.index)
        if (lv is not None and r.index in e._data and r.index not in e._why
                and r.index in where and len(starts) > 1):
            level = _median_without(starts, where[r.index])
            rom = lv.top - level
            longer = ref is not None and r.rom_mm > ref / BAND  # longer than the set's reps
            if rom > 0 and (lv.start < level - FAR * rom
                            or (longer and lv.start < level - 0.15 * rom)):
                again = e.reanalyse(r.index, level, 0.2 * rom)
                if again is not None:
                    new = again
                    e._why[r.index] = FROM_BELOW
                    lv = e._levels[r.index]
        if bottom is not None and lv is not None and r.index < first_member and (
                lv.start > bottom + 0.25 * ref  # from hooks above the set's bottom: unracked
                or (lv.start < bottom - 0.15 * ref and new.rom_mm > ref / BAND)):  # the floor
            e._why[r.index] = LEAD_IN
        if (final and r.index >= last_member and k == len(reps) - 1 and lv is not None
                and lv.low_after > lv.start + 0.5 * (lv.top - lv.start)
                and new.end_s > new.turn_s):
            # It never came back down: racked or put away from the top, not lowered.
            new = replace(new, end_s=new.turn_s, eccentric_s=0.0,
                          time_under_tension_s=new.concentric_s)
        if e._why.get(r.index) == LEAD_IN:
            kind, pct = "ignored", 100 * new.rom_mm / ref
        elif new.index in member_ids or new.rom_mm / ref >= cfg.full_fraction:
            kind, pct = "full", 100 * new.rom_mm / ref
        elif new.rom_mm / ref >= cfg.partial_fraction:
            kind, pct = "partial", 100 * new.rom_mm / ref
        else:
            kind, pct = "ignored", 100 * new.rom_mm / ref
        if kind != new.kind or pct != new.rom_pct:
            new = replace(new, kind=kind, rom_pct=pct)
        if new is not r:
            reps[k] = new
    for k in range(1, len(reps)):  # a rep ends no later than the next one starts
        if reps[k - 1].end_s > reps[k].start_s:
            data = e._data.get(reps[k - 1].index)
            reps[k - 1], reps[k] = seam(reps[k - 1], reps[k],
                                        float(data[0][-1]) if data is not None else None)


def seam(prev: Rep, cur: Rep, prev_data_end: float | None = None) -> tuple[Rep, Rep]:
    """Two reps whose ends overlap meet half way, or where the second starts if the first's
    end was extrapolated past its own samples; never inside either one's lift. If the first
    one's lift itself runs into the second (a turn extrapolated too far), the first gives way:
    it ends where the second starts."""
    if prev.turn_s >= cur.start_s:
        cut = max(cur.start_s, prev.start_s)
        conc = max(cut - prev.start_s, 1e-3)
        a = replace(prev, turn_s=cut, end_s=cut, concentric_s=conc, eccentric_s=0.0,
                    mean_concentric_m_s=prev.rom_mm / 1000 / conc, time_under_tension_s=conc)
        return a, cur
    guessed = prev_data_end is not None and prev.end_s > prev_data_end
    cut = cur.start_s if guessed else (prev.end_s + cur.start_s) / 2
    cut = min(max(cut, prev.turn_s), cur.start_s + 0.5 * (cur.turn_s - cur.start_s))
    ecc = max(cut - (prev.end_s - prev.eccentric_s), 0.0)
    a = replace(prev, end_s=cut, eccentric_s=ecc, time_under_tension_s=cut - prev.start_s)
    if cut <= cur.start_s:
        return a, cur
    conc = cur.turn_s - cut
    b = replace(cur, start_s=cut, concentric_s=conc, mean_concentric_m_s=cur.rom_mm / 1000 / conc,
                time_under_tension_s=cur.end_s - cut)
    return a, b
