"""The load rule every path obeys: a multiple of 0.5 kg within [0, the unit's maximum].

Anything else is refused with an error that names the nearest valid loads or the maximum;
a load is never silently rounded or clamped.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, DecimalException

STEP_KG = Decimal("0.5")
# What a load may look like as text: ASCII digits and one '.', nothing else (no `1_0`, no other
# scripts' digits, no exponent): controller/core/inputs.py says why.
PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,19})?")
LOAD_FORMAT = "a plain decimal number of kilograms: digits 0-9 and at most one '.', e.g. 12.5"


class LoadError(ValueError):
    """A load request that breaks the rule; the message says what is allowed."""


def _fmt(d: Decimal) -> str:
    return f"{d:.1f}"


def check_load(kg: float | str | Decimal, max_kg: float) -> float:
    """Return the load as a float if it is valid for a unit whose maximum is `max_kg` per cable.
    Text must be a plain decimal; a float (from code) is judged by its shortest repr."""
    if isinstance(kg, bool) or not isinstance(kg, float | int | str | Decimal):
        raise LoadError(f"load {kg!r} is not {LOAD_FORMAT}")
    text = kg.strip(" \t\r\n") if isinstance(kg, str) else repr(kg) if isinstance(
        kg, float) else str(kg)
    if isinstance(kg, str) and not PLAIN_DECIMAL.fullmatch(text):
        raise LoadError(f"load {kg!r} is not {LOAD_FORMAT}")
    try:
        value = Decimal(text).normalize()
        value = Decimal(format(value, "f"))
    except DecimalException:
        raise LoadError(f"load {kg!r} is not a number; give kilograms, e.g. 12.5") from None
    if not value.is_finite():
        raise LoadError(f"load {kg} is not a finite number of kilograms")
    maximum = Decimal(str(max_kg))
    allowed = f"allowed: 0.0 to {_fmt(maximum)} kg in steps of 0.5 kg"
    if value < 0:
        raise LoadError(f"load {value} kg is negative; {allowed}")
    if value > maximum:
        raise LoadError(
            f"load {value} kg is above the unit's maximum of {_fmt(maximum)} kg per cable; "
            f"{allowed}")
    steps = value / STEP_KG
    if steps != steps.to_integral_value():
        lower = Decimal(math.floor(steps)) * STEP_KG
        upper = lower + STEP_KG
        nearest = f"{_fmt(lower)} kg and {_fmt(upper)} kg" if upper <= maximum else (
            f"{_fmt(lower)} kg")
        raise LoadError(
            f"load {value} kg is not a multiple of 0.5 kg; the nearest valid loads are "
            f"{nearest}")
    return float(value)
