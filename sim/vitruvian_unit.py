"""A simulated Vitruvian trainer behind a real GATT server (bumble), for the driver's tests.

Written from shared/vitruvian.md and shared/vitruvian_vectors.json, not from our driver: the wire
format is sim/vitruvian_wire.py, which never imports firmware_bridge.vitruvian. Underneath are
our simulated motor, two cables and lifter (sim/firmware.py, sim/physics.py, sim/lifter.py).

What the trainer does:

- GATT: the Nordic UART service with the command characteristic (write with response), the
  sample characteristic (read only, polled), reps (notify), diagnostic (read), mode (notify),
  version (read/notify). The server accepts an ATT MTU of 23 only (option `mtu`), so a bleak
  client sees 23, as on BlueZ; a 96-byte program frame arrives by long write (prepare/execute)
  and a 26-byte sample leaves by read + read blob. At MTU 23 a reps notification carries its
  first 20 bytes (the stack truncates; up/down/ranges/calibration fields survive).
- Commands: `00 00 00 00` heartbeat (counted in `heartbeats`), `0A 00 00 00` init/reset
  (releases the load; `resets`), `50 00` stop (releases the load, clears the fault light and
  the deload bits; `stops`), the 96-byte 0x04 program frame (decoded into `programs`, every
  field, and applied), the 32-byte 0x4E Echo frame (decoded into `echoes`; eccentric above 150 %
  faults the unit until a stop), the 34-byte 0x11 LED frame (`leds`). Anything else, or a frame
  of the wrong length or with a load outside 0-100 kg, goes to `rejected` and changes nothing.
- A program: the load is `target kg per cable` on each cable; the rep field at 0x04 is working
  + calibration reps (0x05); the trainer counts a rep up at the top and down at the bottom, the
  first `calibration` reps set the range; after each working rep the load moves by the
  progression (kg per rep, kept within 0-100 kg); at the BOTTOM of the last working rep (down
  == rep field) the load is released. 0xFF: unlimited. The lifter aims for the program's reps
  and, as a person does, finishes the last one's lowering and holds the handles at the bottom
  until the trainer lets the load go (at most LAST_HOLD_S) before letting go of them, so the
  trainer sees that bottom and the release is the rep target's, not the handles'.
  Mode blocks, bands and force limits are decoded and kept; the load itself is constant
  (a velocity-gated force ramp is not modelled).
- Samples (26 bytes): u32 tick (ms since boot), per cable i16 position (0.1 mm), i16 velocity
  (0.1 mm/s), u16 load (0.01 kg), u16 status (TOP_READY/BOTTOM_READY once the range is
  calibrated, RANGE_HIGH/LOW, UNLOAD_ACTIVE while a released load falls, DELOAD_WARNING,
  DELOAD_OCCURRED), 8 zero bytes.
- Reps notifications (24 bytes, or legacy 6): sent on every up or down count.
- A dropped link leaves the weight on (keep_weight=1), as a user reported.
- Advertising: every ADVERTISING_MS ms (a real trainer advertises fast; bumble's default of
  about 1 s would make every reconnect take about a second), and again at once after a drop.

Query options of `vitruvian://sim?seed=N&...` (plain ASCII digits only; anything else, or an
unknown name, is a ValueError):

    hang_read_after=K   after K answered sample reads, the next sample read never answers; the
                        ATT bearer is then stuck (as one request in flight on a real link): no
                        later request on that connection is answered either, until the link
                        drops. Once.
    read_error_at=K     the K-th sample read request (1-based) answers with a GATT error
                        (ATT 0x0E unlikely error), once; later reads answer normally.
    self_deload_at=S    S seconds after the program starts, the trainer deloads by itself: load
                        to 0, DELOAD_WARNING (0x0040) for 0.5 s, then DELOAD_OCCURRED (0x8000)
                        latched until stop, reset or a new program. Once.
    drop_link_at=S      S seconds after the program starts, the trainer drops the connection
                        (the weight stays or goes per keep_weight). Once.
    legacy_reps=0|1     1: 6-byte reps packets (u16 up @0, 2 pad, u16 down @4).
    keep_weight=0|1     what a lost link does to the load: 1 (default) keeps it, 0 releases it.
    mtu=N               the largest ATT MTU the trainer accepts (23-517, default 23).

("S seconds after the program starts": after the latest program frame, in the trainer's time.)

For tests: `_UNITS[loop][url]` is the VitruvianSim; `sim.unit` the SimUnit (`sim.unit.lifter`,
`sim.unit.physics.state`); `sim.truth_reps()` the lifter's TrueReps; `sim.rep_log` one dict per
rep the trainer counted, with the true cable data (peak velocity, mean concentric velocity, peak
power = max over the lift of sum over cables of load kg * g * velocity, load per cable).

The parts: the GATT service, the connections and the reads here; what the trainer does with
programs, reps and its own faults sim/vitruvian_trainer.py; the URL's options
sim/vitruvian_options.py; the byte layouts sim/vitruvian_wire.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

from bumble import att, gatt
from bumble.device import Connection

from sim import vitruvian_wire as w
from sim.ble_unit import peripheral
from sim.firmware import SimUnit
from sim.runner import tick_forever
from sim.vitruvian_options import TrainerOptions
from sim.vitruvian_trainer import (
    IDLE_OFF_S,
    LAST_HOLD_S,
    MAX_KG,
    MIN_REP_MM,
    STILL_M_S,
    WARNING_S,
    TrainerLogic,
)

# Names that have always been importable from here.
__all__ = ["ADVERTISING_MS", "IDLE_OFF_S", "LAST_HOLD_S", "MAX_KG", "MIN_REP_MM", "STILL_M_S",
           "WARNING_S", "TrainerOptions", "VitruvianSim", "start_vitruvian_sim"]

_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {url: VitruvianSim}

ADVERTISING_MS = 20  # the advertising interval


class VitruvianSim(TrainerLogic):
    """The trainer behind its GATT server: the service, its connections, reads and command
    writes (what the trainer does with them is TrainerLogic)."""

    def __init__(self, unit: SimUnit, address: str, options: TrainerOptions):
        self.unit = unit
        self.address = address
        self.options = options
        self.link, self.device = peripheral("vitruvian", address)
        unit.lifter.last_bottom_hold_s = LAST_HOLD_S
        self.device.gatt_server.max_mtu = options.mtu
        props = gatt.Characteristic.Properties
        perms = gatt.Characteristic.Permissions
        self.reps_char = gatt.Characteristic(w.REPS_UUID, props.NOTIFY, perms.READABLE, b"")
        command = gatt.Characteristic(w.COMMAND_UUID, props.WRITE, perms.WRITEABLE,
                                      gatt.CharacteristicValue(write=self._command))
        self.sample_char = gatt.Characteristic(
            w.SAMPLE_UUID, props.READ, perms.READABLE, gatt.CharacteristicValue(
                read=self._read_sample))
        diagnostic = gatt.Characteristic(w.DIAGNOSTIC_UUID, props.READ, perms.READABLE,
                                         gatt.CharacteristicValue(read=self._read_diagnostic))
        mode = gatt.Characteristic(w.MODE_UUID, props.NOTIFY, perms.READABLE, b"")
        version = gatt.Characteristic(w.VERSION_UUID, props.READ | props.NOTIFY, perms.READABLE,
                                      gatt.CharacteristicValue(read=self._read_other(
                                          bytes((1, 0, 0, 0)))))
        self.device.add_service(gatt.Service(w.SERVICE_UUID, [
            command, self.sample_char, self.reps_char, diagnostic, mode, version]))
        server = self.device.gatt_server
        self._server_read = server.on_att_read_request
        server.on_att_read_request = self._on_read_request  # tells a read from a read blob
        self.device.on("connection", self._on_connection)
        # What the trainer was sent (decoded) and did, for tests.
        self.programs: list[dict[str, Any]] = []
        self.echoes: list[dict[str, Any]] = []
        self.leds: list[bytes] = []
        self.rejected: list[tuple[bytes, str]] = []
        self.commands: list[tuple[float, bytes]] = []  # (trainer seconds, raw bytes)
        self.heartbeats = self.resets = self.stops = 0
        self.sample_requests = 0  # sample read requests (not blob continuations)
        self.sample_reads = 0  # ... answered with a sample
        self.read_errors = self.hung_reads = 0
        self.connections = self.disconnects = self.link_drops = 0
        self.self_deloads = self.idle_power_offs = 0
        self.releases: list[tuple[float, str]] = []  # (trainer seconds, cause)
        self.reps_sent: list[bytes] = []
        self.rep_log: list[dict[str, Any]] = []
        # Trainer state.
        self.program: dict[str, Any] | None = None  # the program in force (or the last one)
        self.active = False  # a set is on: the program's load is held, reps are counted
        self.kg = 0.0  # the load per cable the program holds now
        self.fault_light: str | None = None  # "red": cleared by stop
        self.up = self.down = 0
        self.range_top_mm = self.range_bottom_mm = 0.0
        self._default_reps = unit.lifter.set_reps
        self._cal_tops: list[float] = []
        self._cal_bottoms: list[float] = []
        self._phase = "bottom"
        self._low = self._high = 0.0
        self._low_t = self._top_t = 0.0
        self._peak_v = self._peak_p = 0.0
        self._rep_kg = 0.0
        self._unloading = False
        self._warning_until: float | None = None
        self._deloaded = False
        self._deload_due: float | None = None
        self._drop_due: float | None = None
        self._deload_spent = self._drop_spent = self._hang_spent = self._error_spent = False
        self._fresh: set[Any] = set()  # connections whose next sample read is a new request
        self._cached: dict[Any, bytes] = {}  # the sample a read blob continues
        self._stuck: dict[Any, list[asyncio.Future]] = {}  # connections with a hung request
        self._last_access = 0.0
        self._notify: list[bytes] = []

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(auto_restart=True,
                                            advertising_interval_min=ADVERTISING_MS,
                                            advertising_interval_max=ADVERTISING_MS)
        self.ticker = asyncio.get_running_loop().create_task(
            tick_forever(self.unit, self.flush), name="vitruvian-sim")

    async def close(self) -> None:
        self.ticker.cancel()
        for connection in list(self.device.connections.values()):
            with contextlib.suppress(Exception):
                await connection.disconnect()

    @property
    def now_s(self) -> float:
        return self.unit.now_us / 1e6

    def truth_reps(self) -> list[Any]:
        """The lifter's own truth: sim.lifter.TrueRep (set_index, start_s, turn_s, end_s,
        rom_mm, mean_concentric_m_s, kind), in the trainer's time."""
        return list(self.unit.lifter.truth)

    @property
    def applied_kg(self) -> tuple[float, float]:
        a, b = self.unit.physics.state
        return (a.motor_kg, b.motor_kg)

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        connection.on("disconnection", lambda reason: self._on_disconnection(connection))

    def _on_disconnection(self, connection: Connection) -> None:
        self.disconnects += 1
        for fut in self._stuck.pop(connection, []):
            fut.cancel()
        self._fresh.discard(connection)
        self._cached.pop(connection, None)
        if not self.options.keep_weight and (self.active or any(self.unit.targets)):
            self._release("link lost")

    async def _hang(self, connection: Connection) -> None:
        """No answer until the link drops (the bearer's one request in flight never ends)."""
        fut = asyncio.get_running_loop().create_future()
        self._stuck.setdefault(connection, []).append(fut)
        await fut  # cancelled at the disconnection: the request is gone with the link

    def _alive(self) -> None:
        self._last_access = self.now_s

    # ---- commands ---------------------------------------------------------------------------

    async def _command(self, connection: Connection, value: bytes) -> None:
        if connection in self._stuck:
            await self._hang(connection)
        self._alive()
        data = bytes(value)
        self.commands.append((self.now_s, data))
        if data == w.CMD_HEARTBEAT:
            self.heartbeats += 1
        elif data == w.CMD_INIT:
            self.resets += 1
            self._release("reset")
            self._clear_deload()
        elif data == w.CMD_STOP:
            self.stops += 1
            self._release("stop")
            self.fault_light = None
            self._clear_deload()
        elif data[:1] == bytes((w.OP_PROGRAM,)):
            self._program(data)
        elif data[:1] == bytes((w.OP_ECHO,)):
            self._echo(data)
        elif data[:1] == bytes((w.OP_LED,)) and len(data) == w.LED_LEN:
            self.leds.append(data)
        else:
            self.rejected.append((data, "unknown command"))

    # ---- reads ------------------------------------------------------------------------------

    def _on_read_request(self, bearer: Any, request: Any) -> None:
        if request.attribute_handle == self.sample_char.handle:
            self._fresh.add(bearer)
        self._server_read(bearer, request)

    async def _read_sample(self, connection: Connection) -> bytes:
        if connection in self._stuck:
            await self._hang(connection)
        if connection not in self._fresh:  # a read blob: the rest of the same sample
            cached = self._cached.get(connection)
            if cached is not None:
                return cached
        self._fresh.discard(connection)
        self._alive()
        self.sample_requests += 1
        o = self.options
        if o.read_error_at == self.sample_requests and not self._error_spent:
            self._error_spent = True
            self.read_errors += 1
            raise att.ATT_Error(att.ATT_UNLIKELY_ERROR_ERROR)
        if (o.hang_read_after is not None and not self._hang_spent
                and self.sample_reads >= o.hang_read_after):
            self.hung_reads += 1
            self._hang_spent = True
            await self._hang(connection)
        self.sample_reads += 1
        self._cached[connection] = value = self.sample()
        return value

    def _read_other(self, value: bytes) -> Any:
        async def read(connection: Connection) -> bytes:
            if connection in self._stuck:
                await self._hang(connection)
            self._alive()
            return value
        return read

    async def _read_diagnostic(self, connection: Connection) -> bytes:
        if connection in self._stuck:
            await self._hang(connection)
        self._alive()
        return bytes(16)


async def start_vitruvian_sim(url: str, seed: int) -> VitruvianSim:
    """The simulated trainer for this URL (one per URL and event loop), started on first use.
    Options come from the URL's query (see the module's docstring); `seed` wins over its seed."""
    from sim.options import SimOptions

    loop = asyncio.get_running_loop()
    units = _UNITS.setdefault(loop, {})
    if url not in units:
        options = TrainerOptions.from_url(url, seed)
        unit = SimOptions(seed=options.seed, cables=2, serial="VFORMSIM").build_unit()
        unit.lifter.profile.one_rm_kg *= 2  # two handles: the load on both cables together
        n = len(units) + 1
        sim = VitruvianSim(unit, f"F1:00:00:00:{n // 256:02X}:{n % 256:02X}", options)
        await sim.start()
        units[url] = sim
        from sim.ble_unit import _UNITS as PERIPHERALS

        PERIPHERALS.setdefault(loop, {})[sim.address] = sim  # reachable by BumbleBackend
    return units[url]
