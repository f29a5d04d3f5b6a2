"""A command whose payload has the wrong length for its type is answered NACK BAD_LENGTH by the
simulated unit (docs/protocol.md section 3) and changes nothing, over a real link: the
in-process memory pipe and a pseudo-terminal pair opened as a serial port."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from firmware_bridge.codec import SOF, FrameDecoder, crc16, encode
from firmware_bridge.links import open_link
from firmware_bridge.messages import (
    Ack,
    DeviceInfo,
    ErrorCode,
    Hello,
    MsgType,
    Nack,
    SetLoad,
)
from tests.conftest import running_sim


def raw_frame(msg_type: int, seq: int, payload: bytes) -> bytes:
    """A frame with a good header and CRC around any payload: what `encode` will not build."""
    body = bytes((len(payload), len(payload) ^ 0xFF, msg_type, seq)) + payload
    return bytes((SOF,)) + body + crc16(body).to_bytes(2, "little")


class Host:
    """Raw frames to the unit; its answers read back by SEQ."""

    def __init__(self, link):
        self.link, self.dec, self.heard = link, FrameDecoder(), []

    async def ask(self, frame: bytes, seq: int, timeout: float = 3.0):
        await self.link.send(frame)
        async with asyncio.timeout(timeout):
            while True:
                for f in self.dec.feed(await self.link.read()):
                    self.heard.append(f.msg)
                    if isinstance(f.msg, DeviceInfo) and frame[3] == MsgType.HELLO:
                        return f.msg
                    if isinstance(f.msg, Ack | Nack) and f.msg.ref_seq == seq:
                        return f.msg


@contextlib.asynccontextmanager
async def unit_on(kind: str):
    """A simulated unit and a host's raw end of the link to it (a serial port for `pty`)."""
    async with running_sim(kind) as sim:
        link = sim.link if not isinstance(sim.link, str) else await open_link(sim.link)
        try:
            yield sim, Host(link)
        finally:
            if isinstance(sim.link, str):
                await link.close()


WRONG = [
    pytest.param(MsgType.SET_LOAD, b"\x19", id="set_load-1-byte"),
    pytest.param(MsgType.SET_LOAD, b"\x19\x00\x00", id="set_load-3-bytes"),
    pytest.param(MsgType.HELLO, b"\x01", id="hello-1-byte"),
    pytest.param(MsgType.HEARTBEAT, b"\x00", id="heartbeat-1-byte"),
    pytest.param(MsgType.STOP, b"\x00\x00", id="stop-2-bytes"),
    pytest.param(MsgType.EMERGENCY_STOP, b"\x01", id="estop-1-byte"),
    pytest.param(MsgType.CONFIGURE_TELEMETRY, b"\x64\x00", id="telemetry-2-bytes"),
    pytest.param(MsgType.SET_MODE, bytes(6), id="set_mode-6-bytes"),
    pytest.param(MsgType.GET_STATUS, b"\x00", id="get_status-1-byte"),
]


@pytest.mark.parametrize("kind", ["memory", "pty"])
@pytest.mark.parametrize("msg_type,payload", WRONG)
async def test_a_wrong_length_is_nacked_bad_length(kind, msg_type, payload):
    async with unit_on(kind) as (sim, host):
        info = await host.ask(encode(Hello(), 1), 1)
        assert isinstance(info, DeviceInfo)
        targets, estop = list(sim.unit.targets), sim.unit.estop
        reply = await host.ask(raw_frame(msg_type, 7, payload), 7)
        assert reply == Nack(7, msg_type, ErrorCode.BAD_LENGTH, 0)
        assert (sim.unit.targets, sim.unit.estop) == (targets, estop)  # nothing changed
        # The reader is still in step: the next good command is answered as usual.
        assert await host.ask(encode(SetLoad((5,)), 8), 8) == Ack(8, MsgType.SET_LOAD, (5,))


async def test_bad_length_before_hello_and_other_refusals():
    """Answered whatever the unit's state (no lease yet), and told apart from a wrong count of
    loads (BAD_ARGUMENT, the cable count) and from a type the unit does not know."""
    async with unit_on("memory") as (sim, host):
        reply = await host.ask(raw_frame(MsgType.SET_LOAD, 3, b"\x19"), 3)
        assert reply == Nack(3, MsgType.SET_LOAD, ErrorCode.BAD_LENGTH, 0)
        reply = await host.ask(raw_frame(MsgType.SET_LOAD, 4, bytes(6)), 4)
        assert reply == Nack(4, MsgType.SET_LOAD, ErrorCode.BAD_ARGUMENT, 1)
        reply = await host.ask(raw_frame(0x09, 5, b""), 5)
        assert reply == Nack(5, 0x09, ErrorCode.UNSUPPORTED_MESSAGE, 0)
        stats = sim.unit._decoder.stats
        assert (sim.unit.frames_in, stats.bad_payload, stats.unknown_type) == (0, 2, 1)
        assert not sim.unit.lease_held  # a malformed frame is no HELLO and renews nothing


def test_the_same_answer_clocked_by_hand():
    """Deterministic: the same bytes give the same NACK with no event loop or link at all."""
    from sim.options import SimOptions

    answers = []
    for _ in range(2):
        unit = SimOptions(seed=1).build_unit()
        unit.take_output()  # BOOT
        unit.receive(raw_frame(MsgType.HELLO, 9, b"\x01\x01\x01"))
        answers.append([f.msg for f in FrameDecoder().feed(unit.take_output())])
    assert answers[0] == answers[1] == [Nack(9, MsgType.HELLO, ErrorCode.BAD_LENGTH, 0)]
