"""The dose by profile (shared/domain.md, FITT-VP): sets, reps, rest, intensity, cadence."""

from __future__ import annotations

from dataclasses import dataclass

from controller.planning.models import ProfileKind


@dataclass(frozen=True)
class Dose:
    sets_adaptation: int
    sets_progression: int
    reps_adaptation: tuple[int, int]
    reps_progression: tuple[int, int]
    rest_s: int
    cap: float  # of the estimated 1RM, in progression and maintenance
    start: float  # of the estimated 1RM, first working load
    cadence_days: int
    velocity_loss_cap: float
    deload_after: int  # consecutive failed sessions
    # Of the estimated 1RM: where progression heads. Estimates are discounted 5% for safety
    # and come out about 10% under the truth, so this sits in the band's lower half of true.
    target: float


DOSE = {
    ProfileKind.ATHLETE: Dose(3, 4, (10, 12), (8, 12), 120, 0.85, 0.60, 7, 0.30, 3, 0.80),
    ProfileKind.PAIN: Dose(2, 3, (12, 15), (10, 15), 75, 0.75, 0.50, 14, 0.20, 2, 0.72),
    ProfileKind.OLDER: Dose(2, 3, (12, 15), (10, 15), 105, 0.72, 0.45, 28, 0.20, 2, 0.72),
}
BAND = {ProfileKind.ATHLETE: (0.70, 0.85), ProfileKind.PAIN: (0.60, 0.75),
        ProfileKind.OLDER: (0.60, 0.70)}  # of true 1RM (shared/domain.md)
