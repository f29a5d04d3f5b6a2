"""Validation errors as one line a person can act on: which field, what was given, what is
allowed."""

from __future__ import annotations

import click
from pydantic import ValidationError


def finite(value: float, name: str) -> float:
    """NaN passes click's ranges (every comparison with it is false): refused here."""
    if value != value:
        raise click.BadParameter(f"{value} is not a number", param_hint=name)
    return value


def describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        field = ".".join(str(p) for p in err["loc"]) or "value"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            parts.append(f"{field}: missing (required)")
        elif err["type"] == "json_invalid":
            parts.append(f"not valid JSON: {err['ctx'].get('error', msg)}")
        else:
            parts.append(f"{field}={err.get('input')!r}: {msg}")
    return "; ".join(parts)
