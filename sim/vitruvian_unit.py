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
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bumble import att, gatt
from bumble.device import Connection

from sim import vitruvian_wire as w
from sim.ble_unit import peripheral
from sim.firmware import SimUnit
from sim.physics import G
from sim.runner import tick_forever

_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {url: VitruvianSim}

MIN_REP_MM = 150.0  # a rise (and fall) this long is a rep; picking the handles up is not
STILL_M_S = 0.005  # slower than this the cable has turned
WARNING_S = 0.5  # a self deload shows DELOAD_WARNING this long before DELOAD_OCCURRED
IDLE_OFF_S = 15 * 60  # the unit powers off (releases) after 15 minutes without GATT access
MAX_KG = 100.0
LAST_HOLD_S = 1.5  # at most this long the lifter holds the handles at the last rep's bottom
ADVERTISING_MS = 20  # the advertising interval

_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class TrainerOptions:
    seed: int = 1
    hang_read_after: int | None = None
    read_error_at: int | None = None
    self_deload_at: int | None = None
    drop_link_at: int | None = None
    legacy_reps: bool = False
    keep_weight: bool = True
    mtu: int = 23

    @classmethod
    def from_url(cls, url: str, seed: int | None = None) -> TrainerOptions:
        """The options in a `vitruvian://sim?...` URL; `seed`, if given, wins over the URL's."""
        values: dict[str, int] = {}
        for name, text in parse_qsl(urlsplit(url).query, keep_blank_values=True):
            if name not in cls.__dataclass_fields__:
                raise ValueError(f"{url}: unknown option {name!r} (allowed: "
                                 f"{', '.join(cls.__dataclass_fields__)})")
            if name in values:
                raise ValueError(f"{url}: option {name!r} given twice")
            if not _DIGITS.fullmatch(text):
                raise ValueError(f"{url}: {name}={text!r} is not a whole number "
                                 "(ASCII digits 0-9)")
            values[name] = int(text)
        for flag in ("legacy_reps", "keep_weight"):
            if values.get(flag, 0) not in (0, 1):
                raise ValueError(f"{url}: {flag} must be 0 or 1")
        if "read_error_at" in values and values["read_error_at"] < 1:
            raise ValueError(f"{url}: read_error_at counts from 1")
        if not 23 <= values.get("mtu", 23) <= 517:
            raise ValueError(f"{url}: mtu allowed 23-517")
        if seed is not None:
            values["seed"] = seed
        kw: dict[str, Any] = dict(values)
        for flag in ("legacy_reps", "keep_weight"):
            if flag in kw:
                kw[flag] = bool(kw[flag])
        return cls(**kw)


class VitruvianSim:
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

    def _program(self, data: bytes) -> None:
        try:
            p = w.decode_program(data)
        except w.WireError as e:
            self.rejected.append((data, str(e)))
            return
        kg = p["target_kg_per_cable"]
        if not (math.isfinite(kg) and 0.0 <= kg <= MAX_KG):
            self.rejected.append((data, f"load {kg} kg per cable"))
            return
        if not math.isfinite(p["progression_kg_per_rep"]):
            self.rejected.append((data, "progression not a number"))
            return
        self.programs.append(p)
        if self.fault_light is not None:
            self.rejected.append((data, f"{self.fault_light} fault light: stop first"))
            return
        self._start_set(p, kg, p["rep_field"])

    def _echo(self, data: bytes) -> None:
        try:
            e = w.decode_echo(data)
        except w.WireError as err:
            self.rejected.append((data, str(err)))
            return
        self.echoes.append(e)
        if e["eccentric_pct"] > 150:
            self.fault_light = "red"
            self._release("echo eccentric above 150%")
            return
        # The isokinetic load is not modelled: the set runs with no load, counting reps.
        total = w.UNLIMITED if e["target_reps"] is None else e["warmup_reps"] + e["target_reps"]
        self._start_set({**e, "calibration_reps": e["warmup_reps"], "rep_field": total,
                         "progression_kg_per_rep": 0.0}, 0.0, total)

    def _start_set(self, p: dict[str, Any], kg: float, rep_field: int) -> None:
        self.program = p
        self.active = True
        self.kg = kg
        self.up = self.down = 0
        self.range_top_mm = self.range_bottom_mm = 0.0
        self._cal_tops, self._cal_bottoms = [], []
        self._phase = "bottom"
        a = self.unit.physics.state[0]
        self._low, self._low_t = a.position_mm, self.now_s
        self._clear_deload()
        self._set_load(kg)
        lifter = self.unit.lifter
        lifter.set_reps = self._default_reps if rep_field == w.UNLIMITED else (rep_field,)
        now = self.now_s
        o = self.options
        if o.self_deload_at is not None and not self._deload_spent:
            self._deload_due = now + o.self_deload_at
        if o.drop_link_at is not None and not self._drop_spent:
            self._drop_due = now + o.drop_link_at

    def _set_load(self, kg: float) -> None:
        self.unit.targets = [kg * 2, kg * 2]  # the SimUnit counts half kilograms
        self.unit._low_tension_us = 0

    def _release(self, cause: str) -> None:
        self.active = False
        self.kg = 0.0
        if any(self.unit.targets) or any(c.motor_kg > 0 for c in self.unit.physics.state):
            self._unloading = True
        self.unit.targets = [0, 0]
        self.releases.append((self.now_s, cause))

    def _clear_deload(self) -> None:
        self._deloaded = False
        self._warning_until = None

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

    def status(self) -> int:
        bits = 0
        now = self.now_s
        pos = self.unit.physics.state[0].position_mm
        if self.active and self.range_top_mm > self.range_bottom_mm:
            span = self.range_top_mm - self.range_bottom_mm
            band = max(30.0, 0.1 * span)
            safety = float(self.program.get("safety_mm_max", 80)) if self.program else 80.0
            if pos >= self.range_top_mm - band:
                bits |= w.TOP_READY
            if pos <= self.range_bottom_mm + band:
                bits |= w.BOTTOM_READY
            if pos > self.range_top_mm + safety:
                bits |= w.RANGE_HIGH
            if pos < self.range_bottom_mm - safety:
                bits |= w.RANGE_LOW
        if self._unloading:
            bits |= w.UNLOAD_ACTIVE
        if self._warning_until is not None and now < self._warning_until:
            bits |= w.DELOAD_WARNING
        elif self._deloaded:
            bits |= w.DELOAD_OCCURRED
        return bits

    def sample(self) -> bytes:
        """The 26-byte sample of the trainer's state now."""
        cables = [(c.position_mm, c.velocity_m_s * 1000.0, c.motor_kg)
                  for c in self.unit.physics.state]
        return w.encode_sample(self.unit.now_us // 1000, cables, self.status())

    # ---- the trainer's control loop (after every tick) ---------------------------------------

    async def flush(self) -> None:
        u = self.unit
        u.take_frames()  # our own protocol's output has no reader here
        now = self.now_s
        if self.active and not any(u.targets) and self.kg > 0:
            self._release("handles released")  # the unit underneath let go of the load
        if self.active:
            self._track(now)
        if self._unloading and not any(c.motor_kg > 0 for c in u.physics.state):
            self._unloading = False
        if self._deload_due is not None and now >= self._deload_due:
            self._deload_due, self._deload_spent = None, True
            self.self_deloads += 1
            self._release("self deload")
            self._deloaded = True
            self._warning_until = now + WARNING_S
        if now - self._last_access >= IDLE_OFF_S and (self.active or any(u.targets)):
            self.idle_power_offs += 1
            self._release("idle power off")
        while self._notify:
            payload = self._notify.pop(0)
            self.reps_sent.append(payload)
            if self.device.connections:
                await self.device.notify_subscribers(self.reps_char, payload)
        if self._drop_due is not None and now >= self._drop_due:
            self._drop_due, self._drop_spent = None, True
            self.link_drops += 1
            for connection in list(self.device.connections.values()):
                with contextlib.suppress(Exception):
                    await connection.disconnect()

    def _track(self, now: float) -> None:
        """Count reps from cable A: up when it turns at the top, down when it stops at the
        bottom; take the true concentric data of each rep on the way."""
        cables = self.unit.physics.state
        a = cables[0]
        pos, vel = a.position_mm, a.velocity_m_s
        if self._phase == "bottom":
            if pos <= self._low or abs(vel) <= STILL_M_S:  # the lowest point, or a rest
                self._low, self._low_t = pos, now
            elif pos - self._low >= MIN_REP_MM:
                self._phase, self._high = "rising", pos
                self._peak_v = self._peak_p = 0.0
                self._rep_kg = self.kg
        if self._phase == "rising":
            self._high = max(self._high, pos)
            self._peak_v = max(self._peak_v, vel)
            self._peak_p = max(self._peak_p, sum(c.motor_kg * G * c.velocity_m_s
                                                 for c in cables))
            if vel <= STILL_M_S:
                self._phase, self._top_t = "falling", now
                self.up += 1
                self._send_reps()
        elif self._phase == "falling":
            if vel >= -STILL_M_S and self._high - pos >= MIN_REP_MM:
                self._bottom(now, pos)

    def _bottom(self, now: float, pos: float) -> None:
        p = self.program
        assert p is not None
        self.down += 1
        cal = int(p["calibration_reps"])
        rom = self._high - self._low
        self.rep_log.append({
            "rep": self.down, "calibration": self.down <= cal,
            "working": max(0, self.down - cal), "start_s": self._low_t, "top_s": self._top_t,
            "bottom_s": now, "rom_mm": rom, "top_mm": self._high, "bottom_mm": pos,
            "mean_concentric_m_s": rom / 1000 / max(self._top_t - self._low_t, 1e-9),
            "peak_velocity_m_s": self._peak_v, "peak_power_w": self._peak_p,
            "load_kg_per_cable": self._rep_kg})
        if self.down <= cal:
            self._cal_tops.append(self._high)
            self._cal_bottoms.append(pos)
            if self.down == cal:
                self.range_top_mm = sum(self._cal_tops) / cal
                self.range_bottom_mm = sum(self._cal_bottoms) / cal
        self._phase, self._low, self._low_t = "bottom", pos, now
        rep_field = int(p["rep_field"])
        if rep_field != w.UNLIMITED and self.down >= rep_field:
            self._send_reps()
            self._release("rep target")
            return
        if self.down > cal and p["progression_kg_per_rep"] and self.kg > 0:
            self.kg = min(MAX_KG, max(0.0, self.kg + float(p["progression_kg_per_rep"])))
            self._set_load(self.kg)
        self._send_reps()

    def _send_reps(self) -> None:
        p = self.program or {}
        if self.options.legacy_reps:
            payload = w.encode_legacy_reps(self.up, self.down)
        else:
            cal = int(p.get("calibration_reps", 3))
            rep_field = int(p.get("rep_field", w.UNLIMITED))
            total = 0 if rep_field == w.UNLIMITED else rep_field - cal
            payload = w.encode_reps(self.up, self.down, self.range_top_mm, self.range_bottom_mm,
                                    min(self.down, cal), cal, max(0, self.down - cal), total)
        self._notify.append(payload)


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
