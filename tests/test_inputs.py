"""The strict parsing layer: what it accepts is exactly what a person reading it understands,
and the loose numbers that once moved the motor are refused with one message everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.core.inputs import InputError, JsonNumber, date, host_port, load_kg, loads_json
from controller.surfaces.cli.main import cli
from controller.surfaces.mqtt.payloads import CommandError, parse_command
from firmware_bridge.loads import LoadError

LOOSE = ["1_0", "١٠", "true", "1e1", "12.4999999999999999", "１０", "+5", "0x10", "nan", "inf"]


def _reading(text: str) -> Decimal:
    """What a person reading the text understands: the decimal number written there."""
    return Decimal(text.strip())


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(max_size=24), st.from_regex(r"\A-?[0-9]{1,4}(\.[0-9]{1,3})?\Z"),
                 st.decimals(allow_nan=True, allow_infinity=True).map(str)))
def test_any_text_accepted_as_a_load_is_on_the_grid_and_means_what_it_says(text: str) -> None:
    try:
        kg = load_kg(text, 200.0)
    except LoadError:
        return
    stripped = text.strip(" \t\r\n")
    assert stripped.isascii() and all(c in "0123456789.-" for c in stripped)
    assert Decimal(kg) == _reading(stripped)  # exactly, not rounded
    assert (Decimal(kg) * 2) % 1 == 0 and 0 <= kg <= 200.0


@settings(max_examples=1000, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(), c,
                                                                        max_size=3),
                    max_leaves=8))
def test_any_json_value_accepted_as_a_load_is_a_plain_number_on_the_grid(value: object) -> None:
    try:
        raw = loads_json(json.dumps({"kg": value}))["kg"]
    except ValueError:  # NaN and Infinity (anywhere in it): not JSON numbers at all
        assert "inf" in repr(value) or "nan" in repr(value)
        return
    try:
        kg = load_kg(raw, 200.0)
    except LoadError:
        return
    assert not isinstance(value, bool) and value is not None
    assert isinstance(raw, str) and Decimal(kg) == _reading(raw)
    assert (Decimal(kg) * 2) % 1 == 0


def test_json_numbers_are_judged_on_their_text() -> None:
    body = loads_json('{"kg": 12.4999999999999999, "n": 3}')
    assert body == {"kg": "12.4999999999999999", "n": "3"}
    assert isinstance(body["kg"], JsonNumber)
    with pytest.raises(LoadError, match=r"not a multiple of 0\.5 kg"):
        load_kg(body["kg"])
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="NaN"):
        loads_json('{"kg": NaN}')


@pytest.mark.parametrize("text", LOOSE)
def test_loose_loads_are_refused_with_the_same_message_on_the_cli_and_mqtt(text: str) -> None:
    with pytest.raises(LoadError) as direct:
        load_kg(text)
    message = str(direct.value)
    r = CliRunner().invoke(cli, ["--no-wire-log", "device", "set-load", "--device",
                                 "sim://?seed=1", "--", text])
    assert r.exit_code == 2 and message in r.output, r.output
    with pytest.raises(CommandError) as plain:
        parse_command("next_load", text.encode())
    assert plain.value.reason == message
    if text != "true":  # JSON: the same text as a number where JSON allows it, and as a string
        with pytest.raises(CommandError) as as_string:
            parse_command("next_load", json.dumps({"kg": text}).encode())
        assert as_string.value.reason == message
    with pytest.raises(CommandError) as as_bool:
        parse_command("next_load", b'{"kg": true}')
    with pytest.raises(LoadError) as true_load:
        load_kg(True)
    assert as_bool.value.reason == str(true_load.value)


def test_mqtt_json_number_off_the_grid_is_refused_not_rounded() -> None:
    with pytest.raises(CommandError, match=r"not a multiple of 0\.5 kg"):
        parse_command("next_load", b'{"kg": 12.4999999999999999}')
    with pytest.raises(CommandError, match="plain decimal"):
        parse_command("next_load", b'{"kg": 1e1}')
    assert parse_command("next_load", b'{"kg": 12.5}').kg == 12.5


def test_set_load_with_a_loose_number_moves_nothing() -> None:
    """The typo that once applied ten times the load: refused before any link is opened."""
    r = subprocess.run([sys.executable, "-m", "controller.surfaces.cli.main",
                       "--no-wire-log", "device",
                        "set-load", "1_0", "--device", "tcp://127.0.0.1:9"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "plain decimal" in r.stderr and "Traceback" not in r.stderr
    assert "cannot connect" not in r.stderr  # refused before connecting


@pytest.mark.parametrize("text,ok", [
    ("2026-11-23", True), ("2026-13-45", False), ("99999-01-01", False), ("20261201", False),
    ("2026-W49-1", False), ("0001-01-01", False), ("٢٠٢٦-١١-٢٣", False), ("2026-02-30", False),
])
def test_dates(text: str, ok: bool) -> None:
    if ok:
        assert str(date(text)) == text
    else:
        with pytest.raises(InputError):
            date(text)


@pytest.mark.parametrize("text,expect", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:80", ("::1", 80)),
    ("[::1", None), ("0.0.0.0:٨٠", None), ("h:99999", None), ("a b:1", None),
])
def test_host_port(text: str, expect: tuple[str, int] | None) -> None:
    if expect is not None:
        assert host_port(text, "--x") == expect
    else:
        with pytest.raises(InputError):
            host_port(text, "--x")
