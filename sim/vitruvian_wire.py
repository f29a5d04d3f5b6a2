"""The Vitruvian trainer's wire format, as the simulated trainer reads and writes it.

Written from shared/vitruvian.md alone (not from our driver, firmware_bridge/vitruvian.py, which
this must never import): UUIDs, command bytes, the 96-byte program frame (0x04) and the 32-byte
Echo frame (0x4E) decoded field by field, the 26-byte polled sample and the 24-byte (or legacy
6-byte) reps notification encoded. Little-endian throughout.
"""

from __future__ import annotations

import math
import struct
from typing import Any

SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"  # Nordic UART service
COMMAND_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # commands, write with response
SAMPLE_UUID = "90e991a6-c548-44ed-969b-eb541014eae3"  # read only, polled
REPS_UUID = "8308f2a6-0875-4a94-a86f-5c5c5e1b068a"  # notify
DIAGNOSTIC_UUID = "5fa538ec-d041-42f6-bbd6-c30d475387b7"  # read
MODE_UUID = "67d0dae0-5bfc-4ea2-acc9-ac784dee7f29"  # notify
VERSION_UUID = "74e994ac-0e80-4c02-9cd0-76cb31d3959b"  # notify / read

CMD_HEARTBEAT = bytes(4)
CMD_INIT = bytes((0x0A, 0, 0, 0))
CMD_STOP = bytes((0x50, 0))
OP_PROGRAM, PROGRAM_LEN = 0x04, 96
OP_ECHO, ECHO_LEN = 0x4E, 32
OP_LED, LED_LEN = 0x11, 34
UNLIMITED = 0xFF

# Status word bits of the sample.
TOP_READY = 0x0001
BOTTOM_READY = 0x0002
RANGE_HIGH = 0x0004
RANGE_LOW = 0x0008
UNLOAD_ACTIVE = 0x0010
SPOTTER_ACTIVE = 0x0020
DELOAD_WARNING = 0x0040
DELOAD_OCCURRED = 0x8000

SAMPLE_LEN = 26
REPS_LEN = 24
LEGACY_REPS_LEN = 6

# The mode table of the doc: (min mm/s, max mm/s, ramp) for concentric-decrease,
# concentric-increase, eccentric-decrease, eccentric-increase.
MODES: dict[int, tuple[str, tuple[tuple[int, int, float], ...]]] = {
    0: ("Old School", ((0, 20, 3.0), (75, 600, 50.0), (-1300, -1200, 100.0), (-260, -110, 0.0))),
    1: ("Pump", ((50, 450, 10.0), (500, 600, 50.0), (-700, -550, 1.0), (-100, -50, 1.0))),
    2: ("Time Under Tension", ((250, 350, 7.0), (450, 600, 50.0), (-900, -700, 70.0),
                               (-100, -50, 14.0))),
    3: ("TUT Beast", ((150, 250, 7.0), (350, 450, 50.0), (-900, -700, 70.0), (-100, -50, 28.0))),
    4: ("Eccentric Only", ((50, 550, 50.0), (650, 750, 10.0), (-900, -700, 70.0),
                           (-100, -50, 20.0))),
}
BLOCK_NAMES = ("concentric_decrease", "concentric_increase", "eccentric_decrease",
               "eccentric_increase")
# Echo levels: (gain @16, cap @20).
ECHO_LEVELS: dict[int, tuple[str, float, float]] = {
    0: ("Hard", 1.0, 50.0), 1: ("Harder", 1.25, 40.0), 2: ("Hardest", 1.667, 30.0),
    3: ("Epic", 3.333, 15.0)}

_BAND = struct.Struct("<ffHHHH")
_BLOCK = struct.Struct("<hhf")


class WireError(ValueError):
    """A frame that is not what the doc describes."""


def _band(data: bytes, at: int) -> dict[str, float]:
    threshold, drift, in_per_m, in_max, out_per_m, out_max = _BAND.unpack_from(data, at)
    return {"threshold": threshold, "drift": drift, "inner_mm_per_m": in_per_m,
            "inner_mm_max": in_max, "outer_mm_per_m": out_per_m, "outer_mm_max": out_max}


def mode_of(blocks: tuple[tuple[int, int, float], ...]) -> int | None:
    """The doc's mode number whose four blocks these are (None: not one of the table's)."""
    for number, (_, table) in MODES.items():
        if all(b[0] == t[0] and b[1] == t[1] and math.isclose(b[2], t[2], rel_tol=1e-6)
               for b, t in zip(blocks, table, strict=True)):
            return number
    return None


def decode_program(data: bytes) -> dict[str, Any]:
    """Every field of the 96-byte 0x04 program frame, by the doc's offsets."""
    if len(data) != PROGRAM_LEN:
        raise WireError(f"program frame of {len(data)} bytes (expected {PROGRAM_LEN})")
    command, rep_field, calibration, adaptive = struct.unpack_from("<IBBB", data, 0)
    if command != OP_PROGRAM:
        raise WireError(f"program frame command {command} (expected 4)")
    blocks = tuple(_BLOCK.unpack_from(data, 0x30 + 8 * i) for i in range(4))
    force_min, force_max, target, progression = struct.unpack_from("<ffff", data, 0x50)
    mode = mode_of(blocks)
    working = None if rep_field == UNLIMITED else rep_field - calibration
    return {
        "command": command,
        "rep_field": rep_field,  # working + calibration; 0xFF unlimited
        "calibration_reps": calibration,
        "adaptive_reps": adaptive,
        "byte7": data[7],
        "working_reps": working,
        "unlimited": rep_field == UNLIMITED,
        "seed_range": struct.unpack_from("<f", data, 0x08)[0],
        "top_band": _band(data, 0x0C),
        "bottom_band": _band(data, 0x1C),
        "safety_mm_per_m": struct.unpack_from("<H", data, 0x2C)[0],
        "safety_mm_max": struct.unpack_from("<H", data, 0x2E)[0],
        "blocks": {name: {"min_mm_s": b[0], "max_mm_s": b[1], "ramp": b[2]}
                   for name, b in zip(BLOCK_NAMES, blocks, strict=True)},
        "mode": mode,
        "mode_name": MODES[mode][0] if mode is not None else None,
        "force_min_kg": force_min,
        "force_max_kg": force_max,
        "target_kg_per_cable": target,
        "progression_kg_per_rep": progression,
        "raw": bytes(data),
    }


def decode_echo(data: bytes) -> dict[str, Any]:
    """Every field of the 32-byte 0x4E Echo frame."""
    if len(data) != ECHO_LEN:
        raise WireError(f"echo frame of {len(data)} bytes (expected {ECHO_LEN})")
    (command, warmup, target, spotter, ecc, conc, f12, gain, cap, f24,
     limit) = struct.unpack("<IBBHHHfffff", data)
    if command != OP_ECHO:
        raise WireError(f"echo frame command {command} (expected 0x4E)")
    level = next((n for n, (_, g, c) in ECHO_LEVELS.items()
                  if math.isclose(gain, g, rel_tol=1e-4) and math.isclose(cap, c, rel_tol=1e-4)),
                 None)
    return {
        "command": command, "warmup_reps": warmup,
        "target_reps": None if target == UNLIMITED else target, "target_field": target,
        "spotter": spotter, "eccentric_pct": ecc, "concentric_pct": conc,
        "f12": f12, "gain": gain, "cap": cap, "f24": f24, "negative_limit": limit,
        "level": level, "level_name": ECHO_LEVELS[level][0] if level is not None else None,
        "raw": bytes(data),
    }


def _clip(v: float, lo: int, hi: int) -> int:
    r = round(v)
    return lo if r < lo else hi if r > hi else r


def encode_sample(tick: int, cables: list[tuple[float, float, float]], status: int,
                  trailer: bytes = bytes(8)) -> bytes:
    """26 bytes: u32 tick; per cable (position mm, velocity mm/s, load kg) as i16 0.1 mm,
    i16 0.1 mm/s, u16 0.01 kg; u16 status; 8 bytes whose meaning is unknown."""
    out = bytearray(struct.pack("<I", tick & 0xFFFFFFFF))
    for pos_mm, vel_mm_s, load_kg in cables:
        out += struct.pack("<hhH", _clip(pos_mm * 10, -32768, 32767),
                           _clip(vel_mm_s * 10, -32768, 32767), _clip(load_kg * 100, 0, 65535))
    out += struct.pack("<H", status & 0xFFFF) + trailer[:8].ljust(8, b"\0")
    return bytes(out)


def decode_sample(data: bytes) -> dict[str, Any]:
    """The sample as the doc describes it (for tests): mm, mm/s, kg."""
    tick, pa, va, la, pb, vb, lb = struct.unpack_from("<IhhHhhH", data)
    status = struct.unpack_from("<H", data, 16)[0] if len(data) >= 18 else None
    return {"tick": tick, "position_mm": (pa / 10, pb / 10), "velocity_mm_s": (va / 10, vb / 10),
            "load_kg": (la / 100, lb / 100), "status": status}


def encode_reps(up: int, down: int, range_top_mm: float, range_bottom_mm: float,
                calibration_done: int, calibration_total: int, set_done: int,
                set_total: int) -> bytes:
    return struct.pack("<iiffhhhh", up, down, range_top_mm, range_bottom_mm,
                       calibration_done, calibration_total, set_done, set_total)


def encode_legacy_reps(up: int, down: int) -> bytes:
    return struct.pack("<HHH", up & 0xFFFF, 0, down & 0xFFFF)
