"""`ble://ADDRESS` or `ble://NAME`: a unit over Bluetooth LE, through bleak.

One protocol frame per GATT write (with response) and per notification; one GATT operation in
flight at a time (the main cause of lost notifications in existing apps is overlapping
operations). `ble://sim?seed=1&...` reaches the simulated unit behind an in-process GATT
server (bumble), still through the real `BleakClient`.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

from firmware_bridge.gatt import PREFERRED_MTU, RX_UUID, TX_UUID
from firmware_bridge.transports.base import LinkClosed, LinkError


class BleTransport:
    def __init__(self, url: str, client: Any):
        self.url = url
        self.client = client
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1024)
        self._gatt = asyncio.Lock()  # one GATT operation in flight at a time
        self.notifications = 0
        self.dropped = 0

    def on_notify(self, _char: Any, data: bytearray) -> None:
        self.notifications += 1
        if self._inbox.full():
            self._inbox.get_nowait()
            self.dropped += 1
        self._inbox.put_nowait(bytes(data))

    def on_disconnect(self, _client: Any = None) -> None:
        self._inbox.put_nowait(None)

    async def read(self) -> bytes:
        data = await self._inbox.get()
        if data is None:
            self._inbox.put_nowait(None)
            raise LinkClosed(f"{self.url}: disconnected")
        return data

    async def send(self, data: bytes) -> None:
        if not self.client.is_connected:
            raise LinkClosed(f"{self.url}: disconnected")
        async with self._gatt:
            try:
                await self.client.write_gatt_char(RX_UUID, data, response=True)
            except Exception as e:  # bleak raises its own and the OS's errors here
                raise LinkClosed(f"{self.url}: write failed ({e})") from e

    async def close(self) -> None:
        if self.client.is_connected:
            async with self._gatt:
                try:  # a unit that never confirms must not hold the program open
                    await asyncio.wait_for(self.client.disconnect(), 3.0)
                except Exception:  # already gone, or gone silent: nothing left to close
                    pass
        self.on_disconnect()


async def open_link(url: str) -> BleTransport:
    from bleak import BleakClient, BleakScanner

    parts = urlsplit(url)
    target = parts.netloc or parts.path.lstrip("/")
    if not target:
        raise LinkError(f"{url}: expected ble://ADDRESS, ble://NAME or ble://sim?seed=1")
    transport: BleTransport

    def disconnected(client: Any) -> None:
        transport.on_disconnect(client)

    if target == "sim":  # in-process: the real BleakClient, a bumble link instead of a radio
        from firmware_bridge.simulators import simulator

        start_ble_unit = simulator("ble", url)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        address, backend = await start_ble_unit(url, params)
        client = BleakClient(address, disconnected_callback=disconnected, backend=backend,
                             timeout=10.0)
        transport = BleTransport(url, client)
        try:
            await client.connect()
        except Exception as e:
            raise LinkError(f"{url}: cannot connect ({e})") from None
    else:  # a real unit: find it, then connect with retries (stale BlueZ state, flaky links)
        from bleak_retry_connector import establish_connection

        try:
            device = (await BleakScanner.find_device_by_address(target, timeout=10.0)
                      if ":" in target else
                      await BleakScanner.find_device_by_name(target, timeout=10.0))
        except Exception as e:
            raise LinkError(f"{url}: Bluetooth is not available here ({e})") from None
        if device is None:
            raise LinkError(f"{url}: no unit {target!r} found in 10 s")
        transport = BleTransport(url, None)
        try:
            client = await establish_connection(BleakClient, device, device.name or target,
                                                disconnected_callback=disconnected,
                                                max_attempts=3)
        except Exception as e:
            raise LinkError(f"{url}: cannot connect ({e})") from None
        transport.client = client
    try:
        await client.start_notify(TX_UUID, transport.on_notify)
    except Exception as e:
        raise LinkError(f"{url}: cannot subscribe to the unit's notifications ({e})") from None
    if client.mtu_size < PREFERRED_MTU - 3:
        await transport.close()
        raise LinkError(f"{url}: ATT MTU {client.mtu_size} is too small for whole frames "
                        f"(need {PREFERRED_MTU})")
    return transport
