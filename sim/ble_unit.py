"""The simulated unit behind a real GATT server (bumble), and a bleak backend that reaches it.

A bumble link in this process joins a peripheral (the unit: our GATT profile, one frame per
notification) and, per connection, a central whose GATT client serves the real `BleakClient`
through `BumbleBackend`. Only the radio is missing; GATT, ATT MTU exchange, subscriptions and
writes with response are the real thing.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import gatt
from bumble.controller import Controller
from bumble.device import Connection, Device, Peer
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from firmware_bridge.gatt import PREFERRED_MTU, RX_UUID, SERVICE_UUID, TX_UUID
from sim.firmware import SimUnit
from sim.runner import tick_forever

_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {address: BleUnit}
_central_addresses = itertools.count(1)


def peripheral(name: str, address: str) -> tuple[LocalLink, Device]:
    """A bumble device on a virtual link of its own: the unit end of a simulated radio."""
    link = LocalLink()
    controller = Controller(name, link=link, public_address=address)
    return link, Device(address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


class BleUnit:
    """A SimUnit as a GATT peripheral on a bumble link."""

    def __init__(self, unit: SimUnit, address: str):
        self.unit = unit
        self.address = address
        self.link, self.device = peripheral("unit", address)
        self.tx = gatt.Characteristic(TX_UUID, gatt.Characteristic.Properties.NOTIFY,
                                      gatt.Characteristic.Permissions.READABLE, b"")
        rx = gatt.Characteristic(
            RX_UUID,
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.Permissions.WRITEABLE, gatt.CharacteristicValue(write=self._write))
        self.device.add_service(gatt.Service(SERVICE_UUID, [rx, self.tx]))
        self.notifications = 0

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(auto_restart=True)
        self.ticker = asyncio.get_running_loop().create_task(
            tick_forever(self.unit, self.flush), name="ble-sim-unit")

    async def _write(self, connection: Connection, value: bytes) -> None:
        self.unit.receive(bytes(value))
        await self.flush()

    async def flush(self) -> None:
        unit = self.unit
        if unit.faults.due("disconnect", unit.now_us / 1e6):
            unit.log("fault_disconnect", link="ble")
            for connection in list(self.device.connections.values()):
                await connection.disconnect()
        for frame in unit.take_frames():  # one frame per notification
            if self.device.connections:
                self.notifications += 1
                await self.device.notify_subscribers(self.tx, frame)


async def start_ble_unit(url: str, params: dict[str, str]) -> tuple[str, type[BaseBleakClient]]:
    """The address of the simulated unit for this URL (one per URL and loop), and the backend."""
    from sim.options import SimOptions

    loop = asyncio.get_running_loop()
    units = _UNITS.setdefault(loop, {})
    if url not in units:
        try:
            options = SimOptions.from_query(params)
        except ValueError as e:
            from firmware_bridge.transports.base import LinkError

            raise LinkError(f"{url}: {e}") from None
        address = f"F0:00:00:00:{len(units) // 256:02X}:{len(units) % 256:02X}"
        ble = BleUnit(options.build_unit(), address)
        await ble.start()
        units[url] = ble
        units[address] = ble
    return units[url].address, BumbleBackend


def _properties(c: Any) -> list[str]:
    p = gatt.Characteristic.Properties
    names = {p.READ: "read", p.WRITE: "write", p.WRITE_WITHOUT_RESPONSE: "write-without-response",
             p.NOTIFY: "notify", p.INDICATE: "indicate"}
    return [n for flag, n in names.items() if c.properties & flag]


class BumbleBackend(BaseBleakClient):
    """A bleak backend whose radio is a bumble link to a simulated unit in this process."""

    def __init__(self, address_or_ble_device: Any, **kwargs: Any):
        super().__init__(address_or_ble_device, disconnected_callback=kwargs.get(
            "disconnected_callback"), timeout=kwargs.get("timeout", 10.0))
        self._connection: Connection | None = None
        self._peer: Peer | None = None

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection else 23

    @property
    def name(self) -> str:
        return "Halfstep simulated unit"

    @property
    def is_connected(self) -> bool:  # a property, as BleakClient.is_connected reads it
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        units = _UNITS.get(asyncio.get_running_loop(), {})
        unit: BleUnit | None = units.get(self.address)
        if unit is None:
            raise ConnectionError(f"no simulated unit at {self.address}")
        n = next(_central_addresses)
        address = f"E0:00:00:00:{n // 256:02X}:{n % 256:02X}"
        controller = Controller(f"host{n}", link=unit.link, public_address=address)
        central = Device(address=Address(address), host=Host(controller,
                                                              AsyncPipeSink(controller)))
        await central.power_on()
        connection = await central.connect(unit.device.random_address)
        connection.on("disconnection", self._on_disconnection)
        peer = Peer(connection)
        await peer.request_mtu(PREFERRED_MTU)
        await peer.discover_services()
        await peer.discover_characteristics()
        services = BleakGATTServiceCollection()
        for s in peer.services:
            bs = BleakGATTService(s, s.handle, str(s.uuid).lower())
            services.add_service(bs)
            for c in s.characteristics:
                bc = BleakGATTCharacteristic(
                    c, c.handle, str(c.uuid).lower(), _properties(c),
                    lambda: self.mtu_size - 3, bs)
                services.add_characteristic(bc)
        self.services = services
        self._connection, self._peer, self._central = connection, peer, central

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("the simulated unit needs no pairing")

    async def unpair(self) -> None:
        raise NotImplementedError("the simulated unit needs no pairing")

    def _linked(self) -> Peer:
        """The peer, as bleak has it: an operation on a lost link is a BleakError."""
        if self._connection is None or self._peer is None:
            raise BleakError(f"{self.address}: not connected")
        return self._peer

    async def _op(self, coro: Any) -> Any:
        """A GATT operation whose link drops under it fails with a BleakError, as in bleak
        (bumble cancels the pending request: a CancelledError would look like our own task
        being cancelled)."""
        try:
            return await coro
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._connection is None and task is not None and not task.cancelling():
                raise BleakError(f"{self.address}: disconnected") from None
            raise

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic,
                             **kwargs: Any) -> bytearray:
        return bytearray(await self._op(self._linked().read_value(characteristic.obj)))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor,
                                   **kwargs: Any) -> bytearray:
        raise NotImplementedError("the unit's profile has no descriptors to read")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                              response: bool) -> None:
        await self._op(self._linked().write_value(characteristic.obj, bytes(data),
                                                  with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        raise NotImplementedError("the unit's profile has no descriptors to write")

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        assert self._peer is not None
        await self._peer.subscribe(characteristic.obj, lambda v: callback(bytearray(v)))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        assert self._peer is not None
        await self._peer.unsubscribe(characteristic.obj)
