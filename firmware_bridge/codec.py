"""The pure codec: messages <-> bytes, and a resynchronising frame reader.

Sans-I/O: nothing here awaits, sleeps or logs. A frame is

    SOF(0xA5) LEN ~LEN TYPE SEQ PAYLOAD[LEN] CRC16-LE

with the CRC (CRC-16/CCITT-FALSE) over LEN..PAYLOAD. `~LEN` lets a reader reject a corrupted
length at once instead of waiting for bytes that will never come. See docs/protocol.md.
"""

from __future__ import annotations

import struct
from binascii import crc_hqx
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from firmware_bridge.messages import (
    Ack,
    ClearEmergencyStop,
    ConfigureTelemetry,
    DeviceInfo,
    EmergencyStop,
    Event,
    GetStatus,
    Heartbeat,
    Hello,
    Message,
    MsgType,
    Nack,
    SetLoad,
    SetMode,
    Status,
    Stop,
    Telemetry,
    sample_dtype,
)

SOF = 0xA5
HEADER_SIZE = 5
CRC_SIZE = 2
MAX_PAYLOAD = 237  # a whole frame (244 bytes) fits one BLE notification at ATT MTU 247
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
MAX_CABLES = 2
SERIAL_LEN = 12
TELEMETRY_HEADER = struct.Struct("<QBB")


class CodecError(ValueError):
    """A message that cannot be put on the wire, or a payload that does not parse."""


def max_samples_per_frame(cable_count: int) -> int:
    return (MAX_PAYLOAD - TELEMETRY_HEADER.size) // sample_dtype(cable_count).itemsize


def crc16(data: bytes | bytearray | memoryview) -> int:
    return crc_hqx(data, 0xFFFF)


# ---- payload layouts ------------------------------------------------------------------------


def _u16s(data: bytes, name: str) -> tuple[int, ...]:
    if len(data) % 2:
        raise CodecError(f"{name}: odd payload length {len(data)}")
    return struct.unpack(f"<{len(data) // 2}H", data)


def _pack_u16s(values: tuple[int, ...]) -> bytes:
    return struct.pack(f"<{len(values)}H", *values)


def _loads(values: tuple[int, ...], name: str) -> bytes:
    if not 1 <= len(values) <= MAX_CABLES:
        raise CodecError(f"{name}: {len(values)} cables; allowed 1..{MAX_CABLES}")
    return _pack_u16s(values)


def _expect(data: bytes, size: int, name: str) -> None:
    if len(data) != size:
        raise CodecError(f"{name}: payload is {len(data)} bytes, expected {size}")


_HELLO = struct.Struct("<BB")
_ACK_HEAD = struct.Struct("<BB")
_NACK = struct.Struct("<BBBH")
_INFO = struct.Struct(f"<BBBB{SERIAL_LEN}sBHBHHHHB")
_EVENT = struct.Struct("<QBBH")
_STATUS_HEAD = struct.Struct("<QBHHB")
_TELEM_CFG = struct.Struct("<HB")
_MODE = struct.Struct("<BHHH")


def _enc_info(m: DeviceInfo) -> bytes:
    serial = m.serial.encode("ascii")
    if len(serial) > SERIAL_LEN:
        raise CodecError(f"serial: {len(serial)} characters; at most {SERIAL_LEN}")
    return _INFO.pack(
        m.protocol_version,
        *m.firmware,
        serial,
        m.cable_count,
        m.max_load_half_kg,
        m.load_step_half_kg,
        m.ramp_up_half_kg_per_s,
        m.ramp_down_half_kg_per_s,
        m.lease_ms,
        m.modes,
        len(m.telemetry_rates_hz),
    ) + _pack_u16s(m.telemetry_rates_hz)


def _dec_info(d: bytes) -> DeviceInfo:
    if len(d) < _INFO.size:
        raise CodecError(f"DEVICE_INFO: payload is {len(d)} bytes, expected >= {_INFO.size}")
    (ver, fa, fb, fc, serial, cables, max_load, step, up, down, lease, modes,
     n) = _INFO.unpack_from(d)
    rates = _u16s(d[_INFO.size :], "DEVICE_INFO rates")
    if len(rates) != n:
        raise CodecError(f"DEVICE_INFO: {len(rates)} telemetry rates, header says {n}")
    try:
        serial_text = serial.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError as e:
        raise CodecError("DEVICE_INFO: serial is not ASCII") from e
    return DeviceInfo(ver, (fa, fb, fc), serial_text, cables, max_load, step, up, down, lease,
                      modes, rates)


def _enc_telemetry(m: Telemetry) -> bytes:
    samples = np.ascontiguousarray(m.samples, dtype=sample_dtype(m.cable_count))
    if len(samples) > 255:
        raise CodecError(f"TELEMETRY: {len(samples)} samples; at most 255")
    return TELEMETRY_HEADER.pack(m.t0_us, m.cable_count, len(samples)) + samples.tobytes()


MAX_DEVICE_T_US = 1 << 62  # ~146,000 years of uptime: beyond it a clock is garbage, and
# `t0_us + dt_us` would overflow the int64 the samples' times are computed in


def _device_time(t_us: int, name: str) -> int:
    if t_us >= MAX_DEVICE_T_US:
        raise CodecError(f"{name}: device time {t_us} us is not a clock reading; allowed "
                         f"below 2^62")
    return t_us


def _dec_telemetry(d: bytes) -> Telemetry:
    if len(d) < TELEMETRY_HEADER.size:
        raise CodecError(f"TELEMETRY: payload is {len(d)} bytes, too short for its header")
    t0, cables, count = TELEMETRY_HEADER.unpack_from(d)
    _device_time(t0, "TELEMETRY")
    if not 1 <= cables <= MAX_CABLES:
        raise CodecError(f"TELEMETRY: cable count {cables}; allowed 1..{MAX_CABLES}")
    dt = sample_dtype(cables)
    if len(d) != TELEMETRY_HEADER.size + count * dt.itemsize:
        raise CodecError(
            f"TELEMETRY: {len(d)} bytes do not hold {count} samples of {cables} cables")
    samples = np.frombuffer(d, dtype=dt, count=count, offset=TELEMETRY_HEADER.size)
    return Telemetry(t0, cables, samples)


def _enc_status(m: Status) -> bytes:
    n = len(m.targets_half_kg)
    if len(m.applied_half_kg) != n:
        raise CodecError("STATUS: targets and applied loads differ in cable count")
    loads = _loads(m.targets_half_kg, "STATUS") + _pack_u16s(m.applied_half_kg)
    return _STATUS_HEAD.pack(m.t_us, m.state, m.faults, m.lease_left_ms, n) + loads


def _dec_status(d: bytes) -> Status:
    if len(d) < _STATUS_HEAD.size:
        raise CodecError(f"STATUS: payload is {len(d)} bytes, too short")
    t, state, faults, lease, n = _STATUS_HEAD.unpack_from(d)
    _device_time(t, "STATUS")
    vals = _u16s(d[_STATUS_HEAD.size :], "STATUS")
    if len(vals) != 2 * n or not 1 <= n <= MAX_CABLES:
        raise CodecError(f"STATUS: {len(vals)} load values for {n} cables")
    return Status(t, state, faults, lease, vals[:n], vals[n:])


def _empty(cls: type) -> tuple[Callable[[object], bytes], Callable[[bytes], object]]:
    def dec(d: bytes) -> object:
        _expect(d, 0, cls.__name__)
        return cls()

    return (lambda m: b""), dec


def _dec_set_load(d: bytes) -> SetLoad:
    vals = _u16s(d, "SET_LOAD")
    if not 1 <= len(vals) <= MAX_CABLES:
        raise CodecError(f"SET_LOAD: {len(vals)} cables; allowed 1..{MAX_CABLES}")
    return SetLoad(vals)


def _dec_hello(d: bytes) -> Hello:
    _expect(d, _HELLO.size, "HELLO")
    return Hello(*_HELLO.unpack(d))


def _dec_ack(d: bytes) -> Ack:
    if len(d) < _ACK_HEAD.size:
        raise CodecError(f"ACK: payload is {len(d)} bytes, too short")
    seq, typ = _ACK_HEAD.unpack_from(d)
    return Ack(seq, typ, _u16s(d[_ACK_HEAD.size :], "ACK"))


def _dec_nack(d: bytes) -> Nack:
    _expect(d, _NACK.size, "NACK")
    return Nack(*_NACK.unpack(d))


def _dec_event(d: bytes) -> Event:
    _expect(d, _EVENT.size, "EVENT")
    ev = Event(*_EVENT.unpack(d))
    _device_time(ev.t_us, "EVENT")
    return ev


def _dec_mode(d: bytes) -> SetMode:
    _expect(d, _MODE.size, "SET_MODE")
    return SetMode(*_MODE.unpack(d))


def _dec_telem_cfg(d: bytes) -> ConfigureTelemetry:
    _expect(d, _TELEM_CFG.size, "CONFIGURE_TELEMETRY")
    return ConfigureTelemetry(*_TELEM_CFG.unpack(d))


_CODECS: dict[int, tuple[Callable, Callable]] = {
    MsgType.HELLO: (lambda m: _HELLO.pack(m.proto_min, m.proto_max), _dec_hello),
    MsgType.HEARTBEAT: _empty(Heartbeat),
    MsgType.SET_LOAD: (lambda m: _loads(m.loads_half_kg, "SET_LOAD"), _dec_set_load),
    MsgType.STOP: _empty(Stop),
    MsgType.EMERGENCY_STOP: _empty(EmergencyStop),
    MsgType.CLEAR_EMERGENCY_STOP: _empty(ClearEmergencyStop),
    MsgType.CONFIGURE_TELEMETRY: (lambda m: _TELEM_CFG.pack(m.rate_hz, m.batch), _dec_telem_cfg),
    MsgType.GET_STATUS: _empty(GetStatus),
    MsgType.SET_MODE: (lambda m: _MODE.pack(m.mode, m.p1, m.p2, m.p3), _dec_mode),
    MsgType.ACK: (lambda m: _ACK_HEAD.pack(m.ref_seq, m.ref_type) + _pack_u16s(m.values),
                  _dec_ack),
    MsgType.NACK: (lambda m: _NACK.pack(m.ref_seq, m.ref_type, m.error, m.detail), _dec_nack),
    MsgType.DEVICE_INFO: (_enc_info, _dec_info),
    MsgType.TELEMETRY: (_enc_telemetry, _dec_telemetry),
    MsgType.EVENT: (lambda m: _EVENT.pack(m.t_us, m.code, m.cable, m.value), _dec_event),
    MsgType.STATUS: (_enc_status, _dec_status),
}


def encode_payload(msg: Message) -> bytes:
    try:
        payload = _CODECS[msg.TYPE][0](msg)
    except struct.error as e:
        raise CodecError(
            f"{msg.TYPE.name}: a field is out of range for its wire type ({e})") from e
    if len(payload) > MAX_PAYLOAD:
        raise CodecError(f"{msg.TYPE.name}: payload {len(payload)} bytes; at most {MAX_PAYLOAD}")
    return payload


def decode_payload(msg_type: int, payload: bytes) -> Message:
    try:
        dec = _CODECS[msg_type][1]
    except KeyError:
        raise CodecError(f"unknown message type 0x{msg_type:02x}") from None
    try:
        return dec(payload)
    except (struct.error, TypeError) as e:
        raise CodecError(f"{MsgType(msg_type).name}: {e}") from e


def encode(msg: Message, seq: int) -> bytes:
    """One complete frame, ready for a byte stream or a single BLE write/notification."""
    payload = encode_payload(msg)
    n = len(payload)
    body = bytes((n, n ^ 0xFF, msg.TYPE, seq & 0xFF)) + payload
    return bytes((SOF,)) + body + crc16(body).to_bytes(2, "little")


# ---- stream reader --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    seq: int
    msg: Message


@dataclass(slots=True)
class DecoderStats:
    """Counters of what the reader threw away; never an exception."""

    frames: int = 0
    skipped_bytes: int = 0  # bytes before a start-of-frame, or dropped while resyncing
    bad_header: int = 0  # length and its complement disagree, or length too large
    bad_crc: int = 0
    bad_payload: int = 0  # CRC good but the payload does not parse for its type
    unknown_type: int = 0

    @property
    def bad_frames(self) -> int:
        return self.bad_header + self.bad_crc + self.bad_payload + self.unknown_type


@dataclass(frozen=True, slots=True)
class RawFrame:
    """A frame whose header and CRC are good, its payload not yet parsed."""

    seq: int
    msg_type: int
    payload: bytes


class FrameDecoder:
    """Feed bytes as they arrive; get whole frames back. Resyncs at the next good frame.

    After a bad header or CRC only the start byte is discarded, so a real frame hiding inside
    garbage is still found. The buffer never holds more than one maximal frame plus a read.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.stats = DecoderStats()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """The frames in `data` (and what was buffered), parsed; a good frame whose payload
        does not parse is counted and skipped."""
        out: list[Frame] = []
        stats = self.stats
        for raw in self.feed_raw(data):
            if raw.msg_type not in _CODECS:
                stats.unknown_type += 1
                continue
            try:
                msg = _CODECS[raw.msg_type][1](raw.payload)
            except (CodecError, struct.error, ValueError):
                stats.bad_payload += 1
                continue
            stats.frames += 1
            out.append(Frame(raw.seq, msg))
        return out

    def feed_raw(self, data: bytes | bytearray | memoryview) -> list[RawFrame]:
        """Every frame with a good header and CRC, its payload not parsed: what a unit needs to
        answer a frame it cannot parse (NACK with its SEQ and TYPE)."""
        buf = self._buf
        buf += data
        out: list[RawFrame] = []
        stats = self.stats
        pos = 0
        n = len(buf)
        while True:
            start = buf.find(SOF, pos)
            if start < 0:
                stats.skipped_bytes += n - pos
                pos = n
                break
            stats.skipped_bytes += start - pos
            pos = start
            if n - pos < 3:
                break
            length = buf[pos + 1]
            if length ^ buf[pos + 2] != 0xFF or length > MAX_PAYLOAD:
                stats.bad_header += 1
                stats.skipped_bytes += 1
                pos += 1
                continue
            end = pos + HEADER_SIZE + length + CRC_SIZE
            if end > n:
                break
            crc_at = end - CRC_SIZE
            if crc_hqx(buf[pos + 1 : crc_at], 0xFFFF) != buf[crc_at] | (buf[crc_at + 1] << 8):
                stats.bad_crc += 1
                stats.skipped_bytes += 1
                pos += 1
                continue
            out.append(RawFrame(buf[pos + 4], buf[pos + 3],
                                bytes(buf[pos + HEADER_SIZE : crc_at])))
            pos = end
        if pos:
            del buf[:pos]
        return out

    def reset(self) -> None:
        """Forget a partial frame (e.g. at a new BLE notification or after a reconnect)."""
        self.stats.skipped_bytes += len(self._buf)
        self._buf.clear()

    @property
    def buffered(self) -> int:
        return len(self._buf)
