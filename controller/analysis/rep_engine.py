"""RepEngine: the streaming swing detector, a state machine fed one batch at a time that
decides when each rep is over, hands it to `rep_measure.analyse`, and has the set's consensus
(rep_set) class its reps again. Kept apart from the measurement and the result types so the
per-sample hot path reads on its own.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from controller.analysis import rep_set
from controller.analysis.rep_measure import LOW, analyse, central_velocity
from controller.analysis.rep_types import Rep, RepConfig, RepKind, SetSummary


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
            v = central_velocity(t, p, self.config.derive_window_s / 2)
        peak = max(float(np.max(v)), 1e-9)
        end = float(np.max(np.abs(v[-3:])))
        ref = self.reference_mm
        whole = ref is not None and self._hi - self._a_p >= self.config.full_fraction * ref
        return end < (0.5 if whole else 0.3) * peak

    def _close(self, end_g: int) -> Rep:
        a_g, top_g = self._a_g, self._hi_g
        t, p, v, f = self._buf.view(a_g, max(end_g, top_g + 1))
        if self._derived:  # the streamed estimate lags; the closed rep can look both ways
            v = central_velocity(t, p, self.config.derive_window_s / 2)
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
