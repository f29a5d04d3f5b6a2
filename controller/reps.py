"""Rep counting from cable position, streaming, with hysteresis.

A rep is a round trip away from the set's start position and back. The concentric phase is
the cable paying out (position rising) for every exercise on a cable unit. A rise of less than
`min_travel_mm` is noise; a rep whose range is under `full_fraction` of the set's reference
range (the largest of its first reps) is partial and not counted as full.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Rep:
    index: int  # 1-based among all reps of the set, full or partial
    start_s: float
    turn_s: float
    end_s: float
    rom_mm: float
    mean_concentric_m_s: float
    peak_tension_n: float
    full: bool


@dataclass
class RepCounter:
    min_travel_mm: float = 120.0
    full_fraction: float = 0.85
    return_fraction: float = 0.25  # back within this fraction of the range ends the rep
    reference_reps: int = 2
    reps: list[Rep] = field(default_factory=list)
    _up: bool = False
    _bottom: float = float("inf")
    _bottom_t: float = 0.0
    _top: float = float("-inf")
    _top_t: float = 0.0
    _peak_n: float = 0.0
    _reference: float = 0.0
    _prev: float = float("inf")

    @property
    def full_reps(self) -> int:
        return sum(r.full for r in self.reps)

    @property
    def mean_concentric_m_s(self) -> float | None:
        v = [r.mean_concentric_m_s for r in self.reps if r.full]
        return float(np.mean(v)) if v else None

    def feed(self, t_s: np.ndarray, position_mm: np.ndarray,
             tension_n: np.ndarray | None = None) -> list[Rep]:
        """Samples of one batch (position averaged over cables by the caller); new reps back."""
        new: list[Rep] = []
        tension = tension_n if tension_n is not None else np.zeros_like(position_mm)
        for t, p, f in zip(t_s.tolist(), position_mm.tolist(), tension.tolist(), strict=True):
            if not self._up:
                if p <= self._prev + 0.5:  # the last moment the cable was not paying out
                    self._bottom, self._bottom_t = p, t
                if p > self._bottom + self.min_travel_mm:
                    self._up = True
                    self._top, self._top_t, self._peak_n = p, t, f
            else:
                self._peak_n = max(self._peak_n, f)
                if p >= self._top:
                    self._top, self._top_t = p, t
                rom = self._top - self._bottom
                if p <= self._bottom + self.return_fraction * rom:
                    new.append(self._close(t, rom))
                    self._up = False
                    self._bottom, self._bottom_t = p, t
            self._prev = p
        self.reps.extend(new)
        return new

    def _close(self, end_t: float, rom: float) -> Rep:
        if len(self.reps) < self.reference_reps:
            self._reference = max(self._reference, rom)
        full = rom >= self.full_fraction * self._reference
        conc = max(self._top_t - self._bottom_t, 1e-3)
        return Rep(len(self.reps) + 1, self._bottom_t, self._top_t, end_t, rom,
                   rom / 1000.0 / conc, self._peak_n, full)
