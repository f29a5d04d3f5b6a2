"""Wire protocol v1 messages: small immutable values with integer units in their field names.

The byte layouts live in `codec.py` and `docs/protocol.md`; this module only names things.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import ClassVar

import numpy as np

PROTOCOL_VERSION = 1


class MsgType(IntEnum):
    # host -> device
    HELLO = 0x01
    HEARTBEAT = 0x02
    SET_LOAD = 0x03
    STOP = 0x04
    EMERGENCY_STOP = 0x05
    CLEAR_EMERGENCY_STOP = 0x06
    CONFIGURE_TELEMETRY = 0x07
    GET_STATUS = 0x08
    SET_MODE = 0x10
    # device -> host
    ACK = 0x80
    NACK = 0x81
    DEVICE_INFO = 0x82
    TELEMETRY = 0x83
    EVENT = 0x84
    STATUS = 0x85


class ErrorCode(IntEnum):
    """Why a device refused a command (NACK); `detail` carries the limit where one applies."""

    UNSUPPORTED_MESSAGE = 1
    BAD_LENGTH = 2
    LOAD_ABOVE_MAX = 3  # detail: max load per cable, half-kg
    EMERGENCY_STOP_LATCHED = 4
    NOT_READY = 5  # no HELLO since boot or since the lease expired
    BAD_ARGUMENT = 6
    UNSUPPORTED_VERSION = 7  # detail: the device's protocol version
    RATE_UNSUPPORTED = 8  # detail: max telemetry rate, Hz


class EventCode(IntEnum):
    BOOT = 1
    HOST_CONNECTED = 2
    LEASE_EXPIRED = 3  # value: load (half-kg) being applied when it expired
    HANDLE_RELEASED = 4  # value: load (half-kg) being applied when released
    EMERGENCY_STOP_LATCHED = 5
    EMERGENCY_STOP_CLEARED = 6
    STOPPED = 7  # a STOP finished: applied load reached 0
    DELOADED = 8  # applied load reached 0 after a safety deload; value: ms it took
    TENSION_LIMIT = 9  # measured tension far above the command: load cut


class DeviceState(IntEnum):
    IDLE = 0  # no host lease; load 0
    ACTIVE = 1  # host holds the lease; load commands accepted
    STOPPING = 2  # ramping to 0 after STOP or a safety deload
    EMERGENCY_STOP = 3  # latched until CLEAR_EMERGENCY_STOP
    LEASE_LOST = 4  # lease expired; load 0; a new HELLO is needed


class FaultBits(IntFlag):
    NONE = 0
    LEASE_EXPIRED = 1 << 0
    HANDLE_RELEASED = 1 << 1
    EMERGENCY_STOP = 1 << 2
    TENSION_LIMIT = 1 << 3


class SampleStatus(IntFlag):
    """Per-cable status bits carried in every telemetry sample."""

    NONE = 0
    HANDLE_HELD = 1 << 0  # cable out of the dock with tension on it
    DOCKED = 1 << 1  # cable fully retracted
    RAMPING = 1 << 2  # load setpoint still moving toward the target
    LEASE_ACTIVE = 1 << 3
    EMERGENCY_STOP = 1 << 4
    SAFETY_DELOAD = 1 << 5  # the unit is deloading on its own (lease, release)


class Mode(IntEnum):
    """Load modes the unit carries out itself (SET_MODE)."""

    CONSTANT = 0
    ECCENTRIC = 1  # p1: lowering load, % of the lifting load (100-150)
    CHAINS = 2  # p1: % added at full extension (0-100); p2: extension for it, mm
    SPOTTER = 3  # p1: stall speed, mm/s; p2: stall time, ms; p3: load taken off, %


MAX_ECCENTRIC_PCT = 150


class ModeBits(IntFlag):
    CONSTANT = 1 << 0
    ECCENTRIC = 1 << 1
    CHAINS = 1 << 2
    SPOTTER = 1 << 3
    ISOKINETIC = 1 << 4


# ---- host -> device -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    TYPE: ClassVar[MsgType] = MsgType.HELLO
    proto_min: int = PROTOCOL_VERSION
    proto_max: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class Heartbeat:
    TYPE: ClassVar[MsgType] = MsgType.HEARTBEAT


@dataclass(frozen=True, slots=True)
class SetLoad:
    """Absolute target load per cable, in 0.5 kg steps (index 0 = cable A)."""

    TYPE: ClassVar[MsgType] = MsgType.SET_LOAD
    loads_half_kg: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Stop:
    TYPE: ClassVar[MsgType] = MsgType.STOP


@dataclass(frozen=True, slots=True)
class EmergencyStop:
    TYPE: ClassVar[MsgType] = MsgType.EMERGENCY_STOP


@dataclass(frozen=True, slots=True)
class ClearEmergencyStop:
    TYPE: ClassVar[MsgType] = MsgType.CLEAR_EMERGENCY_STOP


@dataclass(frozen=True, slots=True)
class ConfigureTelemetry:
    TYPE: ClassVar[MsgType] = MsgType.CONFIGURE_TELEMETRY
    rate_hz: int
    batch: int  # samples per TELEMETRY frame


@dataclass(frozen=True, slots=True)
class SetMode:
    TYPE: ClassVar[MsgType] = MsgType.SET_MODE
    mode: int  # Mode
    p1: int = 0
    p2: int = 0
    p3: int = 0


@dataclass(frozen=True, slots=True)
class GetStatus:
    TYPE: ClassVar[MsgType] = MsgType.GET_STATUS


# ---- device -> host -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """`values` is what the command did: for SET_LOAD the target accepted per cable (half-kg)."""

    TYPE: ClassVar[MsgType] = MsgType.ACK
    ref_seq: int
    ref_type: int
    values: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Nack:
    TYPE: ClassVar[MsgType] = MsgType.NACK
    ref_seq: int
    ref_type: int
    error: int
    detail: int = 0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    TYPE: ClassVar[MsgType] = MsgType.DEVICE_INFO
    protocol_version: int
    firmware: tuple[int, int, int]
    serial: str  # ASCII, at most 12 characters
    cable_count: int
    max_load_half_kg: int  # per cable
    load_step_half_kg: int
    ramp_up_half_kg_per_s: int
    ramp_down_half_kg_per_s: int
    lease_ms: int
    modes: int  # ModeBits
    telemetry_rates_hz: tuple[int, ...]

    @property
    def firmware_version(self) -> str:
        return ".".join(str(p) for p in self.firmware)

    @property
    def max_load_kg(self) -> float:
        return self.max_load_half_kg / 2

    @property
    def load_step_kg(self) -> float:
        return self.load_step_half_kg / 2

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view with loads in kg, for people and tools."""
        return {
            "protocol_version": self.protocol_version,
            "firmware_version": self.firmware_version,
            "serial": self.serial,
            "cable_count": self.cable_count,
            "max_load_kg_per_cable": self.max_load_kg,
            "load_step_kg": self.load_step_kg,
            "ramp_up_kg_per_s": self.ramp_up_half_kg_per_s / 2,
            "ramp_down_kg_per_s": self.ramp_down_half_kg_per_s / 2,
            "lease_ms": self.lease_ms,
            "modes": [m.name.lower() for m in ModeBits if m & self.modes],
            "telemetry_rates_hz": list(self.telemetry_rates_hz),
        }


CABLE_DTYPE = np.dtype(
    [
        ("position_dmm", "<u2"),  # cable extension from the dock, 0.1 mm
        ("velocity_mm_s", "<i2"),  # positive = paying out (concentric)
        ("tension_dn", "<u2"),  # measured cable tension, 0.1 N
        ("load_half_kg", "<u2"),  # load the motor is applying now
        ("status", "<u2"),  # SampleStatus
    ]
)


def sample_dtype(cable_count: int) -> np.dtype:
    """Layout of one telemetry sample on the wire (little-endian, packed)."""
    return _SAMPLE_DTYPES[cable_count]


_SAMPLE_DTYPES = {
    n: np.dtype([("dt_us", "<u4"), ("cable", CABLE_DTYPE, (n,))]) for n in (1, 2)
}


@dataclass(frozen=True, slots=True, eq=False)
class Telemetry:
    """A batch of samples; `samples` is a read-only structured array (see `sample_dtype`).

    Sample i was taken at device time `t0_us + samples["dt_us"][i]`.
    """

    TYPE: ClassVar[MsgType] = MsgType.TELEMETRY
    t0_us: int
    cable_count: int
    samples: np.ndarray = field(repr=False)
    _columns: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False,
                                            compare=False)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Telemetry)
            and self.t0_us == other.t0_us
            and self.cable_count == other.cable_count
            and self.samples.tobytes() == other.samples.tobytes()
        )

    def __hash__(self) -> int:
        return hash((self.t0_us, self.cable_count, self.samples.tobytes()))

    def __len__(self) -> int:
        return len(self.samples)

    def _column(self, name: str) -> np.ndarray:
        """Each column converted once per batch (the set loop, the rep engines, the handles
        and the surfaces all read the same ones), shared read-only."""
        col = self._columns.get(name)
        if col is None:
            s = self.samples
            match name:
                case "t_us":
                    col = self.t0_us + s["dt_us"].astype(np.int64)
                case "position_mm":
                    col = s["cable"]["position_dmm"] / 10.0
                case "velocity_m_s":
                    col = s["cable"]["velocity_mm_s"] / 1000.0
                case "tension_n":
                    col = s["cable"]["tension_dn"] / 10.0
                case _:
                    col = s["cable"]["load_half_kg"] / 2.0
            col.flags.writeable = False
            self._columns[name] = col
        return col

    @property
    def t_us(self) -> np.ndarray:
        return self._column("t_us")

    @property
    def position_mm(self) -> np.ndarray:
        """Shape (samples, cables)."""
        return self._column("position_mm")

    @property
    def velocity_m_s(self) -> np.ndarray:
        return self._column("velocity_m_s")

    @property
    def tension_n(self) -> np.ndarray:
        return self._column("tension_n")

    @property
    def load_kg(self) -> np.ndarray:
        return self._column("load_kg")

    @property
    def status(self) -> np.ndarray:
        return self.samples["cable"]["status"]


def telemetry_columns(batches: Sequence[Telemetry]) -> dict[str, list]:
    """Several batches as plain lists, column by column, one list per cable (for JSON)."""
    return {"t_s": np.round(np.concatenate([b.t_us for b in batches]) / 1e6, 4).tolist(),
            "position_mm": np.round(np.concatenate([b.position_mm for b in batches]).T,
                                    1).tolist(),
            "velocity_m_s": np.round(np.concatenate([b.velocity_m_s for b in batches]).T,
                                     3).tolist(),
            "tension_n": np.round(np.concatenate([b.tension_n for b in batches]).T,
                                  1).tolist()}


@dataclass(frozen=True, slots=True)
class Event:
    TYPE: ClassVar[MsgType] = MsgType.EVENT
    t_us: int
    code: int  # EventCode
    cable: int = 0xFF  # 0xFF = all cables
    value: int = 0


@dataclass(frozen=True, slots=True)
class Status:
    TYPE: ClassVar[MsgType] = MsgType.STATUS
    t_us: int
    state: int  # DeviceState
    faults: int  # FaultBits
    lease_left_ms: int
    targets_half_kg: tuple[int, ...]
    applied_half_kg: tuple[int, ...]


Message = (
    Hello
    | Heartbeat
    | SetLoad
    | Stop
    | EmergencyStop
    | ClearEmergencyStop
    | ConfigureTelemetry
    | GetStatus
    | SetMode
    | Ack
    | Nack
    | DeviceInfo
    | Telemetry
    | Event
    | Status
)
