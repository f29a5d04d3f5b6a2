"""Recorded-looking traces of one simulated set, with the lifter's ground truth beside them.

For measuring the rep engine: the lifter and the cable physics run on a fine internal clock and
the trace is sampled from them at the rate asked for, then spoiled the way real recordings are:
sensor noise, slow drift, lost samples and jittered timestamps.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from sim.lifter import Lifter, LifterProfile, TrueRep, reps_to_failure
from sim.physics import Physics

RAMP_KG_S = 10.0


@dataclass(frozen=True)
class TraceSpec:
    rate_hz: float = 100.0
    noise_mm: float = 0.0  # position sensor noise, SD
    velocity_noise_m_s: float = 0.0  # noise of the unit's own velocity estimate, SD
    drift_mm_s: float = 0.0  # slow offset drift of the position sensor
    drop: float = 0.0  # fraction of samples lost
    jitter: float = 0.0  # timestamp jitter, as a fraction of the sample period (uniform +-)
    partial_prob: float = 0.03
    pause_prob: float = 0.08
    midpause_prob: float = 0.0
    reps: int = 10
    load_fraction: float = 0.6  # of the lifter's 1RM
    one_rm_kg: float | None = None  # the lifter's 1RM (default: drawn from the seed)
    load_kg: float | None = None  # the load (default: load_fraction of the 1RM)
    step_s: float | None = None  # internal clock (default: fine enough for the rate)


@dataclass
class SetTrace:
    t_s: np.ndarray
    position_mm: np.ndarray
    velocity_m_s: np.ndarray
    tension_n: np.ndarray
    truth: list[TrueRep] = field(default_factory=list)
    load_kg: float = 0.0
    fatigue_after: float = 0.0
    reps_to_failure: float = 0.0  # at this load, fresh, for this person

    @property
    def true_full(self) -> int:
        return sum(r.kind == "full" for r in self.truth)


def simulate_set(seed: int, spec: TraceSpec = TraceSpec(), *, fatigue: float = 0.0) -> SetTrace:
    """One set from picking up the handles to letting go and the cable reeling in."""
    profile = LifterProfile.from_seed(seed)
    profile.partial_prob = spec.partial_prob
    profile.pause_prob = spec.pause_prob
    profile.midpause_prob = spec.midpause_prob
    if spec.one_rm_kg is not None:
        profile.one_rm_kg = spec.one_rm_kg
    lifter = Lifter(profile, seed=seed, set_reps=(spec.reps,), first_pickup_s=0.3)
    lifter.fatigue = fatigue
    physics = Physics(1, seed)
    load = (spec.load_kg if spec.load_kg is not None
            else round(profile.one_rm_kg * spec.load_fraction * 2) / 2)
    dt = spec.step_s or min(0.002, 0.5 / spec.rate_hz)
    every = max(1, round(1.0 / spec.rate_hz / dt))
    rng = random.Random(f"trace-{seed}")
    nrng = np.random.default_rng(seed)
    setpoint = 0.0
    rows: list[tuple[float, float, float, float]] = []
    released_at: float | None = None
    step = 0
    while True:
        step += 1
        held = lifter.held and lifter.position_mm > 30.0
        if held and released_at is None:
            setpoint = min(load, setpoint + RAMP_KG_S * dt)
        elif lifter.set_index > 0:
            setpoint = max(0.0, setpoint - 30.0 * dt)
        lifter.step(dt, physics.total_motor_kg)
        physics.step(dt, [setpoint], lifter.held, lifter.position_mm, lifter.velocity_m_s)
        if lifter.set_index > 0 and released_at is None:
            released_at = lifter.t
        if step % every == 0:
            c = physics.state[0]
            rows.append((lifter.t, c.position_mm, c.velocity_m_s, c.tension_n))
        if released_at is not None and lifter.t > released_at + 1.5:
            break
        if lifter.t > 600:
            raise RuntimeError("the simulated set never ended")
    a = np.array(rows)
    t, p, v, f = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    period = 1.0 / spec.rate_hz
    if spec.noise_mm:
        p = p + nrng.normal(0, spec.noise_mm, len(p))
    if spec.velocity_noise_m_s:
        v = v + nrng.normal(0, spec.velocity_noise_m_s, len(v))
    if spec.drift_mm_s:
        p = p + spec.drift_mm_s * t
    t_rep = t + (nrng.uniform(-spec.jitter, spec.jitter, len(t)) * period if spec.jitter else 0)
    if spec.drop:
        keep = np.array([rng.random() >= spec.drop for _ in range(len(t))])
        t_rep, p, v, f = t_rep[keep], p[keep], v[keep], f[keep]
    truth = [r for r in lifter.truth if r.set_index == 0]
    n_fail = reps_to_failure(load / profile.one_rm_kg) * profile.endurance
    return SetTrace(t_rep, p, v, f, truth, load, lifter.fatigue, n_fail)
