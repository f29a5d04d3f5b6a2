"""A simulated Vitruvian trainer behind a real GATT server (bumble), for the driver's tests.

It speaks what shared/vitruvian.md documents: commands written to the Nordic UART RX
characteristic (program frame, stop, init, heartbeat), a sample characteristic that is only
read (polled), and rep notifications in which the first 3 reps are calibration. Underneath it is
our simulated motor, cable and lifter, on two cables.
"""

from __future__ import annotations

import asyncio
import struct
import weakref

from bumble import gatt
from bumble.device import Connection

from firmware_bridge import vitruvian as v
from sim.ble_unit import peripheral
from sim.firmware import SimUnit
from sim.runner import tick_forever

_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {key: VitruvianSim}


class VitruvianSim:
    def __init__(self, unit: SimUnit, address: str):
        self.unit = unit
        self.address = address
        self.link, self.device = peripheral("vitruvian", address)
        props = gatt.Characteristic.Properties
        perms = gatt.Characteristic.Permissions
        self.reps_char = gatt.Characteristic(v.REPS_UUID, props.NOTIFY, perms.READABLE, b"")
        command = gatt.Characteristic(v.COMMAND_UUID, props.WRITE, perms.WRITEABLE,
                                      gatt.CharacteristicValue(write=self._command))
        sample = gatt.Characteristic(v.SAMPLE_UUID, props.READ, perms.READABLE,
                                     gatt.CharacteristicValue(read=self._sample))
        self.device.add_service(gatt.Service(v.SERVICE_UUID, [command, sample, self.reps_char]))
        self.programs: list[bytes] = []  # every program frame received, for tests
        self.stops = 0
        self._reps_seen = 0

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(auto_restart=True)
        u = self.unit
        u.lease_held = True  # the Vitruvian has no lease; its keep-alive renews this one
        self.ticker = asyncio.get_running_loop().create_task(
            tick_forever(u, self.flush), name="vitruvian-sim")

    def _alive(self) -> None:
        """Any access keeps the trainer awake (it has no lease; our unit underneath has)."""
        self.unit.lease_held, self.unit.lease_lost = True, False
        self.unit.renew_lease()

    async def _command(self, connection: Connection, value: bytes) -> None:
        self._alive()
        data = bytes(value)
        if data[:2] == v.STOP or data[:4] == v.INIT:
            self.stops += data[:2] == v.STOP
            self.unit.targets = [0, 0]
        elif len(data) == 96 and data[0] == 4:
            self.programs.append(data)
            load = struct.unpack_from("<f", data, 0x58)[0]
            reps = data[0x04]
            self.unit.targets = [round(load * 2)] * 2
            self.unit.faults_bits = 0
            if reps != v.UNLIMITED:  # the person does the calibration reps and the work
                self.unit.lifter.set_reps = (reps - 1,)

    def _sample(self, connection: Connection) -> bytes:
        self._alive()
        a, b = self.unit.physics.state
        return struct.pack("<IhhHhhHH", self.unit.now_us // 1000 & 0xFFFFFFFF,
                           round(a.position_mm * 10), round(a.velocity_m_s * 1000),
                           round(a.motor_kg * 100), round(b.position_mm * 10),
                           round(b.velocity_m_s * 1000), round(b.motor_kg * 100), 0)

    async def flush(self) -> None:
        self.unit.take_frames()  # our own protocol's output has no reader here
        truth = self.unit.lifter.truth
        if len(truth) != self._reps_seen and self.device.connections:
            self._reps_seen = len(truth)
            n = sum(1 for t in truth if t.set_index == truth[-1].set_index)
            cal = min(n, v.CALIBRATION_REPS)
            payload = struct.pack("<iiffhhhh", n, n, 600.0, 90.0, cal, v.CALIBRATION_REPS,
                                  max(0, n - v.CALIBRATION_REPS), 0)
            await self.device.notify_subscribers(self.reps_char, payload)


async def start_vitruvian_sim(key: str, seed: int) -> VitruvianSim:
    from sim.options import SimOptions

    loop = asyncio.get_running_loop()
    units = _UNITS.setdefault(loop, {})
    if key not in units:
        unit = SimOptions(seed=seed, cables=2, serial="VFORMSIM", lease_ms=5000).build_unit()
        unit.lifter.profile.one_rm_kg *= 2  # two handles: the load on both cables together
        sim = VitruvianSim(unit, f"F1:00:00:00:00:{len(units) + 1:02X}")
        await sim.start()
        units[key] = sim
        from sim.ble_unit import _UNITS as PERIPHERALS

        PERIPHERALS.setdefault(loop, {})[sim.address] = sim  # reachable by BumbleBackend
    return units[key]
