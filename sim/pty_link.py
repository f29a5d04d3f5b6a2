"""The unit's end of a pseudo-terminal pair: hosts open the slave path like any serial port.

The simulator keeps its own handle on the slave side so the master never sees a hang-up
between hosts; writes never block (a full pty buffer drops the bytes, like an unread UART).
"""

from __future__ import annotations

import asyncio
import os
import termios
import tty

from firmware_bridge.transports.base import LinkClosed


class PtyTransport:
    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave, termios.TCSANOW)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.url = f"serial:{self.path}"
        self.dropped_bytes = 0
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._master, self._on_readable)
        self._closed = False

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._queue.put_nowait(data)

    async def read(self) -> bytes:
        if self._closed:
            raise LinkClosed(f"{self.url}: closed")
        return await self._queue.get()

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed(f"{self.url}: closed")
        try:
            n = os.write(self._master, data)
        except BlockingIOError:
            n = 0
        self.dropped_bytes += len(data) - n

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
