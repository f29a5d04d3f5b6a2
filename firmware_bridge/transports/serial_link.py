"""`serial:PATH?baud=N`: a UART, USB-serial adapter or pty, via pyserial-asyncio-fast."""

from __future__ import annotations

from urllib.parse import parse_qs

from firmware_bridge.transports.base import LinkError, StreamTransport

DEFAULT_BAUD = 921_600


def parse_serial_url(url: str) -> tuple[str, int]:
    rest = url.removeprefix("serial:").removeprefix("//")
    path, _, query = rest.partition("?")
    if not path:
        raise LinkError(f"{url}: no device path; expected serial:/dev/ttyUSB0?baud=921600")
    params = parse_qs(query)
    baud_text = params.get("baud", [str(DEFAULT_BAUD)])[0]
    if not (baud_text.isascii() and baud_text.isdigit()) or not 0 < int(baud_text) <= 10_000_000:
        raise LinkError(f"{url}: baud must be a positive integer, got {baud_text!r}")
    return path, int(baud_text)


async def open_link(url: str) -> StreamTransport:
    import serial
    import serial_asyncio_fast

    path, baud = parse_serial_url(url)
    try:
        reader, writer = await serial_asyncio_fast.open_serial_connection(url=path, baudrate=baud)
    except (OSError, serial.SerialException) as e:
        raise LinkError(f"{url}: cannot open serial port ({e})") from None
    return StreamTransport(url, reader, writer)
