"""Structured logs: JSON lines (or readable text) with the context bound once per session.

Session id, device serial, firmware version and link are bound as context variables, so every
line written while a session runs carries them without each call repeating them.
"""

from __future__ import annotations

import logging
import sys
import uuid
from typing import Literal, TextIO

import structlog

LogFormat = Literal["text", "json"]


def configure_logging(fmt: LogFormat = "text", level: str = "warning",
                      stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(sort_keys=False) if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def bind_session(session_id: str) -> None:
    structlog.contextvars.bind_contextvars(session_id=session_id)
