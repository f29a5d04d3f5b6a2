"""What every link offers the device client: bytes in, bytes out, a clean close."""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable


class LinkClosed(ConnectionError):
    """The other end went away (EOF, unplugged, process died)."""


class LinkError(ConnectionError):
    """A link could not be opened; the message says which and why."""


@runtime_checkable
class Transport(Protocol):
    url: str

    async def read(self) -> bytes:
        """The next chunk of bytes (any size >= 1); raises LinkClosed at end of stream."""
        ...

    async def send(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class StreamTransport:
    """A transport over asyncio streams: TCP sockets and serial ports look the same here."""

    def __init__(self, url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.url = url
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        try:
            data = await self._reader.read(4096)
        except OSError as e:  # e.g. EIO when a pty's other side closes
            raise LinkClosed(f"{self.url}: {e}") from e
        if not data:
            raise LinkClosed(f"{self.url}: end of stream")
        return data

    async def send(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise LinkClosed(f"{self.url}: closed")
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError as e:
            raise LinkClosed(f"{self.url}: {e}") from e

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass
