"""A simulated person over weeks: strength that grows with training and fades without it, and
pain that flares when the load outruns what the painful tissue tolerates.

Deterministic from a seed. Numbers follow shared/domain.md where it gives them (early gains are
neural and quick, gains fade in 2-4 weeks off, pain responds to overload and settles with
well-matched loading over 8-12 weeks); the rest are modelling choices stated here.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

# 1RM ranges (kg) by profile and kind of movement: (lower multi-joint, upper/small).
STRENGTH = {"athlete": ((100, 130), (50, 70)), "pain": ((45, 65), (22, 32)),
            "older": ((30, 45), (14, 20))}
# Of 1RM, what the painful region tolerates before pain flares (athletes: anything short of
# near-maximal). Only exercises loading the painful region count.
TOLERANCE = {"athlete": 0.92, "pain": 0.42, "older": 0.38}
BASELINE_PAIN = {"athlete": 0.3, "pain": 2.5, "older": 2.0}


@dataclass
class Body:
    kind: str
    seed: int
    one_rm: dict[str, float] = field(default_factory=dict)
    start_one_rm: dict[str, float] = field(default_factory=dict)
    tolerance: float = 0.6
    baseline_pain: float = 2.0
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

    def pain(self, loads: dict[str, float], flare: float = 0.0) -> tuple[int, int, bool]:
        """Pain during a session with these loads (plus a flare from outside the training),
        24-48 h later, and whether it settled."""
        mine = {n: w for n, w in loads.items() if n in self.painful}
        intensity = max((w / self.one_rm[n] for n, w in mine.items()), default=0.0)
        overload = max(0.0, intensity - self.tolerance)
        jump = max((w / self.last_loads[n] - 1 for n, w in mine.items()
                    if self.last_loads.get(n)), default=0.0)
        during = self.baseline_pain + flare + 30 * overload + (1.5 if jump > 0.08 else 0.0)
        during = int(min(10, max(0, round(during + self._rng.gauss(0, 0.6)))))
        settled = during <= self.baseline_pain + 2.5
        after = max(0, during - 1) if settled else min(10, during + 1)
        return during, after, settled

    def trained(self, loads: dict[str, float], sets_done: dict[str, int]) -> None:
        """Adaptation after a session: neural gains first, slower gains later."""
        self.sessions += 1
        rate = 0.02 if self.sessions <= 8 else 0.007
        for name, w in loads.items():
            if sets_done.get(name, 0) and w >= 0.35 * self.one_rm[name]:
                room = max(0.0, 1 - self.one_rm[name] / (self.start_one_rm[name] * 1.6))
                self.one_rm[name] *= 1 + rate * room
        self.tolerance = min(0.9, self.tolerance + 0.004)
        self.baseline_pain *= 0.985
        self.last_loads.update(loads)

    def rested(self, days: int) -> None:
        """Days without training: after a week, gains fade with a ~3-week time constant."""
        if days <= 7:
            return
        fade = 1 - math.exp(-(days - 7) / 21)
        for name in self.one_rm:
            floor = self.start_one_rm[name] * 0.97
            self.one_rm[name] -= max(0.0, self.one_rm[name] - floor) * fade
        self.tolerance = max(TOLERANCE[self.kind] - 0.02, self.tolerance - 0.003 * (days - 7) / 7)
