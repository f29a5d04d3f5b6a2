"""Log lines as a person at a terminal reads them (`--log-format text`, the default): a warning
is one line, the level and the event with its reason, never the event's whole context
(session ids, device, link, firmware), which the JSON log file keeps for support. On a
terminal a line is cut to its width, so a warning never wraps among the rep lines."""

from __future__ import annotations

import shutil
import sys
from typing import Any, TextIO

import structlog

# The fields that say why, in the order they are looked for.
WHY = ("cause", "error", "reason", "detail", "why", "action")
# Fields worth a few words beside it when there is no reason.
FIGURES = ("file", "path", "url", "load_kg", "attempt", "dropped", "age_s", "address", "host",
           "port")


class ConsoleLine:
    """Warnings and errors as one line; info and debug (asked for with --log-level) in full,
    as structlog's console renderer writes them."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self.full = structlog.dev.ConsoleRenderer(colors=False)

    def __call__(self, logger: object, name: str, event: dict[str, Any]) -> str:
        level = str(event.get("level", name))
        if level in ("debug", "info"):
            return str(self.full(logger, name, event))
        what = str(event.get("event", ""))
        why = next((str(event[k]) for k in WHY if event.get(k) not in (None, "")), "")
        if not why:
            why = ", ".join(f"{k.replace('_', ' ')} {event[k]}" for k in FIGURES
                            if event.get(k) not in (None, ""))
        line = f"{level}: {what}" + (f": {why}" if why else "")
        exc = event.get("exception")
        if exc:
            last = str(exc).strip().splitlines()[-1:] or [""]
            line += f" ({last[0]})"
        line = " ".join(line.split())  # one line, whatever the values held
        stream = self.stream or sys.stderr
        if _tty(stream):
            width = shutil.get_terminal_size((100, 24)).columns
            if len(line) > width:
                line = line[:max(10, width - 1)] + "…"
        return line


def _tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
