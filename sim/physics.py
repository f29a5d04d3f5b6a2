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
    _skews: tuple[float, ...] = ()  # per cable, see step()
    _alpha_dt: float = 0.0  # the dt that _alpha was worked out for
    _alpha: float = 0.0

    def __post_init__(self) -> None:
        self.state = [CableState() for _ in range(self.cables)]
        self._rng = random.Random(f"physics-{self.seed}")
        # The second cable of a two-handed move trails the first by a little.
        self._skews = tuple(1.0 - 0.015 * i for i in range(self.cables))

    def step(self, dt: float, setpoints_kg: list[float], held: bool, position_mm: float,
             velocity_m_s: float, cut: bool = False) -> None:
        """Advance one tick. `cut` is an emergency stop: the drive is off at once."""
        if dt != self._alpha_dt:  # the motor lag per tick: exp() only when the tick rate changes
            self._alpha_dt, self._alpha = dt, 1.0 - math.exp(-dt / MOTOR_TAU_S)
        alpha = self._alpha
        gauss = self._rng.gauss
        skews = self._skews
        for i, c in enumerate(self.state):  # (zip() over three lists costs more per tick)
            if cut:
                motor = 0.0
            else:
                setpoint = setpoints_kg[i]
                motor = c.motor_kg + (setpoint - c.motor_kg) * alpha
                if setpoint == 0.0 and motor < 0.05:
                    motor = 0.0
            c.motor_kg = motor
            if held:
                skew = skews[i]
                pos = position_mm * skew
                c.position_mm = pos if pos > 0.0 else 0.0
                c.velocity_m_s = vel = velocity_m_s * skew
                drag = FRICTION * motor * (1 if vel > 0.01 else -1 if vel < -0.01 else 0)
                tension = (motor + drag) * G + gauss(0, SENSOR_NOISE_N)
                c.tension_n = tension if tension > 0.0 else 0.0
            else:
                speed = RETRACT_M_S if motor > 0.5 else SLACK_RETRACT_M_S
                old = c.position_mm
                new = old - speed * 1000.0 * dt
                if not new > 0.0:
                    new = 0.0
                c.velocity_m_s = (new - old) / 1000.0 / dt
                c.position_mm = new
                c.tension_n = abs(gauss(0, 0.3))

    @property
    def total_motor_kg(self) -> float:
        # A plain loop: the same sum as sum() over a generator, without the generator.
        total = 0.0
        for c in self.state:
            total += c.motor_kg
        return total
