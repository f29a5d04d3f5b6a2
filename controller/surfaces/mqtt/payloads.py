"""What goes over MQTT: topic names, JSON payloads (schema version 1), the Home Assistant
discovery message, and commands parsed from the wire. Pure: no I/O (docs/mqtt.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from controller.analysis.timestamps import iso
from controller.core.events import Event, jsonable
from controller.core.inputs import load_kg, loads_json
from firmware_bridge.loads import STEP_KG, LoadError
from firmware_bridge.messages import telemetry_columns

SCHEMA = 1
COMMANDS = ("stop", "next_load")
PHASES = ("idle", "armed", "set", "rest", "paused", "fault")
# kind -> (QoS, retained). Telemetry may be lost; everything else is delivered at least once.
DELIVERY = {"state": (1, True), "availability": (1, True), "rep": (1, False),
            "set": (1, False), "session": (1, False), "safety": (1, False),
            "telemetry": (0, False), "response": (1, False), "discovery": (1, True)}


@dataclass(frozen=True)
class Topics:
    prefix: str
    unit: str
    discovery_prefix: str = "homeassistant"

    def of(self, kind: str) -> str:
        return f"{self.prefix}/{self.unit}/{kind}"

    @property
    def commands(self) -> str:
        return f"{self.prefix}/{self.unit}/cmd/+"

    def command(self, name: str) -> str:
        return f"{self.prefix}/{self.unit}/cmd/{name}"

    @property
    def discovery(self) -> str:
        return f"{self.discovery_prefix}/device/{self.prefix}_{self.unit}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"


def encode(unit: str, seq: int, event: Event) -> bytes:
    """One event as its JSON payload: the schema version, the unit, when, a per-run sequence
    number (delivery is at least once: a subscriber drops repeats by unit and seq)."""
    body = {"v": SCHEMA, "unit": unit, "ts": iso(event.at), "seq": seq, **event.data}
    return json.dumps(body, default=jsonable, separators=(",", ":")).encode()


def telemetry_payload(unit: str, seq: int, at: float, batches: list[Any],
                      dropped: int) -> bytes:
    """Samples of several batches in one message, column by column, one list per cable."""
    cols = telemetry_columns(batches)
    body = {"v": SCHEMA, "unit": unit, "ts": iso(at), "seq": seq, "samples": len(cols["t_s"]),
            "cables": len(cols["position_mm"]), "dropped_samples": dropped, **cols}
    return json.dumps(body, separators=(",", ":")).encode()


def _number(key: str) -> str:
    """A template that gives the number, or "None" (Home Assistant's unknown) when the state
    has none: 0 would be a false reading, and out of a number entity's range an error."""
    return f"{{% if value_json.{key} is number %}}{{{{ value_json.{key} }}}}{{% else %}}None" \
           "{% endif %}"


def discovery(topics: Topics, unit: dict[str, Any], version: str,
              configuration_url: str | None = None, support_url: str | None = None) -> bytes:
    """Home Assistant's device discovery (one retained message for the whole unit): applied
    load, reps, set active, power, phase, the next set's load as a number, and a Stop button.
    Every component carries its own `qos` (Home Assistant before 2025.5 ignores the shared
    one); missing values read as unknown."""
    uid = f"{topics.prefix}_{topics.unit}"

    def comp(key: str, platform: str, name: str, **extra: Any) -> tuple[str, dict[str, Any]]:
        return key, {"platform": platform, "name": name, "unique_id": f"{uid}_{key}", "qos": 1,
                     **extra}

    max_kg = float(unit.get("max_kg") or 100.0)
    components = dict([
        comp("applied_load", "sensor", "Applied load", device_class="weight",
             unit_of_measurement="kg", state_class="measurement",
             value_template=_number("applied_kg")),
        comp("reps", "sensor", "Reps", state_class="measurement", icon="mdi:counter",
             value_template=_number("reps")),
        comp("set_active", "binary_sensor", "Set active", device_class="running",
             value_template="{{ 'ON' if value_json.phase == 'set' else 'OFF' }}"),
        comp("power", "sensor", "Power", device_class="power", unit_of_measurement="W",
             state_class="measurement", value_template=_number("power_w")),
        comp("phase", "sensor", "Phase", device_class="enum", options=list(PHASES),
             value_template="{{ value_json.phase if value_json.phase in "
                            f"{list(PHASES)} else 'None' }}}}"),
        comp("next_load", "number", "Next set load", device_class="weight",
             unit_of_measurement="kg", min=float(STEP_KG), max=max_kg, step=float(STEP_KG),
             mode="box",
             command_topic=topics.command("next_load"),
             value_template=_number("next_kg")),
        comp("stop", "button", "Stop", command_topic=topics.command("stop"),
             payload_press="STOP", icon="mdi:stop-circle"),
    ])
    serial = str(unit.get("serial", topics.unit))
    device: dict[str, Any] = {
        "identifiers": [uid], "name": f"Halfstep {serial}", "manufacturer": "Halfstep",
        "model": f"cable unit, {unit.get('cable_count', 1)} cable(s)",
        "serial_number": serial, "sw_version": str(unit.get("firmware", ""))}
    if configuration_url:
        device["configuration_url"] = configuration_url
    origin: dict[str, Any] = {"name": "halfstep", "sw_version": version}
    if support_url or configuration_url:
        origin["support_url"] = support_url or configuration_url
    body = {
        "device": device,
        "origin": origin,
        "state_topic": topics.of("state"),
        "availability_topic": topics.of("availability"),
        "qos": 1,
        "components": components,
    }
    return json.dumps(body, separators=(",", ":")).encode()


# ---- commands ---------------------------------------------------------------------------


class CommandError(ValueError):
    def __init__(self, reason: str, field: str | None = None, allowed: str | None = None):
        super().__init__(reason)
        self.reason, self.field, self.allowed = reason, field, allowed


@dataclass(frozen=True)
class Command:
    name: str
    id: str | None = None
    kg: float | None = None


def parse_command(name: str, payload: bytes) -> Command:
    """A command from its topic name and payload. Plain payloads are what Home Assistant's
    button ("STOP") and number ("12.5") send; JSON adds an id echoed in the response."""
    if name not in COMMANDS:
        raise CommandError(f"unknown command {name!r}", "command", ", ".join(COMMANDS))
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError("the payload is not UTF-8 text", "payload") from None
    body: Any = text
    if text.startswith("{"):
        try:
            body = loads_json(text)  # numbers as sent: judged on their text, not a float
        except ValueError as e:
            raise CommandError(f"the payload is not valid JSON ({e})", "payload") from None
    cid = None
    if isinstance(body, dict):
        cid = body.get("id")
        if cid is not None and not isinstance(cid, str | int):
            raise CommandError("id must be a string or a number", "id")
        cid = None if cid is None else str(cid)[:64]
    if name == "stop":
        return Command("stop", cid)
    raw = body.get("kg") if isinstance(body, dict) else body
    if raw is None or raw == "":
        raise CommandError("the next set's load is missing", "kg",
                           'a number of kg, e.g. 12.5 or {"kg": 12.5}')
    try:
        kg = load_kg(raw)  # the grid here; the unit's maximum where the load is set
    except LoadError as e:
        raise CommandError(str(e), "kg", 'a number of kg on the 0.5 kg grid, e.g. 12.5 or '
                           '{"kg": 12.5}') from None
    return Command("next_load", cid, kg)


def response(unit: str, seq: int, at: float, command: str, cid: str | None, ok: bool,
             **data: Any) -> bytes:
    body = {"v": SCHEMA, "unit": unit, "ts": iso(at), "seq": seq, "command": command,
            "id": cid, "ok": ok, **{k: v for k, v in data.items() if v is not None}}
    return json.dumps(body, default=jsonable, separators=(",", ":")).encode()
