"""The emulated firmware's side of the conversation: each host frame parsed, checked and
answered (ACK, NACK, DEVICE_INFO, STATUS), and the unit's state changed as the command says.

Mixed into SimUnit (sim/firmware.py), whose fields it reads and sets; apart so that the rules
of docs/protocol.md sections 3 and 5 (what is refused, and why) read in one place.
"""

from __future__ import annotations

from firmware_bridge.codec import CodecError, RawFrame, decode_payload, max_samples_per_frame
from firmware_bridge.messages import (
    MAX_ECCENTRIC_PCT,
    PROTOCOL_VERSION,
    Ack,
    ClearEmergencyStop,
    ConfigureTelemetry,
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
    MsgType,
    Nack,
    SetLoad,
    SetMode,
    Stop,
)

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


class FirmwareCommands:
    """SimUnit's host frames: receive() them, answer each (mixed into SimUnit)."""

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
