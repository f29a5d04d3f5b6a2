"""`tcp://HOST:PORT`: a unit (or the simulator) behind a TCP socket."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from firmware_bridge.transports.base import LinkError, StreamTransport


async def open_link(url: str) -> StreamTransport:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise LinkError(f"{url}: bad port ({e}); expected tcp://HOST:PORT") from None
    if not host or not port:
        raise LinkError(f"{url}: expected tcp://HOST:PORT")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
    except (OSError, TimeoutError) as e:
        raise LinkError(f"{url}: cannot connect ({e or 'timed out'})") from None
    return StreamTransport(url, reader, writer)
