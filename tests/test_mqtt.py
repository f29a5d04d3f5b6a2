"""MQTT against a real Mosquitto: payloads, retain flags, discovery, commands and refusals, the
last will, an ACL confining each unit, and a broker that dies mid-session."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import signal
import subprocess
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import aiomqtt
import jinja2
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from controller.core.events import EventBus
from controller.core.history import History
from controller.core.session import SessionRunner
from controller.simulated.demo import sim_person
from controller.surfaces.cli.mqtt import _describe
from controller.surfaces.mqtt.config import MqttUrlError, parse_mqtt_url
from controller.surfaces.mqtt.payloads import CommandError, parse_command
from controller.surfaces.mqtt.sink import MqttSink
from firmware_bridge.clock import loop_factory
from firmware_bridge.devices import device_client
from tests.mosquitto import Broker
from tests.procs import Background, run
from tests.test_session import DAY, ScriptedIO, one_exercise_plan

UNIT = "hssim0000001"  # the simulator's serial, as a topic id
SPEED = 10
SETTLE_S = 30.0  # wall-clock seconds: how long to wait for what a test waits for
MARKER = "_marker"  # a topic level no unit uses: markers a Collector publishes to itself


async def until(pred: Callable[[], object], timeout: float = SETTLE_S) -> bool:
    """Poll `pred` until it holds or `timeout` wall-clock seconds pass (the loop's clock may
    be warped); whether it held."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True


class Collector:
    """A subscriber that keeps every message (topic, decoded payload, retain flag)."""

    started: ClassVar[weakref.WeakSet[Collector]] = weakref.WeakSet()  # by start()

    def __init__(self, broker: Broker, topics: tuple[str, ...] = ("halfstep/#",
                                                                   "homeassistant/#"),
                 **client: object):
        self.broker, self.topics, self.client = broker, topics, client
        self.messages: list[tuple[str, object, bool]] = []
        self.ready = asyncio.Event()
        # A topic of its first subscription that no unit publishes on (not kept in messages).
        self.marker_topic = topics[0].replace("+", MARKER).replace("#", MARKER)
        self.markers: set[bytes] = set()

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.ensure_future(self.run())
        Collector.started.add(self)

    async def caught_up(self, timeout: float = SETTLE_S) -> bool:
        """Whether everything the broker had acknowledged before this call has reached this
        subscriber: a marker published now arrives after it (the broker queues one subscriber's
        messages in the order it handled them), so wait for the marker."""
        end = time.monotonic() + timeout
        n = 0
        while time.monotonic() < end:
            n += 1
            marker = f"{id(self)}-{n}".encode()
            with contextlib.suppress(aiomqtt.MqttError):
                async with aiomqtt.Client("127.0.0.1", self.broker.port) as c:
                    await c.publish(self.marker_topic, marker, qos=1)
            # Re-sent now and then: a subscriber that was reconnecting may have missed it.
            if await until(lambda m=marker: m in self.markers,
                           timeout=min(2.0, max(0.0, end - time.monotonic()))):
                return True
        return False

    async def run(self) -> None:
        while True:  # reconnects, like a real consumer, when the broker goes away
            try:
                async with aiomqtt.Client("127.0.0.1", self.broker.port,
                                          protocol=aiomqtt.ProtocolVersion.V5,
                                          **self.client) as c:  # type: ignore[arg-type]
                    for t in self.topics:
                        await c.subscribe(t, qos=1)
                    self.ready.set()
                    async for m in c.messages:
                        raw = m.payload if isinstance(m.payload, bytes) else b""
                        if m.topic.value == self.marker_topic:
                            self.markers.add(raw)
                            continue
                        try:
                            body: object = json.loads(raw)
                        except ValueError:
                            body = raw.decode()
                        self.messages.append((m.topic.value, body, m.retain))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)

    def of(self, kind: str) -> list[dict]:
        return [p for t, p, _ in self.messages if t == f"halfstep/{UNIT}/{kind}"]


def quick_brief(plan):
    """The simulated person, resting 15 s instead of a minute (tests only)."""
    brief = sim_person(plan, 1)

    def go(dev, item, load):
        brief(dev, item, load)
        unit = getattr(dev.transport, "sim_unit", None)
        if unit is not None:
            unit.lifter.rest_s = 15.0
    return go


async def short_rest(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 15.0))


def delivered(runner, sink) -> bool:
    return sink.pending == 0  # the broker has acknowledged every kept message and the state


def session_with_mqtt(db: Path, url: str, during=None, io=None, speed: float = SPEED,
                      settled: Callable[[SessionRunner, MqttSink], bool] = delivered,
                      device: str = "sim://?seed=2&rest=60", **sink_kw):
    """A one-exercise session (2 sets of 12 at 8.0 kg, cap 9.5) publishing to `url`;
    `during(runner, sink)` runs alongside. After the session it waits (up to SETTLE_S of wall
    time) until `settled(runner, sink)` holds and then until every Collector started in this
    loop has received all the broker had by then; what is missing after that is for the test's
    assertions to report."""
    plan = one_exercise_plan()
    io = io or ScriptedIO()

    async def main():
        bus = EventBus()
        with History(db) as history:
            runner = SessionRunner(lambda: device_client(device), plan, history,
                                   io, DAY, brief=quick_brief(plan), sleep=short_rest, bus=bus)
            async with MqttSink(parse_mqtt_url(url), bus, runner, **sink_kw) as sink:
                side = asyncio.ensure_future(during(runner, sink)) if during else None
                result = await runner.run()
                await until(lambda: settled(runner, sink))
                loop = asyncio.get_running_loop()
                for col in [c for c in Collector.started if c.loop is loop]:
                    await col.caught_up()
                if side is not None:
                    side.cancel()
                    with pytest.raises(asyncio.CancelledError):
                        await side
            return result, runner, sink

    with asyncio.Runner(loop_factory=loop_factory(speed)) as r:
        return r.run(main())


# ---- pure parts --------------------------------------------------------------------------


@pytest.mark.parametrize("url,why", [
    ("http://h", "must start with mqtt:// or mqtts://"),
    ("mqtt://h:70000", "port must be a number"),
    ("mqtt://h?colour=red", "unknown option 'colour'"),
    ("mqtt://h?telemetry=500", "telemetry='500'"),
    ("mqtt://h?unit=a/b", "unit='a/b'"),
    ("mqtts://h?ca=/no/such.pem", "ca='/no/such.pem': no such file"),
    ("mqtt://u:hunter2@h?x=1", "unknown option 'x'"),
])
def test_bad_broker_urls_are_refused_with_the_reason(url, why):
    with pytest.raises(MqttUrlError, match=why.replace("?", r"\?")) as e:
        parse_mqtt_url(url)
    assert "hunter2" not in str(e.value)


def test_a_recounted_rep_reaches_subscribers_with_the_count(tmp_path):
    broker = Broker(tmp_path / "broker").start()
    col = Collector(broker)

    async def during(runner, sink):
        col.start()
        await asyncio.sleep(3600)

    try:
        result, _, _ = session_with_mqtt(tmp_path / "h.sqlite", broker.url(), during=during,
                                         device="sim://?seed=2&rest=60&setup_pull=150")
    finally:
        broker.stop()
    reps = [r for r in col.of("rep") if r["set_index"] == 1]
    fixed = [r for r in reps if r.get("corrected")]
    assert [(r["index"], r["was"], r["kind"]) for r in fixed] == [(1, "full", "ignored")]
    at = reps.index(fixed[0])
    assert reps[0]["index"] == 1 and reps[0]["count"] == 1  # provisional
    assert at == 1 and fixed[0]["count"] == 0  # the count goes back down ...
    assert reps[2]["index"] == 2 and reps[2]["count"] == 1  # ... and on from there
    assert reps[-1]["count"] == result.sets[0].full_reps == 12
    assert _describe("rep", fixed[0]).endswith("rep 1 recounted full -> ignored, now "
                                                    f"{fixed[0]['count']}/12")


def test_home_assistants_birth_is_answered_after_a_random_pause(tmp_path):
    """Discovery again when Home Assistant says `online`, but not at once: units sharing a
    broker would all answer in the same instant."""
    broker = Broker(tmp_path / "broker").start()

    async def main() -> list[float]:
        settings = parse_mqtt_url(broker.url(unit="u1"))
        topic = "homeassistant/device/halfstep_u1/config"
        delays = []
        async with MqttSink(settings, EventBus(), None), \
                aiomqtt.Client("127.0.0.1", broker.port) as c:
            await c.subscribe(topic, qos=1)
            async with asyncio.timeout(10):
                async for _ in c.messages:  # the discovery sent on connecting
                    break
            for _ in range(4):
                await c.publish("homeassistant/status", b"online", qos=1)
                sent = time.monotonic()
                async with asyncio.timeout(10):
                    async for m in c.messages:
                        if m.topic.value == topic and not m.retain:
                            delays.append(time.monotonic() - sent)
                            break
        return delays

    try:
        delays = asyncio.run(main())
    finally:
        broker.stop()
    assert len(delays) == 4 and all(0.45 <= d <= 3.5 for d in delays), delays
    assert len({round(d, 2) for d in delays}) > 1, delays  # random, not a fixed wait


def test_broker_urls():
    s = parse_mqtt_url("mqtts://unit%401:p%3Ass@broker.lan?unit=Gym-3&telemetry=5")
    assert (s.host, s.port, s.username, s.password, s.tls, s.unit, s.telemetry) == \
        ("broker.lan", 8883, "unit@1", "p:ss", True, "gym-3", 5.0)
    assert s.redacted() == "mqtts://unit@1:***@broker.lan:8883"
    assert parse_mqtt_url("mqtt://localhost").port == 1883


@pytest.mark.parametrize("name,payload,expect", [
    ("stop", b"STOP", ("stop", None, None)),
    ("stop", b'{"id": "a1"}', ("stop", "a1", None)),
    ("next_load", b"12.5", ("next_load", None, 12.5)),
    ("next_load", b'{"kg": 8, "id": 7}', ("next_load", "7", 8.0)),
])
def test_commands_parse(name, payload, expect):
    c = parse_command(name, payload)
    assert (c.name, c.id, c.kg) == expect


@pytest.mark.parametrize("name,payload,field", [
    ("launch", b"", "command"), ("next_load", b"heavy", "kg"), ("next_load", b"", "kg"),
    ("next_load", b"{nope", "payload"), ("next_load", b"nan", "kg"),
    ("next_load", b'{"kg": 5, "id": [1]}', "id"), ("stop", b"\xff\xfe", "payload"),
])
def test_bad_commands_name_the_field(name, payload, field):
    with pytest.raises(CommandError) as e:
        parse_command(name, payload)
    assert e.value.field == field and e.value.reason


def test_run_refuses_a_bad_broker_url_and_speed_0(tmp_path):
    r = run("run", "--file", str(tmp_path / "p.json"), "--mqtt", "ftp://x")
    assert r.returncode == 2 and "must start with mqtt://" in r.stderr
    assert "Traceback" not in r.stderr
    assert run("plan", "init", "--profile", "pain", "--file",
               str(tmp_path / "p.json")).returncode == 0
    r = run("run", "--file", str(tmp_path / "p.json"), "--speed", "0", "--mqtt",
            "mqtt://127.0.0.1:1")
    assert r.returncode == 2 and "--speed 0 cannot be used with --mqtt" in r.stderr


# ---- a session on a real broker -----------------------------------------------------------


def test_a_session_reaches_a_subscriber_and_remote_commands_are_checked(tmp_path):
    broker = Broker(tmp_path / "broker").start()
    col = Collector(broker)
    answers: dict[str, dict] = {}

    async def during(runner, sink):
        col.start()
        await col.ready.wait()
        async with aiomqtt.Client("127.0.0.1", broker.port,
                                  protocol=aiomqtt.ProtocolVersion.V5) as c:
            await c.subscribe(f"halfstep/{UNIT}/response", qos=1)
            await c.subscribe("replies/me", qos=1)

            async def ask(name: str, payload: bytes, key: str, **kw) -> None:
                await c.publish(f"halfstep/{UNIT}/cmd/{name}", payload, qos=1, **kw)
                async for m in c.messages:
                    if m.topic.value == "replies/me":  # the MQTT v5 response topic
                        answers["v5"] = {"body": json.loads(m.payload),
                                         "corr": m.properties.CorrelationData}
                    if m.topic.value == f"halfstep/{UNIT}/response":
                        answers[key] = json.loads(m.payload)
                        return

            async def wait_phase(pred) -> None:
                while not pred(runner.state):
                    await asyncio.sleep(0.05)

            await wait_phase(lambda s: s.phase == "set" and s.reps >= 2)
            await ask("next_load", b"6.5", "in_set")
            await wait_phase(lambda s: s.phase == "rest")
            await ask("next_load", b"12.3", "off_grid")
            await ask("next_load", b'{"kg": 20, "id": "too-much"}', "above_cap")
            await ask("next_load", b"0", "zero")
            await ask("stop", b"STOP", "retained", retain=True)
            await ask("jump", b"", "unknown")
            props = Properties(PacketTypes.PUBLISH)
            props.ResponseTopic, props.CorrelationData = "replies/me", b"corr-1"
            await ask("next_load", b'{"kg": 8.5, "id": "ok-1"}', "ok", properties=props)
            await wait_phase(lambda s: s.phase == "set" and s.set_index == 2 and s.reps >= 3)
            await ask("stop", b'{"id": "s1"}', "stop")
            await asyncio.sleep(3600)

    try:
        result, runner, sink = session_with_mqtt(
            tmp_path / "h.sqlite", broker.url(), during=during,
            settled=lambda r, s: delivered(r, s) and "stop" in answers)

        async def late_subscriber() -> list:
            async with aiomqtt.Client("127.0.0.1", broker.port) as c:
                await c.subscribe("#", qos=1)
                got = []
                try:
                    async with asyncio.timeout(1.0):
                        async for m in c.messages:
                            got.append((m.topic.value, m.retain, m.payload))
                except TimeoutError:
                    return got
        retained = asyncio.run(late_subscriber())
    finally:
        broker.stop()

    # Refusals come back with the reason and the field; nothing refused changed anything.
    assert answers["in_set"]["ok"] is False and "set is in progress" in answers["in_set"]["reason"]
    assert "not a multiple of 0.5 kg" in answers["off_grid"]["reason"]
    above = answers["above_cap"]
    assert above["ok"] is False and above["id"] == "too-much" and above["field"] == "kg"
    assert "above the 9.5 kg the plan allows" in above["reason"]
    assert "0.5 to 9.5 kg" in above["allowed"]
    assert "needs some load" in answers["zero"]["reason"]
    assert answers["zero"]["allowed"] == "0.5 to 9.5 kg in steps of 0.5 kg"
    assert "allowed" not in answers["in_set"]  # no load would do while a set runs
    assert "retained commands are ignored" in answers["retained"]["reason"]
    assert answers["unknown"]["field"] == "command" and "stop, next_load" in \
        answers["unknown"]["allowed"]
    assert answers["ok"]["ok"] is True and answers["ok"]["result"] == {"next_kg": 8.5}
    assert answers["v5"]["body"]["id"] == "ok-1" and answers["v5"]["corr"] == b"corr-1"
    assert "stop" in answers, [(s.set_index, s.full_reps, s.ended_by) for s in result.sets]
    assert answers["stop"]["ok"] is True and answers["stop"]["id"] == "s1", answers["stop"]
    assert answers["stop"]["result"]["confirmed"] is True

    # The session: set 2 at the load chosen over MQTT, stopped over MQTT with its reps kept.
    assert [s.load_kg for s in result.sets] == [8.0, 8.5]
    assert result.sets[1].ended_by == "stopped from mqtt" and result.sets[1].full_reps >= 3
    assert runner.supervisor.applied_kg == 0.0

    # Every rep and set of the session reached the subscriber, in order, schema 1.
    reps, sets = col.of("rep"), col.of("set")
    assert [(r["set_index"], r["index"]) for r in reps] == \
        [(s.set_index, r.index) for s in result.sets for r in s.reps]
    assert [(s["set_index"], s["full_reps"], s["load_kg"], s["ended_by"]) for s in sets] == \
        [(s.set_index, s.full_reps, s.load_kg, s.ended_by) for s in result.sets]
    assert all(m["v"] == 1 and m["unit"] == UNIT for m in reps + sets)
    seqs = [m["seq"] for m in reps + sets]
    assert len(set(seqs)) == len(seqs)
    session = col.of("session")
    assert session[-1]["status"] == "finished" and session[-1]["sets"] == 2
    phases = [s["phase"] for s in col.of("state")]  # the latest state of a phase wins, but
    changes = [p for k, p in enumerate(phases) if k == 0 or p != phases[k - 1]]  # each is sent
    for p in ("armed", "set", "rest", "paused", "idle"):
        assert p in phases
    assert changes[-1] == "idle"
    assert any(e["kind"] == "stop" for e in col.of("safety"))
    # A load off the grid is refused by the parser (its response says why) before it reaches
    # the session's checks; the others are refused there, each a safety event.
    refused = [e for e in col.of("safety") if e["kind"] == "refused"]
    assert len(refused) >= 3 and all(e["source"] == "mqtt" for e in refused)
    assert sink.stats.dropped_messages == 0 and sink.stats.refused == 6

    # Retained: state, availability (offline after a clean exit) and discovery; nothing else.
    kept = {t: p for t, r, p in retained if r}
    assert set(kept) == {f"halfstep/{UNIT}/state", f"halfstep/{UNIT}/availability",
                         f"homeassistant/device/halfstep_{UNIT}/config"}
    assert kept[f"halfstep/{UNIT}/availability"] == b"offline"
    state = json.loads(kept[f"halfstep/{UNIT}/state"])
    assert state["phase"] == "idle" and state["applied_kg"] == 0.0
    check_discovery(json.loads(kept[f"homeassistant/device/halfstep_{UNIT}/config"]), state)


def check_discovery(cfg: dict, state: dict) -> None:
    """What Home Assistant reads: a device, an origin, components that each name a platform
    and a unique id, topics that exist, and templates that render from a real state."""
    assert cfg["device"]["identifiers"] == [f"halfstep_{UNIT}"]
    assert cfg["device"]["serial_number"] == "HSSIM0000001" and cfg["origin"]["name"]
    assert cfg["state_topic"] == f"halfstep/{UNIT}/state"
    assert cfg["availability_topic"] == f"halfstep/{UNIT}/availability"
    comps = cfg["components"]
    assert {c["platform"] for c in comps.values()} == {"sensor", "binary_sensor", "number",
                                                        "button"}
    ids = [c["unique_id"] for c in comps.values()]
    assert len(set(ids)) == len(ids)
    env = jinja2.Environment()
    rendered = {k: env.from_string(c["value_template"]).render(value_json=state)
                for k, c in comps.items() if "value_template" in c}
    assert rendered["applied_load"] == "0.0" and rendered["set_active"] == "OFF"
    assert rendered["phase"] == "idle" and rendered["phase"] in comps["phase"]["options"]
    assert float(rendered["reps"]) >= 0
    # A missing value is unknown to Home Assistant ("None"), never a false 0 (out of the
    # number's range, an error in its log at every start).
    assert state["next_kg"] is None and rendered["next_load"] == "None", state
    assert state["power_w"] is None and rendered["power"] == "None"
    # Every component names its QoS: Home Assistant 2025.4 ignores the shared one.
    assert all(c["qos"] == 1 for c in comps.values())
    busy = {**state, "phase": "set", "applied_kg": 7.5, "power_w": 151.2, "next_kg": 7.5}
    assert env.from_string(comps["set_active"]["value_template"]).render(value_json=busy) == "ON"
    assert env.from_string(comps["power"]["value_template"]).render(value_json=busy) == "151.2"
    number = comps["next_load"]
    assert (number["min"], number["step"], number["max"]) == (0.5, 0.5, 100.0)
    assert number["command_topic"] == f"halfstep/{UNIT}/cmd/next_load"
    assert comps["stop"]["command_topic"] == f"halfstep/{UNIT}/cmd/stop"
    assert comps["stop"]["payload_press"] == "STOP"


def test_a_broker_killed_mid_session_loses_no_set_and_does_not_slow_the_session(tmp_path):
    broker = Broker(tmp_path / "broker").start()
    # A persistent consumer: its subscription and queued messages survive a broker restart.
    col = Collector(broker, ("halfstep/+/set", "halfstep/+/session", "halfstep/+/rep"),
                    identifier="consumer", clean_start=False,
                    properties=_session_expiry(3600))
    seen: dict[str, object] = {}

    async def during(runner, sink):
        col.start()
        await col.ready.wait()
        # The consumer's subscription is saved: Mosquitto writes its database (every second or
        # two) in the thread that handled the SUBSCRIBE, so a write after the SUBACK has it.
        db = broker.folder / "mosquitto.db"

        def stamp() -> tuple[int, int, int] | None:
            with contextlib.suppress(FileNotFoundError):
                st = db.stat()
                return st.st_ino, st.st_mtime_ns, st.st_size
            return None

        before = stamp()
        assert await until(lambda: stamp() not in (None, before)), \
            f"{db} not written since the consumer subscribed"
        while not (runner.state.phase == "set" and runner.state.reps >= 1):
            await asyncio.sleep(0.05)
        # In a thread: the test's own waiting must not stall the loop the session runs on.
        await asyncio.to_thread(broker.stop, signal.SIGKILL)
        seen["killed_in"] = (runner.state.set_index, runner.state.reps)
        while not (runner.state.phase == "rest" or runner.state.set_index == 2):
            await asyncio.sleep(0.05)
        seen["kept_while_down"] = sink.pending
        seen["connected_while_down"] = sink.connected
        await asyncio.to_thread(broker.start)
        await asyncio.sleep(3600)

    try:
        # At 2x: the unit's 0.5 s lease is then 250 ms of wall time, a margin a busy 2-core
        # machine keeps (this asserts that the session sees no telemetry gap at all).
        result, _, sink = session_with_mqtt(tmp_path / "h.sqlite", broker.url(telemetry=10),
                                            during=during, sample_limit=300, speed=2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
                t.endswith("/session") for t, _, _ in col.messages):
            time.sleep(0.1)
    finally:
        broker.stop()

    assert result.status == "finished" and [s.full_reps for s in result.sets] == [12, 12]
    assert seen["killed_in"][0] == 1 and seen["connected_while_down"] is False
    assert seen["kept_while_down"] > 0
    # The session did not notice: no telemetry gap, no lost link, no deload.
    with History(tmp_path / "h.sqlite") as h:
        kinds = [e["kind"] for e in h.session(result.session_id)["safety_events"]]
    assert not [k for k in kinds if k.startswith("telemetry_") or k in ("link_lost",
                                                                          "deload_requested")]
    assert sink.stats.connects >= 2 and sink.stats.dropped_messages == 0
    assert sink.stats.dropped_samples > 0  # samples are what gives way
    # Every set (and every rep) reached the consumer once the broker was back.
    sets = col.of("set")
    assert sorted({s["set_index"] for s in sets}) == [1, 2]
    got_reps = {(r["set_index"], r["index"]) for r in col.of("rep")}
    assert got_reps == {(s.set_index, r.index) for s in result.sets for r in s.reps}


def _session_expiry(seconds: int) -> Properties:
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = seconds
    return p


def test_no_broker_at_all_the_session_goes_on(tmp_path):
    result, _, sink = session_with_mqtt(
        tmp_path / "h.sqlite", "mqtt://127.0.0.1:1", flush_s=0.5,
        settled=lambda r, s: s.stats.connect_failures >= 2)
    assert result.status == "finished" and len(result.sets) == 2
    assert sink.stats.connects == 0 and sink.stats.connect_failures >= 2
    with History(tmp_path / "h.sqlite") as h:
        kinds = [e["kind"] for e in h.session(result.session_id)["safety_events"]]
    assert not [k for k in kinds if k.startswith("telemetry_") or k == "link_lost"]
    assert sink.pending > 0  # kept (bounded) for a broker that never came


def test_kept_messages_are_bounded_and_samples_counted():
    bus = EventBus()
    sink = MqttSink(parse_mqtt_url("mqtt://127.0.0.1:1?unit=u1&telemetry=5"), bus,
                    kept_limit=100, sample_limit=50)
    bus.subscribe(sink.offer)

    class Batch:
        t_us = range(10)

    for i in range(250):
        bus.emit("rep", index=i)
        bus.emit("telemetry", batch=Batch())
        bus.emit("state", phase="set", reps=i)
    assert len(sink._kept) == 100 and sink.stats.dropped_messages == 150
    assert sink._kept[0][1].data["index"] == 150  # the newest are kept
    assert sink._sample_count <= 50 and sink.stats.dropped_samples == 2500 - sink._sample_count
    assert sink._state is not None and sink._state.data["reps"] == 249  # only the latest


# ---- the last will, the ACL and TLS -------------------------------------------------------


def test_a_killed_controller_is_announced_offline_by_its_will(tmp_path):
    broker = Broker(tmp_path / "broker").start()
    plan = tmp_path / "plan.json"
    assert run("plan", "init", "--profile", "pain", "--file", str(plan)).returncode == 0
    proc = None
    try:
        watch = Background("mqtt", "watch", broker.url(), "--unit", UNIT, "--json",
                           "--no-discovery", "--timeout", "60")
        _until_watching(watch, broker)
        proc = Background("run", "--file", str(plan), "--db", str(tmp_path / "h.sqlite"),
                          "--speed", "2", "--pain", "1",
                          "--mqtt", broker.url(keepalive=1))
        assert _next_payload(watch, "availability") == "online"
        phases = [_next_payload(watch, "state")["phase"]]  # every phase is published:
        while phases[-1] not in ("armed", "set"):           # idle (and paused) come first
            phases.append(_next_payload(watch, "state")["phase"])
        assert set(phases) <= {"idle", "paused", "armed", "set"}, phases
        proc.proc.send_signal(signal.SIGKILL)
        proc.proc.wait(5)
        killed = time.monotonic()
        assert _next_payload(watch, "availability") == "offline"
        assert time.monotonic() - killed < 5  # 1.5 x keepalive, and then some
    finally:
        for p in (proc, locals().get("watch")):
            if p is not None:
                p.stop()
        broker.stop()


def _until_watching(watch: Background, broker: Broker, timeout: float = SETTLE_S) -> None:
    """Publish a probe on a topic `mqtt watch` shows until it prints one: it has subscribed."""
    topic = f"halfstep/{UNIT}/{MARKER}"

    async def probe() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port) as c:
            await c.publish(topic, b"probe", qos=1)

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        asyncio.run(probe())
        try:
            if json.loads(watch.first_line(timeout=0.5))["topic"] == topic:
                return
        except queue.Empty:
            continue
    raise AssertionError("`halfstep mqtt watch` never printed the probe: not subscribed")


def _next_payload(watch: Background, kind: str, timeout: float = 20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = json.loads(watch.first_line(timeout=max(0.1, end - time.monotonic())))
        if m["topic"].endswith("/" + kind):
            return m["payload"]
    raise AssertionError(f"no {kind} message")


ACL = """\
# Home Assistant and support: read everything, command any unit
user ha
topic read halfstep/#
topic write halfstep/+/cmd/#
topic read homeassistant/#

# Each unit logs in as its own id and is confined to its own topics
pattern write halfstep/%u/#
pattern read halfstep/%u/cmd/#
pattern write homeassistant/device/halfstep_%u/config
pattern read homeassistant/status
"""


def test_the_acl_confines_each_unit_to_its_own_topics(tmp_path):
    broker = Broker(tmp_path / "broker", users={"ha": "ha-pw", "gym-1": "pw1", "gym-2": "pw2"},
                    acl=ACL).start()

    async def main() -> tuple[list, list]:
        got: list[tuple[str, bytes]] = []

        async def watch() -> None:
            async with aiomqtt.Client("127.0.0.1", broker.port, username="ha",
                                      password="ha-pw") as c:
                await c.subscribe("halfstep/#")
                await c.subscribe("homeassistant/#")
                ready.set()
                async for m in c.messages:
                    got.append((m.topic.value, m.payload))

        ready = asyncio.Event()
        w = asyncio.ensure_future(watch())
        await ready.wait()
        # gym-1 with its own credentials publishes as itself: allowed.
        bus = EventBus()
        async with MqttSink(parse_mqtt_url(broker.url("gym-1", "pw1", unit="gym-1")), bus):
            bus.emit("unit", serial="GYM-1", cable_count=1, max_kg=100.0)
            bus.emit("set", exercise="row", set_index=1, full_reps=12)
            assert await until(lambda: "halfstep/gym-1/set" in {t for t, _ in got}
                               and ("halfstep/gym-1/availability", b"online") in got
                               and ("homeassistant/device/halfstep_gym-1/config"
                                    in {t for t, _ in got})), got
        # gym-2's credentials claiming to be gym-1: the broker drops every message.
        bus2 = EventBus()
        async with MqttSink(parse_mqtt_url(broker.url("gym-2", "pw2", unit="gym-1")), bus2,
                            flush_s=1.0) as forger:
            bus2.emit("unit", serial="GYM-1", cable_count=1, max_kg=100.0)
            bus2.emit("set", exercise="row", set_index=99, full_reps=1)
            # Published at QoS 1 and acknowledged: the broker has handled (and dropped) it.
            assert await until(lambda: forger.pending == 0), "the forgery was never published"
        # A later message gym-2 may publish: anything of the forgery's would arrive before it.
        async with aiomqtt.Client("127.0.0.1", broker.port, username="gym-2",
                                  password="pw2") as c:
            await c.publish(f"halfstep/gym-2/{MARKER}", b"after the forgery", qos=1)
        assert await until(lambda: (f"halfstep/gym-2/{MARKER}", b"after the forgery") in got)
        # ...and never sees another unit's commands (the broker does not deliver them).
        heard: list[str] = []
        async with aiomqtt.Client("127.0.0.1", broker.port, username="gym-2",
                                  password="pw2") as c:
            await c.subscribe("halfstep/gym-1/cmd/+", qos=1)
            await c.subscribe("halfstep/gym-2/cmd/+", qos=1)
            async with aiomqtt.Client("127.0.0.1", broker.port, username="ha",
                                      password="ha-pw") as ha:
                await ha.publish("halfstep/gym-1/cmd/stop", b"STOP", qos=1)
                await ha.publish("halfstep/gym-2/cmd/stop", b"STOP", qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    async for m in c.messages:
                        heard.append(m.topic.value)
        w.cancel()
        return got, heard

    try:
        got, heard = asyncio.run(main())
    finally:
        broker.stop()
    sets = [json.loads(p) for t, p in got if t == "halfstep/gym-1/set"]
    assert [s["set_index"] for s in sets] == [1]  # gym-2's forgery never arrived
    assert ("halfstep/gym-1/availability", b"online") in got
    assert any(t == "homeassistant/device/halfstep_gym-1/config" for t, _ in got)
    assert heard == ["halfstep/gym-2/cmd/stop"]


def test_tls_with_a_private_ca(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    broker = Broker(tmp_path / "broker", tls=(cert, key)).start()

    async def main() -> bool:
        bus = EventBus()
        url = broker.url(scheme="mqtts", unit="tls-unit", ca=cert)
        async with MqttSink(parse_mqtt_url(url), bus) as sink:
            bus.emit("unit", serial="TLS", cable_count=1, max_kg=100.0)
            for _ in range(100):
                if sink.connected:
                    break
                await asyncio.sleep(0.05)
            return sink.connected

    try:
        assert asyncio.run(main()) is True
        # Without the CA the broker's certificate is not trusted.
        r = run("mqtt", "watch", broker.url(scheme="mqtts"), "--timeout", "1")
        assert r.returncode == 1 and "certificate" in r.stderr.lower()
    finally:
        broker.stop()
