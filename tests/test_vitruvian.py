"""The Vitruvian frames, field by field against the documented layout (shared/vitruvian.md),
every frame of the shared vectors byte for byte, and the pure logic the driver relies on (the
rest baseline of the handles, the velocity unit check)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from firmware_bridge.vitruvian import (
    STOP,
    ProgramMode,
    RestBaseline,
    TrainerStatus,
    VelocityCheck,
    VitruvianError,
    echo_frame,
    parse_reps,
    parse_sample,
    program_frame,
    rep_field,
    working_target,
)

# The reference frames of shared/vitruvian_vectors.json, kept in the repository (CI has no
# shared folder): a missing file fails the test, never skips it.
VECTORS = Path(__file__).resolve().parent / "data" / "vitruvian_vectors.json"
MODES = list(ProgramMode)  # the vectors number modes 0-4 in the documented order


def _vectors() -> dict:
    return json.loads(VECTORS.read_text())


def test_every_program_vector_byte_for_byte():
    vectors = _vectors()["program"]
    assert len(vectors) >= 20
    for vec in vectors:
        reps = None if vec.get("just_lift") else vec["working_reps"]
        frame = program_frame(float(vec["per_cable_kg"]), reps, MODES[vec["mode"]],
                              progression_kg=float(vec["progression_kg_per_rep"]))
        assert frame.hex() == vec["frame_hex"], vec


def test_every_echo_vector_byte_for_byte():
    vectors = _vectors()["echo"]
    assert vectors
    for vec in vectors:
        frame = echo_frame(vec["level"], vec["eccentric_pct"], vec["target_reps"],
                           warmup_reps=vec["warmup_reps"])
        assert frame.hex() == vec["frame_hex"], vec


@pytest.mark.parametrize("mode", list(ProgramMode))
@pytest.mark.parametrize("load,reps", [(12.5, 10), (0.0, 1), (100.0, 8), (37.5, None)])
def test_program_frame_layout(mode, load, reps):
    f = program_frame(load, reps, mode, progression_kg=0.5)
    assert len(f) == 96
    assert struct.unpack_from("<I", f, 0x00)[0] == 4  # command
    assert f[0x04] == (0xFF if reps is None else reps + 3)  # working + calibration reps
    assert f[0x05] == 3 and f[0x06] == 3  # calibration reps, adaptive reps
    assert struct.unpack_from("<f", f, 0x08)[0] == 5.0  # seed range
    for band in (0x0C, 0x1C):  # top and bottom rep bands
        assert struct.unpack_from("<ffHHHH", f, band) == (5.0, 0.0, 250, 250, 200, 30)
    assert struct.unpack_from("<HH", f, 0x2C) == (250, 80)  # safety mm-per-m, mm-max
    blocks = [struct.unpack_from("<hhf", f, 0x30 + 8 * i) for i in range(4)]
    assert [(a, b, pytest.approx(c)) for a, b, c in blocks] == [tuple(x) for x in mode.value]
    force_min, force_max, target, progression = struct.unpack_from("<ffff", f, 0x50)
    assert force_min == 0.0
    assert force_max == pytest.approx(load + 10.0)  # target + 10 kg
    assert target == pytest.approx(load)  # kg per cable, IEEE-754 float
    assert progression == pytest.approx(0.5)


def test_the_rep_field_is_working_plus_calibration():
    # A real trainer's log: the firmware's working target is byte 4 - 3 (no "+1 at start").
    assert rep_field(10) == 13 and working_target(13) == 10
    assert rep_field(1) == 4 and rep_field(251) == 254
    assert rep_field(None) == 0xFF and working_target(0xFF) is None
    for bad in (0, -1, 252):
        with pytest.raises(VitruvianError):
            rep_field(bad)


@pytest.mark.parametrize("args", [(100.5, 10), (-1.0, 10)])
def test_out_of_range_program_is_refused(args):
    with pytest.raises(VitruvianError, match="allowed 0-100"):
        program_frame(*args)
    with pytest.raises(VitruvianError, match="progression"):
        program_frame(10.0, 10, progression_kg=3.5)


@pytest.mark.parametrize("level,gain,cap", [("hard", 1.0, 50.0), ("harder", 1.25, 40.0),
                                            ("hardest", 1.667, 30.0), ("epic", 3.333, 15.0)])
def test_echo_frame_layout(level, gain, cap):
    f = echo_frame(level, 120, target_reps=8)
    assert len(f) == 32
    assert struct.unpack_from("<I", f, 0)[0] == 0x4E
    assert f[4] == 3 and f[5] == 8  # warm-up reps; the target itself
    assert struct.unpack_from("<HHH", f, 6) == (0, 120, 50)  # spotter, eccentric %, concentric %
    vals = struct.unpack_from("<fffff", f, 12)
    assert vals == pytest.approx((0.1, gain, cap, 0.0, -100.0))
    assert echo_frame(level, 0)[5] == 0xFF
    assert echo_frame(0, 0) == echo_frame("hard", 0)  # levels by number too
    with pytest.raises(VitruvianError, match="0-150"):
        echo_frame(level, 151)  # above 150% faults the unit
    with pytest.raises(VitruvianError, match="echo level"):
        echo_frame(4, 100)


def test_stop_command():
    assert STOP == b"\x50\x00"


def test_samples_velocity_in_tenths_and_the_status_word():
    raw = struct.pack("<IhhHhhHH", 1234, 4567, -1200, 2550, 4500, 832, 2540, 0x8041) + bytes(8)
    assert len(raw) == 26  # current hardware
    s = parse_sample(raw)
    assert s.tick == 1234 and s.position_mm == (456.7, 450.0)
    assert s.velocity_mm_s == (-120.0, 83.2)  # 0.1 mm/s: "velA=832 is about 83.2 mm/s"
    assert s.load_kg == (25.5, 25.4)
    assert s.status == (TrainerStatus.DELOAD_OCCURRED | TrainerStatus.DELOAD_WARNING
                        | TrainerStatus.REP_TOP_READY)
    assert s.deloaded and s.deload_warning
    calm = parse_sample(struct.pack("<IhhHhhHH", 1, 0, 0, 0, 0, 0, 0, 0x0003))
    assert not calm.deloaded and not calm.deload_warning
    old = parse_sample(raw[:16])  # older firmware: no status word
    assert old.status is None and not old.deloaded and old.velocity_mm_s == (-120.0, 83.2)
    assert parse_sample(raw[:15]) is None


def test_rep_notifications_exclude_calibration_reps():
    full = struct.pack("<iiffhhhh", 7, 6, 612.0, 95.0, 3, 3, 3, 10)
    r = parse_reps(full)
    assert (r.up, r.down, r.calibration_total, r.working, r.legacy) == (7, 6, 3, 3, False)
    assert r.lowering  # up != down: the user is lowering


def test_legacy_rep_packets_are_read_as_u16_at_0_and_4():
    six = struct.pack("<HHH", 12, 0xBEEF, 11)  # u16 up, 2 bytes padding, u16 down
    r = parse_reps(six)
    assert (r.up, r.down, r.working, r.legacy) == (12, 11, 8, True)
    # Not two i32s: the padding and whatever follows are not part of the counts.
    eight = six + b"\x7f\x7f"
    assert (parse_reps(eight).up, parse_reps(eight).down) == (12, 11)
    # A 24-byte packet cut to 20 bytes by an MTU of 23 still gives its counts.
    cut = struct.pack("<iiffhhhh", 5, 5, 600.0, 90.0, 3, 3, 2, 10)[:20]
    assert (parse_reps(cut).up, parse_reps(cut).down, parse_reps(cut).working) == (5, 5, 2)
    assert parse_reps(b"\x01\x02\x03\x04\x05") is None


def _feed(base: RestBaseline, t0: float, seconds: float, pos: float, vel: float = 0.0,
          loaded: bool = False, hz: float = 20.0) -> float:
    n = int(seconds * hz)
    for i in range(n):
        base.update(t0 + i / hz, pos, vel, loaded)
    return t0 + n / hz


@pytest.mark.parametrize("rest_mm", [0.0, 2.5, 400.0])  # floor dock; overhead pulley, cable out
def test_the_rest_position_is_learned_per_setup(rest_mm):
    base = RestBaseline()
    t = _feed(base, 0.0, 4.0, rest_mm)
    assert base.rest_mm == pytest.approx(rest_mm)
    assert base.docked(rest_mm + 3) and not base.held(rest_mm + 3, 0)
    assert base.held(rest_mm + 80, 0) and not base.docked(rest_mm + 80)
    assert not base.held(rest_mm + 80, -600)  # flying back: let go
    # A person holding the handles still, unloaded, for a while: still held, not re-learned.
    t = _feed(base, t, 15.0, rest_mm + 90)
    assert base.rest_mm == pytest.approx(rest_mm) and base.held(rest_mm + 90, 0)
    # Slow drift near the rest position is followed slowly.
    t = _feed(base, t, 2.0, rest_mm + 4)
    assert rest_mm < base.rest_mm < rest_mm + 2
    # Under load, nothing is learned.
    before = base.rest_mm
    _feed(base, t, 5.0, rest_mm - 50, loaded=True)
    assert base.rest_mm == before


def test_the_rest_position_follows_a_lower_rest_and_a_changed_setup():
    base = RestBaseline()
    t = _feed(base, 0.0, 1.0, 300.0, vel=0.0)  # taken while the person held the handles
    t = _feed(base, t, 1.0, 310.0, vel=80.0)  # moving: not learned
    assert base.rest_mm == pytest.approx(300.0)
    t = _feed(base, t, 3.0, 250.0)  # put down lower: followed within a few seconds
    assert base.rest_mm == pytest.approx(250.0, abs=0.5)
    t = _feed(base, t, 31.0, 500.0)  # a long still, unloaded wait elsewhere: a new setup
    assert base.rest_mm == pytest.approx(500.0)
    assert RestBaseline().docked(0.0) is False  # nothing learned yet: not docked


def test_the_velocity_unit_is_checked_against_positions():
    ok, wrong = VelocityCheck(), VelocityCheck()
    said = []
    for i in range(40):  # 300 mm/s, 20 Hz
        t, pos = i / 20, 100 + 15.0 * i
        assert not ok.update(t, pos, 300.0)
        said.append(wrong.update(t, pos, 3000.0))  # read as mm/s instead of 0.1 mm/s
    assert said.count(True) == 1  # said once
    still = VelocityCheck()
    assert not any(still.update(i / 20, 100.0, 5000.0) for i in range(40))  # no motion: no say
