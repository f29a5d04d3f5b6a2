"""`replay:FILE`: a recorded wire log as a device link, so the controller re-runs a session.

The unit's bytes come back at their recorded pace (scaled with the loop, so `--speed` works);
where the recording shows the host sending a command, the replay waits for the host to send the
same kind of command, and answers it with the recorded ACK renumbered to the host's sequence
number. A recorded link loss is a link loss again; a reconnect opens the next recorded link.

The replay is the simulation, so the loop's clock never outruns it (design contract 16), at
speed 1 too (`firmware_bridge.clock.follow_simulation`): a stalled process slows the replayed
session down instead of showing the host a telemetry gap, a stale sample or a late ACK that the
recording does not have. The recording's own clock sets the pace: a late host moves the rest of the
recording on from the moment it sent its command, never from when the replay got to it, and a
command retried on one side only (the host's, or the recording's) is matched once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from pathlib import Path
from urllib.parse import unquote

import structlog

from firmware_bridge.codec import FrameDecoder, encode
from firmware_bridge.messages import Ack, Heartbeat, MsgType, Nack
from firmware_bridge.transports.base import LinkClosed, LinkError
from firmware_bridge.wirelog import CLOSE, RX, TX, Record, read_wire_log, segments

log = structlog.get_logger("firmware_bridge.replay")

SYNC_TIMEOUT_S = 5.0
# A command sent again with the same sequence number within this long is a retry of it (the
# client retries for 4 x 250 ms; its numbers, heartbeats included, take 25 s to go round).
RETRY_WINDOW_S = 2.0
_CURSORS: dict[tuple[asyncio.AbstractEventLoop, Path], list[list[Record]]] = {}


class ReplayTransport:
    def __init__(self, url: str, records: list[Record]):
        self.url = url
        self._records = [r for r in records if r.kind in (RX, TX, CLOSE)]
        self._i = 0
        self._closed = False
        loop = asyncio.get_running_loop()
        self._anchor = (loop.time(), records[0].loop_us)  # (host time, recorded loop_us)
        self._host = FrameDecoder()
        self._recorded_tx = FrameDecoder()
        self._unit = FrameDecoder()
        self._sent: deque[tuple[MsgType, int, float]] = deque()  # kind, host seq, host time
        self._sent_event = asyncio.Event()
        self._seq_map: dict[int, int] = {}  # recorded seq -> the host's seq for that command
        # Each side's commands by sequence number: kind and time first sent (to tell a retry).
        self._recorded_first: dict[int, tuple[MsgType, float]] = {}
        self._host_first: dict[int, tuple[MsgType, float]] = {}
        self.mismatches = 0

    def _due(self, r: Record) -> float:
        return self._anchor[0] + (r.loop_us - self._anchor[1]) / 1e6

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise LinkClosed(f"{self.url}: closed")
            if self._i >= len(self._records):
                await asyncio.Event().wait()  # the recording ends here: nothing more comes
            r = self._records[self._i]
            due = self._due(r)
            if due > loop.time():  # every record at its recorded pace, the host's too
                await asyncio.sleep(due - loop.time())
            if r.kind == TX:
                for frame in self._recorded_tx.feed(r.data):
                    kind = frame.msg.TYPE
                    if kind == MsgType.HEARTBEAT or _retry(self._recorded_first, frame.seq,
                                                           kind, r.loop_us / 1e6):
                        continue  # a recorded retry: the first attempt was matched
                    at = await self._match(kind, frame.seq)
                    if at > due:
                        # The host sent it later than the recording did: the rest of the
                        # recording goes on from the host's moment (not from when the replay
                        # got here, which would add the replay's own lateness).
                        self._anchor = (at, r.loop_us)
                        due = at
                self._i += 1
                continue
            if r.kind == CLOSE:
                if r.data.startswith(b"lost"):
                    self._i += 1
                    self._closed = True
                    raise LinkClosed(f"{self.url}: the recorded link was lost here "
                                     f"({r.data.decode(errors='replace')[6:]})")
                await asyncio.Event().wait()  # the host closed it: so will the replayed host
            self._i += 1
            return self._renumber(r.data)

    async def _match(self, kind: MsgType, recorded_seq: int) -> float:
        """Wait for the host to send this kind of command and map the sequence numbers: the
        host's time of sending it (now, if it never did)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + SYNC_TIMEOUT_S
        while True:
            while self._sent:
                sent_kind, seq, at = self._sent.popleft()
                if sent_kind == kind:
                    self._seq_map[recorded_seq] = seq
                    return at
            self._sent_event.clear()
            try:
                await asyncio.wait_for(self._sent_event.wait(), max(0.0, end - loop.time()))
            except TimeoutError:  # the host went another way: play on regardless, and say so
                self.mismatches += 1
                log.warning("replay_mismatch", expected=kind.name, link=self.url,
                            mismatches=self.mismatches)
                return loop.time()

    def _renumber(self, data: bytes) -> bytes:
        frames = self._unit.feed(data)
        if not any(isinstance(f.msg, Ack | Nack) and f.msg.ref_seq in self._seq_map
                   for f in frames):
            return data
        out = b""
        for f in frames:
            msg = f.msg
            if isinstance(msg, Ack | Nack) and msg.ref_seq in self._seq_map:
                # Kept, not popped: a command sent twice may be answered twice.
                msg = dataclasses.replace(msg, ref_seq=self._seq_map[msg.ref_seq])
            out += encode(msg, f.seq)
        return out

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed(f"{self.url}: closed")
        now = asyncio.get_running_loop().time()
        for frame in self._host.feed(data):
            kind = frame.msg.TYPE
            if not isinstance(frame.msg, Heartbeat) and not _retry(self._host_first, frame.seq,
                                                                   kind, now):
                self._sent.append((kind, frame.seq, now))
                self._sent_event.set()

    async def close(self) -> None:
        self._closed = True


def _retry(first: dict[int, tuple[MsgType, float]], seq: int, kind: MsgType, at: float) -> bool:
    """Whether this command is a retry of one sent before (the same number and kind, a moment
    ago); notes it as a first attempt if not. A command retried on one side only (the host's
    ACK came late in the replay, or came late when it was recorded) is matched once."""
    seen = first.get(seq)
    if seen is not None and seen[0] == kind and at - seen[1] < RETRY_WINDOW_S:
        return True
    first[seq] = (kind, at)
    return False


async def open_link(url: str) -> ReplayTransport:
    path = Path(unquote(url.partition(":")[2].removeprefix("//")))
    from firmware_bridge.clock import follow_simulation

    loop = asyncio.get_running_loop()
    follow_simulation(loop)  # the loop's clock follows the recording, never outruns it
    key = (loop, path.resolve())
    if key not in _CURSORS:
        try:
            log = read_wire_log(path)
        except (OSError, ValueError) as e:
            raise LinkError(f"{url}: {e}") from None
        _CURSORS[key] = list(segments(log))
    remaining = _CURSORS[key]
    if not remaining:
        raise LinkError(f"{url}: the recording has no more link openings to replay")
    return ReplayTransport(url, remaining.pop(0))
