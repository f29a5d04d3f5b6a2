"""The unit's firmware, emulated: the same codec and protocol a real unit speaks.

Pure and clocked from outside: `receive()` bytes from the host, `tick()` once per control
period, `take_output()` the bytes to send. The unit owns the safe state: it ramps the load,
refuses loads above its maximum, deloads when the host's lease expires or the handles are
released, and latches an emergency stop until it is cleared explicitly.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from firmware_bridge.codec import (
    CodecError,
    FrameDecoder,
    RawFrame,
    decode_payload,
    encode,
    max_samples_per_frame,
)
from firmware_bridge.messages import (
    MAX_ECCENTRIC_PCT,
    PROTOCOL_VERSION,
    Ack,
    ClearEmergencyStop,
    ConfigureTelemetry,
    DeviceInfo,
    DeviceState,
    EmergencyStop,
    ErrorCode,
    Event,
    EventCode,
    FaultBits,
    GetStatus,
    Heartbeat,
    Hello,
    Message,
    Mode,
    ModeBits,
    MsgType,
    Nack,
    SampleStatus,
    SetLoad,
    SetMode,
    Status,
    Stop,
    Telemetry,
    sample_dtype,
)
from sim.faults import FaultPlan
from sim.lifter import Lifter
from sim.physics import G, Physics

DOCK_MM = 20.0  # a cable further out than this is out of the dock (HANDLE_HELD may be set)
DOCKED_MM = 2.0  # ... and this close in, back in the dock (DOCKED)
PICKUP_M_S = -0.1  # HANDLE_HELD is taken only from a cable that is not reeling in faster
HELD_LOAD_KG = 2.0  # with this much applied, tension below the release level means let go


# Status bits as plain ints: IntFlag arithmetic per sample is slow.
_LEASE, _ESTOP, _DELOAD = (int(SampleStatus.LEASE_ACTIVE), int(SampleStatus.EMERGENCY_STOP),
                           int(SampleStatus.SAFETY_DELOAD))
_HELD, _DOCKED, _RAMPING = (int(SampleStatus.HANDLE_HELD), int(SampleStatus.DOCKED),
                            int(SampleStatus.RAMPING))


def _row_struct(n: int) -> struct.Struct:
    """One telemetry sample of n cables as struct packs it: dt_us, then each cable's position,
    velocity, tension, load and status. Packing rows with struct beats numpy converting tuples;
    checked against `sample_dtype(n)` here so the two layouts cannot drift apart."""
    s = struct.Struct("<I" + "HhHHH" * n)
    probe = tuple(range(1, 2 + 5 * n))
    cables = [probe[1 + 5 * k:6 + 5 * k] for k in range(n)]
    if s.pack(*probe) != np.array([(probe[0], cables)], dtype=sample_dtype(n)).tobytes():
        raise ImportError(f"the simulator's telemetry row differs from sample_dtype({n})")
    return s


_ROW_STRUCTS = {n: _row_struct(n) for n in (1, 2)}

# Modes that shape the setpoint (constant mode applies it as is).
_ECCENTRIC, _CHAINS, _SPOTTER = int(Mode.ECCENTRIC), int(Mode.CHAINS), int(Mode.SPOTTER)
_SHAPED = frozenset((_ECCENTRIC, _CHAINS, _SPOTTER))


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
_KNOWN_TYPES = frozenset(int(t) for t in MsgType)


def _refusal(frame: RawFrame, cables: int) -> tuple[ErrorCode, int]:
    """Why a good frame whose payload does not parse is refused (docs/protocol.md section 3):
    a type the unit does not know is UNSUPPORTED_MESSAGE; a SET_LOAD of whole u16 values but
    not one per cable is BAD_ARGUMENT with the cable count, as when it parses (section 5.3);
    any other payload of the wrong length for its type is BAD_LENGTH."""
    if frame.msg_type not in _KNOWN_TYPES:
        return ErrorCode.UNSUPPORTED_MESSAGE, 0
    if frame.msg_type == MsgType.SET_LOAD and len(frame.payload) % 2 == 0:
        return ErrorCode.BAD_ARGUMENT, cables
    return ErrorCode.BAD_LENGTH, 0


@dataclass(frozen=True, slots=True)
class _Timing:
    """What tick() derives from the config and the telemetry rate: fixed between
    ConfigureTelemetry commands, so worked out once rather than every tick."""

    config: UnitConfig
    rate_hz: int  # the telemetry rate these were computed for
    hz: int  # the tick rate
    dt: float
    up: float  # half-kg a setpoint may rise per tick
    down: float  # ... and fall
    sample_every: int  # ticks per telemetry sample


def _no_log(event: str, **kw: object) -> None:
    pass


@dataclass
class SimUnit:
    config: UnitConfig
    lifter: Lifter
    physics: Physics
    faults: FaultPlan = field(default_factory=FaultPlan)
    log: LogFn = _no_log
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
    _timing: _Timing | None = None  # per-rate constants of tick(), see _retime()
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

    def _retime(self) -> _Timing:
        """The tick's per-rate constants, recomputed only when the rate or config changes
        (tick() runs hundreds of thousands of times per trial)."""
        cfg = self.config
        hz = self.tick_hz
        dt = 1.0 / hz
        self._timing = t = _Timing(cfg, self.telemetry_rate_hz, hz, dt,
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

    # ---- load modes -------------------------------------------------------------------------

    def _mode_loads(self, dt: float) -> list[float]:
        """The load (kg) each cable applies now: the ramped setpoint shaped by the mode."""
        mode, p1, p2, p3 = self.mode
        cap = self.config.max_load_half_kg / 2
        out = []
        if mode not in _SHAPED:  # constant: the setpoint as is (factor 1), the common case
            for sp in self.setpoints:  # a loop, not a comprehension: cheaper for 1-2 cables
                kg = sp / 2
                out.append(kg if kg < cap else cap)  # min(cap, kg)
            return out
        setpoints = self.setpoints
        for i, c in enumerate(self.physics.state):
            base = setpoints[i] / 2
            factor = 1.0
            if mode == _ECCENTRIC and c.velocity_m_s < -0.02:
                factor = p1 / 100  # heavier on the way back
            elif mode == _CHAINS:
                factor = 1 + p1 / 100 * min(1.0, c.position_mm / max(p2, 1))
            elif mode == _SPOTTER and i == 0:
                self._spot(dt, c.position_mm, c.velocity_m_s, base, p1, p2)
            if mode == _SPOTTER and self.spotting:
                factor = 1 - p3 / 100
            out.append(min(cap, base * factor))
        return out

    def _spot(self, dt: float, position_mm: float, velocity_m_s: float, base: float,
              stall_mm_s: int, stall_ms: int) -> None:
        """A stall part way up under load for long enough: take load off until the lowering."""
        if self.spotting:
            if velocity_m_s < -0.05:
                self.spotting = False
                self.log("spotter_released")
            return
        if base > 0 and position_mm > 100 and abs(velocity_m_s) * 1000 < stall_mm_s:
            self._stall_s += dt
            if self._stall_s * 1000 >= stall_ms:
                self.spotting = True
                self._stall_s = 0.0
                self.log("spotter_engaged", position_mm=round(position_mm))
        else:
            self._stall_s = 0.0

    def _check_mode(self, m: SetMode) -> tuple[ErrorCode, int] | None:
        limits = {Mode.CONSTANT: (), Mode.ECCENTRIC: ((100, MAX_ECCENTRIC_PCT),),
                  Mode.CHAINS: ((0, 100), (100, 3000)),
                  Mode.SPOTTER: ((10, 200), (250, 5000), (5, 80))}
        if m.mode not in limits:
            return ErrorCode.BAD_ARGUMENT, max(limits)
        for value, (lo, hi) in zip((m.p1, m.p2, m.p3), limits[Mode(m.mode)], strict=False):
            if not lo <= value <= hi:
                return ErrorCode.BAD_ARGUMENT, hi
        return None

    # ---- safety -----------------------------------------------------------------------------

    def _lease_expired(self) -> None:
        self.lease_held = False
        self.lease_lost = True
        self.faults_bits |= FaultBits.LEASE_EXPIRED
        load = max(self.applied_half_kg)
        self._deload_all("lease_expired")
        self._emit(Event(self.now_us, EventCode.LEASE_EXPIRED, 0xFF, load))
        self.log("lease_expired", applied_kg=load / 2, lease_ms=self.config.lease_ms,
                 reason="no frame from the host within the lease")

    def _watch_handles(self) -> None:
        if not any(self.targets):  # nothing asked for: nothing to release
            self._low_tension_us = 0
            return
        cfg = self.config
        state = self.physics.state
        release_n = cfg.release_tension_n
        # Plain loops over the (one or two) cables: generator expressions cost more per tick.
        for c in state:
            if not c.tension_n < release_n:  # someone still pulls
                self._low_tension_us = 0
                return
        freefall = cfg.freefall_m_s
        falling = False
        for c in state:
            if c.velocity_m_s < freefall:
                falling = True
                break
        if self._low_tension_us == 0:
            self._low_tension_us = self.now_us
        held_for = self.now_us - self._low_tension_us
        if falling or held_for >= cfg.release_ms * 1000:
            load = max(self.applied_half_kg)
            self.faults_bits |= FaultBits.HANDLE_RELEASED
            self._deload_all("handle_released")
            self._emit(Event(self.now_us, EventCode.HANDLE_RELEASED, 0xFF, load))
            self.log("handle_released", applied_kg=load / 2, free_fall=falling,
                     low_tension_ms=held_for // 1000)
            self._low_tension_us = 0

    def _deload_all(self, cause: str) -> None:
        self.targets = [0] * self.config.cables
        if self._deload is None and any(self.applied_half_kg):
            self._deload = (cause, self.now_us)

    def _watch_deload(self) -> None:
        if self._deload is None or any(self.applied_half_kg):  # what telemetry reports
            return
        cause, since = self._deload
        ms = (self.now_us - since) // 1000
        self._deload = None
        if cause == "stop":
            self.stopping = False
            self._emit(Event(self.now_us, EventCode.STOPPED, 0xFF, ms))
            self.log("stopped", after_ms=ms)
        else:
            self._emit(Event(self.now_us, EventCode.DELOADED, 0xFF, ms))
            self.log("deloaded", cause=cause, after_ms=ms, applied_kg=0.0)

    # ---- host frames ------------------------------------------------------------------------

    def renew_lease(self) -> None:
        self._lease_deadline_us = self.now_us + self.config.lease_ms * 1000

    def receive(self, data: bytes) -> None:
        # Unparsed: a frame the unit cannot parse is answered (NACK with its SEQ and TYPE).
        for frame in self._decoder.feed_raw(data):
            try:
                msg = decode_payload(frame.msg_type, frame.payload)
            except (CodecError, ValueError):
                self._refuse_frame(frame)
                continue
            self.frames_in += 1
            if self.lease_held:
                self.renew_lease()
            self._handle(frame.seq, msg)

    def _refuse_frame(self, frame: RawFrame) -> None:
        """A frame that arrived whole but does not parse for its type is answered, whatever
        the unit's state, instead of vanishing: the host learns at once that its command was
        malformed rather than retrying it into a timeout. It is not a valid frame, so it does
        not renew the lease."""
        error, detail = _refusal(frame, self.config.cables)
        if error == ErrorCode.UNSUPPORTED_MESSAGE:
            self._decoder.stats.unknown_type += 1
        else:
            self._decoder.stats.bad_payload += 1
        self._nack_raw(frame.seq, frame.msg_type, error, detail,
                       payload_bytes=len(frame.payload))

    def _handle(self, seq: int, msg: Message) -> None:
        cfg = self.config
        match msg:
            case Heartbeat():
                return
            case Hello(proto_min=lo, proto_max=hi):
                if not lo <= PROTOCOL_VERSION <= hi:
                    self._nack(seq, msg, ErrorCode.UNSUPPORTED_VERSION, PROTOCOL_VERSION)
                    return
                was = self.lease_held
                if any(self.targets):  # a new host session starts unloaded, whoever held it
                    self._deload_all("new_host")
                    self.log("deload_on_hello", reason="HELLO starts a new host session")
                self.lease_held, self.lease_lost = True, False
                self.faults_bits &= ~FaultBits.LEASE_EXPIRED
                self.renew_lease()
                self._emit(cfg.info())
                if not was:
                    self._emit(Event(self.now_us, EventCode.HOST_CONNECTED))
                    self.log("host_connected", lease_ms=cfg.lease_ms)
            case GetStatus():
                self._emit(self._status())
            case Stop():
                self.stopping = any(self.applied_half_kg)
                self._deload = None
                self._deload_all("stop")
                self._ack(seq, msg)
                self.log("stop_requested", applied_kg=max(self.applied_half_kg) / 2)
            case EmergencyStop():
                if not self.estop:
                    self.estop = True
                    self.faults_bits |= FaultBits.EMERGENCY_STOP
                    self.targets = [0] * cfg.cables
                    self.setpoints = [0.0] * cfg.cables
                    for c in self.physics.state:  # the drive is cut now, not at the next tick
                        c.motor_kg = 0.0
                    self._emit(Event(self.now_us, EventCode.EMERGENCY_STOP_LATCHED))
                    self.log("emergency_stop_latched")
                self._ack(seq, msg)
            case _ if not self.lease_held:
                self._nack(seq, msg, ErrorCode.NOT_READY)
            case SetLoad(loads_half_kg=loads):
                if self.estop:
                    self._nack(seq, msg, ErrorCode.EMERGENCY_STOP_LATCHED)
                elif len(loads) != cfg.cables:
                    self._nack(seq, msg, ErrorCode.BAD_ARGUMENT, cfg.cables)
                elif max(loads) > cfg.max_load_half_kg:
                    self._nack(seq, msg, ErrorCode.LOAD_ABOVE_MAX, cfg.max_load_half_kg)
                else:
                    if list(loads) != self.targets:
                        self.log("load_target", target_kg=[v / 2 for v in loads], seq=seq)
                    self.targets = list(loads)
                    self.stopping = False
                    self._deload = None
                    self.faults_bits &= ~FaultBits.HANDLE_RELEASED
                    self._low_tension_us = 0
                    self._ack(seq, msg, tuple(self.targets))
            case ClearEmergencyStop():
                if self.estop:
                    self.estop = False
                    self.faults_bits &= ~FaultBits.EMERGENCY_STOP
                    self._emit(Event(self.now_us, EventCode.EMERGENCY_STOP_CLEARED))
                    self.log("emergency_stop_cleared")
                self._ack(seq, msg)
            case SetMode():
                bad = self._check_mode(msg)
                if bad is not None:
                    self._nack(seq, msg, *bad)
                else:
                    self.mode = (msg.mode, msg.p1, msg.p2, msg.p3)
                    self.spotting, self._stall_s = False, 0.0
                    self.log("mode_set", mode=Mode(msg.mode).name.lower(), p1=msg.p1,
                             p2=msg.p2, p3=msg.p3)
                    self._ack(seq, msg, self.mode)
            case ConfigureTelemetry(rate_hz=rate, batch=batch):
                max_batch = max_samples_per_frame(cfg.cables)
                if rate not in cfg.telemetry_rates_hz:
                    self._nack(seq, msg, ErrorCode.RATE_UNSUPPORTED, max(cfg.telemetry_rates_hz))
                elif not 1 <= batch <= max_batch:
                    self._nack(seq, msg, ErrorCode.BAD_ARGUMENT, max_batch)
                else:
                    self._flush_batch()
                    self.telemetry_rate_hz, self.telemetry_batch = rate, batch
                    self._base_us, self._tick_n = self.now_us, 0  # the tick rate may change
                    self._ack(seq, msg, (rate, batch))
            case _:
                self._nack(seq, msg, ErrorCode.UNSUPPORTED_MESSAGE)

    def _ack(self, seq: int, msg: Message, values: tuple[int, ...] = ()) -> None:
        self._emit(Ack(seq, msg.TYPE, values))

    def _nack(self, seq: int, msg: Message, error: ErrorCode, detail: int = 0) -> None:
        self._nack_raw(seq, msg.TYPE, error, detail)

    def _nack_raw(self, seq: int, msg_type: int, error: ErrorCode, detail: int = 0,
                  **extra: object) -> None:
        """NACK a command by its SEQ and TYPE (which may be one the unit does not know)."""
        self._emit(Nack(seq, msg_type, error, detail))
        name = MsgType(msg_type).name if msg_type in _KNOWN_TYPES else f"0x{msg_type:02x}"
        self.log("nack", command=name, error=error.name, detail=detail, seq=seq, **extra)

    # ---- output -----------------------------------------------------------------------------

    def _status(self) -> Status:
        left = max(0, (self._lease_deadline_us - self.now_us) // 1000) if self.lease_held else 0
        return Status(self.now_us, self.state, int(self.faults_bits), min(left, 0xFFFF),
                      tuple(self.targets), tuple(self.applied_half_kg))

    def _held_bit(self, i: int, pos: float, vel: float, tension: float, motor_kg: float) -> int:
        """HANDLE_HELD of cable i now (docs/protocol.md 4.2), latched so that it stays set
        through a whole set, lowering included, while someone pulls on the cable. Taken when
        the cable is out of the dock and not reeling in (with a load on it, only with tension);
        given up only on evidence that the handle was let go: the cable back at the dock,
        reeling in fast with no tension (free fall), or no tension for release_ms with a load
        applied."""
        cfg = self.config
        release_n = cfg.release_tension_n
        slack = self._slack_since_us
        if tension < release_n:
            if slack[i] < 0:
                slack[i] = self.now_us
        else:
            slack[i] = -1
        if not self._held[i]:  # under load, only a pull shows a hand on it
            if pos > DOCK_MM and vel >= PICKUP_M_S and (slack[i] < 0 or motor_kg < HELD_LOAD_KG):
                self._held[i] = True
        elif pos <= DOCK_MM or (slack[i] >= 0 and (
                vel < cfg.freefall_m_s or (motor_kg >= HELD_LOAD_KG and
                                           self.now_us - slack[i] >= cfg.release_ms * 1000))):
            self._held[i] = False
        return _HELD if self._held[i] else 0

    def _sample(self) -> None:
        if not self.lease_held:
            self._batch_n = 0
            self._rows = []
            held, slack = self._held, self._slack_since_us
            for i in range(len(held)):  # worked out afresh when a host holds the lease again
                held[i], slack[i] = False, -1
            return  # telemetry streams only to a host that holds the lease
        now_us = self.now_us
        if self._batch_n == 0:
            self._batch_t0 = now_us
            self._rows = []
        base = _LEASE
        if self.estop:
            base |= _ESTOP
        if self._deload is not None and self._deload[0] != "stop":
            base |= _DELOAD
        row = [now_us - self._batch_t0]  # flat: dt_us, then each cable's five fields
        stuck = self._stuck
        setpoints, targets = self.setpoints, self.targets
        for i, c in enumerate(self.physics.state):
            if stuck:
                pos, vel = stuck[i]
            else:
                pos, vel = c.position_mm, c.velocity_m_s
            bits = base | self._held_bit(i, pos, vel, c.tension_n, c.motor_kg)
            if pos <= DOCKED_MM:
                bits |= _DOCKED
            if setpoints[i] != targets[i]:
                bits |= _RAMPING
            # Clamp to the wire's ranges with comparisons: min()/max() calls cost more.
            pos_w = round(pos * 10)
            vel_w = round(vel * 1000)
            tension_w = round(c.tension_n * 10)
            row += (pos_w if pos_w < 65535 else 65535,
                    -32768 if vel_w < -32768 else vel_w if vel_w < 32767 else 32767,
                    tension_w if tension_w < 65535 else 65535,
                    round(c.motor_kg * 2), bits)
        # Rows are kept as Python ints and packed once per batch: numpy per sample is slow.
        self._rows.append(row)
        self._batch_n += 1
        if self._batch_n >= self.telemetry_batch:
            self._flush_batch()

    def _flush_batch(self) -> None:
        if self._batch_n and self._rows:
            n = self.config.cables
            # struct packs the rows to the wire layout faster than numpy converts tuples.
            pack = _ROW_STRUCTS[n].pack
            data = b"".join([pack(*row) for row in self._rows[: self._batch_n]])
            self._emit(Telemetry(self._batch_t0, n, np.frombuffer(data, sample_dtype(n))))
        self._batch_n = 0
        self._rows = []

    def _emit(self, msg: Message) -> None:
        self._seq = (self._seq + 1) & 0xFF
        frame = self.faults.apply(encode(msg, self._seq), msg.TYPE)
        if frame is not None:
            self._out.append(frame)

    def take_output(self) -> bytes:
        return b"".join(self.take_frames())

    def take_frames(self) -> list[bytes]:
        """What the unit has to send, frame by frame (a duplicated frame is one item)."""
        out, self._out = self._out, []
        return out
