"""The rep engine against the simulated lifter's ground truth, and on hand-made traces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.analysis.reps import CableRepEngine, RepConfig, RepEngine
from sim.traces import SetTrace, TraceSpec, simulate_set


def feed(trace: SetTrace, batch: int = 10, *, velocity: bool = True, tension: bool = True,
         engine: RepEngine | None = None) -> RepEngine:
    e = engine or RepEngine()
    for i in range(0, len(trace.t_s), batch):
        sl = slice(i, i + batch)
        e.feed(trace.t_s[sl], trace.position_mm[sl],
               trace.velocity_m_s[sl] if velocity else None,
               trace.tension_n[sl] if tension else None)
    e.finish()
    return e


def match(trace: SetTrace, e: RepEngine) -> list[tuple]:
    """Pairs (detected, truth) by nearest start."""
    return [(r, min(trace.truth, key=lambda x: abs(x.start_s - r.start_s))) for r in e.reps]


# Every robustness condition of the engine, each against several simulated people.
CONDITIONS = {
    "10 Hz polled": TraceSpec(rate_hz=10),
    "50 Hz": TraceSpec(rate_hz=50),
    "100 Hz": TraceSpec(rate_hz=100),
    "1000 Hz": TraceSpec(rate_hz=1000),
    "noise": TraceSpec(rate_hz=100, noise_mm=3.0, velocity_noise_m_s=0.03),
    "drift": TraceSpec(rate_hz=100, drift_mm_s=3.0),
    "pauses top and bottom": TraceSpec(rate_hz=100, pause_prob=0.6),
    "missing samples": TraceSpec(rate_hz=100, drop=0.1),
    "jittered timestamps": TraceSpec(rate_hz=100, jitter=0.3),
    "all at once at 50 Hz": TraceSpec(rate_hz=50, noise_mm=2.0, velocity_noise_m_s=0.02,
                                      drift_mm_s=2.0, drop=0.05, jitter=0.2, pause_prob=0.3,
                                      partial_prob=0.1, midpause_prob=0.1),
}


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_counts_and_boundaries_match_the_truth(name):
    spec = CONDITIONS[name]
    tolerance_s = max(3.0 / spec.rate_hz, 0.025)
    for seed in range(4):
        trace = simulate_set(seed, spec)
        e = feed(trace)
        assert e.full_reps == trace.true_full, (name, seed)
        assert e.partial_reps == sum(r.kind == "partial" for r in trace.truth), (name, seed)
        errors = [abs(getattr(r, k) - getattr(t, k))
                  for r, t in match(trace, e) for k in ("start_s", "turn_s", "end_s")]
        assert np.median(errors) <= tolerance_s, (name, seed, np.median(errors))


def test_partial_reps_are_shown_and_never_counted_as_full():
    spec = TraceSpec(rate_hz=100, partial_prob=0.35, reps=12)
    for seed in range(3):
        trace = simulate_set(seed, spec)
        e = feed(trace)
        truth_partial = [t for t in trace.truth if t.kind == "partial"]
        assert truth_partial
        pairs = match(trace, e)
        assert sorted(round(t.start_s, 1) for r, t in pairs if r.kind == "partial") == sorted(
            round(t.start_s, 1) for t in truth_partial)
        for r, _ in pairs:
            if r.kind == "partial":
                assert 40 <= r.rom_pct < 85


def test_a_pause_mid_rep_is_one_rep_starting_before_the_stall():
    spec = TraceSpec(rate_hz=100, midpause_prob=1.0, partial_prob=0.0, reps=5)
    trace = simulate_set(4, spec)
    e = feed(trace)
    assert e.full_reps == trace.true_full == 5
    for r, t in match(trace, e):
        assert abs(r.start_s - t.start_s) < 0.03
        assert abs(r.turn_s - t.turn_s) < 0.03
        assert r.mean_concentric_m_s == pytest.approx(t.mean_concentric_m_s, abs=0.02)


def test_a_single_rep():
    trace = simulate_set(2, TraceSpec(rate_hz=100, reps=1, partial_prob=0.0))
    e = feed(trace)
    assert e.full_reps == 1 and len(e.reps) == 1
    assert e.summary().velocity_loss == 0.0


def synthetic(t: np.ndarray, p: np.ndarray, f: np.ndarray | None = None):
    return t, p, np.gradient(p, t) / 1000.0, f


def test_zero_reps_when_the_handles_are_only_picked_up_and_put_down():
    t = np.arange(0, 8, 0.01)
    p = np.interp(t, [0, 0.8, 6.0, 6.4], [0, 90, 95, 0])  # take up, hold, let go
    f = np.where((t > 0.8) & (t < 6.0), 200.0, 0.5)
    e = RepEngine()
    e.feed(*synthetic(t, p, f))
    e.finish()
    assert e.full_reps == e.partial_reps == e.summary().reps == 0
    assert [r.kind for r in e.reps] == ["ignored"]  # handling the cable is shown as such
    assert e.ended_by == "handles released"


def test_noise_alone_never_makes_a_rep():
    rng = np.random.default_rng(3)
    t = np.arange(0, 60, 0.01)
    p = 300 + rng.normal(0, 5.0, len(t))  # 5 mm sensor noise, nobody moving
    e = RepEngine()
    e.feed(t, p)
    e.finish()
    assert e.reps == []


def test_a_set_ended_by_releasing_the_handles_keeps_its_last_rep():
    trace = simulate_set(6, TraceSpec(rate_hz=100, reps=6, partial_prob=0.0))
    e = RepEngine()
    for i in range(0, len(trace.t_s), 10):
        sl = slice(i, i + 10)
        e.feed(trace.t_s[sl], trace.position_mm[sl], trace.velocity_m_s[sl],
               trace.tension_n[sl])
    assert e.ended_by == "handles released"  # before finish(): from the tension
    assert e.full_reps == 6
    last = e.reps[-1]
    assert abs(last.end_s - trace.truth[-1].end_s) < 0.05


def test_idle_ends_the_set():
    t = np.arange(0, 40, 0.02)
    p = np.where(t < 10, 100 + 300 * (1 - np.cos(2 * np.pi * t / 2.5)), 100.0)
    e = RepEngine(RepConfig(idle_end_s=5.0))
    e.feed(*synthetic(t, p)[:2])
    assert e.ended_by == "idle"
    assert e.full_reps == 4


def test_a_carried_reference_classes_a_short_first_rep_as_partial():
    t = np.arange(0, 12, 0.01)
    amp = np.where(t < 3, 150.0, 300.0)  # first rep half the range of the rest
    p = 100 + amp * (1 - np.cos(2 * np.pi * t / 3))
    fresh = RepEngine()
    fresh.feed(t, p)
    fresh.finish()
    carried = RepEngine(reference_mm=600.0)
    carried.feed(t, p)
    carried.finish()
    assert [r.kind for r in carried.reps] == ["partial", "full", "full", "full"]
    assert carried.full_reps == 3
    # Calibrating afresh, the reference grows to the largest of the first reps.
    assert fresh.reference_mm == pytest.approx(600, abs=5)


def test_position_only_traces_count_exactly():
    for seed, rate in [(1, 10.0), (2, 50.0), (3, 200.0)]:
        trace = simulate_set(seed, TraceSpec(rate_hz=rate, noise_mm=1.0, partial_prob=0.1))
        e = feed(trace, velocity=False, tension=False)
        assert e.full_reps == trace.true_full, (seed, rate)
        for r, t in match(trace, e):
            if r.full and rate >= 50:
                assert r.mean_concentric_m_s == pytest.approx(t.mean_concentric_m_s, abs=0.04)


def test_per_rep_metrics_are_consistent():
    trace = simulate_set(8, TraceSpec(rate_hz=100, reps=8, partial_prob=0.0))
    e = feed(trace)
    for r, t in match(trace, e):
        assert r.concentric_s == pytest.approx(r.turn_s - r.start_s)
        assert r.time_under_tension_s == pytest.approx(r.end_s - r.start_s)
        assert r.mean_concentric_m_s == pytest.approx(r.rom_mm / 1000 / r.concentric_s)
        assert r.peak_concentric_m_s > r.mean_concentric_m_s
        assert r.rom_mm == pytest.approx(t.rom_mm, abs=10)
        assert r.peak_tension_n == pytest.approx(trace.load_kg * 9.81, rel=0.1)
        assert r.mean_concentric_power_w == pytest.approx(
            trace.load_kg * 9.81 * r.mean_concentric_m_s, rel=0.15)
    s = e.summary()
    mcv = [r.mean_concentric_m_s for r in e.reps]
    assert s.velocity_loss == pytest.approx(1 - mcv[-1] / max(mcv))
    assert 0.95 < s.rom_consistency <= 1.0


def test_two_cables_count_on_the_combined_signal():
    trace = simulate_set(9, TraceSpec(rate_hz=100, reps=5, partial_prob=0.0))
    pos = np.c_[trace.position_mm, trace.position_mm * 0.97]
    vel = np.c_[trace.velocity_m_s, trace.velocity_m_s * 0.97]
    ten = np.c_[trace.tension_n, trace.tension_n] / 2
    e = CableRepEngine(2)
    for i in range(0, len(trace.t_s), 9):
        sl = slice(i, i + 9)
        e.feed(trace.t_s[sl], pos[sl], vel[sl], ten[sl])
    e.finish()
    assert e.combined.full_reps == 5
    assert [c.full_reps for c in e.per_cable] == [5, 5]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=60), st.sampled_from([0, 1, 2]))
def test_batching_never_changes_the_reps(sizes, seed):
    trace = simulate_set(seed, TraceSpec(rate_hz=100, noise_mm=1.0, drop=0.05, jitter=0.2))
    whole = feed(trace, batch=len(trace.t_s))
    e = RepEngine()
    i = k = 0
    while i < len(trace.t_s):
        n = sizes[k % len(sizes)]
        e.feed(trace.t_s[i : i + n], trace.position_mm[i : i + n], None, trace.tension_n[i : i + n])
        i, k = i + n, k + 1
    e.finish()
    ref = RepEngine()
    ref.feed(trace.t_s, trace.position_mm, None, trace.tension_n)
    ref.finish()
    assert e.reps == ref.reps
    assert whole.full_reps == trace.true_full


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 50))
def test_the_count_never_decreases_as_samples_arrive(seed):
    trace = simulate_set(seed, TraceSpec(rate_hz=50, partial_prob=0.2))
    e = RepEngine()
    counts = []
    for i in range(len(trace.t_s)):
        e.feed(trace.t_s[i : i + 1], trace.position_mm[i : i + 1],
               trace.velocity_m_s[i : i + 1], trace.tension_n[i : i + 1])
        counts.append(e.full_reps)
    assert counts == sorted(counts)
    assert counts[-1] == trace.true_full


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        RepConfig(partial_fraction=0.9, full_fraction=0.85)
