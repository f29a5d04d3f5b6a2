"""Structured logs: JSON lines (or readable text) with the context bound once per session.

Session id, device serial, firmware version and link are bound as context variables, so every
line written while a session runs carries them without each call repeating them.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Literal, TextIO

import structlog

from firmware_bridge import flight

LogFormat = Literal["text", "json"]


LEVELS = logging.getLevelNamesMapping()


def configure_logging(fmt: LogFormat = "text", level: str = "warning",
                      stream: TextIO | None = None, file: Path | None = None) -> None:
    """Lines at `level` and above to `stream`; with `file`, every line at info and above also
    goes there as JSON (what `halfstep logs` and support bundles read), and to the flight
    recorder when one is on."""
    stream = stream or sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(sort_keys=False) if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False))
    shown = LEVELS[level.upper()]
    keep = min(shown, logging.INFO) if file is not None else shown
    sink = None
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        sink = open(file, "a", encoding="utf-8", buffering=1)

    def tee(logger: object, name: str, event: dict) -> dict:
        if sink is not None and LEVELS[event["level"].upper()] >= logging.INFO:
            sink.write(json.dumps(event, default=str) + "\n")
            rec = flight.recorder()
            if rec is not None:
                rec.note_event(dict(event))
        if LEVELS[event["level"].upper()] < shown:
            raise structlog.DropEvent
        return event

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            tee,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(keep),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def bind_session(session_id: str) -> None:
    structlog.contextvars.bind_contextvars(session_id=session_id)
