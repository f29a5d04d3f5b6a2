"""Vitruvian trainers (V-Form, Trainer+): the frames our driver writes and the data it reads.

Pure functions, written from the community-documented facts in shared/vitruvian.md (no
community code). Little-endian throughout. The driver on top (vitruvian:// over bleak) is to
come; these are the byte layouts it relies on, tested field by field.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"  # Nordic UART service
COMMAND_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # write with response
SAMPLE_UUID = "90e991a6-c548-44ed-969b-eb541014eae3"  # read only: polled, one read at a time
REPS_UUID = "8308f2a6-0875-4a94-a86f-5c5c5e1b068a"  # notify
DIAGNOSTIC_UUID = "5fa538ec-d041-42f6-bbd6-c30d475387b7"  # read, every 500 ms (keep-alive)
MIN_MTU = 99  # a 96-byte write needs it; request 247

HEARTBEAT = bytes(4)  # every 2 s
INIT = bytes((0x0A, 0, 0, 0))
STOP = bytes((0x50, 0))  # releases tension, clears the red fault light; retried 3 times

CALIBRATION_REPS = 3  # the first reps calibrate the range; they are not work
MAX_LOAD_KG = 100.0  # per cable
UNLIMITED = 0xFF


class VitruvianError(ValueError):
    pass


class ProgramMode(Enum):
    """Velocity-gated force ramps: (min mm/s, max mm/s, ramp) for concentric-decrease,
    concentric-increase, eccentric-decrease, eccentric-increase."""

    OLD_SCHOOL = ((0, 20, 3.0), (75, 600, 50.0), (-1300, -1200, 100.0), (-260, -110, 0.0))
    PUMP = ((50, 450, 10.0), (500, 600, 50.0), (-700, -550, 1.0), (-100, -50, 1.0))
    TIME_UNDER_TENSION = ((250, 350, 7.0), (450, 600, 50.0), (-900, -700, 70.0),
                          (-100, -50, 14.0))
    TUT_BEAST = ((150, 250, 7.0), (350, 450, 50.0), (-900, -700, 70.0), (-100, -50, 28.0))
    ECCENTRIC_ONLY = ((50, 550, 50.0), (650, 750, 10.0), (-900, -700, 70.0), (-100, -50, 20.0))


_BAND = struct.Struct("<ffHHHH")  # threshold, drift, inner mm/m, inner mm max, outer mm/m, max
_PROFILE = struct.Struct("<hhf")


def rep_field(working_reps: int | None) -> int:
    """What goes in the program frame's rep count: the working reps, plus the calibration reps
    (not work), plus one because the firmware counts a rep at the *start* of the lift (sending
    the exact target released the tension as the user began the final rep). None: unlimited."""
    if working_reps is None:
        return UNLIMITED
    total = working_reps + CALIBRATION_REPS + 1
    if not 1 <= working_reps or total >= UNLIMITED:
        raise VitruvianError(f"working reps {working_reps}: allowed 1-"
                             f"{UNLIMITED - CALIBRATION_REPS - 2}")
    return total


def program_frame(load_kg: float, working_reps: int | None,
                  mode: ProgramMode = ProgramMode.OLD_SCHOOL,
                  progression_kg: float = 0.0) -> bytes:
    """The 96-byte 0x04 program frame that starts a set at `load_kg` per cable."""
    if not 0 <= load_kg <= MAX_LOAD_KG:
        raise VitruvianError(f"load {load_kg} kg per cable: allowed 0-{MAX_LOAD_KG:g}")
    if not -3 <= progression_kg <= 3:
        raise VitruvianError(f"progression {progression_kg} kg per rep: allowed -3 to 3")
    band = _BAND.pack(5.0, 0.0, 250, 250, 200, 30)
    frame = bytearray(96)
    struct.pack_into("<IBBB", frame, 0x00, 4, rep_field(working_reps), CALIBRATION_REPS, 3)
    struct.pack_into("<f", frame, 0x08, 5.0)  # seed range
    frame[0x0C:0x1C] = band  # top rep band
    frame[0x1C:0x2C] = band  # bottom rep band
    struct.pack_into("<HH", frame, 0x2C, 250, 80)  # safety mm-per-m, mm-max
    for i, block in enumerate(mode.value):
        _PROFILE.pack_into(frame, 0x30 + 8 * i, *block)
    struct.pack_into("<ffff", frame, 0x50, 0.0, load_kg + 10.0, load_kg, progression_kg)
    return bytes(frame)


ECHO_LEVELS = {"hard": (1.0, 50.0), "harder": (1.25, 40.0), "hardest": (1.667, 30.0),
               "epic": (3.333, 15.0)}


def echo_frame(level: str, eccentric_pct: int, target_reps: int | None = None) -> bytes:
    """The 32-byte 0x4E Echo (isokinetic) frame. Above 150% eccentric faults the unit."""
    if level not in ECHO_LEVELS:
        raise VitruvianError(f"echo level {level!r}: allowed {', '.join(ECHO_LEVELS)}")
    if not 0 <= eccentric_pct <= 150:
        raise VitruvianError(f"eccentric {eccentric_pct}%: allowed 0-150")
    gain, cap = ECHO_LEVELS[level]
    reps = UNLIMITED if target_reps is None else rep_field(target_reps) - CALIBRATION_REPS
    return struct.pack("<IBBHHHfffff", 0x4E, CALIBRATION_REPS, reps, 0, eccentric_pct, 50,
                       0.1, gain, cap, 0.0, -100.0)


@dataclass(frozen=True)
class Sample:
    tick: int
    position_mm: tuple[float, float]
    velocity_mm_s: tuple[int, int]
    load_kg: tuple[float, float]
    status: int | None  # older firmware sends no status word


def parse_sample(data: bytes) -> Sample | None:
    """A polled sample (16 bytes, or 18 with the status word); None for a short read."""
    if len(data) < 16:
        return None
    tick, pa, va, la, pb, vb, lb = struct.unpack_from("<IhhHhhH", data)
    status = struct.unpack_from("<H", data, 16)[0] if len(data) >= 18 else None
    return Sample(tick, (pa / 10, pb / 10), (va, vb), (la / 100, lb / 100), status)


@dataclass(frozen=True)
class RepCount:
    up: int  # concentric completions (incremented at the top)
    down: int  # eccentric completions (incremented at the bottom)
    calibration_total: int

    @property
    def working(self) -> int:
        """Reps that are work: the calibration reps are not."""
        return max(0, self.down - self.calibration_total)

    @property
    def lowering(self) -> bool:
        return self.up != self.down


def parse_reps(data: bytes) -> RepCount | None:
    """The reps notification (24 bytes; older firmware sends 6-23 and no calibration fields)."""
    if len(data) < 8:
        return None
    up, down = struct.unpack_from("<ii", data)
    cal_total = struct.unpack_from("<h", data, 18)[0] if len(data) >= 20 else CALIBRATION_REPS
    return RepCount(up, down, cal_total)
