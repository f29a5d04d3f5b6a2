"""The emulated unit's configuration, and what tick() derives from it.

Apart from the firmware so that the runners, the servers and the benches that build a unit
(sim/options.py, sim/serve.py, bench/) name its settings without the firmware's state machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.messages import PROTOCOL_VERSION, DeviceInfo, ModeBits
from sim.physics import G


@dataclass(frozen=True)
class UnitConfig:
    serial: str = "HSSIM0000001"
    firmware: tuple[int, int, int] = (1, 0, 0)
    cables: int = 1
    max_load_half_kg: int = 200  # 100 kg per cable
    ramp_up_half_kg_per_s: int = 20  # 10 kg/s
    ramp_down_half_kg_per_s: int = 60  # 30 kg/s
    lease_ms: int = 500
    telemetry_rates_hz: tuple[int, ...] = (10, 25, 50, 100, 200, 500, 1000)
    release_tension_n: float = 1.0 * G  # tension below 1 kg ...
    release_ms: int = 500  # ... for this long means the handles were let go
    freefall_m_s: float = -0.5  # reeling in this fast with no tension: let go, deload now
    status_period_s: float = 1.0
    control_hz: int = 100  # the control loop's rate (never below the telemetry rate)
    coarse: bool = False  # tick a telemetry batch at a time (see sim/runner.py)

    def info(self) -> DeviceInfo:
        return DeviceInfo(PROTOCOL_VERSION, self.firmware, self.serial, self.cables,
                          self.max_load_half_kg, 1, self.ramp_up_half_kg_per_s,
                          self.ramp_down_half_kg_per_s, self.lease_ms,
                          int(ModeBits.CONSTANT | ModeBits.ECCENTRIC | ModeBits.CHAINS
                              | ModeBits.SPOTTER),
                          self.telemetry_rates_hz)


LogFn = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Timing:
    """What tick() derives from the config and the telemetry rate: fixed between
    ConfigureTelemetry commands, so worked out once rather than every tick."""

    config: UnitConfig
    rate_hz: int  # the telemetry rate these were computed for
    hz: int  # the tick rate
    dt: float
    up: float  # half-kg a setpoint may rise per tick
    down: float  # ... and fall
    sample_every: int  # ticks per telemetry sample


def no_log(event: str, **kw: object) -> None:
    pass
