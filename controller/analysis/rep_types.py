"""What rep detection hands out and is tuned by: the settings (RepConfig), one measured rep
(Rep) and a set's figures (SetSummary). Kept apart from the engine so history, reports and
surfaces use the results without the detector.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

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
