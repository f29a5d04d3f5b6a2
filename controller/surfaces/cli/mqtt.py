"""`halfstep mqtt watch`: what a broker receives from units, one line per message, for support."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click

from controller.core.inputs import InputError, JsonNumber, loads_json, topic_segment
from controller.surfaces.cli.common import run_async
from controller.surfaces.cli.params import Number

if TYPE_CHECKING:  # loaded when an MQTT URL is given, not for every command
    from controller.surfaces.mqtt.config import MqttSettings


def mqtt_url(ctx: click.Context | None, param: click.Parameter | None,
             value: str | None) -> MqttSettings | None:
    """A click callback: the broker URL checked at once (exit 2 with the reason)."""
    if value is None:
        return None
    from controller.surfaces.mqtt.config import MqttUrlError, parse_mqtt_url

    try:
        return parse_mqtt_url(value)
    except MqttUrlError as e:
        raise click.BadParameter(str(e)) from None


def _unit(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A unit id as it appears in topics, or + for all: never another wildcard or a '/'."""
    if value == "+":
        return value
    try:
        return topic_segment(value, "--unit")
    except InputError as e:
        raise click.BadParameter(str(e)) from None


def describe(topic: str, payload: bytes) -> str:
    """One readable line for a message from a unit (unknown shapes, and fields of the wrong
    type from whatever else publishes there, are shown raw: a broker is not trusted)."""
    try:
        m: Any = loads_json(payload) if payload[:1] == b"{" else payload.decode()
    except (ValueError, UnicodeDecodeError):
        return f"{len(payload)} bytes (not JSON)"
    if not isinstance(m, dict):
        return str(m)[:200]
    try:
        return _describe(topic.rsplit("/", 1)[-1], _numbers(m))
    except (TypeError, ValueError, AttributeError, RecursionError):
        return payload[:200].decode(errors="replace")


def _numbers(m: Any) -> Any:
    """JSON numbers kept as text by `loads_json`, back to numbers for display."""
    if isinstance(m, JsonNumber):
        return float(m) if any(c in m for c in ".eE") else int(m)
    if isinstance(m, dict):
        return {k: _numbers(v) for k, v in m.items()}
    if isinstance(m, list):
        return [_numbers(v) for v in m]
    return m


def _describe(kind: str, m: dict[str, Any]) -> str:
    if kind == "state":
        line = f"{m.get('phase')}"
        if m.get("exercise"):
            line += f" {m['exercise']} set {m.get('set_index')}/{m.get('sets')}"
        line += f" load {m.get('applied_kg', 0):.1f} kg reps {m.get('reps', 0)}"
        if m.get("next_kg") is not None:
            line += f" next {m['next_kg']:.1f} kg"
        if m.get("link") not in (None, "ok"):
            line += f" link {m['link']}"
        return line + (f" ({m['reason']})" if m.get("reason") else "")
    if kind == "rep" and m.get("corrected"):
        return (f"{m.get('exercise')} set {m.get('set_index')}: rep {m.get('index')} recounted "
                f"{m.get('was')} -> {m.get('kind')}, now {m.get('count')}/{m.get('target_reps')}"
                + (f" ({m['note']})" if m.get("note") else ""))
    if kind == "rep":
        return (f"{m.get('exercise')} set {m.get('set_index')}: rep {m.get('count')}/"
                f"{m.get('target_reps')} {m.get('kind')} {m.get('mean_concentric_m_s', 0):.2f} m/s"
                + (f" ROM {m['rom_pct']:.0f}%" if m.get("rom_pct") is not None else "")
                + (f" {m['mean_concentric_power_w']:.0f} W"
                   if m.get("mean_concentric_power_w") is not None else ""))
    if kind == "set":
        return (f"{m.get('exercise')} set {m.get('set_index')}: {m.get('full_reps')} reps"
                + (f" +{m['partial_reps']} partial" if m.get("partial_reps") else "")
                + f" at {m.get('load_kg', 0):.1f} kg ({m.get('ended_by')})")
    if kind == "session":
        return (f"session {m.get('session')} {m.get('status')}: {m.get('sets')} sets, "
                f"{m.get('reps')} reps, {m.get('volume_kg')} kg volume, pain {m.get('pain')}")
    if kind == "safety":
        return f"{m.get('kind')}: {m.get('cause')}"
    if kind == "telemetry":
        return f"{m.get('samples')} samples, {m.get('dropped_samples', 0)} dropped so far"
    if kind == "response":
        what = "ok" if m.get("ok") else f"refused: {m.get('reason')}"
        return f"{m.get('command')} {what}" + (f" {m['result']}" if m.get("result") else "")
    if kind == "config":
        return f"discovery: {', '.join(m.get('components', {}))}"
    return json.dumps(m)[:200]


@click.group()
def mqtt() -> None:
    """MQTT: see what units publish (docs/mqtt.md)."""

@mqtt.command()
@click.argument("url", callback=mqtt_url)
@click.option("--unit", default="+", show_default=True, callback=_unit,
              help="Only this unit's messages (its id in the topics; + for every unit).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per message: topic, retain, payload.")
@click.option("--count", type=Number(1, 1000000, integer=True), default=None,
              help="Stop after this many messages.")
@click.option("--timeout", type=Number(0, 86400), default=None,
              help="Stop after this many seconds.")
@click.option("--discovery/--no-discovery", default=True, show_default=True,
              help="Also show the Home Assistant discovery messages.")
def watch(url: MqttSettings, unit: str, as_json: bool, count: int | None,
          timeout: float | None, discovery: bool) -> None:
    """Print what the broker at URL (mqtt://user:pass@host:port) receives from units."""
    import aiomqtt

    async def main() -> None:
        seen = 0
        try:
            async with aiomqtt.Client(url.host, url.port, username=url.username,
                                      password=url.password, tls_context=url.ssl_context(),
                                      protocol=aiomqtt.ProtocolVersion.V5) as client:
                await client.subscribe(f"{url.prefix}/{unit}/#", qos=1)
                if discovery:
                    uid = "+" if unit == "+" else f"{url.prefix}_{unit}"
                    await client.subscribe(f"{url.discovery}/device/{uid}/config", qos=1)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        async for m in client.messages:
                            payload = m.payload if isinstance(m.payload, bytes) else \
                                str(m.payload).encode()
                            _print(m.topic.value, payload, m.retain, as_json)
                            seen += 1
                            if count is not None and seen >= count:
                                return
        except aiomqtt.MqttError as e:
            raise click.ClickException(f"{url.redacted()}: {e}") from None

    run_async(main)


def _print(topic: str, payload: bytes, retain: bool, as_json: bool) -> None:
    if as_json:
        try:
            body: Any = _numbers(loads_json(payload))
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = payload.decode(errors="replace")
        click.echo(json.dumps({"topic": topic, "retain": retain, "payload": body}))
        return
    now = dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    click.echo(f"{now} {topic}{' (retained)' if retain else ''}: {describe(topic, payload)}")
