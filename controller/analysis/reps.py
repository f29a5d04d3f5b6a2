"""The rep engine: reps, their phases and set metrics from streamed cable telemetry.

On a cable unit the concentric phase is the cable paying out (position rising) for every
exercise. The engine works in two layers:

- a streaming swing detector (one cheap pass per sample) with hysteresis on position, so noise
  never makes or splits a rep, that decides *when* a rep is over: back in the lower quarter of
  its range with the eccentric speed under 20% of its peak, a new rise, or the handles let go;
- a vectorised analysis of the closed rep's samples that finds its phase boundaries by
  extrapolating the rising and falling edges of the velocity (20% and 40% of the phase's peak)
  to zero, so boundaries are sharper than the sample period, and measures the rep.

A rep's range is measured from its own start, so drift does not matter; it is classed against
the reference range: full at >= 85%, partial at >= 40% (shown, never counted as full), ignored
below that. The reference is carried from an earlier set, or is the set's consensus: the range
most of its reps share (controller.analysis.rep_set). As the consensus forms and moves, earlier
reps are
classed again, and movements around the set (lifting the bar from the floor, unracking it,
racking it) are recognised by where they start and end against the set's own levels. A change
to a rep already handed out is a correction (`take_corrections`), so a live count can go down as
well as up; a recording's reps are final once `finish` has run.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from controller.analysis import rep_edges, rep_set

RepKind = Literal["full", "partial", "ignored"]


@dataclass(frozen=True)
class RepConfig:
    min_rom_mm: float = 100.0  # before a reference exists, smaller swings are not reps
    hysteresis: float = 0.25  # of the reference range: a swing must exceed this to count
    hysteresis_floor_mm: float = 20.0  # never less, whatever the range (noise)
    full_fraction: float = 0.85
    partial_fraction: float = 0.40
    release_tension_n: float = 9.81  # below 1 kg ...
    release_s: float = 0.5  # ... for this long: the handles were let go
    idle_end_s: float = 20.0  # no movement for this long ends the set
    still_m_s: float = 0.05
    derive_window_s: float = 0.08  # for traces without velocity: difference over this span

    def __post_init__(self) -> None:
        if not 0 < self.partial_fraction < self.full_fraction <= 1:
            raise ValueError("need 0 < partial_fraction < full_fraction <= 1")


@dataclass(frozen=True)
class Rep:
    index: int  # 1-based among all reps of the set, whatever their kind
    kind: RepKind
    start_s: float
    turn_s: float
    end_s: float
    concentric_s: float
    eccentric_s: float
    rom_mm: float
    rom_pct: float | None  # of the reference range
    mean_concentric_m_s: float
    peak_concentric_m_s: float
    peak_tension_n: float | None
    mean_concentric_power_w: float | None
    time_under_tension_s: float

    @property
    def full(self) -> bool:
        return self.kind == "full"

    def as_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class SetSummary:
    reps: int
    partial_reps: int
    ignored: int
    reference_rom_mm: float | None
    mean_concentric_m_s: float | None
    velocity_loss: float | None  # 1 - last full rep's MCV / fastest so far
    rom_consistency: float | None  # 1 - coefficient of variation of full reps' range
    time_under_tension_s: float
    ended_by: str | None

    def as_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class _Buffer:
    """The batches as they came, kept by reference; joined only when a rep is measured."""

    def __init__(self) -> None:
        self.chunks: deque[tuple[int, tuple[np.ndarray, ...]]] = deque()
        self.end = 0  # global index of the next sample

    def append(self, cols: tuple[np.ndarray, ...]) -> None:
        self.chunks.append((self.end, cols))
        self.end += len(cols[0])

    def trim_before(self, g: int) -> None:
        chunks = self.chunks
        while len(chunks) > 1 and chunks[0][0] + len(chunks[0][1][0]) <= g:
            chunks.popleft()

    def view(self, g0: int, g1: int) -> tuple[np.ndarray, ...]:
        parts = [(start, cols) for start, cols in self.chunks
                 if start < g1 and start + len(cols[0]) > g0]
        base = parts[0][0]
        joined = tuple(np.concatenate([c[i] for _, c in parts]) for i in range(4))
        return tuple(col[g0 - base : g1 - base] for col in joined)


_WAIT, _UP, _DOWN = 0, 1, 2
KEEP_DATA = 64  # reps whose samples are kept, to be measured again as the set's levels form


@dataclass
class RepEngine:
    """Feed samples of one set as they arrive; get reps back as soon as each is over."""

    config: RepConfig = field(default_factory=RepConfig)
    reference_mm: float | None = None  # carried from an earlier set of the same exercise
    reps: list[Rep] = field(default_factory=list)
    ended_by: str | None = None

    def __post_init__(self) -> None:
        self._carried = self.reference_mm is not None
        self._buf = _Buffer()
        self._g = 0  # global index of the next sample
        self._state = _WAIT
        self._lo = math.inf  # swing minimum (WAIT) / descent minimum (DOWN)
        self._lo_g = 0
        self._a_g = 0  # start of the current swing (its minimum)
        self._hi = -math.inf
        self._hi_g = 0
        self._vneg = 0.0  # most negative velocity of the descent
        self._low_since: float | None = None
        self._still_since: float | None = None
        self._last_t: float | None = None
        self._prev_p: np.ndarray | None = None  # tail kept to derive velocity across batches
        self._prev_t: np.ndarray | None = None
        self._has_tension = False
        self._derived = False
        self._tension_seen = False  # release counts only once the handles were under tension
        self._a_p = 0.0
        self._low_band = 0.0
        self._data: dict[int, tuple[np.ndarray, ...]] = {}  # rep index -> its samples
        self._levels: dict[int, rep_set.Levels] = {}
        self._why: dict[int, str] = {}  # rep index -> why it is not counted, if not its range
        self._emitted: set[int] = set()  # reps handed out (a change to them is a correction)
        self._corrections: list[tuple[Rep, Rep]] = []

    # ---- public ---------------------------------------------------------------------------

    @property
    def full_reps(self) -> int:
        return sum(r.kind == "full" for r in self.reps)

    @property
    def partial_reps(self) -> int:
        return sum(r.kind == "partial" for r in self.reps)

    def feed(self, t_s: np.ndarray, position_mm: np.ndarray,
             velocity_m_s: np.ndarray | None = None,
             tension_n: np.ndarray | None = None) -> list[Rep]:
        """One batch of samples in time order; returns the reps that ended in it."""
        if self.ended_by is not None or len(t_s) == 0:
            return []
        t = np.asarray(t_s, dtype=float)
        p = np.asarray(position_mm, dtype=float)
        v = None if velocity_m_s is None else np.asarray(velocity_m_s, dtype=float)
        self._has_tension = tension_n is not None
        f = np.asarray(tension_n, dtype=float) if tension_n is not None else np.zeros(len(t))
        tl = t.tolist()
        last = -math.inf if self._last_t is None else self._last_t
        if tl[0] <= last or any(b <= a for a, b in itertools.pairwise(tl)):
            # Samples whose timestamp does not move forward (jitter past a neighbour) go.
            keep = t > np.maximum.accumulate(np.concatenate(([last], t)))[:-1]
            t, p, f = t[keep], p[keep], f[keep]
            v = v[keep] if v is not None else None
            if len(t) == 0:
                return []
            tl = t.tolist()
        self._derived = v is None
        if v is None:
            v = self._derive(t, p)
        self._buf.append((t, p, v, f))
        self._last_t = tl[-1]
        out = self._scan(tl, p.tolist(), v.tolist(), f.tolist())
        return self._handed(out) if out else out

    def finish(self, reason: str = "end of data") -> list[Rep]:
        """No more samples: close a rep that is on its way down, or one that reached its top
        and stopped there (a recording that ends at the top, a bar racked from the top), and
        end the set; its reps are final."""
        out: list[Rep] = []
        if self.ended_by is None:
            if self._state == _DOWN or (self._state == _UP and self._stopped_at_top()):
                out.append(self._close(self._g))
            self.ended_by = reason
            self._reconsider(final=True)
        return self._handed(out)

    def _handed(self, out: list[Rep]) -> list[Rep]:
        """Reps handed out now, as they read now: a later close in the same batch (or the
        set's last pass) may have classed them again; a change after this is a correction."""
        self._emitted.update(r.index for r in out)
        now = {r.index: r for r in self.reps}
        return [now.get(r.index, r) for r in out]

    def take_corrections(self) -> list[tuple[Rep, Rep]]:
        """Reps handed out earlier that read differently now, as (was, now); each once."""
        out, self._corrections = self._corrections, []
        return out

    def note(self, rep: Rep) -> str | None:
        """What the set's levels said of this rep (a lead-in, a lift from the floor), if any."""
        return self._why.get(rep.index)

    def summary(self) -> SetSummary:
        full = [r for r in self.reps if r.full]
        mcv = [r.mean_concentric_m_s for r in full]
        roms = np.array([r.rom_mm for r in full])
        return SetSummary(
            reps=len(full),
            partial_reps=self.partial_reps,
            ignored=sum(r.kind == "ignored" for r in self.reps),
            reference_rom_mm=self.reference_mm,
            mean_concentric_m_s=float(np.mean(mcv)) if mcv else None,
            velocity_loss=1.0 - mcv[-1] / max(mcv) if mcv else None,
            rom_consistency=(1.0 - float(roms.std() / roms.mean())) if len(roms) > 1 else None,
            time_under_tension_s=sum(r.time_under_tension_s for r in self.reps
                                     if r.kind != "ignored"),
            ended_by=self.ended_by,
        )

    # ---- streaming ------------------------------------------------------------------------

    @property
    def _h(self) -> float:
        cfg = self.config
        if self.reference_mm is None:
            return max(cfg.hysteresis_floor_mm, cfg.partial_fraction * cfg.min_rom_mm)
        return max(cfg.hysteresis_floor_mm, cfg.hysteresis * self.reference_mm)

    def _derive(self, t: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Backward difference over a short time span, continued across batches."""
        if self._prev_t is not None:
            tt = np.concatenate((self._prev_t, t))
            pp = np.concatenate((self._prev_p, p))
        else:
            tt, pp = t, p
        span = self.config.derive_window_s
        j = np.searchsorted(tt, tt - span, side="right") - 1
        j = np.clip(j, 0, None)
        dt = tt - tt[j]
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(dt > 0, (pp - pp[j]) / np.where(dt > 0, dt, 1) / 1000.0, 0.0)
        keep = np.searchsorted(tt, tt[-1] - 2 * span)
        self._prev_t, self._prev_p = tt[keep:], pp[keep:]
        return v[len(tt) - len(t):]

    def _scan(self, t: list[float], p: list[float], v: list[float],
              f: list[float]) -> list[Rep]:
        out: list[Rep] = []
        cfg = self.config
        h = self._h
        released_thr = cfg.release_tension_n
        g = self._g
        state, lo, lo_g, hi, hi_g, vneg = (self._state, self._lo, self._lo_g, self._hi,
                                           self._hi_g, self._vneg)
        check_f = self._has_tension
        for ti, pi, vi, fi in zip(t, p, v, f, strict=True):
            # -- set end: handles let go, or nothing moving for a long time
            if check_f:
                if fi >= released_thr:
                    self._tension_seen = True
                    self._low_since = None
                elif self._tension_seen:
                    if self._low_since is None:
                        self._low_since = ti
                    elif ti - self._low_since >= cfg.release_s:
                        self._store(state, lo, lo_g, hi, hi_g, vneg)
                        if state == _DOWN:
                            out.append(self._close(self._release_index(g)))
                        self.ended_by = "handles released"
                        self._g = g + 1
                        self._reconsider(final=True)  # the set is over: its reps are final
                        return out
            if abs(vi) < cfg.still_m_s:
                if self._still_since is None:
                    self._still_since = ti
                elif ti - self._still_since >= cfg.idle_end_s and state == _WAIT:
                    self._store(state, lo, lo_g, hi, hi_g, vneg)
                    self.ended_by = "idle"
                    self._g = g + 1
                    self._reconsider(final=True)
                    return out
            else:
                self._still_since = None
            # -- swings
            if state == _WAIT:
                if pi <= lo:
                    lo, lo_g = pi, g
                elif pi > lo + h:
                    state, hi, hi_g = _UP, pi, g
                    self._a_g, self._a_p = lo_g, lo
            elif state == _UP:
                if pi >= hi:
                    hi, hi_g = pi, g
                elif pi < hi - h:
                    state, lo, lo_g, vneg = _DOWN, pi, g, min(0.0, vi)
                    self._low_band = self._a_p + cfg.hysteresis * (hi - self._a_p)
            else:  # _DOWN
                if vi < vneg:
                    vneg = vi
                if pi <= lo:
                    lo, lo_g = pi, g
                if pi > lo + h:  # rising again with no stop at the bottom: a new rep began
                    self._store(state, lo, lo_g, hi, hi_g, vneg)
                    out.append(self._close(lo_g + 1))
                    state, hi, hi_g = _UP, pi, g
                    self._a_g, self._a_p = lo_g, lo
                    h = self._h
                elif pi <= self._low_band and vi > LOW * vneg:
                    self._store(state, lo, lo_g, hi, hi_g, vneg)
                    out.append(self._close(g + 1))
                    state, lo, lo_g = _WAIT, pi, g
                    h = self._h
            g += 1
        if state == _WAIT and g - lo_g > 60_000:  # idle for long: forget an old minimum
            lo, lo_g = p[-1], g - 1
            self._buf.trim_before(lo_g)
        self._g = g
        self._store(state, lo, lo_g, hi, hi_g, vneg)
        return out

    def _store(self, state: int, lo: float, lo_g: int, hi: float, hi_g: int,
               vneg: float) -> None:
        self._state, self._lo, self._lo_g, self._hi, self._hi_g, self._vneg = (
            state, lo, lo_g, hi, hi_g, vneg)

    def _release_index(self, g: int) -> int:
        """End of the rep's data when the handles went: the first low-tension sample."""
        tt, _, _, ff = self._buf.view(self._a_g, g + 1)
        low = np.flatnonzero(ff >= self.config.release_tension_n)
        return self._a_g + (int(low[-1]) + 1 if len(low) else len(tt))

    # ---- analysis -------------------------------------------------------------------------

    def _stopped_at_top(self) -> bool:
        """The rise in progress is over: the bar has stopped at its top, or has come the
        set's whole range and is slowing into it as the data ends."""
        if self._g - self._a_g < 3 or self._hi - self._a_p < self.config.min_rom_mm * 0.4:
            return False
        t, p, v, _ = self._buf.view(self._a_g, self._g)
        if self._derived:
            v = _central_velocity(t, p, self.config.derive_window_s / 2)
        peak = max(float(np.max(v)), 1e-9)
        end = float(np.max(np.abs(v[-3:])))
        ref = self.reference_mm
        whole = ref is not None and self._hi - self._a_p >= self.config.full_fraction * ref
        return end < (0.5 if whole else 0.3) * peak

    def _close(self, end_g: int) -> Rep:
        a_g, top_g = self._a_g, self._hi_g
        t, p, v, f = self._buf.view(a_g, max(end_g, top_g + 1))
        if self._derived:  # the streamed estimate lags; the closed rep can look both ways
            v = _central_velocity(t, p, self.config.derive_window_s / 2)
        index = len(self.reps) + 1
        ff = f if self._has_tension else None
        rep = analyse(t, p, v, ff, top_g - a_g, index, self._classify, self._derived)
        self.reps.append(rep)
        if len(self._data) >= KEEP_DATA:
            self._data.pop(min(self._data))
        self._data[index] = (t, p, v, ff, top_g - a_g)  # type: ignore[assignment]
        self._levels[index] = rep_set.levels(t, p, rep, top_g - a_g)
        self._state = _WAIT
        self._buf.trim_before(top_g)
        self._reconsider(skip=index)
        return self.reps[-1]

    def _reconsider(self, final: bool = False, skip: int | None = None) -> None:
        """Class the set's reps again against its consensus, recognise movements around the
        set, and note what changed in reps already handed out."""
        changed = rep_set.reconsider(self, final, skip)
        for old, new in changed:
            if old.index in self._emitted and (old.kind != new.kind
                                               or abs(old.rom_mm - new.rom_mm) > 1.0):
                self._corrections.append((old, new))

    def reanalyse(self, index: int, level: float, band: float) -> Rep | None:
        """Measure a kept rep again from where it passed the set's bottom (`level`, within
        `band`) before its top: a rise that began lower (a bar lifted from the floor) is not
        the rep."""
        data = self._data.get(index)
        if data is None:
            return None
        t, p, v, f, ib = data
        c = rep_set.cut_index(p, v, ib, level, band)
        if c is None or c == 0:
            return None
        old = next(r for r in self.reps if r.index == index)
        rep = analyse(t[c:], p[c:], v[c:], None if f is None else f[c:], ib - c, index,
                      lambda rom: (old.kind, old.rom_pct), self._derived)
        self._data[index] = (t[c:], p[c:], v[c:], None if f is None else f[c:], ib - c)
        self._levels[index] = rep_set.levels(t[c:], p[c:], rep, ib - c)
        return rep

    def _classify(self, rom: float) -> tuple[RepKind, float | None]:
        """A first reading of a rep as it closes; the set's consensus (rep_set.reconsider,
        right after) classes it for good."""
        cfg = self.config
        ref = self.reference_mm
        if ref is None:
            if rom < cfg.min_rom_mm:
                return "ignored", None
            self.reference_mm = rom
            return "full", 100.0
        ratio = rom / ref
        if ratio >= cfg.full_fraction:
            return "full", 100 * ratio
        if ratio >= cfg.partial_fraction:
            return "partial", 100 * ratio
        return "ignored", 100 * ratio


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


def _central_velocity(t: np.ndarray, p: np.ndarray, half_span_s: float) -> np.ndarray:
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


def across_cables(a: np.ndarray, total: bool = False) -> np.ndarray:
    """The combined signal of (samples, cables): the mean, or with `total` the sum. One
    cable is its own column (the same numbers, without a reduction on every batch)."""
    if a.shape[1] == 1:
        return a[:, 0]
    return a.sum(axis=1) if total else a.mean(axis=1)


@dataclass
class CableRepEngine:
    """Reps per cable and combined (two-handed movements count on the combined signal)."""

    cables: int
    config: RepConfig = field(default_factory=RepConfig)
    reference_mm: float | None = None
    combined: RepEngine = field(init=False)
    per_cable: list[RepEngine] = field(init=False)

    def __post_init__(self) -> None:
        self.combined = RepEngine(self.config, self.reference_mm)
        self.per_cable = ([RepEngine(self.config, self.reference_mm) for _ in range(self.cables)]
                          if self.cables > 1 else [])

    def feed(self, t_s: np.ndarray, position_mm: np.ndarray, velocity_m_s: np.ndarray,
             tension_n: np.ndarray) -> list[Rep]:
        """Arrays of shape (samples, cables); returns the combined reps that ended."""
        for i, e in enumerate(self.per_cable):
            e.feed(t_s, position_mm[:, i], velocity_m_s[:, i], tension_n[:, i])
        return self.combined.feed(t_s, across_cables(position_mm), across_cables(velocity_m_s),
                                  across_cables(tension_n, total=True))

    def take_corrections(self) -> list[tuple[Rep, Rep]]:
        """The combined reps read again (the count is the combined one's); the per-cable
        engines' own corrections are dropped with them."""
        for e in self.per_cable:
            e.take_corrections()
        return self.combined.take_corrections()

    def finish(self, reason: str = "end of data") -> list[Rep]:
        for e in self.per_cable:
            e.finish(reason)
        return self.combined.finish(reason)
