"""`replay:FILE`: a recorded wire log as a device link, so the controller re-runs a session.

The unit's bytes come back at their recorded pace (scaled with the loop, so `--speed` works);
where the recording shows the host sending a command, the replay waits for the host to send the
same kind of command, and answers it with the recorded ACK renumbered to the host's sequence
number. A recorded link loss is a link loss again; a reconnect opens the next recorded link.
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
_CURSORS: dict[tuple[asyncio.AbstractEventLoop, Path], list[list[Record]]] = {}


class ReplayTransport:
    def __init__(self, url: str, records: list[Record]):
        self.url = url
        self._records = [r for r in records if r.kind in (RX, TX, CLOSE)]
        self._i = 0
        self._closed = False
        loop = asyncio.get_running_loop()
        self._anchor = (loop.time(), records[0].loop_us)
        self._host = FrameDecoder()
        self._recorded_tx = FrameDecoder()
        self._unit = FrameDecoder()
        self._sent: deque[tuple[MsgType, int]] = deque()
        self._sent_event = asyncio.Event()
        self._seq_map: dict[int, int] = {}
        self.mismatches = 0

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise LinkClosed(f"{self.url}: closed")
            if self._i >= len(self._records):
                await asyncio.Event().wait()  # the recording ends here: nothing more comes
            r = self._records[self._i]
            due = self._anchor[0] + (r.loop_us - self._anchor[1]) / 1e6
            if due > loop.time():  # every record at its recorded pace, the host's too
                await asyncio.sleep(due - loop.time())
            if r.kind == TX:
                waited = False
                for frame in self._recorded_tx.feed(r.data):
                    if frame.msg.TYPE != MsgType.HEARTBEAT:
                        await self._match(frame.msg.TYPE, frame.seq)
                        waited = True
                self._i += 1
                if waited:  # the host set the pace here: go on from its moment
                    self._anchor = (loop.time(), r.loop_us)
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

    async def _match(self, kind: MsgType, recorded_seq: int) -> None:
        """Wait for the host to send this kind of command; map the sequence numbers."""
        loop = asyncio.get_running_loop()
        end = loop.time() + SYNC_TIMEOUT_S
        while True:
            while self._sent:
                sent_kind, seq = self._sent.popleft()
                if sent_kind == kind:
                    self._seq_map[recorded_seq] = seq
                    return
            self._sent_event.clear()
            try:
                await asyncio.wait_for(self._sent_event.wait(), max(0.0, end - loop.time()))
            except TimeoutError:  # the host went another way: play on regardless, and say so
                self.mismatches += 1
                log.warning("replay_mismatch", expected=kind.name, link=self.url,
                            mismatches=self.mismatches)
                return

    def _renumber(self, data: bytes) -> bytes:
        frames = self._unit.feed(data)
        if not any(isinstance(f.msg, Ack | Nack) and f.msg.ref_seq in self._seq_map
                   for f in frames):
            return data
        out = b""
        for f in frames:
            msg = f.msg
            if isinstance(msg, Ack | Nack) and msg.ref_seq in self._seq_map:
                msg = dataclasses.replace(msg, ref_seq=self._seq_map.pop(msg.ref_seq))
            out += encode(msg, f.seq)
        return out

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed(f"{self.url}: closed")
        for frame in self._host.feed(data):
            if not isinstance(frame.msg, Heartbeat):
                self._sent.append((frame.msg.TYPE, frame.seq))
                self._sent_event.set()

    async def close(self) -> None:
        self._closed = True


async def open_link(url: str) -> ReplayTransport:
    path = Path(unquote(url.partition(":")[2].removeprefix("//")))
    loop = asyncio.get_running_loop()
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
