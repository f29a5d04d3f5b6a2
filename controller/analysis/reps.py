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

The parts: the result types in `rep_types`, the measurement of a closed rep in `rep_measure`,
the streaming detector in `rep_engine`; this module combines cables (CableRepEngine) and keeps
every name importable from here as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from controller.analysis.rep_engine import KEEP_DATA, RepEngine
from controller.analysis.rep_measure import HIGH, LOW, analyse
from controller.analysis.rep_types import Rep, RepConfig, RepKind, SetSummary

__all__ = ["HIGH", "KEEP_DATA", "LOW", "CableRepEngine", "Rep", "RepConfig", "RepEngine",
           "RepKind", "SetSummary", "across_cables", "analyse"]


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
