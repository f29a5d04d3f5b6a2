"""A simulated person over weeks: strength that grows with training and fades without it, and
pain that flares when the load outruns what the painful tissue tolerates.

Deterministic from a seed. Numbers follow shared/domain.md where it gives them (early gains are
neural and quick, gains fade in 2-4 weeks off, pain responds to overload and settles with
well-matched loading over 8-12 weeks, loads that rise more than 10% at once provoke); the rest
are modelling choices stated here: the painful tissue starts by tolerating moderate loads and
its tolerance grows with each well-matched session, toward what the muscles can do.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

# 1RM ranges (kg) by profile and kind of movement: (lower multi-joint, upper/small).
STRENGTH = {"athlete": ((100, 130), (50, 70)), "pain": ((45, 65), (22, 32)),
            "older": ((30, 45), (14, 20))}
# Of 1RM, what the painful region tolerates before pain flares, at the start.
TOLERANCE = {"athlete": 0.92, "pain": 0.56, "older": 0.54}
TOLERANCE_MAX = 0.9
TOLERANCE_GAIN = 0.008  # per well-matched session
BASELINE_PAIN = {"athlete": 0.3, "pain": 2.5, "older": 2.0}
OVERLOAD_PAIN = 20.0  # pain points per unit of intensity above the tolerance
JUMP_PAIN = 1.5  # a load more than 10% above last time's provokes


@dataclass
class Body:
    kind: str
    seed: int
    one_rm: dict[str, float] = field(default_factory=dict)
    start_one_rm: dict[str, float] = field(default_factory=dict)
    tolerance: float = 0.6
    baseline_pain: float = 2.0
    flare: float = 0.0  # pain from outside the training (a bad week)
    sessions: int = 0
    last_loads: dict[str, float] = field(default_factory=dict)
    painful: set[str] = field(default_factory=set)  # exercises that load the painful region
    _rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def create(cls, kind: str, exercises: list[tuple[str, bool]], seed: int) -> Body:
        """`exercises`: (name, is a large lower-body move); lower-body moves load the painful
        region (knee or hip) of the pain profiles; for athletes every exercise counts."""
        rng = random.Random(f"body-{kind}-{seed}")
        body = cls(kind, seed, tolerance=TOLERANCE[kind], baseline_pain=BASELINE_PAIN[kind])
        body.painful = {n for n, big in exercises if big or kind == "athlete"}
        for name, big in exercises:
            lo, hi = STRENGTH[kind][0 if big else 1]
            body.one_rm[name] = round(rng.uniform(lo, hi), 1)
        body.start_one_rm = dict(body.one_rm)
        body._rng = rng
        return body

    def pain_during(self, exercise: str, load: float, brief: bool = False) -> int:
        """Pain (0-10) during an exercise at this load; `brief`: a few short test sets, which
        provoke less than working sets at the same load (modelled as 85% of the intensity)."""
        if exercise not in self.painful:
            raw = self.baseline_pain * 0.6 + self.flare * 0.5
        else:
            intensity = load / self.one_rm[exercise] * (0.85 if brief else 1.0)
            overload = max(0.0, intensity - self.tolerance)
            last = self.last_loads.get(exercise)
            jump = JUMP_PAIN if last and load / last - 1 > 0.10 else 0.0
            raw = self.baseline_pain + self.flare + OVERLOAD_PAIN * overload + jump
        return int(min(10, max(0, round(raw + self._rng.gauss(0, 0.6)))))

    def settled(self, pain: int) -> bool:
        """Back to the usual by the next morning (the 24-48 h rule)."""
        return pain <= self.baseline_pain + self.flare + 2.5

    def trained(self, loads: dict[str, float], sets_done: dict[str, int]) -> None:
        """Adaptation after a session: neural gains first, slower gains later; the painful
        tissue tolerates a little more after each session that did not overload it."""
        self.sessions += 1
        rate = 0.02 if self.sessions <= 8 else 0.007
        over = False
        for name, w in loads.items():
            if sets_done.get(name, 0) and w >= 0.35 * self.one_rm[name]:
                room = max(0.0, 1 - self.one_rm[name] / (self.start_one_rm[name] * 1.6))
                self.one_rm[name] *= 1 + rate * room
            if name in self.painful and w / self.one_rm[name] > self.tolerance + 0.05:
                over = True
        if not over:
            self.tolerance = min(TOLERANCE_MAX, self.tolerance + TOLERANCE_GAIN)
        self.baseline_pain *= 0.985
        self.last_loads.update({n: w for n, w in loads.items() if sets_done.get(n)})

    def rested(self, days: int) -> None:
        """Days without training: after a week, gains fade with a ~3-week time constant."""
        if days <= 7:
            return
        fade = 1 - math.exp(-(days - 7) / 21)
        for name in self.one_rm:
            floor = self.start_one_rm[name] * 0.97
            self.one_rm[name] -= max(0.0, self.one_rm[name] - floor) * fade
        self.tolerance = max(TOLERANCE[self.kind], self.tolerance - 0.003 * (days - 7) / 7)
