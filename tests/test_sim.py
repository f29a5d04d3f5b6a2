"""The simulated unit's own behaviour, clocked by hand (no event loop), and its lifter."""

from __future__ import annotations

import itertools

import pytest

from firmware_bridge.codec import FrameDecoder, encode
from firmware_bridge.messages import (
    Ack,
    ConfigureTelemetry,
    DeviceInfo,
    ErrorCode,
    Event,
    EventCode,
    Heartbeat,
    Hello,
    Mode,
    Nack,
    SetLoad,
    SetMode,
    Telemetry,
)
from sim.lifter import Lifter, LifterProfile, mcv_at, reps_to_failure
from sim.options import SimOptions


class Bench:
    """A unit on the bench: send frames, tick time, read what it said."""

    def __init__(self, **opts):
        self.unit = SimOptions(**opts).build_unit()
        self.dec = FrameDecoder()
        self.seq = 0
        self.heard: list = []
        self.read()  # the BOOT event

    def send(self, msg):
        self.seq += 1
        self.unit.receive(encode(msg, self.seq))
        return self.read()

    def read(self):
        got = [f.msg for f in self.dec.feed(self.unit.take_output())]
        self.heard += got
        return got

    def run(self, seconds, heartbeat=True):
        ticks = int(seconds * self.unit.tick_hz)
        for i in range(ticks):
            if heartbeat and i % 10 == 0:
                self.unit.receive(encode(Heartbeat(), 0))
            self.unit.tick()
        return self.read()

    def until_handles_up(self):
        for _ in range(1000):
            self.run(0.01)
            if self.unit.lifter.held and self.unit.lifter.position_mm > 50:
                return
        raise AssertionError("lifter never took the handles")

    def events(self):
        return [EventCode(m.code) for m in self.heard if isinstance(m, Event)]


def test_hello_answers_device_info_and_starts_telemetry():
    b = Bench(cables=2, max_kg=80)
    assert b.heard == [Event(0, EventCode.BOOT)]
    assert b.run(0.5) == []  # no telemetry without a host lease
    info = b.send(Hello())[0]
    assert isinstance(info, DeviceInfo)
    assert (info.cable_count, info.max_load_half_kg, info.lease_ms) == (2, 160, 500)
    assert any(isinstance(m, Telemetry) for m in b.run(0.3))


def test_wrong_protocol_version_is_nacked():
    b = Bench()
    reply = b.send(Hello(2, 3))[0]
    assert isinstance(reply, Nack) and reply.error == ErrorCode.UNSUPPORTED_VERSION
    assert reply.detail == 1


def test_commands_before_hello_are_not_ready():
    b = Bench()
    reply = b.send(SetLoad((10,)))[0]
    assert isinstance(reply, Nack) and reply.error == ErrorCode.NOT_READY


@pytest.mark.parametrize("loads,error,detail", [
    ((201,), ErrorCode.LOAD_ABOVE_MAX, 200),
    ((10, 10), ErrorCode.BAD_ARGUMENT, 1),
])
def test_bad_loads_are_nacked_and_change_nothing(loads, error, detail):
    b = Bench()
    b.send(Hello())
    reply = b.send(SetLoad(loads))[0]
    assert isinstance(reply, Nack) and (reply.error, reply.detail) == (error, detail)
    assert b.unit.targets == [0]


def test_load_changes_are_ramp_limited_up_and_down():
    b = Bench(seed=4)
    b.until_handles_up()
    b.send(Hello())
    ack = b.send(SetLoad((80,)))[0]  # 40 kg
    assert ack == Ack(2, 0x03, (80,))
    b.run(1.0)
    # Up at 10 kg/s: after 1 s the setpoint is ~10 kg, nowhere near 40.
    assert 9.0 <= b.unit.setpoints[0] / 2 <= 10.5
    b.run(3.5)
    assert b.unit.applied_half_kg == [80]
    b.send(SetLoad((20,)))
    b.run(0.5)  # down at 30 kg/s: 30 kg takes 1 s
    assert 24.0 <= b.unit.setpoints[0] / 2 <= 26.0


def test_telemetry_rate_and_batch_are_configurable_within_limits():
    b = Bench()
    b.send(Hello())
    assert isinstance(b.send(ConfigureTelemetry(1000, 16))[0], Ack)
    tel = [m for m in b.run(0.1) if isinstance(m, Telemetry)]
    assert [len(t) for t in tel] == [16] * 6  # 100 samples taken, 96 sent, 4 in the next batch
    t_us = [int(x) for t in tel for x in t.t_us]
    assert all(b - a == 1000 for a, b in itertools.pairwise(t_us))
    nack = b.send(ConfigureTelemetry(333, 10))[0]
    assert nack.error == ErrorCode.RATE_UNSUPPORTED and nack.detail == 1000
    nack = b.send(ConfigureTelemetry(100, 40))[0]
    assert nack.error == ErrorCode.BAD_ARGUMENT and nack.detail == 16


def test_lease_expiry_deloads_and_reports():
    b = Bench(seed=4)
    b.until_handles_up()
    b.send(Hello())
    b.send(SetLoad((60,)))
    b.run(4.0)
    assert b.unit.applied_half_kg == [60]
    b.run(0.35, heartbeat=False)  # the last heartbeat was 0.1 s before this
    assert b.unit.targets == [60]  # lease (0.5 s) not yet expired
    b.run(0.1, heartbeat=False)
    assert b.unit.targets == [0]
    b.run(1.2, heartbeat=False)
    assert b.unit.applied_half_kg == [0]
    assert EventCode.LEASE_EXPIRED in b.events()
    assert EventCode.DELOADED in b.events()
    nack = b.send(SetLoad((10,)))[0]
    assert nack.error == ErrorCode.NOT_READY  # a new HELLO is needed


def test_handle_release_deloads():
    b = Bench(seed=4)
    b.send(Hello())
    b.send(SetLoad((40,)))  # nobody holds the handles
    b.run(0.45)
    assert EventCode.HANDLE_RELEASED not in b.events()
    b.run(0.2)
    assert EventCode.HANDLE_RELEASED in b.events()
    assert b.unit.targets == [0]


def test_lifter_reps_follow_load_and_fatigue():
    prof = LifterProfile.from_seed(1)
    prof.one_rm_kg = 40.0
    prof.partial_prob = prof.pause_prob = 0.0
    lifter = Lifter(prof, seed=1, set_reps=(100,), first_pickup_s=0.0)
    for _ in range(100 * 120):
        lifter.step(0.01, 28.0)  # 70% 1RM
        if lifter.set_index == 1:
            break
    reps = [r for r in lifter.truth if r.kind == "full"]
    # Epley at 70%: ~13 reps, scaled by this person's endurance; then a failed partial.
    expected = reps_to_failure(0.7) * prof.endurance
    assert abs(len(reps) - expected) <= 2
    assert lifter.truth[-1].kind == "partial"
    v = [r.mean_concentric_m_s for r in reps]
    assert v[0] == pytest.approx(mcv_at(0.7) * prof.speed, abs=0.08)
    assert v[-1] < v[0] - 0.2  # velocity loss over the set


def test_simulation_is_deterministic_from_the_seed():
    def run(seed):
        b = Bench(seed=seed)
        b.until_handles_up()
        b.send(Hello())
        b.send(SetLoad((30,)))
        b.run(20)
        return [(round(r.start_s, 3), r.kind) for r in b.unit.lifter.truth], b.unit.now_us

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_bad_sim_options_are_named():
    with pytest.raises(ValueError, match="cables"):
        SimOptions.from_query({"cables": "3"})
    with pytest.raises(ValueError, match="max_kg"):
        SimOptions.from_query({"max_kg": "10.3"})


def loaded_bench(mode: SetMode, load_half_kg: int = 60) -> Bench:
    b = Bench(seed=4)
    b.until_handles_up()
    b.send(Hello())
    assert isinstance(b.send(mode)[0], Ack)
    b.send(SetLoad((load_half_kg,)))
    b.run(3.5)
    return b


def test_eccentric_mode_is_heavier_on_the_way_back():
    b = loaded_bench(SetMode(Mode.ECCENTRIC, 130))
    seen = {"up": [], "down": []}
    for _ in range(600):
        b.run(0.01)
        c = b.unit.physics.state[0]
        if abs(c.velocity_m_s) > 0.1:
            seen["up" if c.velocity_m_s > 0 else "down"].append(c.motor_kg)
    assert max(seen["up"]) <= 30.5  # 30 kg lifting ...
    assert max(seen["down"]) >= 38.0  # ... 39 kg (130%) lowering, through the motor's lag


def test_chains_mode_adds_load_with_extension():
    b = loaded_bench(SetMode(Mode.CHAINS, 50, 600))
    pairs = []
    for _ in range(400):
        b.run(0.01)
        c = b.unit.physics.state[0]
        pairs.append((c.position_mm, c.motor_kg))
    low = [kg for pos, kg in pairs if pos < 150]
    high = [kg for pos, kg in pairs if pos > 550]
    assert high and low and min(high) > max(low) + 8  # about +50% at full extension


def test_spotter_mode_takes_load_off_after_a_stall():
    b = loaded_bench(SetMode(Mode.SPOTTER, 40, 1250, 30))
    lifter = b.unit.lifter
    lifter.step = lambda dt, load: None  # the person stalls half way up
    lifter.position_mm, lifter.velocity_m_s, lifter.held = 400.0, 0.0, True
    b.run(1.0)
    assert not b.unit.spotting and b.unit.applied_half_kg == [60]
    b.run(0.6)
    assert b.unit.spotting
    b.run(0.3)
    assert b.unit.applied_half_kg[0] == pytest.approx(42, abs=1)  # 30% off


@pytest.mark.parametrize("mode,detail", [(SetMode(Mode.ECCENTRIC, 151), 150),
                                         (SetMode(Mode.CHAINS, 120, 600), 100),
                                         (SetMode(9), 3)])
def test_mode_limits_are_nacked(mode, detail):
    b = Bench()
    b.send(Hello())
    reply = b.send(mode)[0]
    assert isinstance(reply, Nack) and reply.error == ErrorCode.BAD_ARGUMENT
    assert reply.detail == detail
