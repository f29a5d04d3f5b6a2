"""What a panel request may carry, and how the panel answers one it refuses.

The JSON bodies' models, the strict reading of a body (`read_body`: bad JSON, NaN, deep
nesting, wrong types are a 400 that says so, never a traceback), dates as people send them,
and the error answer every route uses. Shared by the route modules and `app.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from controller.core.events import jsonable
from controller.core.inputs import JsonNumber, loads_json
from firmware_bridge.validation import describe

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "Answer", "CheckinAnswer", "ClearRequest", "Login",
           "ModeChoice", "NewPerson", "NextLoad", "PersonChoice", "RedFlagBody", "dumps", "error",
           "parse_date", "read_body"]

MAX_DEPTH = 8  # JSON nesting a panel body may have (they are flat)
MAX_DIGITS = 18  # a JSON number longer than this is not one a person or the page sent


class Body(BaseModel):
    """Every request body: no unknown field. The answers' values are judged by their own
    parsers (`load_kg`, `Question.parse`), so they are taken as sent."""

    model_config = ConfigDict(extra="forbid")


class StrictBody(Body):
    """A body whose fields are what they say: no coercion ("12" is not 12)."""

    model_config = ConfigDict(strict=True)


class NextLoad(Body):
    kg: Any  # as sent (a JsonNumber keeps its text): judged by `load_kg`, never a lax float


class Answer(Body):
    prompt: int
    value: int | bool | str | None


class CheckinAnswer(Body):
    value: int | bool | str | None


class RedFlagBody(Body):
    value: str
    qid: str | None = None  # the question it was meant for, if any


class ClearRequest(StrictBody):
    by: str
    date: str | None = None  # YYYY-MM-DD; default: today
    confirm: bool


class PersonChoice(StrictBody):
    id: str


class NewPerson(StrictBody):
    name: str
    kind: str
    painful: list[str] = []
    sessions_per_week: int | None = None


class ModeChoice(StrictBody):
    mode: str


class Login(StrictBody):
    pin: str


async def read_body(request: web.Request, model: type[BaseModel],
                    numbers_as_text: bool = False) -> Any:
    """A JSON body through the strict layer (`loads_json`): bad JSON, NaN, deep nesting, a
    body that is not an object or a field of the wrong type are a 400 that says so, never a
    traceback. Numbers stay text with `numbers_as_text` (loads); elsewhere they become plain
    ints and finite floats before the model sees them."""
    if request.content_type != "application/json":
        return error(415, "send JSON (Content-Type: application/json)")
    try:
        data = loads_json(await request.read())
    except ValueError as e:  # UnicodeDecodeError, JSONDecodeError and deep nesting included
        return error(400, f"not valid JSON: {e}")
    try:
        data = _plain(data, numbers_as_text)
    except ValueError as e:
        return error(400, f"the body is refused: {e}")
    if not isinstance(data, dict):
        return error(400, f"send a JSON object, not {type(data).__name__}",
                     allowed=_fields(model))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        return error(400, describe(e), field=".".join(str(p) for p in first["loc"]) or None)


def _plain(value: Any, numbers_as_text: bool, depth: int = 0) -> Any:
    """Parsed JSON made safe for the models: nesting beyond MAX_DEPTH, numbers too long to be
    typed, infinite floats (`1e999`) and text that is not Unicode (lone surrogates, which
    would fail later when logged or stored) are ValueErrors here."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, JsonNumber):
        if numbers_as_text:  # `load_kg` bounds its length and judges its text
            return value
        if len(value.lstrip("-")) > MAX_DIGITS:
            raise ValueError(f"a number of more than {MAX_DIGITS} characters")
        if value.lstrip("-").isdigit():
            return int(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value} is not a finite number")
        return number
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text with a lone surrogate (\\ud800-\\udfff) is not Unicode") \
                from None
        return value
    if isinstance(value, dict):
        return {_plain(k, numbers_as_text, depth + 1): _plain(v, numbers_as_text, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, numbers_as_text, depth + 1) for v in value]
    return value


def _fields(model: type[BaseModel]) -> str:
    return "{" + ", ".join(f'"{name}": ...' for name in model.model_fields) + "}"


def parse_date(text: str) -> dt.date:
    """A calendar date as people and the panel send it (YYYY-MM-DD), strictly."""
    if not (len(text) == 10 and text.isascii() and text[4] == text[7] == "-"):
        raise ValueError(f"{text!r} is not a date like 2026-11-30")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date on the calendar") from None


def error(status: int, reason: str, *, field: str | None = None,
          allowed: str | None = None) -> web.Response:
    body = {"ok": False, "error": reason}
    if field:
        body["field"] = field
    if allowed:
        body["allowed"] = allowed
    return web.json_response(body, status=status)


def dumps(v: Any) -> str:
    return json.dumps(v, default=jsonable)
