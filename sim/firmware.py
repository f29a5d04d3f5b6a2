"""The unit's firmware, emulated: the same codec and protocol a real unit speaks.

Pure and clocked from outside: `receive()` bytes from the host, `tick()` once per control
period, `take_output()` the bytes to send. The unit owns the safe state: it ramps the load,
refuses loads above its maximum, deloads when the host's lease expires or the handles are
released, and latches an emergency stop until it is cleared explicitly.

The unit is SimUnit: its state and its clock (tick, reboot) are here; what it does with host
frames is sim/firmware_commands.py, its load modes and safe state sim/firmware_safety.py, its
telemetry and output sim/firmware_telemetry.py, its configuration sim/unit_config.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_bridge.codec import FrameDecoder, max_samples_per_frame
from firmware_bridge.messages import DeviceState, Event, EventCode, FaultBits, Mode
from sim.faults import FaultPlan
from sim.firmware_commands import FirmwareCommands
from sim.firmware_safety import FirmwareSafety
from sim.firmware_telemetry import (
    DOCK_MM,
    DOCKED_MM,
    HELD_LOAD_KG,
    PICKUP_M_S,
    FirmwareTelemetry,
)
from sim.lifter import Lifter
from sim.physics import Physics
from sim.unit_config import LogFn, Timing, UnitConfig, no_log

# Names that have always been importable from here.
__all__ = ["DOCKED_MM", "DOCK_MM", "HELD_LOAD_KG", "PICKUP_M_S", "LogFn", "SimUnit", "UnitConfig"]


@dataclass
class SimUnit(FirmwareCommands, FirmwareSafety, FirmwareTelemetry):
    config: UnitConfig
    lifter: Lifter
    physics: Physics
    faults: FaultPlan = field(default_factory=FaultPlan)
    log: LogFn = no_log
    now_us: int = 0
    # protocol state
    lease_held: bool = False
    lease_lost: bool = False
    estop: bool = False
    stopping: bool = False
    faults_bits: FaultBits = FaultBits.NONE
    targets: list[int] = field(default_factory=list)  # half-kg, what the host asked for
    setpoints: list[float] = field(default_factory=list)  # half-kg, ramping toward targets
    telemetry_rate_hz: int = 100
    telemetry_batch: int = 10
    frames_in: int = 0
    _lease_deadline_us: int = 0
    _low_tension_us: int = 0
    _deload: tuple[str, int] | None = None
    _seq: int = 0
    _out: list[bytes] = field(default_factory=list)  # whole frames (BLE sends one each)
    _decoder: FrameDecoder = field(default_factory=FrameDecoder)
    _rows: list = field(default_factory=list)  # the batch being filled
    _batch_n: int = 0
    _batch_t0: int = 0
    _tick_n: int = 0  # ticks since _base_us, at the current tick rate
    _base_us: int = 0
    _next_status_us: int = 0
    _stuck: list[tuple[float, float]] | None = None  # a frozen position sensor, per cable
    mode: tuple[int, int, int, int] = (Mode.CONSTANT, 0, 0, 0)
    spotting: bool = False  # the spotter has taken load off after a stall
    _stall_s: float = 0.0
    _timing: Timing | None = None  # per-rate constants of tick(), see _retime()
    # HANDLE_HELD per cable, latched (see _held_bit), and since when (µs) each cable's
    # tension has been below the release level (-1: it is not).
    _held: list[bool] = field(default_factory=list)
    _slack_since_us: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.config.cables
        self.targets = [0] * n
        self.setpoints = [0.0] * n
        self._held, self._slack_since_us = [False] * n, [-1] * n
        self.telemetry_batch = min(self.telemetry_batch, max_samples_per_frame(n))
        self._emit(Event(0, EventCode.BOOT))
        self.log("boot", serial=self.config.serial, cables=n,
                 firmware=".".join(map(str, self.config.firmware)))

    # ---- clock ------------------------------------------------------------------------------

    @property
    def tick_hz(self) -> int:
        return max(self.config.control_hz, self.telemetry_rate_hz)

    @property
    def ticks_per_wake(self) -> int:
        if not self.config.coarse:
            return 1
        return max(1, self.telemetry_batch * (self.tick_hz // self.telemetry_rate_hz))

    @property
    def state(self) -> DeviceState:
        if self.estop:
            return DeviceState.EMERGENCY_STOP
        if self.lease_lost:
            return DeviceState.LEASE_LOST
        if not self.lease_held:
            return DeviceState.IDLE
        return DeviceState.STOPPING if self.stopping else DeviceState.ACTIVE

    @property
    def applied_half_kg(self) -> list[int]:
        return [round(c.motor_kg * 2) for c in self.physics.state]

    def _retime(self) -> Timing:
        """The tick's per-rate constants, recomputed only when the rate or config changes
        (tick() runs hundreds of thousands of times per trial)."""
        cfg = self.config
        hz = self.tick_hz
        dt = 1.0 / hz
        self._timing = t = Timing(cfg, self.telemetry_rate_hz, hz, dt,
                                   cfg.ramp_up_half_kg_per_s * dt,
                                   cfg.ramp_down_half_kg_per_s * dt,
                                   max(1, hz // self.telemetry_rate_hz))
        return t

    def tick(self) -> None:
        tm = self._timing
        if tm is None or tm.rate_hz != self.telemetry_rate_hz or tm.config is not self.config:
            tm = self._retime()
        hz, dt = tm.hz, tm.dt
        self._tick_n += 1
        self.now_us = now_us = self._base_us + self._tick_n * 1_000_000 // hz
        faults = self.faults
        if faults.reboot_at_s is not None and faults.due("reboot", now_us / 1e6):
            self.reboot()
        if faults.stuck_sensor_at_s is not None and faults.due("stuck_sensor", now_us / 1e6):
            self._stuck = [(c.position_mm, c.velocity_m_s) for c in self.physics.state]
            self.log("fault_stuck_sensor")
        if self.lease_held and now_us > self._lease_deadline_us:
            self._lease_expired()
        targets, setpoints = self.targets, self.setpoints
        if setpoints != targets:  # ramping (once reached, a setpoint equals its target)
            up, down = tm.up, tm.down
            for i, target in enumerate(targets):
                sp = setpoints[i]
                setpoints[i] = min(target, sp + up) if target > sp else max(target, sp - down)
        lifter, physics = self.lifter, self.physics
        lifter.step(dt, physics.total_motor_kg)
        physics.step(dt, self._mode_loads(dt), lifter.held, lifter.position_mm,
                     lifter.velocity_m_s, cut=self.estop)
        self._watch_handles()
        if self._deload is not None:
            self._watch_deload()
        if self._tick_n % tm.sample_every == 0:
            self._sample()
        if self.lease_held and now_us >= self._next_status_us:
            self._next_status_us = now_us + int(self.config.status_period_s * 1e6)
            self._emit(self._status())

    def reboot(self) -> None:
        """Power cycle: everything the firmware held is gone; the motor stops driving."""
        n = self.config.cables
        self.lease_held = self.lease_lost = self.estop = self.stopping = False
        self.faults_bits = FaultBits.NONE
        self.targets, self.setpoints = [0] * n, [0.0] * n
        for c in self.physics.state:
            c.motor_kg = 0.0
        self._deload = None
        self._batch_n = 0
        self._seq = 0
        self._decoder = FrameDecoder()
        self._emit(Event(self.now_us, EventCode.BOOT))
        self.log("boot", reason="reboot")
