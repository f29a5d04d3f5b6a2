"""Motor and cable: the applied force lags the command and is off by a little, like a real unit.

Per cable: the motor force follows its setpoint with a first-order lag; friction adds to the
tension while the cable pays out and takes from it while it reels in (a real motorised cable
tracks within about +-2 kg); the load cell is noisy. A released handle is reeled in to the dock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

G = 9.80665
MOTOR_TAU_S = 0.02
FRICTION = 0.02  # fraction of the load, against the motion
SENSOR_NOISE_N = 1.5
RETRACT_M_S = 1.2  # reel-in speed of a released, loaded cable
SLACK_RETRACT_M_S = 0.3  # reel-in speed with no load (the unit keeps the cable tidy)


@dataclass
class CableState:
    position_mm: float = 0.0
    velocity_m_s: float = 0.0
    tension_n: float = 0.0
    motor_kg: float = 0.0  # force the motor applies now, in kg


@dataclass
class Physics:
    cables: int
    seed: int = 0
    state: list[CableState] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.state = [CableState() for _ in range(self.cables)]
        self._rng = random.Random(f"physics-{self.seed}")

    def step(self, dt: float, setpoints_kg: list[float], held: bool, position_mm: float,
             velocity_m_s: float, cut: bool = False) -> None:
        """Advance one tick. `cut` is an emergency stop: the drive is off at once."""
        alpha = 1.0 - math.exp(-dt / MOTOR_TAU_S)
        for i, c in enumerate(self.state):
            if cut:
                c.motor_kg = 0.0
            else:
                c.motor_kg += (setpoints_kg[i] - c.motor_kg) * alpha
                if setpoints_kg[i] == 0.0 and c.motor_kg < 0.05:
                    c.motor_kg = 0.0
            if held:
                # The second cable of a two-handed move trails the first by a little.
                skew = 1.0 - 0.015 * i
                c.position_mm = max(0.0, position_mm * skew)
                c.velocity_m_s = velocity_m_s * skew
                drag = FRICTION * c.motor_kg * (1 if c.velocity_m_s > 0.01 else
                                                -1 if c.velocity_m_s < -0.01 else 0)
                c.tension_n = max(0.0, (c.motor_kg + drag) * G + self._rng.gauss(0, SENSOR_NOISE_N))
            else:
                speed = RETRACT_M_S if c.motor_kg > 0.5 else SLACK_RETRACT_M_S
                new = max(0.0, c.position_mm - speed * 1000.0 * dt)
                c.velocity_m_s = (new - c.position_mm) / 1000.0 / dt
                c.position_mm = new
                c.tension_n = abs(self._rng.gauss(0, 0.3))

    @property
    def total_motor_kg(self) -> float:
        return sum(c.motor_kg for c in self.state)
