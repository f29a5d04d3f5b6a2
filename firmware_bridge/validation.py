"""Validation errors as one line a person can act on: which field, what was given, what is
allowed."""

from __future__ import annotations

from pydantic import ValidationError


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
