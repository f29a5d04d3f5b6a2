"""Typed parsers for every quantity a person or the network gives: one strict layer that the
CLI, the panel and MQTT share, so a value means the same thing wherever it is typed.

Numbers are plain ASCII decimals: no underscores (`1_0` is a typo for 1.0, not ten), no other
scripts' digits, no exponents, no booleans, nothing non-finite. A load must also be exactly on
the 0.5 kg grid (`check_load`); JSON numbers are kept as the text that was sent
(`loads_json`), so `12.4999999999999999` is refused rather than read as 12.5.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from firmware_bridge.loads import PLAIN_DECIMAL, check_load

_DECIMAL = PLAIN_DECIMAL
_INTEGER = re.compile(r"-?[0-9]{1,30}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SEGMENT = re.compile(r"[a-z0-9_-]{1,64}")
MAX_TEXT = 32  # characters: anything longer is not a number a person typed
NUMBER_FORMAT = "a plain decimal number: digits 0-9 and at most one '.', e.g. 2.5"
FIRST_DATE, LAST_DATE = dt.date(2000, 1, 1), dt.date(2199, 12, 31)


class InputError(ValueError):
    """A refused value: the message says what was given, which field, and what is allowed."""


class JsonNumber(str):
    """A JSON number exactly as it was sent (see `loads_json`)."""


def loads_json(text: str | bytes) -> Any:
    """JSON with numbers kept as their text, so a load is judged on what was sent and not on
    the float it rounds to; nesting too deep for the parser is a ValueError like any bad JSON."""
    try:
        return json.loads(text, parse_float=JsonNumber, parse_int=JsonNumber,
                          parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _text(value: object) -> str | None:
    """The text of a number as given; None for what is not one (booleans above all)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):  # JsonNumber included
        return value.strip(" \t\r\n")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # from code, not from a person: its shortest repr
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return None


def load_kg(value: object, max_kg: float = float("inf")) -> float:
    """A load from a person or the network: a plain decimal on the 0.5 kg grid within
    [0, max_kg]; anything else is a LoadError naming the nearest valid loads or the format,
    the same message whichever surface it came from."""
    if isinstance(value, JsonNumber):
        value = str(value)
    return check_load(value, max_kg)  # type: ignore[arg-type]


def number(value: object, field: str, lo: float | None = None, hi: float | None = None,
           integer: bool = False) -> float:
    """A plain decimal (or, with `integer`, whole) number within [lo, hi]."""
    text = _text(value)
    pattern = _INTEGER if integer else _DECIMAL
    kind = "a whole number (digits 0-9)" if integer else NUMBER_FORMAT
    if text is None or len(text) > MAX_TEXT or not pattern.fullmatch(text):
        raise InputError(f"{field}={_show(value)} is not {kind}")
    x = int(text) if integer else float(Decimal(text))
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise InputError(f"{field}={_show(value)} is out of range: allowed {_range(lo, hi)}")
    return x


def date(value: object, field: str = "date") -> dt.date:
    """YYYY-MM-DD in ASCII digits, a real day between FIRST_DATE and LAST_DATE."""
    text = _text(value) if isinstance(value, str) else None
    if text is None or not _DATE.fullmatch(text):
        raise InputError(f"{field}={_show(value)} is not a date like 2026-11-23 (YYYY-MM-DD)")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as e:
        raise InputError(f"{field}={_show(value)} is not a date: {e}") from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise InputError(f"{field}={_show(value)} is out of range: allowed {FIRST_DATE} to "
                         f"{LAST_DATE}")
    return day


def port(value: object, field: str = "port", allow_zero: bool = False) -> int:
    """A TCP port in ASCII digits (0, "any free one", only where it means that)."""
    return int(number(value, field, 0 if allow_zero else 1, 65535, integer=True))


_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")


def host_port(value: object, field: str, default_host: str | None = None) -> tuple[str, int]:
    """HOST:PORT to listen on or connect to: a name or IPv4 address, or an IPv6 address in
    brackets ([::1]:8080); port 0 picks a free one. The host comes back without brackets."""
    import ipaddress

    example = "e.g. 127.0.0.1:8080 or [::1]:8080"
    if not isinstance(value, str):
        raise InputError(f"{field}={_show(value)} is not HOST:PORT ({example})")
    host, sep, text = value.rpartition(":")
    if not sep:
        raise InputError(f"{field}={_show(value)} is not HOST:PORT ({example})")
    p = port(text, f"{field} port", allow_zero=True)
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])), p
        except ValueError:
            raise InputError(f"{field}={_show(value)}: {host} is not an IPv6 address") from None
    if not host and default_host is not None:
        return default_host, p
    if not _HOSTNAME.fullmatch(host):
        raise InputError(f"{field}={_show(value)}: {host!r} is not a host name or address "
                         f"({example})")
    return host, p


def topic_segment(value: object, field: str = "unit") -> str:
    """One MQTT topic level a person names (a unit id): never a wildcard or a separator."""
    if not isinstance(value, str) or not _SEGMENT.fullmatch(value):
        raise InputError(f"{field}={_show(value)} is not allowed: 1-64 characters from a-z, "
                         "0-9, '_' and '-'")
    return value


def _show(value: object) -> str:
    text = repr(str(value) if isinstance(value, JsonNumber) else value)
    return text if len(text) <= 40 else text[:37] + "...'"


def _range(lo: float | None, hi: float | None) -> str:
    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    if lo is not None and hi is not None:
        return f"{fmt(lo)} to {fmt(hi)}"
    return f"at least {fmt(lo)}" if lo is not None else f"at most {fmt(hi)}"  # type: ignore
