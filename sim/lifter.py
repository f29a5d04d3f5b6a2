"""A simulated person lifting on the unit, per shared/domain.md.

Deterministic from a seed. The lifter takes the handles, waits for the load to settle, does reps
whose speed follows the load (%1RM) and falls over the set as fatigue builds, fails when the
velocity would drop below the minimum velocity threshold, releases the handles and rests;
fatigue recovers between sets. It records the truth about every rep for accuracy tests.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from enum import Enum

# Mean concentric velocity by %1RM (domain.md, bench): the curve the lifter moves on.
_MCV_TABLE = ((0.0, 1.70), (0.30, 1.32), (0.50, 0.95), (0.70, 0.62), (0.80, 0.47), (0.90, 0.32),
              (1.00, 0.17))
MIN_VELOCITY_M_S = 0.17  # minimum velocity threshold: below this a rep cannot be completed
RECOVERY_TAU_S = 90.0  # fatigue recovers between sets with a 1-2 min time constant
WAIT_PATIENCE_S = 15.0  # holding the handles with no load this long, a person puts them back
REDOCK_S = 2.0  # ...and takes them up again this soon


def mcv_at(fraction_1rm: float) -> float:
    """Mean concentric velocity (m/s) of a fresh first rep at this fraction of 1RM."""
    p = max(0.0, fraction_1rm)
    for (p0, v0), (p1, v1) in itertools.pairwise(_MCV_TABLE):
        if p <= p1:
            return v0 + (v1 - v0) * (p - p0) / (p1 - p0)
    return 0.0


def reps_to_failure(fraction_1rm: float) -> float:
    """Epley inverted: N = 30 (1/p - 1); 60% -> 20, 70% -> ~13, 80% -> 7.5."""
    if fraction_1rm <= 0:
        return 100.0
    return max(0.0, min(100.0, 30.0 * (1.0 / fraction_1rm - 1.0)))


class Phase(Enum):
    DOCKED = "docked"
    PICKUP = "pickup"
    WAIT_LOAD = "wait_load"
    CONCENTRIC = "concentric"
    STALL = "stall"  # a pause part way up
    TOP_PAUSE = "top_pause"
    ECCENTRIC = "eccentric"
    BOTTOM_PAUSE = "bottom_pause"
    SETUP = "setup"  # a short pull to settle the stance before the first rep: not a rep


# Plain module names for the phases Lifter.step tests on every tick (see there).
_DOCKED, _PICKUP, _WAIT_LOAD = Phase.DOCKED, Phase.PICKUP, Phase.WAIT_LOAD
_CONCENTRIC, _ECCENTRIC, _SETUP = Phase.CONCENTRIC, Phase.ECCENTRIC, Phase.SETUP


@dataclass(frozen=True)
class TrueRep:
    """Ground truth for one rep: when it began, turned and ended, and what kind it was."""

    set_index: int
    start_s: float
    turn_s: float
    end_s: float
    rom_mm: float
    mean_concentric_m_s: float
    kind: str  # "full" | "partial"


@dataclass
class LifterProfile:
    one_rm_kg: float
    rom_mm: float
    start_mm: float
    endurance: float  # multiplies Epley's reps to failure (people vary widely)
    speed: float  # multiplies the velocity table
    eccentric_m_s: float
    fatigue_exponent: float
    velocity_noise_m_s: float = 0.025
    partial_prob: float = 0.03  # a fresh first rep is never cut short; later ones may be
    pause_prob: float = 0.08  # at the top or the bottom
    midpause_prob: float = 0.0  # a stall part way up (sticking point)
    mvt_m_s: float = MIN_VELOCITY_M_S  # the exercise's minimum velocity threshold (at 1RM)
    recovery_tau_s: float = RECOVERY_TAU_S  # shorter in trials that compress rests

    @classmethod
    def from_seed(cls, seed: int) -> LifterProfile:
        r = random.Random(f"profile-{seed}")
        return cls(
            one_rm_kg=round(r.uniform(30.0, 50.0), 1),
            rom_mm=r.uniform(480.0, 650.0),
            start_mm=r.uniform(60.0, 110.0),
            endurance=math.exp(r.gauss(0.0, 0.18)),
            speed=math.exp(r.gauss(0.0, 0.07)),
            eccentric_m_s=r.uniform(0.32, 0.5),
            fatigue_exponent=r.uniform(1.0, 1.3),
        )


@dataclass
class Lifter:
    profile: LifterProfile
    seed: int = 0
    set_reps: tuple[int, ...] = (10,)  # reps aimed for in each set; the last one repeats
    rest_s: float = 60.0
    first_pickup_s: float = 1.0
    # After the last rep a set aims for, hold the handles at the bottom this long (or until the
    # load goes) before letting go, as on a trainer that releases at the bottom of the last
    # rep; 0: let go straight from the last lowering.
    last_bottom_hold_s: float = 0.0
    # Before the first rep of each set, pull this far and let it back (settling the stance,
    # taking the slack): a movement that is not a rep. 0: none.
    setup_pull_mm: float = 0.0
    t: float = 0.0
    phase: Phase = Phase.DOCKED
    position_mm: float = 0.0
    velocity_m_s: float = 0.0
    held: bool = False
    fatigue: float = 0.0
    set_index: int = 0
    reps_in_set: int = 0
    truth: list[TrueRep] = field(default_factory=list)
    # internal
    _timer: float = 0.0
    _phase_t: float = 0.0
    _duration: float = 0.0
    _from_mm: float = 0.0
    _to_mm: float = 0.0
    _set_load: float = 0.0
    _settle_t: float = 0.0
    _last_load: float = 0.0
    _rep_start: float = 0.0
    _rep_turn: float = 0.0
    _rep_kind: str = "full"
    _stall: tuple[float, float, float] | None = None  # top, time to it, stall length
    _fail: bool = False
    _last_hold: bool = False  # the bottom pause after the set's last rep
    _setup_stage: int = 0  # 0: not yet, 1: pulling out, 2: letting back, 3: done
    _peak_mm: float = 0.0
    _rng: random.Random = field(default_factory=random.Random)
    _n_fail: float = 0.0
    last_set: tuple[float, int, float] | None = None  # load, full reps, reps it could do

    def __post_init__(self) -> None:
        self._rng = random.Random(f"lifter-{self.seed}")
        self._timer = self.first_pickup_s

    @property
    def target_reps(self) -> int:
        return self.set_reps[min(self.set_index, len(self.set_reps) - 1)]

    def step(self, dt: float, load_kg: float) -> None:
        """Advance by dt seconds against the total load the motor applies now."""
        self.t += dt
        self._phase_t += dt
        p = self.profile
        # Identity tests on module-level aliases: matching `case Phase.X` looks each member up
        # on the enum class, which costs more than the rest of a tick's lifter step.
        phase = self.phase
        if phase is _DOCKED:
            self.fatigue *= math.exp(-dt / p.recovery_tau_s)
            self._timer -= dt
            if self._timer <= 0:
                self._go(Phase.PICKUP)
                self.held = True
                self._move(self.position_mm, p.start_mm, 0.8)
        elif phase is _PICKUP:
            if self._follow():
                self._go(Phase.WAIT_LOAD)
                self._settle_t = 0.0
        elif phase is _WAIT_LOAD:
            steady = abs(load_kg - self._last_load) <= 0.5 * dt + 1e-9
            self._settle_t = self._settle_t + dt if (load_kg >= 0.25 and steady) else 0.0
            if load_kg < 0.25 and self._phase_t >= WAIT_PATIENCE_S:
                # No load for long: the handles go back to the dock for a moment (as a
                # person does when told to, after a STOP or a refused load).
                self.held = False
                self.velocity_m_s = 0.0
                self._go(Phase.DOCKED)
                self._timer = REDOCK_S
            elif self._settle_t >= 0.6:
                self._set_load = load_kg
                self.reps_in_set = 0
                if self.setup_pull_mm > 0 and self._setup_stage == 0:
                    self._go(Phase.SETUP)
                    self._setup_stage = 1
                    self._move(self.position_mm, p.start_mm + self.setup_pull_mm, 0.5)
                else:
                    self._start_rep(load_kg)
        elif phase is _SETUP:
            if self._aborted(load_kg):
                return
            if self._follow():
                if self._setup_stage == 1:
                    self._setup_stage = 2
                    self._go(Phase.SETUP)
                    self._move(self.position_mm, p.start_mm, 0.6)
                else:
                    self._setup_stage = 3
                    self._start_rep(load_kg)
        elif phase is _CONCENTRIC:
            if self._aborted(load_kg):
                return
            if self._follow():
                if self._stall is not None:
                    self._go(Phase.STALL)
                    self._timer = self._stall[2]
                else:
                    self._rep_turn = self.t
                    pause = self._rng.random() < p.pause_prob
                    self._go(Phase.TOP_PAUSE)
                    self._timer = self._rng.uniform(0.4, 1.5) if pause else 0.0
        elif phase is _ECCENTRIC:
            if self._aborted(load_kg):
                return
            if self._follow():
                self._finish_rep()
        else:  # a hold: STALL, TOP_PAUSE or BOTTOM_PAUSE
            self.velocity_m_s = 0.0
            if self._aborted(load_kg):
                return
            self._timer -= dt
            if self._timer <= 0:
                self._pause_over(load_kg)
        self._last_load = load_kg

    def _pause_over(self, load_kg: float) -> None:
        """A hold ends: a stall resumes the lift, the top starts the lowering, the bottom the
        next rep."""
        p = self.profile
        if self.phase is Phase.STALL:
            assert self._stall is not None
            top, duration, _ = self._stall
            self._stall = None
            self._go(Phase.CONCENTRIC)
            self._move(self.position_mm, top, duration)
        elif self.phase is Phase.TOP_PAUSE:
            self._go(Phase.ECCENTRIC)
            dist = self.position_mm - p.start_mm
            self._move(self.position_mm, p.start_mm, dist / 1000 / p.eccentric_m_s)
        elif self._last_hold:
            self._end_set()
        else:
            self._start_rep(load_kg)

    # ---- rep mechanics ----------------------------------------------------------------------

    def _start_rep(self, load_kg: float) -> None:
        p = self.profile
        n = self.reps_in_set + 1
        frac = load_kg / p.one_rm_kg
        n_fail = max(1.0, reps_to_failure(frac) * p.endurance * (1.0 - 0.4 * self.fatigue))
        if n == 1:
            self._n_fail = n_fail
        mvt = p.mvt_m_s
        v1 = (mcv_at(frac) + (mvt - MIN_VELOCITY_M_S) * min(1.0, frac)) * p.speed * (
            1.0 - 0.15 * self.fatigue)
        progress = 0.0 if n_fail <= 1 else min(1.5, (n - 1) / (n_fail - 1))
        v = v1 - (v1 - mvt) * progress ** p.fatigue_exponent
        v += self._rng.gauss(0.0, p.velocity_noise_m_s)
        rom = p.rom_mm * self._rng.uniform(0.97, 1.03)
        self._rep_kind = "full"
        self._fail = False
        if v < mvt or n > n_fail + 0.5:
            # Failure: the bar (cable) stops part way; the set ends after this attempt.
            v = mvt * 0.8
            rom *= self._rng.uniform(0.45, 0.7)
            self._rep_kind = "partial"
            self._fail = True
        elif self._rng.random() < p.partial_prob and n > 1:
            rom *= self._rng.uniform(0.45, 0.75)
            self._rep_kind = "partial"
        self._rep_start = self.t
        self._go(Phase.CONCENTRIC)
        self._stall = None
        if p.midpause_prob and self._rng.random() < p.midpause_prob:
            frac = self._rng.uniform(0.35, 0.65)
            self._stall = (p.start_mm + rom, rom * (1 - frac) / 1000 / v,
                           self._rng.uniform(0.3, 1.0))
            rom *= frac
        self._move(self.position_mm, p.start_mm + rom, rom / 1000 / v)

    def _finish_rep(self) -> None:
        rom = self._rep_rom_mm
        mcv = rom / 1000 / max(self._rep_turn - self._rep_start, 1e-9)
        self.truth.append(TrueRep(self.set_index, self._rep_start, self._rep_turn, self.t, rom,
                                  mcv, self._rep_kind))
        if self._rep_kind == "full":
            self.reps_in_set += 1
        if self._fail or self.reps_in_set >= self.target_reps:
            if self.last_bottom_hold_s > 0 and not self._fail:
                self._go(Phase.BOTTOM_PAUSE)
                self._timer = self.last_bottom_hold_s
                self._last_hold = True
                return
            self._end_set()
            return
        pause = self._rng.random() < self.profile.pause_prob
        self._go(Phase.BOTTOM_PAUSE)
        self._timer = self._rng.uniform(0.4, 1.5) if pause else self._rng.uniform(0.05, 0.25)

    def _aborted(self, load_kg: float) -> bool:
        """A person stops when the load vanishes under them (stop, deload, lease expiry)."""
        if load_kg < 0.5 * self._set_load:
            self._end_set()
            return True
        return False

    def reps_possible(self, load_kg: float) -> float:
        """How many full reps a set at this load would have in it now (the truth a person
        only feels roughly)."""
        p = self.profile
        fatigue = self.fatigue  # recovers while docked, as step() does
        return max(1.0, reps_to_failure(load_kg / p.one_rm_kg) * p.endurance
                   * (1.0 - 0.4 * fatigue))

    def reps_in_reserve(self) -> int | None:
        """The truth about the last set: how many more full reps it had in it."""
        if self.last_set is None:
            return None
        _, reps, n_fail = self.last_set
        return max(0, int(n_fail + 0.5) - reps)

    def _end_set(self) -> None:
        p = self.profile
        self.last_set = (self._set_load, self.reps_in_set, self._n_fail)
        n_fail = max(1.0, reps_to_failure(self._set_load / p.one_rm_kg) * p.endurance)
        self.fatigue = min(1.0, max(self.fatigue, self.reps_in_set / n_fail))
        self.held = False
        self.velocity_m_s = 0.0
        self._last_hold = False
        self._setup_stage = 0
        self.set_index += 1
        self._go(Phase.DOCKED)
        self._timer = self.rest_s

    # ---- trajectories -----------------------------------------------------------------------

    @property
    def _rep_rom_mm(self) -> float:
        return self._peak_mm - self.profile.start_mm

    def _go(self, phase: Phase) -> None:
        self.phase = phase
        self._phase_t = 0.0

    def _move(self, a: float, b: float, duration: float) -> None:
        self._from_mm, self._to_mm, self._duration = a, b, max(duration, 0.05)
        if b > a:
            self._peak_mm = b

    def _follow(self) -> bool:
        """Half-cosine position profile; True when the move is done."""
        duration = self._duration
        u = self._phase_t / duration
        if not u < 1.0:
            u = 1.0
        span = self._to_mm - self._from_mm
        angle = math.pi * u
        self.position_mm = self._from_mm + span * (1.0 - math.cos(angle)) / 2.0
        self.velocity_m_s = (span / 1000.0) * math.pi / (2.0 * duration) * math.sin(angle)
        return u >= 1.0

