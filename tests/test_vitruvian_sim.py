"""The simulated Vitruvian trainer (sim/vitruvian_unit.py), checked against the doc
(shared/vitruvian.md, shared/vitruvian_vectors.json) and over a real GATT link (bumble) through
a raw BleakClient: never through our driver, which these tests must not trust."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import struct
from pathlib import Path

import pytest
from bleak import BleakClient

from sim import vitruvian_wire as w
from sim.ble_unit import BumbleBackend
from sim.vitruvian_unit import _UNITS, TrainerOptions, start_vitruvian_sim

VECTORS = Path(__file__).resolve().parent / "data" / "vitruvian_vectors.json"
MODE_TABLE = {  # the doc's table, typed in again here
    0: ((0, 20, 3.0), (75, 600, 50.0), (-1300, -1200, 100.0), (-260, -110, 0.0)),
    1: ((50, 450, 10.0), (500, 600, 50.0), (-700, -550, 1.0), (-100, -50, 1.0)),
    2: ((250, 350, 7.0), (450, 600, 50.0), (-900, -700, 70.0), (-100, -50, 14.0)),
}
ECHO_TABLE = {0: (1.0, 50.0), 1: (1.25, 40.0), 2: (1.667, 30.0), 3: (3.333, 15.0)}


def vectors() -> dict:
    return json.loads(VECTORS.read_text())  # in the repository: missing is a failure


def program(kg: float, working: int | None, progression: float = 0.0) -> bytes:
    """An Old School program frame: the doc's layout, by hand (not our driver's encoder)."""
    frame = bytearray(96)
    struct.pack_into("<IBBB", frame, 0, 4, 0xFF if working is None else working + 3, 3, 3)
    struct.pack_into("<f", frame, 0x08, 5.0)
    for at in (0x0C, 0x1C):
        struct.pack_into("<ffHHHH", frame, at, 5.0, 0.0, 250, 250, 200, 30)
    struct.pack_into("<HH", frame, 0x2C, 250, 80)
    for i, block in enumerate(MODE_TABLE[0]):
        struct.pack_into("<hhf", frame, 0x30 + 8 * i, *block)
    struct.pack_into("<ffff", frame, 0x50, 0.0, kg + 10.0, kg, progression)
    return bytes(frame)


async def wait_until(pred, timeout=10.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.02)


class Link:
    """A raw BleakClient on the simulated trainer."""

    def __init__(self, url: str, seed: int = 1):
        self.url, self.seed = url, seed
        self.dropped = asyncio.Event()
        self.reps: list[bytes] = []

    async def open(self) -> Link:
        self.sim = await start_vitruvian_sim(self.url, self.seed)
        self.dropped = asyncio.Event()
        self.client = BleakClient(self.sim.address, backend=BumbleBackend, timeout=10.0,
                                  disconnected_callback=lambda _c: self.dropped.set())
        await self.client.connect()
        await self.client.start_notify(w.REPS_UUID, lambda _c, d: self.reps.append(bytes(d)))
        return self

    async def write(self, data: bytes, timeout: float = 3.0) -> None:
        await asyncio.wait_for(self.client.write_gatt_char(w.COMMAND_UUID, data, response=True),
                               timeout)

    async def sample(self, timeout: float = 3.0) -> bytes:
        return bytes(await asyncio.wait_for(self.client.read_gatt_char(w.SAMPLE_UUID), timeout))

    async def close(self) -> None:
        if self.client.is_connected:
            await asyncio.wait_for(self.client.disconnect(), 3.0)
        await self.sim.close()


# ---- the wire, from the doc -----------------------------------------------------------------


def test_every_program_vector_decodes_to_its_inputs():
    vs = vectors()["program"]
    assert len(vs) >= 20
    for v in vs:
        p = w.decode_program(bytes.fromhex(v["frame_hex"]))
        assert p["mode"] == v["mode"], v
        assert p["working_reps"] == (None if v.get("just_lift") else v["working_reps"]), v
        assert p["unlimited"] == bool(v.get("just_lift")), v
        assert p["target_kg_per_cable"] == v["per_cable_kg"], v
        assert p["progression_kg_per_rep"] == v["progression_kg_per_rep"], v
        # The documented constants of every frame.
        assert (p["calibration_reps"], p["adaptive_reps"], p["seed_range"]) == (3, 3, 5.0)
        for band in (p["top_band"], p["bottom_band"]):
            assert band == {"threshold": 5.0, "drift": 0.0, "inner_mm_per_m": 250,
                            "inner_mm_max": 250, "outer_mm_per_m": 200, "outer_mm_max": 30}
        assert (p["safety_mm_per_m"], p["safety_mm_max"]) == (250, 80)
        blocks = tuple(tuple(b.values()) for b in p["blocks"].values())
        assert blocks == MODE_TABLE[v["mode"]]
        assert p["force_min_kg"] == 0.0
        assert p["force_max_kg"] == v["per_cable_kg"] + 10
        if not v.get("just_lift"):
            assert p["rep_field"] == v["working_reps"] + 3


def test_every_echo_vector_decodes_to_its_inputs():
    for v in vectors()["echo"]:
        e = w.decode_echo(bytes.fromhex(v["frame_hex"]))
        assert e["level"] == v["level"] and e["eccentric_pct"] == v["eccentric_pct"], v
        assert e["target_reps"] == v["target_reps"] and e["warmup_reps"] == v["warmup_reps"]
        gain, cap = ECHO_TABLE[v["level"]]
        assert math.isclose(e["gain"], gain, rel_tol=1e-6) and e["cap"] == cap
        assert e["concentric_pct"] == 50 and e["spotter"] == 0
        assert math.isclose(e["f12"], 0.1, rel_tol=1e-6) and e["f24"] == 0.0
        assert e["negative_limit"] == -100.0


def test_wrong_frames_are_refused():
    good = program(10, 5)
    with pytest.raises(w.WireError):
        w.decode_program(good[:95])
    with pytest.raises(w.WireError):
        w.decode_program(b"\x05" + good[1:])
    with pytest.raises(w.WireError):
        w.decode_echo(bytes(31))


def test_sample_and_reps_layouts():
    s = w.encode_sample(123456, [(100.04, 832.0, 12.5), (99.0, -20.5, 12.51)], 0x8041)
    assert len(s) == 26
    assert struct.unpack_from("<IhhHhhHH", s) == (123456, 1000, 8320, 1250, 990, -205, 1251,
                                                   0x8041)
    d = w.decode_sample(s)
    assert d["velocity_mm_s"] == (832.0, -20.5) and d["status"] == 0x8041
    r = w.encode_reps(5, 4, 600.0, 90.0, 3, 3, 1, 10)
    assert len(r) == 24 and struct.unpack("<iiffhhhh", r) == (5, 4, 600.0, 90.0, 3, 3, 1, 10)
    assert w.encode_legacy_reps(5, 4) == bytes((5, 0, 0, 0, 4, 0))


def test_query_options_are_plain_digits_and_known_names():
    o = TrainerOptions.from_url("vitruvian://sim?seed=4&hang_read_after=10&read_error_at=3"
                                "&self_deload_at=5&drop_link_at=7&legacy_reps=1&keep_weight=0")
    assert (o.seed, o.hang_read_after, o.read_error_at, o.self_deload_at, o.drop_link_at,
            o.legacy_reps, o.keep_weight, o.mtu) == (4, 10, 3, 5, 7, True, False, 23)
    assert TrainerOptions.from_url("vitruvian://sim").keep_weight is True
    assert TrainerOptions.from_url("vitruvian://sim?seed=4", seed=9).seed == 9
    for bad in ("seed=\uff11", "seed=1.5", "seed=-1", "seed=", "seed=1_0", "seed=+1",
                "drop_link_at=2.5", "keep_weight=2", "legacy_reps=yes", "bogus=1",
                "seed=1&seed=2", "read_error_at=0", "mtu=22", "hang_read_after=%D9%A1"):
        with pytest.raises(ValueError):
            TrainerOptions.from_url(f"vitruvian://sim?{bad}")


# ---- over the real GATT link ----------------------------------------------------------------


async def test_mtu_23_commands_and_counters():
    link = await Link("vitruvian://sim?seed=2").open()
    sim = link.sim
    try:
        assert _UNITS[asyncio.get_running_loop()]["vitruvian://sim?seed=2"] is sim
        assert link.client.mtu_size == 23  # as bleak on BlueZ reports it
        await wait_until(lambda: sim.unit.lifter.held)  # loose handles: the unit deloads
        frame = program(10.0, 5)
        await link.write(frame)  # 96 bytes: only by long write (prepare/execute) at MTU 23
        assert sim.programs[-1]["raw"] == frame and sim.programs[-1]["working_reps"] == 5
        assert sim.unit.targets == [20.0, 20.0] and sim.active  # 10 kg per cable
        assert len(await link.sample()) == 26  # read + read blob at MTU 23
        await link.write(w.CMD_HEARTBEAT)
        await link.write(w.CMD_HEARTBEAT)
        assert sim.heartbeats == 2
        await link.write(w.CMD_INIT)
        assert sim.resets == 1 and not sim.active and sim.unit.targets == [0, 0]
        await link.write(program(5.0, None))
        assert sim.unit.targets == [10.0, 10.0] and sim.unit.lifter.set_reps == (10,)
        await link.write(w.CMD_STOP)
        assert sim.stops == 1 and sim.unit.targets == [0, 0]
        assert [c for _, c in sim.releases] == ["reset", "stop"]
        await link.write(bytes((0x11,)) + bytes(33))
        assert len(sim.leds) == 1
        echo = bytes.fromhex(vectors()["echo"][1]["frame_hex"])
        await link.write(echo)
        assert sim.echoes[-1]["eccentric_pct"] == 75
        n = len(sim.programs)
        await link.write(program(101.0, 5))  # above 100 kg per cable: refused, nothing applied
        await link.write(program(10.0, 5)[:95])
        await link.write(b"\x99\x00")
        assert len(sim.programs) == n and len(sim.rejected) == 3
        assert sim.unit.targets == [0, 0]
        # Echo above 150 % faults the unit (red light): programs are refused until a stop.
        await link.write(struct.pack("<IBBHHHfffff", 0x4E, 3, 10, 0, 151, 50, 0.1, 1.0, 50.0,
                                     0.0, -100.0))
        await link.write(program(10.0, 5))
        assert sim.fault_light == "red" and sim.unit.targets == [0, 0]
        await link.write(w.CMD_STOP)
        await link.write(program(10.0, 5))
        assert sim.fault_light is None and sim.unit.targets == [20.0, 20.0]
    finally:
        await link.close()


async def test_larger_mtu_on_request():
    link = await Link("vitruvian://sim?seed=2&mtu=247").open()
    try:
        assert link.client.mtu_size == 247
        await link.write(program(10.0, 5))
        assert link.sim.programs[-1]["target_kg_per_cable"] == 10.0
        # A trainer advertises fast (bumble's default, about 1 s, would slow every reconnect).
        device = link.sim.device
        assert device.advertising_interval_min == device.advertising_interval_max == 20
    finally:
        await link.close()


async def test_a_set_samples_reps_target_release_and_truth():
    """2 working reps after the 3 calibration reps, with a progression: the trainer counts up
    at the top and down at the bottom, holds the load until the bottom of the last working rep
    (down == 5), then releases; samples carry velocity in 0.1 mm/s."""
    link = await Link("vitruvian://sim?seed=5").open()
    sim = link.sim
    try:
        await wait_until(lambda: sim.unit.lifter.held)
        await link.write(program(10.0, 2, progression=2.5))
        assert sim.unit.lifter.set_reps == (5,)  # the lifter does the program's reps
        samples = []
        while not any(c == "rep target" for _, c in sim.releases):
            samples.append(w.decode_sample(await link.sample()))
            assert len(samples) < 3000, "no release at the rep target"
            await asyncio.sleep(0.02)
        assert sim.up == sim.down == 5
        at, _ = next(r for r in sim.releases if r[1] == "rep target")
        assert at == sim.rep_log[-1]["bottom_s"]  # at the bottom of the last working rep
        # The person finished that lowering and let go only after the trainer released.
        assert [c for _, c in sim.releases] == ["rep target"]
        # ... a moment after the trainer saw the bar stop (on a busy machine, a tick or two).
        await wait_until(lambda: len(sim.truth_reps()) == 5, timeout=5.0)
        assert [r["load_kg_per_cable"] for r in sim.rep_log] == [10.0, 10.0, 10.0, 10.0, 12.5]
        assert [r["working"] for r in sim.rep_log] == [0, 0, 0, 1, 2]
        # The load goes: samples show 0 kg on both cables, and the reps said down == 5.
        await wait_until(lambda: max(sim.applied_kg) == 0.0, 3)
        last = w.decode_sample(await link.sample())
        assert last["load_kg"] == (0.0, 0.0)
        await wait_until(lambda: link.reps and struct.unpack_from("<i", link.reps[-1], 4)[0] == 5)
        note = link.reps[-1]
        assert len(note) in (20, 24)  # 24 bytes, cut to MTU - 3 = 20 by the stack at MTU 23
        up, down, top, bottom, cal_done, cal_total = struct.unpack_from("<iiffhh", note)
        assert (up, down, cal_done, cal_total) == (5, 5, 3, 3) and top > bottom > 0
        ups = [struct.unpack_from("<i", n)[0] for n in link.reps]
        assert ups == sorted(ups) and ups[-1] == 5
        # Velocity is in 0.1 mm/s: it matches the rate of change of the position.
        moving = [(a, b) for a, b in itertools.pairwise(samples)
                  if b["tick"] > a["tick"] and abs(a["velocity_mm_s"][0]) > 100]
        assert len(moving) > 20
        err = total = 0.0
        for a, b in moving:
            for i in (0, 1):
                rate = (b["position_mm"][i] - a["position_mm"][i]) / (b["tick"] - a["tick"]) * 1e3
                mean = (a["velocity_mm_s"][i] + b["velocity_mm_s"][i]) / 2
                err += abs(rate - mean)
                total += abs(mean)
        assert err / total < 0.1
        assert max(s["status"] & w.BOTTOM_READY for s in samples) and max(
            s["status"] & w.TOP_READY for s in samples)
        # The truth the driver's measurements can be checked against.
        truth = [t for t in sim.truth_reps() if t.set_index == 0]
        assert len(truth) == 5
        for t, r in zip(truth, sim.rep_log, strict=True):
            assert r["mean_concentric_m_s"] == pytest.approx(t.mean_concentric_m_s, rel=0.05)
            assert r["peak_velocity_m_s"] == pytest.approx(math.pi / 2 * t.mean_concentric_m_s,
                                                           rel=0.05)
            assert r["peak_power_w"] == pytest.approx(
                2 * r["load_kg_per_cable"] * 9.80665 * r["peak_velocity_m_s"], rel=0.1)
    finally:
        await link.close()


async def test_read_error_at():
    link = await Link("vitruvian://sim?seed=1&read_error_at=3").open()
    try:
        assert len(await link.sample()) == 26
        assert len(await link.sample()) == 26
        with pytest.raises(Exception) as e:
            await link.sample()
        assert not isinstance(e.value, TimeoutError)
        assert link.sim.read_errors == 1
        for _ in range(3):  # once: polling goes on
            assert len(await link.sample()) == 26
        assert link.client.is_connected
    finally:
        await link.close()


async def test_hang_read_after_until_the_link_drops():
    url = "vitruvian://sim?seed=1&hang_read_after=2"
    link = await Link(url).open()
    sim = link.sim
    try:
        await wait_until(lambda: sim.unit.lifter.held)
        await link.write(program(10.0, None))
        await link.sample()
        await link.sample()
        with pytest.raises(TimeoutError):
            await link.sample(timeout=1.0)
        assert sim.hung_reads == 1
        # The bearer is stuck behind the read: a stop on this link is not answered either.
        with pytest.raises(TimeoutError):
            await link.write(w.CMD_STOP, timeout=1.0)
        assert sim.stops == 0 and max(sim.applied_kg) > 5
        await asyncio.wait_for(link.client.disconnect(), 3.0)
        await wait_until(lambda: sim.disconnects == 1, 3)
        assert max(sim.applied_kg) > 5  # the weight stays on
        # A new link: reads answer (the hang was once) and the stop lands.
        link2 = await Link(url).open()
        assert len(await link2.sample()) == 26 and len(await link2.sample()) == 26
        assert len(await link2.sample()) == 26
        await link2.write(w.CMD_STOP)
        assert sim.stops == 1
        await wait_until(lambda: max(sim.applied_kg) == 0.0, 3)
        await link2.close()
    finally:
        await link.close()


async def test_self_deload_at_and_legacy_reps():
    link = await Link("vitruvian://sim?seed=5&self_deload_at=7&legacy_reps=1").open()
    sim = link.sim
    try:
        await wait_until(lambda: sim.unit.lifter.held)
        await link.write(program(10.0, None))
        await wait_until(lambda: link.reps, 7)  # a rep before the deload, in 6-byte packets
        assert len(link.reps[0]) == 6 and link.reps[0] == bytes((1, 0, 0, 0, 0, 0))
        statuses = []
        while not statuses or not statuses[-1]["status"] & w.DELOAD_OCCURRED:
            statuses.append(w.decode_sample(await link.sample()))
            assert len(statuses) < 1000
            await asyncio.sleep(0.02)
        warned = [s for s in statuses if s["status"] & w.DELOAD_WARNING]
        assert warned and statuses.index(warned[0]) < len(statuses) - 1
        assert any(s["load_kg"][0] > 5 for s in statuses[: statuses.index(warned[0])])
        await wait_until(lambda: max(sim.applied_kg) == 0.0, 2)
        s = w.decode_sample(await link.sample())
        assert s["load_kg"] == (0.0, 0.0) and s["status"] & w.DELOAD_OCCURRED
        assert not s["status"] & w.DELOAD_WARNING and sim.self_deloads == 1
        await link.write(w.CMD_STOP)  # clears the latched bit
        assert not w.decode_sample(await link.sample())["status"] & w.DELOAD_OCCURRED
    finally:
        await link.close()


@pytest.mark.parametrize("keep", [1, 0])
async def test_drop_link_at_keeps_or_releases_the_weight(keep):
    url = f"vitruvian://sim?seed=5&drop_link_at=3&keep_weight={keep}"
    link = await Link(url).open()
    sim = link.sim
    try:
        await wait_until(lambda: sim.unit.lifter.held)
        await link.write(program(10.0, None))
        await asyncio.wait_for(link.dropped.wait(), 6)
        assert sim.link_drops == 1 and not link.client.is_connected
        await asyncio.sleep(0.3)
        if keep:
            assert sim.active and min(sim.applied_kg) > 5
        else:
            assert not sim.active and sim.unit.targets == [0, 0]
            assert sim.releases[-1][1] == "link lost"
        link2 = await Link(url).open()  # the trainer takes a new link; the drop was once
        s = w.decode_sample(await link2.sample())
        assert (min(s["load_kg"]) > 5) == bool(keep)
        await link2.write(w.CMD_STOP)
        await wait_until(lambda: max(sim.applied_kg) == 0.0, 3)
        await asyncio.sleep(3.2)
        assert link2.client.is_connected and sim.link_drops == 1
        await link2.close()
    finally:
        await link.close()
