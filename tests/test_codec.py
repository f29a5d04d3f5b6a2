"""The codec: every message round-trips; bad streams only bump counters and resync."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.codec import (
    MAX_DEVICE_T_US,
    MAX_FRAME,
    MAX_PAYLOAD,
    SOF,
    CodecError,
    FrameDecoder,
    crc16,
    decode_payload,
    encode,
)
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
    Nack,
    SetLoad,
    SetMode,
    Status,
    Stop,
    Telemetry,
    sample_dtype,
)

device_t = st.integers(0, MAX_DEVICE_T_US - 1)  # what a real clock can read

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
loads = st.lists(u16, min_size=1, max_size=2).map(tuple)


@st.composite
def telemetry(draw):
    cables = draw(st.sampled_from([1, 2]))
    count = draw(st.integers(0, 9))
    dt = sample_dtype(cables)
    raw = draw(st.binary(min_size=count * dt.itemsize, max_size=count * dt.itemsize))
    return Telemetry(draw(device_t), cables, np.frombuffer(raw, dtype=dt))


@st.composite
def status(draw):
    n = draw(st.sampled_from([1, 2]))
    vals = st.lists(u16, min_size=n, max_size=n).map(tuple)
    return Status(draw(device_t), draw(u8), draw(u16), draw(u16), draw(vals),
                  draw(vals))


device_info = st.builds(
    DeviceInfo, u8, st.tuples(u8, u8, u8),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=12),
    st.sampled_from([1, 2]), u16, u8, u16, u16, u16, u16,
    st.lists(u16, max_size=20).map(tuple))

messages = st.one_of(
    st.builds(Hello, u8, u8),
    st.just(Heartbeat()),
    st.builds(SetLoad, loads),
    st.just(Stop()),
    st.just(EmergencyStop()),
    st.just(ClearEmergencyStop()),
    st.builds(ConfigureTelemetry, u16, u8),
    st.just(GetStatus()),
    st.builds(SetMode, u8, u16, u16, u16),
    st.builds(Ack, u8, u8, st.lists(u16, max_size=4).map(tuple)),
    st.builds(Nack, u8, u8, u8, u16),
    device_info,
    telemetry(),
    st.builds(Event, device_t, u8, u8, u16),
    status(),
)


@given(messages, u8)
def test_every_message_round_trips(msg, seq):
    frame = encode(msg, seq)
    assert len(frame) <= MAX_FRAME
    out = FrameDecoder().feed(frame)
    assert len(out) == 1
    assert out[0].seq == seq
    assert out[0].msg == msg


def test_every_message_type_is_covered_by_the_round_trip():
    from firmware_bridge.codec import _CODECS
    from firmware_bridge.messages import MsgType

    assert set(_CODECS) == set(MsgType)


def test_frame_layout_is_as_documented():
    # docs/protocol.md: SET_LOAD 12.5 kg on one cable, seq 3
    frame = encode(SetLoad((25,)), 3)
    assert frame[:5] == bytes([0xA5, 2, 0xFD, 0x03, 3])
    assert frame[5:7] == (25).to_bytes(2, "little")
    assert frame[7:] == crc16(frame[1:7]).to_bytes(2, "little")
    assert crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE check value


@given(st.lists(messages, min_size=1, max_size=8), st.data())
@settings(max_examples=60)
def test_byte_at_a_time_and_random_chunks(msgs, data):
    stream = b"".join(encode(m, i) for i, m in enumerate(msgs))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    dec = FrameDecoder()
    out = []
    prev = 0
    for c in [*cuts, len(stream)]:
        out += dec.feed(stream[prev:c])
        prev = c
    assert [f.msg for f in out] == msgs
    one = FrameDecoder()
    out1 = [f for b in stream for f in one.feed(bytes([b]))]
    assert [f.msg for f in out1] == msgs
    assert one.stats.bad_frames == 0 and one.stats.skipped_bytes == 0


@given(st.binary(max_size=4000))
@settings(max_examples=300)
def test_garbage_never_raises_and_buffer_stays_bounded(junk):
    dec = FrameDecoder()
    for i in range(0, len(junk), 37):
        dec.feed(junk[i : i + 37])
        assert dec.buffered < MAX_FRAME + 37


@given(st.binary(max_size=600), messages)
@settings(max_examples=200)
def test_resync_at_the_next_good_frame_after_garbage(junk, msg):
    good = encode(msg, 9)
    dec = FrameDecoder()
    # Garbage, then enough padding that any false start inside the garbage is resolved: a false
    # header may claim the longest frame, so the good frames must outlast it.
    out = dec.feed(junk + good * (MAX_FRAME // len(good) + 2))
    assert out[-1].msg == msg
    assert sum(f.msg == msg for f in out) >= 1


def test_corrupted_frames_are_counted_and_skipped():
    frames = [encode(SetLoad((i,)), i) for i in range(200)]
    rng = random.Random(1)
    corrupted = set()
    stream = bytearray()
    for i, f in enumerate(frames):
        b = bytearray(f)
        if i % 5 == 0:
            pos = rng.randrange(1, len(b))
            b[pos] ^= 1 << rng.randrange(8)
            corrupted.add(i)
        stream += b
    dec = FrameDecoder()
    out = dec.feed(bytes(stream))
    got = {f.msg.loads_half_kg[0] for f in out}
    assert got == set(range(200)) - corrupted
    # Every corrupted frame is counted; false starts found while resyncing may add a few more.
    assert dec.stats.bad_header + dec.stats.bad_crc >= len(corrupted)
    assert dec.stats.frames == 160


def test_truncated_frame_then_good_frame():
    good = encode(Stop(), 1)
    trunc = encode(SetLoad((30,)), 2)[:-3]
    dec = FrameDecoder()
    out = dec.feed(trunc + good)
    # The truncated frame's declared length swallows part of the next frame; the CRC fails,
    # the reader slides forward and still finds the good frame.
    assert [f.msg for f in out] == [Stop()]
    assert dec.stats.bad_crc >= 1


def test_bad_length_is_rejected_at_once_without_waiting():
    dec = FrameDecoder()
    # LEN says 200 but ~LEN disagrees: rejected immediately, then a good frame decodes.
    out = dec.feed(bytes([SOF, 200, 0x00, 0x03, 1]) + encode(Heartbeat(), 2))
    assert [f.msg for f in out] == [Heartbeat()]
    assert dec.stats.bad_header == 1


def test_valid_crc_but_bad_payload_and_unknown_type_are_counted():
    def raw(typ: int, payload: bytes) -> bytes:
        n = len(payload)
        body = bytes([n, n ^ 0xFF, typ, 0]) + payload
        return bytes([SOF]) + body + crc16(body).to_bytes(2, "little")

    dec = FrameDecoder()
    out = dec.feed(raw(0x03, b"\x01") + raw(0x7E, b"") + raw(0x03, b"\x01\x02\x03\x04\x05\x06")
                   + encode(Stop(), 5))
    assert [f.msg for f in out] == [Stop()]
    assert dec.stats.bad_payload == 2
    assert dec.stats.unknown_type == 1


@pytest.mark.parametrize("msg", [SetLoad(()), SetLoad((1, 2, 3)), SetLoad((70000,)),
                                 Hello(300, 1)])
def test_unencodable_messages_raise_codec_error(msg):
    with pytest.raises(CodecError):
        encode(msg, 0)


def test_payload_limit_fits_one_ble_notification():
    assert MAX_FRAME <= 244  # ATT MTU 247 minus the 3-byte ATT header
    with pytest.raises(CodecError):
        encode(DeviceInfo(1, (1, 0, 0), "X", 1, 1, 1, 1, 1, 1, 1, tuple(range(120))), 0)
    assert MAX_PAYLOAD == 237


def test_decode_payload_names_the_problem():
    with pytest.raises(CodecError, match="unknown message type 0x7e"):
        decode_payload(0x7E, b"")
    with pytest.raises(CodecError, match="TELEMETRY"):
        decode_payload(0x83, b"\x00" * 10 + b"\x01")


def test_a_device_time_no_clock_can_read_is_a_bad_frame_not_a_crash():
    """A unit sending t0_us >= 2^63 crashed `halfstep run` (int64 overflow when the samples'
    times were computed): such frames are rejected and counted; the stream goes on."""
    import struct

    from firmware_bridge.codec import TELEMETRY_HEADER
    from firmware_bridge.messages import EventCode, Telemetry, sample_dtype

    def raw(typ: int, payload: bytes) -> bytes:
        n = len(payload)
        body = bytes([n, n ^ 0xFF, typ, 0]) + payload
        return bytes([SOF]) + body + crc16(body).to_bytes(2, "little")

    good = Telemetry(1_000, 1, np.zeros(2, sample_dtype(1)))
    typ = encode(good, 0)[3]
    samples = np.zeros(2, sample_dtype(1)).tobytes()
    dec = FrameDecoder()
    out = dec.feed(raw(typ, TELEMETRY_HEADER.pack(2**63, 1, 2) + samples)
                   + raw(typ, TELEMETRY_HEADER.pack(MAX_DEVICE_T_US, 1, 2) + samples)
                   + raw(encode(Event(0, EventCode.BOOT), 0)[3],
                         struct.pack("<QBBH", 2**64 - 1, EventCode.BOOT, 0xFF, 0))
                   + encode(good, 7))
    assert [f.msg.t0_us for f in out] == [1_000]
    assert dec.stats.bad_payload == 3
    assert int(out[0].msg.t_us[-1]) == 1_000
