"""Vitruvian trainers (V-Form, Trainer+): the frames our driver writes and the data it reads.

Pure functions, written from the community-documented facts in shared/vitruvian.md (no
community code). Little-endian throughout. The driver on top (vitruvian:// over bleak, in
vitruvian_client.py) relies on these byte layouts; tests build every frame of
shared/vitruvian_vectors.json byte for byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum, IntFlag

SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"  # Nordic UART service
COMMAND_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # write with response
SAMPLE_UUID = "90e991a6-c548-44ed-969b-eb541014eae3"  # read only: polled, one read at a time
REPS_UUID = "8308f2a6-0875-4a94-a86f-5c5c5e1b068a"  # notify
DIAGNOSTIC_UUID = "5fa538ec-d041-42f6-bbd6-c30d475387b7"  # read, every 500 ms (keep-alive)
MODE_UUID = "67d0dae0-5bfc-4ea2-acc9-ac784dee7f29"  # notify
VERSION_UUID = "74e994ac-0e80-4c02-9cd0-76cb31d3959b"  # notify, read
NAME_PREFIXES = ("Vee", "VIT")  # V-Form, Trainer+
# No minimum MTU: bleak on BlueZ always reports 23 unless one is acquired explicitly, and the
# official app never asks for one (the stack's long writes carry the 96-byte program frame).

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
    """The program frame's rep count: the working reps plus the calibration reps, which the
    firmware counts but are not work (its working target is byte 4 - 3, per a real trainer's
    log; the "+1 at the start of the lift" theory of one fork is not supported). None:
    unlimited (Just Lift)."""
    if working_reps is None:
        return UNLIMITED
    total = working_reps + CALIBRATION_REPS
    if not 1 <= working_reps or total >= UNLIMITED:
        raise VitruvianError(f"working reps {working_reps}: allowed 1-"
                             f"{UNLIMITED - CALIBRATION_REPS - 1}")
    return total


def working_target(field: int) -> int | None:
    """The firmware's working-rep target for a program frame's rep byte (None: unlimited)."""
    return None if field == UNLIMITED else field - CALIBRATION_REPS


# Eccentric Only writes a value of its own at 0x24 (the bottom band's inner mm-per-m). The
# sources disagree and it is unresolved: the web app (whose frames are our test vectors) writes
# 250, another app writes 50 and says that "matches the official app".
ECCENTRIC_ONLY_0X24_WEB_APP = 250
ECCENTRIC_ONLY_0X24_OFFICIAL_APP = 50
ECCENTRIC_ONLY_0X24 = ECCENTRIC_ONLY_0X24_WEB_APP


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
    if mode is ProgramMode.ECCENTRIC_ONLY:
        struct.pack_into("<H", frame, 0x24, ECCENTRIC_ONLY_0X24)
    struct.pack_into("<HH", frame, 0x2C, 250, 80)  # safety mm-per-m, mm-max
    for i, block in enumerate(mode.value):
        _PROFILE.pack_into(frame, 0x30 + 8 * i, *block)
    struct.pack_into("<ffff", frame, 0x50, 0.0, load_kg + 10.0, load_kg, progression_kg)
    return bytes(frame)


ECHO_LEVELS = {"hard": (1.0, 50.0), "harder": (1.25, 40.0), "hardest": (1.667, 30.0),
               "epic": (3.333, 15.0)}
ECHO_NEGATIVE_LIMIT = -100.0  # the web app's; the maintained app writes -200


def _echo_level(level: str | int) -> tuple[float, float]:
    """A level by name or by its index (0 Hard .. 3 Epic, as the apps number them)."""
    names = list(ECHO_LEVELS)
    if isinstance(level, int) and not isinstance(level, bool) and 0 <= level < len(names):
        return ECHO_LEVELS[names[level]]
    if level in ECHO_LEVELS:
        return ECHO_LEVELS[level]  # type: ignore[index]
    raise VitruvianError(f"echo level {level!r}: allowed {', '.join(names)} (or 0-3)")


def echo_frame(level: str | int, eccentric_pct: int, target_reps: int | None = None,
               warmup_reps: int = CALIBRATION_REPS) -> bytes:
    """The 32-byte 0x4E Echo (isokinetic) frame. The target is sent as it is (no calibration
    reps added: Echo carries its warm-up reps in a field of their own). Above 150% eccentric
    faults the unit."""
    gain, cap = _echo_level(level)
    if not 0 <= eccentric_pct <= 150:
        raise VitruvianError(f"eccentric {eccentric_pct}%: allowed 0-150")
    if target_reps is not None and not 1 <= target_reps < UNLIMITED:
        raise VitruvianError(f"echo target {target_reps} reps: allowed 1-{UNLIMITED - 1}")
    if not 0 <= warmup_reps < UNLIMITED:
        raise VitruvianError(f"echo warm-up {warmup_reps} reps: allowed 0-{UNLIMITED - 1}")
    reps = UNLIMITED if target_reps is None else target_reps
    return struct.pack("<IBBHHHfffff", 0x4E, warmup_reps, reps, 0, eccentric_pct, 50,
                       0.1, gain, cap, 0.0, ECHO_NEGATIVE_LIMIT)


class TrainerStatus(IntFlag):
    """The sample's status word (firmware that sends one)."""

    NONE = 0
    REP_TOP_READY = 0x0001
    REP_BOTTOM_READY = 0x0002
    RANGE_EXCEEDED_HIGH = 0x0004
    RANGE_EXCEEDED_LOW = 0x0008
    UNLOAD_ACTIVE = 0x0010
    SPOTTER_ACTIVE = 0x0020
    DELOAD_WARNING = 0x0040
    DELOAD_OCCURRED = 0x8000


DELOADED = TrainerStatus.DELOAD_OCCURRED  # the trainer took the load off by itself


@dataclass(frozen=True)
class Sample:
    tick: int  # the firmware's counter: use differences only
    position_mm: tuple[float, float]
    velocity_mm_s: tuple[float, float]  # sent in 0.1 mm/s
    load_kg: tuple[float, float]
    status: TrainerStatus | None  # older firmware sends no status word

    @property
    def deloaded(self) -> bool:
        """The trainer says it deloaded by itself: the set is over, and the person is told."""
        return self.status is not None and bool(self.status & DELOADED)

    @property
    def deload_warning(self) -> bool:
        return self.status is not None and bool(self.status & TrainerStatus.DELOAD_WARNING)


def parse_sample(data: bytes) -> Sample | None:
    """A polled sample: 16 bytes (older firmware, no status word), 18 or more with the status
    word (current hardware sends 26; bytes 18-25 are not understood). None for a short read."""
    if len(data) < 16:
        return None
    tick, pa, va, la, pb, vb, lb = struct.unpack_from("<IhhHhhH", data)
    status = TrainerStatus(struct.unpack_from("<H", data, 16)[0]) if len(data) >= 18 else None
    return Sample(tick, (pa / 10, pb / 10), (va / 10, vb / 10), (la / 100, lb / 100), status)


@dataclass(frozen=True)
class RepCount:
    up: int  # concentric completions (incremented at the top)
    down: int  # eccentric completions (incremented at the bottom)
    calibration_total: int
    legacy: bool = False  # a 6-23 byte packet from older firmware

    @property
    def working(self) -> int:
        """Reps that are work: the calibration reps are not."""
        return max(0, self.down - self.calibration_total)

    @property
    def lowering(self) -> bool:
        return self.up != self.down


def parse_reps(data: bytes) -> RepCount | None:
    """The reps notification: 24 bytes (i32 up @0, i32 down @4, ..., i16 calibration total
    @18), or older firmware's 6-23 bytes (u16 up @0, 2 bytes padding, u16 down @4; no
    calibration fields, so the usual 3 are assumed). None for anything shorter."""
    if len(data) >= 24:
        up, down = struct.unpack_from("<ii", data)
        return RepCount(up, down, struct.unpack_from("<h", data, 18)[0])
    if len(data) >= 6:
        up, down = struct.unpack_from("<H2xH", data)
        return RepCount(up, down, CALIBRATION_REPS, legacy=True)
    return None


# ---- handles at rest ------------------------------------------------------------------------

LEARN_S = 3.0  # the rest position is learned over the first seconds of a connection
STILL_MM_S = 20.0  # slower than this, a cable is not being moved
DOCKED_MM = 5.0  # within this of the rest position: docked ("released when < 5 mm")
HELD_MM = 20.0  # this far out past the rest position: held (the apps use 8 mm; noise margin)
RETRACT_MM_S = -400.0  # a cable flying back this fast is let go, not held
UP_TAU_S = 10.0  # the rest position creeps up (cable drift) this slowly...
DOWN_TAU_S = 0.5  # ...and follows a cable resting lower than believed this fast
RELEARN_S = 30.0  # still and unloaded this long away from rest: the setup changed


@dataclass
class RestBaseline:
    """Where one cable rests, learned per setup instead of a fixed threshold: an overhead
    pulley rests with the cable out, so "position < 5 mm" would never say docked and
    "position > 20 mm" would always say held. The minimum position with the cable still over
    the first seconds, then updated slowly and only from still, unloaded samples.

    Errors are kept on the safe side: the baseline moves down (which makes "held" easier, so a
    load could be armed) only on a cable resting there, and jumps up only after a long still,
    unloaded wait (which at worst reads held handles as docked: no load is armed)."""

    rest_mm: float | None = None
    _t0: float | None = None
    _last_t: float | None = None
    _away_since: float | None = None

    def update(self, t_s: float, position_mm: float, velocity_mm_s: float,
               loaded: bool) -> None:
        """One sample of this cable, at host time `t_s`."""
        dt = 0.0 if self._last_t is None else max(0.0, t_s - self._last_t)
        self._last_t = t_s
        if self._t0 is None:
            self._t0, self.rest_mm = t_s, position_mm
        still = abs(velocity_mm_s) < STILL_MM_S
        assert self.rest_mm is not None
        if t_s - self._t0 <= LEARN_S:
            if still:
                self.rest_mm = min(self.rest_mm, position_mm)
            return
        if not still or loaded:
            self._away_since = None
            return
        self._settle(t_s, dt, position_mm)

    def _settle(self, t_s: float, dt: float, position_mm: float) -> None:
        """A still, unloaded cable: drift towards it if near rest; re-learn if long away."""
        assert self.rest_mm is not None
        offset = position_mm - self.rest_mm
        if offset < HELD_MM:
            self._away_since = None
            tau = UP_TAU_S if offset > 0 else DOWN_TAU_S
            self.rest_mm += offset * min(1.0, dt / tau)
            return
        self._away_since = t_s if self._away_since is None else self._away_since
        if t_s - self._away_since >= RELEARN_S:
            self.rest_mm, self._away_since = position_mm, None

    def docked(self, position_mm: float) -> bool:
        return self.rest_mm is not None and position_mm - self.rest_mm <= DOCKED_MM

    def held(self, position_mm: float, velocity_mm_s: float) -> bool:
        return (self.rest_mm is not None and position_mm - self.rest_mm > HELD_MM
                and velocity_mm_s > RETRACT_MM_S)


# ---- the velocity unit, checked ---------------------------------------------------------------

CHECK_MIN_MM_S = 50.0  # slower than this, position differences are mostly noise
CHECK_RATIO = 10.0  # a 10x disagreement is a unit error, not noise
CHECK_RUN = 3  # in a row, before saying so


@dataclass
class VelocityCheck:
    """Checks the reported velocity (0.1 mm/s on the wire) against the position's rate of
    change: older notes said mm/s, and a 10x error made peak velocity and power 10x too high.
    `update` returns True once, the first time they disagree by CHECK_RATIO several times in a
    row (the caller logs it)."""

    _prev: tuple[float, float, float] | None = None
    _run: int = 0
    reported: bool = False

    def update(self, t_s: float, position_mm: float, velocity_mm_s: float) -> bool:
        prev, self._prev = self._prev, (t_s, position_mm, velocity_mm_s)
        if prev is None or self.reported or t_s <= prev[0]:
            return False
        rate = (position_mm - prev[1]) / (t_s - prev[0])
        said = (velocity_mm_s + prev[2]) / 2
        if abs(rate) < CHECK_MIN_MM_S:
            return False
        ratio = abs(said) / abs(rate)
        self._run = self._run + 1 if not 1 / CHECK_RATIO < ratio < CHECK_RATIO else 0
        if self._run >= CHECK_RUN:
            self.reported = True
        return self.reported
