"""The safety supervisor: one gate for every load, and its invariants under any sequence of
user actions and link events (a hypothesis state machine)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from controller.core.safety import SafetyRefusal, Supervisor


def sup() -> tuple[Supervisor, list]:
    events: list = []
    s = Supervisor(100.0, on_event=lambda kind, cause, **kw: events.append((kind, cause, kw)))
    return s, events


@pytest.mark.parametrize("setup,kg,allowed,kw,why", [
    (lambda s: None, 10.0, 10.0, {}, "not armed"),
    (lambda s: (s.arm(), setattr(s, "link", "degraded")), 10.0, 10.0, {}, "telemetry degraded"),
    (lambda s: s.arm(), 12.5, 10.0, {}, "above the 10.0 kg the plan allows"),
    (lambda s: (s.arm(), setattr(s, "applied_kg", 5.0)), 7.5, 10.0,
     {"source": "remote", "in_set": True}, "remote request cannot raise"),
    (lambda s: s.arm(), 10.3, 20.0, {}, "not a multiple of 0.5 kg"),
    (lambda s: s.arm(), 150.0, 200.0, {}, "maximum of 100.0 kg"),
])
def test_refusals_name_their_cause_and_are_reported(setup, kg, allowed, kw, why):
    s, events = sup()
    setup(s)
    with pytest.raises(SafetyRefusal, match=why):
        s.check(kg, allowed_kg=allowed, **kw)
    assert events[-1][0] == "refused" and why in events[-1][1]


def test_zero_is_always_allowed_and_a_valid_load_passes():
    s, _ = sup()
    assert s.check(0, allowed_kg=0) == 0.0  # deload, even unarmed and with the link lost
    s.link = "lost"
    assert s.check(0.0, allowed_kg=10) == 0.0
    s.link = "ok"
    s.arm()
    assert s.check("12.5", allowed_kg=12.5) == 12.5
    s.applied_kg = 12.5
    assert s.check(10.0, allowed_kg=12.5, source="remote", in_set=True) == 10.0  # lowering


@pytest.mark.parametrize("ages,states", [
    ([0.05, 0.2, 0.31, 0.9, 1.01, 0.1], ["ok", "ok", "degraded", "degraded", "lost", "ok"]),
    ([None], ["lost"]),
])
def test_staleness_states(ages, states):
    s, events = sup()
    assert [s.telemetry_age(a) for a in ages] == states
    assert [e[0] for e in events] == [f"telemetry_{x}" for i, x in enumerate(states)
                                      if x != (states[i - 1] if i else "ok")]


@pytest.mark.parametrize("args,bad", [
    ((1.2, 600, 200, 20), None),
    ((3.5, 600, 200, 20), "speed"),
    ((0.5, 4000, 200, 20), "position"),
    ((0.5, 600, 2000, 20), "tension"),
    ((0.5, 600, 200, 20, 1.0, 60.0), "stuck sensor"),
    ((0.5, 600, 200, 20, 55.0, 60.0), None),
])
def test_plausibility_envelope(args, bad):
    s, _ = sup()
    why = s.implausible(*args)
    assert (why is None) if bad is None else (bad in why)


class SupervisorMachine(RuleBasedStateMachine):
    """Any sequence of arming, link changes and load requests keeps the invariants."""

    def __init__(self):
        super().__init__()
        self.s, self.events = sup()
        self.allowed = 20.0
        self.last_ok: float | None = None

    @rule()
    def take_up_handles(self):
        self.s.arm()

    @rule(cause=st.sampled_from(["stop", "reconnect", "reboot", "set finished"]))
    def disarm(self, cause):
        self.s.disarm(cause)
        self.s.applied_kg = 0.0

    @rule(age=st.one_of(st.none(), st.floats(0, 3)))
    def telemetry(self, age):
        self.s.telemetry_age(age)

    @rule(allowed=st.integers(0, 200).map(lambda x: x / 2))
    def new_set(self, allowed):
        self.allowed = allowed
        self.last_ok = None

    @rule(kg=st.one_of(st.integers(0, 240).map(lambda x: x / 2), st.floats(0, 120)),
          source=st.sampled_from(["session", "remote", "panel"]), in_set=st.booleans())
    def request(self, kg, source, in_set):
        before = (self.s.armed, self.s.link, self.s.applied_kg)
        try:
            got = self.s.check(kg, allowed_kg=self.allowed, source=source, in_set=in_set)
        except SafetyRefusal:
            self.last_ok = None
            assert self.events[-1][0] == "refused"  # every refusal is reported
            return
        self.last_ok = got
        armed, link, applied = before
        if got > 0:
            assert armed and link == "ok"  # no load unless armed and telemetry is fresh
            assert got <= self.allowed and got <= 100.0  # never above the plan or the unit
            assert got * 2 == int(got * 2)  # on the 0.5 kg grid
            if source == "remote" and in_set:
                assert got <= applied  # remote never raises during a set
        self.s.applied_kg = got

    @precondition(lambda self: self.last_ok is not None)
    @invariant()
    def never_above_the_plan_or_the_unit(self):
        assert self.last_ok <= max(self.allowed, 0) or self.last_ok == 0
        assert self.last_ok <= 100.0


TestSupervisorMachine = SupervisorMachine.TestCase


def test_the_stuck_sensor_check_reads_25_hz_batches_right():
    """At 25 Hz a batch spans a whole retract or a fast turnaround; a stuck sensor still
    shows (the session compares the position's range with the velocities' travel)."""
    import math

    import numpy as np

    from controller.core.session import expected_travel_mm
    from firmware_bridge.messages import Telemetry, sample_dtype

    def check(pos, vel):
        rows = np.zeros(len(pos), dtype=sample_dtype(1))
        rows["dt_us"] = np.arange(len(pos)) * 40_000
        rows["cable"]["position_dmm"] = np.round(np.array(pos) * 10).astype(int)[:, None]
        rows["cable"]["velocity_mm_s"] = np.round(np.array(vel) * 1000).astype(int)[:, None]
        b = Telemetry(0, 1, rows)
        p = b.position_mm.mean(axis=1)
        return Supervisor(100.0).implausible(
            float(abs(b.velocity_m_s).max()), float(p.max()), 100.0, 10.0,
            moved_mm=float(p.max() - p.min()),
            expected_mm=expected_travel_mm(b.t_us, b.velocity_m_s))

    # The handles let go: one sample still carries the retract's speed, then the dock.
    assert check([2.4, 0, 0, 0, 0, 0, 0], [-1.2, -0.061, 0, 0, 0, 0, 0]) is None
    # A fast rep's top inside one batch: 0.3 s up, 0.4 s down (half-cosines, 500 mm).
    t = np.arange(7) * 0.04
    up = t < 0.3
    pos = np.where(up, 250 * (1 - np.cos(math.pi * t / 0.3)),
                   500 - 250 * (1 - np.cos(math.pi * (t - 0.3) / 0.4)))
    vel = np.where(up, 0.25 * math.pi / 0.3 * np.sin(math.pi * t / 0.3),
                   -0.25 * math.pi / 0.4 * np.sin(math.pi * (t - 0.3) / 0.4))
    assert check(pos, vel) is None
    # A stuck position with a moving velocity: both sums say 200 mm, the position nothing.
    why = check([300.0] * 7, [0.9] * 7)
    assert why is not None and "stuck sensor" in why
