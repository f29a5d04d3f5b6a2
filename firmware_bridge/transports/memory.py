"""In-process byte pipes, with the faults tests need: delay, byte-at-a-time, loss.

The python-can `virtual` bus idea: hardware-free tests that still push real bytes through
the codec.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.transports.base import LinkClosed

_EOF = b""


@dataclass
class PipeFaults:
    """Faults applied to what one end sends. `drop` sees each write and may discard it."""

    chunk_size: int = 0  # deliver in pieces of this size (1 = byte at a time); 0 = as written
    delay_s: float = 0.0
    drop: Callable[[bytes], bool] | None = None


class MemoryTransport:
    def __init__(self, url: str, inbox: asyncio.Queue[bytes], outbox: asyncio.Queue[bytes],
                 faults: PipeFaults | None = None):
        self.url = url
        self._inbox = inbox
        self._outbox = outbox
        self.faults = faults or PipeFaults()
        self._closed = False
        self.on_close: Callable[[], object] | None = None

    async def read(self) -> bytes:
        if self._closed:
            raise LinkClosed(f"{self.url}: closed")
        data = await self._inbox.get()
        if not data:
            self._closed = True
            raise LinkClosed(f"{self.url}: peer closed")
        return data

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed(f"{self.url}: closed")
        f = self.faults
        if f.drop is not None and f.drop(data):
            return
        if f.delay_s:
            await asyncio.sleep(f.delay_s)
        step = f.chunk_size or len(data)
        for i in range(0, len(data), step):
            self._outbox.put_nowait(bytes(data[i : i + step]))

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._outbox.put_nowait(_EOF)
            self._inbox.put_nowait(_EOF)
            if self.on_close is not None:
                self.on_close()


def memory_pair(url: str = "memory://") -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends: what one sends the other reads."""
    a_to_b: asyncio.Queue[bytes] = asyncio.Queue()
    b_to_a: asyncio.Queue[bytes] = asyncio.Queue()
    return MemoryTransport(url, b_to_a, a_to_b), MemoryTransport(url + "#device", a_to_b, b_to_a)
