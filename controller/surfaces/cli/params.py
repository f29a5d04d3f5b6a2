"""The command line's argument types: each goes through the same parser as the panel and MQTT
(controller/core/inputs.py), so a value means the same thing wherever it is typed."""

from __future__ import annotations

from typing import Any

import click

from controller.core.inputs import InputError, load_kg, number
from firmware_bridge.loads import LoadError


class Number(click.ParamType):
    """A plain decimal (or whole) number option: `1_0`, `١٠`, `1e1`, `nan` and `inf` refused."""

    def __init__(self, lo: float | None = None, hi: float | None = None, integer: bool = False):
        self.lo, self.hi, self.integer = lo, hi, integer
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # a default
        try:
            x = number(value, _name(param), self.lo, self.hi, self.integer)
        except InputError as e:
            self.fail(str(e), param, ctx)
        return int(x) if self.integer else x


class Load(click.ParamType):
    """A load in kg (the grid is checked here; the unit's maximum once the unit answers)."""

    name = "kg"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        try:
            return load_kg(value)
        except LoadError as e:
            self.fail(str(e), param, ctx)


def _name(param: click.Parameter | None) -> str:
    if param is None:
        return "value"
    if isinstance(param, click.Option) and param.opts:
        return max(param.opts, key=len)
    return (param.name or "value").upper()
