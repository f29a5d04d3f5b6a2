"""Realistic recordings of one free-weight set, as a position tracker writes them.

Unlike `sim.traces` (the cable unit's own telemetry, from the handles being taken to their
release), these carry what real recordings carry: the bar lifted from the floor or unracked
and walked out before the set, racked or put down after it, pauses at the top and the bottom,
grinding final reps, bell-shaped (minimum-jerk) and half-cosine movements, sensor noise, lost
samples and jittered timestamps, in metres or millimetres, with the axis up or down.

Truth follows the rep engine's model, where a rep is a concentric and the lowering after it:
start is when the bar leaves the bottom, turn when it arrives at the top, end when the next
lowering arrives at the bottom (the top, for the last rep of a lift that starts at the top,
such as the bench press and the squat, which ends racked).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from sim.lifter import TrueRep

# (lift, starts at the top, range of motion mm, where the bar is before/after the set)
LIFTS = {
    "curl": (False, (380.0, 560.0), ("floor",)),
    "row": (False, (300.0, 480.0), ("floor",)),
    "press": (False, (380.0, 520.0), ("rack",)),
    "bench": (True, (300.0, 480.0), ("rack",)),
    "squat": (True, (450.0, 700.0), ("walkout",)),
}


@dataclass(frozen=True)
class RecordingSpec:
    lift: str = "curl"
    rate_hz: float = 90.0
    reps: int = 8
    unit: str = "m"  # "m" or "mm", as the file holds it
    axis_down: bool = True  # values grow as the bar goes down
    before: str = "floor"  # floor | rack | walkout | none
    after: str = "floor"  # floor | rack | none
    noise_mm: float = 0.5
    drop: float = 0.0
    jitter: float = 0.1  # of the sample period
    pause_top: float = 0.3  # probability of a pause at the top
    pause_bottom: float = 0.3
    grind: bool = True  # the last reps slow, the final one grinding off the bottom
    partial_prob: float = 0.0
    minjerk: bool = True  # bell-shaped speed; False: half-cosine

    @classmethod
    def random(cls, seed: int, *, bare: float = 0.0) -> RecordingSpec:
        """A spec drawn from everything the generator can do; with probability `bare` the
        recording starts or stops with the set instead of a movement before or after it."""
        r = random.Random(f"recording-{seed}")
        lift = r.choice(list(LIFTS))
        before = r.choice(LIFTS[lift][2])
        after = "floor" if before == "floor" else "rack"
        if r.random() < bare:
            before = "none"
        if r.random() < bare:
            after = "none"
        return cls(
            lift=lift, rate_hz=r.choice((30.0, 50.0, 60.0, 90.0, 100.0, 120.0, 200.0)),
            reps=r.randint(3, 12), unit=r.choice(("m", "mm")), axis_down=r.random() < 0.5,
            before=before, after=after, noise_mm=r.uniform(0.2, 1.5),
            drop=r.choice((0.0, 0.0, 0.02, 0.05)), jitter=r.uniform(0.0, 0.3),
            pause_top=r.uniform(0.0, 0.6), pause_bottom=r.uniform(0.0, 0.6),
            grind=r.random() < 0.4, partial_prob=r.choice((0.0, 0.0, 0.1)),
            minjerk=r.random() < 0.7)


@dataclass
class Recording:
    spec: RecordingSpec
    t_s: np.ndarray
    position: np.ndarray  # in the file's unit and axis
    truth: list[TrueRep] = field(default_factory=list)

    @property
    def true_full(self) -> int:
        return sum(r.kind == "full" for r in self.truth)

    @property
    def period_s(self) -> float:
        return 1.0 / self.spec.rate_hz

    def csv_text(self, time_col: str = "time", position_col: str = "position") -> str:
        lines = [f"{time_col},{position_col}"]
        digits = 5 if self.spec.unit == "m" else 2
        lines += [f"{t:.4f},{p:.{digits}f}" for t, p in zip(self.t_s, self.position,
                                                           strict=True)]
        return "\n".join(lines) + "\n"


class _Path:
    """Bar height (mm, up) as a chain of moves and holds."""

    def __init__(self, start_mm: float, minjerk: bool) -> None:
        self.t = 0.0
        self.p = start_mm
        self.moves: list[tuple[float, float, float, float, str]] = []  # t0, dur, from, to, shape
        self.shape = "minjerk" if minjerk else "cosine"

    def hold(self, dur: float, sway_mm: float = 0.0) -> None:
        self.moves.append((self.t, dur, self.p, self.p, f"sway{sway_mm}"))
        self.t += dur

    def move(self, to: float, dur: float, shape: str | None = None) -> tuple[float, float]:
        t0 = self.t
        self.moves.append((t0, dur, self.p, to, shape or self.shape))
        self.t += dur
        self.p = to
        return t0, self.t

    def at(self, t: np.ndarray) -> np.ndarray:
        out = np.full(len(t), self.moves[0][2])
        for t0, dur, a, b, shape in self.moves:
            m = (t >= t0) & (t < t0 + dur)
            s = (t[m] - t0) / dur
            if shape.startswith("sway"):
                amp = float(shape[4:])
                out[m] = a + amp * np.sin(2 * math.pi * s * max(1, round(dur))) * np.sin(
                    math.pi * s)
                continue
            out[m] = a + (b - a) * _shape(shape, s)
        last = self.moves[-1]
        out[t >= last[0] + last[1]] = last[3]
        return out


def _shape(shape: str, s: np.ndarray) -> np.ndarray:
    if shape == "cosine":
        return (1 - np.cos(math.pi * s)) / 2
    if shape == "grind":  # slow off the bottom, a sticking point, then through
        w = s ** 1.35
        return 10 * w**3 - 15 * w**4 + 6 * w**5
    return 10 * s**3 - 15 * s**4 + 6 * s**5  # minimum jerk


def generate(seed: int, spec: RecordingSpec | None = None) -> Recording:
    """One recording, deterministic from the seed (and the spec, drawn from it if not given)."""
    spec = spec or RecordingSpec.random(seed)
    r = random.Random(f"lifts-{seed}")
    top_first, (rom_lo, rom_hi), _ = LIFTS[spec.lift]
    rom = r.uniform(rom_lo, rom_hi)
    bottom = r.uniform(300.0, 700.0)  # bar height at the bottom of a rep
    top = bottom + rom
    home = top if top_first else bottom  # where the bar waits between reps
    v_first = r.uniform(0.45, 1.0)  # mean concentric speed of the first rep, m/s
    v_last = r.uniform(0.2, 0.38) if spec.grind else v_first * r.uniform(0.7, 0.9)
    ecc_s = r.uniform(1.2, 2.6)
    path = _Path(0.0, spec.minjerk)
    truth: list[TrueRep] = []
    # -- before the set
    if spec.before == "floor":
        floor = bottom - r.uniform(400.0, 650.0)
        path.p = floor
        path.hold(r.uniform(0.3, 1.5))
        path.move(bottom, r.uniform(0.9, 1.6))
        path.hold(r.uniform(0.15, 2.5), sway_mm=r.uniform(0.0, 6.0))
    elif spec.before in ("rack", "walkout"):  # off the hooks, a little above where it sat
        path.p = home - r.uniform(40.0, 200.0)
        path.hold(r.uniform(0.3, 1.5))
        path.move(home + r.uniform(0.0, 15.0), r.uniform(0.5, 1.0))
        path.move(home, r.uniform(0.2, 0.4))
        if spec.before == "walkout":  # steps back: the bar bobs
            for _ in range(r.randint(2, 4)):
                bob = r.uniform(10.0, 30.0)
                path.move(home - bob, r.uniform(0.25, 0.45), "cosine")
                path.move(home, r.uniform(0.25, 0.45), "cosine")
        path.hold(r.uniform(0.5, 2.0), sway_mm=r.uniform(0.0, 5.0))
    else:
        path.p = home
        path.hold(r.uniform(0.2, 1.0))
    # -- the set
    n = spec.reps
    for i in range(n):
        frac = i / max(1, n - 1)
        v = v_first + (v_last - v_first) * frac**1.4
        grind = spec.grind and i == n - 1
        partial = 0 < i < n - 1 and r.random() < spec.partial_prob
        reach = rom * (r.uniform(0.5, 0.7) if partial else r.uniform(0.96, 1.03))
        if top_first:  # lower first (a partial rep not all the way), then the concentric
            path.move(top - reach if partial else bottom, ecc_s * r.uniform(0.9, 1.1))
            if truth:  # the previous rep's lowering is this one
                prev = truth[-1]
                truth[-1] = TrueRep(0, prev.start_s, prev.turn_s, path.t, prev.rom_mm,
                                     prev.mean_concentric_m_s, prev.kind)
            if r.random() < spec.pause_bottom:
                path.hold(r.uniform(0.3, 1.2))
        dur = reach / 1000.0 / v
        t0, t1 = path.move(path.p + reach, dur, "grind" if grind else None)
        truth.append(TrueRep(0, t0, t1, t1, reach, reach / 1000.0 / dur,
                              "partial" if partial else "full"))
        if top_first:
            if i < n - 1 and r.random() < spec.pause_top:
                path.hold(r.uniform(0.3, 1.5))
            elif i < n - 1:
                path.hold(r.uniform(0.05, 0.3))
            continue
        if r.random() < spec.pause_top:
            path.hold(r.uniform(0.3, 1.2))
        path.move(bottom, ecc_s * r.uniform(0.9, 1.1))
        prev = truth[-1]
        truth[-1] = TrueRep(0, prev.start_s, prev.turn_s, path.t, prev.rom_mm,
                             prev.mean_concentric_m_s, prev.kind)
        if i < n - 1:
            path.hold(r.uniform(0.3, 1.5) if r.random() < spec.pause_bottom
                      else r.uniform(0.0, 0.15))
    # -- after the set
    if spec.after == "floor":
        path.hold(r.uniform(0.2, 2.0), sway_mm=r.uniform(0.0, 4.0))
        path.move(path.p - r.uniform(400.0, 650.0), r.uniform(0.9, 1.5))
        path.hold(r.uniform(0.5, 1.5))
    elif spec.after == "rack":
        path.hold(r.uniform(0.3, 1.2))
        level = path.p
        if spec.before == "walkout":
            for _ in range(r.randint(2, 3)):
                bob = r.uniform(10.0, 30.0)
                path.move(level - bob, r.uniform(0.25, 0.45), "cosine")
                path.move(level, r.uniform(0.25, 0.45), "cosine")
        path.move(level + r.uniform(0.0, 15.0), r.uniform(0.3, 0.6))
        path.move(level - r.uniform(40.0, 200.0), r.uniform(0.4, 0.9))
        path.hold(r.uniform(0.5, 1.5))
    else:
        path.hold(r.uniform(0.0, 0.4))
    # -- sampling, as a tracker does it
    nr = np.random.default_rng(seed)
    period = 1.0 / spec.rate_hz
    t = np.arange(0.0, path.t, period)
    height = path.at(t)
    height = height + nr.normal(0.0, spec.noise_mm, len(t))
    stamp = t + nr.uniform(-spec.jitter, spec.jitter, len(t)) * period
    if spec.drop:
        keep = nr.random(len(t)) >= spec.drop
        stamp, height = stamp[keep], height[keep]
    pos = -height if spec.axis_down else height
    pos = pos / 1000.0 if spec.unit == "m" else pos
    return Recording(spec, stamp, pos, truth)
