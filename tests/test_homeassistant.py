"""The unit in a real Home Assistant Core (tests/homeassistant.py): `halfstep run --mqtt`
against Mosquitto, with Home Assistant's MQTT integration added through its own API, and
everything asserted through Home Assistant: the device and its entities, states through a
session, the Stop button, the next set's load, a restart mid-session, unavailability at the
end, and a log with no complaint from the MQTT integration.

It runs last (tests/conftest.py), so the install `scripts/test` starts beside the suite has
the suite's time to finish (about 5 minutes the first time; kept between runs).
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import aiomqtt
import pytest

from controller.core.plan_file import save_plan
from tests import homeassistant as ha
from tests.mosquitto import Broker
from tests.procs import Background
from tests.test_session import DAY, one_exercise_plan

KEYS = ("applied_load", "reps", "set_active", "power", "phase", "next_load", "stop")


@pytest.mark.timeout(1500)  # an install (about 5 minutes) and a session with two starts
def test_home_assistant_runs_the_unit_through_a_session_and_a_restart(tmp_path):
    venv = ha.require()
    broker = Broker(tmp_path / "broker").start()
    hass = ha.HomeAssistant(tmp_path / "ha", venv)
    plan = tmp_path / "plan.json"
    save_plan(one_exercise_plan(), plan)  # 2 x 12 at 8.0 kg (at most 9.5), rest 75 s
    proc: Background | None = None
    try:
        async def scenario() -> None:
            nonlocal proc
            async with aiohttp.ClientSession() as s:
                hass.start()
                await hass.wait_http(s)
                await hass.onboard(s)
                await hass.add_mqtt(s, broker.port)
                proc = Background("run", "--file", str(plan), "--db", str(tmp_path / "h.db"),
                                  "--today", DAY.isoformat(), "--speed", "1.5", "--pain", "2",
                                  "--yes", "--panel", "127.0.0.1:0", "--mqtt", broker.url())
                panel = proc.first_line(timeout=60).removeprefix("panel: ")
                await session(s, hass, broker, panel, proc)
        asyncio.run(scenario())
    finally:
        if proc is not None:
            proc.stop()
        hass.stop()
        broker.stop()
    lines = hass.log_lines()
    # The whole run, both starts: not one complaint from the MQTT integration ...
    assert ha.mqtt_complaints(lines) == []
    # ... and every topic of the unit subscribed at QoS 1, as each component asks.
    subs = ha.subscriptions(lines, "halfstep/")
    assert subs and all(q == {1} for q in subs.values()), subs


async def entities(s: aiohttp.ClientSession, hass: ha.HomeAssistant) -> tuple[dict, dict]:
    """The unit's device and its entities by key, once all seven are registered."""
    for _ in range(300):
        devices = await hass.ws(s, "config/device_registry/list")
        ours = [d for d in devices if any(i[0] == "mqtt" and i[1].startswith("halfstep_")
                                          for i in d["identifiers"])]
        if ours:
            registry = await hass.ws(s, "config/entity_registry/list")
            found = {e["unique_id"].split("_", 2)[-1]: e for e in registry
                     if e["device_id"] == ours[0]["id"]}
            if set(found) >= set(KEYS):
                assert len(ours) == 1, ours
                return ours[0], {k: found[k]["entity_id"] for k in KEYS}
        await asyncio.sleep(0.3)
    raise AssertionError("the unit never appeared in Home Assistant")


async def session(s: aiohttp.ClientSession, hass: ha.HomeAssistant, broker: Broker,
                  panel: str, proc: Background) -> None:
    device, eid = await entities(s, hass)
    uid = next(i[1] for i in device["identifiers"] if i[0] == "mqtt")
    unit = uid.removeprefix("halfstep_")
    assert device["name"].startswith("Halfstep ") and device["manufacturer"] == "Halfstep"
    assert device["configuration_url"] == panel  # the panel, one click from Home Assistant
    # Classes and units as Home Assistant reads them.
    load = await hass.wait_state(s, eid["applied_load"], lambda v: v != "unavailable")
    assert load["attributes"]["device_class"] == "weight"
    assert load["attributes"]["unit_of_measurement"] == "kg"
    power = await hass.state(s, eid["power"])
    assert power["attributes"]["device_class"] == "power"
    assert power["attributes"]["unit_of_measurement"] == "W"
    phase = await hass.state(s, eid["phase"])
    assert phase["attributes"]["options"] == ["idle", "armed", "set", "rest", "paused", "fault"]
    number = await hass.state(s, eid["next_load"])
    assert (number["attributes"]["min"], number["attributes"]["step"]) == (0.5, 0.5)
    assert number["attributes"]["unit_of_measurement"] == "kg"
    assert (await hass.state(s, eid["set_active"]))["attributes"]["device_class"] == "running"

    # Set 1: the states follow the session.
    await hass.wait_state(s, eid["phase"], "set")
    await hass.wait_state(s, eid["applied_load"], "8.0")
    await hass.wait_state(s, eid["set_active"], "on")
    await hass.wait_state(s, eid["reps"], lambda v: v not in ("unknown", "unavailable")
                          and float(v) >= 2)
    await hass.wait_state(s, eid["power"], lambda v: v not in ("unknown", "unavailable")
                          and float(v) > 0)

    # The rest: the next set's load from Home Assistant; a refused one is answered.
    await hass.wait_state(s, eid["phase"], "rest", timeout=120)
    await hass.wait_state(s, eid["set_active"], "off")
    answers: list[dict] = []

    async def listen(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port) as c:
            await c.subscribe(f"halfstep/{unit}/response", qos=1)
            ready.set()
            async for m in c.messages:
                answers.append(json.loads(m.payload))

    ready = asyncio.Event()
    listener = asyncio.ensure_future(listen(ready))
    await ready.wait()
    status, _ = await hass.call(s, "number", "set_value", entity_id=eid["next_load"], value=8.5)
    assert status == 200
    await hass.wait_state(s, eid["next_load"], "8.5")
    status, _ = await hass.call(s, "number", "set_value", entity_id=eid["next_load"], value=20)
    assert status == 200  # within the number's range: the controller refuses, and says why
    for _ in range(100):
        if any(a.get("ok") is False for a in answers):
            break
        await asyncio.sleep(0.1)
    refused = [a for a in answers if a.get("ok") is False]
    assert refused and "above the 9.5 kg the plan allows" in refused[0]["reason"], answers
    assert (await hass.state(s, eid["next_load"]))["state"] == "8.5"  # nothing changed

    # Home Assistant restarts mid-session; while it is down the next load changes (a command
    # from elsewhere): what it shows after the restart can only come from the retained
    # messages and the discovery the unit sends again when it hears Home Assistant's birth.
    hass.stop()
    async with aiomqtt.Client("127.0.0.1", broker.port) as c:
        await c.publish(f"halfstep/{unit}/cmd/next_load", b"9", qos=1)
    for _ in range(100):
        if any(a.get("result") == {"next_kg": 9.0} for a in answers):
            break
        await asyncio.sleep(0.1)
    assert any(a.get("result") == {"next_kg": 9.0} for a in answers), answers
    hass.start()
    await hass.wait_http(s)
    await hass.wait_mqtt_loaded(s)
    again, eid2 = await entities(s, hass)
    assert again["id"] == device["id"] and eid2 == eid
    await hass.wait_state(s, eid["next_load"], "9.0")
    await hass.wait_state(s, eid["phase"], lambda v: v in ("rest", "armed", "set"))

    # Set 2 at the load chosen while Home Assistant was away; its Stop button stops it.
    await hass.wait_state(s, eid["phase"], "set", timeout=120)
    await hass.wait_state(s, eid["applied_load"], "9.0")
    await hass.wait_state(s, eid["reps"], lambda v: v not in ("unknown", "unavailable")
                          and float(v) >= 2)
    status, _ = await hass.call(s, "button", "press", entity_id=eid["stop"])
    assert status == 200
    for _ in range(100):  # the unit's answer: the load is off, confirmed from its telemetry
        if any((a.get("result") or {}).get("confirmed") for a in answers):
            break
        await asyncio.sleep(0.1)
    assert any((a.get("result") or {}).get("confirmed") for a in answers), answers
    # The last set was stopped, so the session ends at once: 0 kg, or already unavailable.
    await hass.wait_state(s, eid["applied_load"], lambda v: v in ("0.0", "unavailable"))
    await hass.wait_state(s, eid["set_active"], lambda v: v in ("off", "unavailable"))
    listener.cancel()
    with pytest.raises(asyncio.CancelledError):
        await listener

    # The session ends (set 2 was the last): every entity unavailable, none left stale.
    for _ in range(600):
        if proc.proc.poll() is not None:
            break
        await asyncio.sleep(0.1)
    assert proc.proc.returncode == 0, proc.err_lines[-20:]
    for key in KEYS:
        await hass.wait_state(s, eid[key], "unavailable")
    out = []
    while not proc.out.empty():
        out.append(proc.out.get())
    assert any("stopped from mqtt" in line for line in out), out


def test_without_python_3_13_it_is_skipped_with_the_reason_or_fails_under_ci(monkeypatch):
    monkeypatch.setattr(ha, "installed", lambda: False)
    monkeypatch.setattr(ha, "python313", lambda: None)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match=r"needs Python 3\.13"):
        ha.require()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"needs Python 3\.13"):
        ha.require()
