"""The Vitruvian frames, field by field against the documented layout (shared/vitruvian.md)."""

from __future__ import annotations

import struct

import pytest

from firmware_bridge.vitruvian import (
    STOP,
    ProgramMode,
    VitruvianError,
    echo_frame,
    parse_reps,
    parse_sample,
    program_frame,
    rep_field,
)


@pytest.mark.parametrize("mode", list(ProgramMode))
@pytest.mark.parametrize("load,reps", [(12.5, 10), (0.0, 1), (100.0, 8), (37.5, None)])
def test_program_frame_layout(mode, load, reps):
    f = program_frame(load, reps, mode, progression_kg=0.5)
    assert len(f) == 96
    assert struct.unpack_from("<I", f, 0x00)[0] == 4  # command
    assert f[0x04] == (0xFF if reps is None else reps + 3 + 1)  # calibration + start quirk
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


def test_the_rep_target_quirk_and_calibration():
    # The firmware counts a rep as the lift starts: 10 working reps are sent as 10 + 3 + 1,
    # so the tension is not released as the final rep begins.
    assert rep_field(10) == 14
    assert rep_field(None) == 0xFF
    with pytest.raises(VitruvianError):
        rep_field(0)
    with pytest.raises(VitruvianError):
        rep_field(251)


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
    assert f[4] == 3 and f[5] == 9  # warm-up reps; target + the count-at-start rep
    assert struct.unpack_from("<HHH", f, 6) == (0, 120, 50)  # spotter, eccentric %, concentric %
    vals = struct.unpack_from("<fffff", f, 12)
    assert vals == pytest.approx((0.1, gain, cap, 0.0, -100.0))
    assert echo_frame(level, 0)[5] == 0xFF
    with pytest.raises(VitruvianError, match="0-150"):
        echo_frame(level, 151)  # above 150% faults the unit


def test_stop_command():
    assert STOP == b"\x50\x00"


def test_samples():
    raw = struct.pack("<IhhHhhHH", 1234, 4567, -120, 2550, 4500, -118, 2540, 0x0021)
    s = parse_sample(raw)
    assert s.tick == 1234 and s.position_mm == (456.7, 450.0)
    assert s.velocity_mm_s == (-120, -118) and s.load_kg == (25.5, 25.4)
    assert s.status == 0x0021
    assert parse_sample(raw[:16]).status is None  # older firmware: no status word
    assert parse_sample(raw[:10]) is None


def test_rep_notifications_exclude_calibration_reps():
    full = struct.pack("<iiffhhhh", 7, 6, 612.0, 95.0, 3, 3, 3, 10)
    r = parse_reps(full)
    assert (r.up, r.down, r.calibration_total, r.working) == (7, 6, 3, 3)
    assert r.lowering  # up != down: the user is lowering
    old = parse_reps(struct.pack("<ii", 2, 2))
    assert old.working == 0 and not old.lowering  # still calibrating
    assert parse_reps(b"\x01\x02") is None
