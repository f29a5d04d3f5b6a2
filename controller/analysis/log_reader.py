"""Reading a JSON log back, a line at a time: `JsonLogReader` refuses lines whose fields the
readers sort and group by are not text, and memory stays at one line whatever the file's size.

Here rather than beside the writer (controller/core/logs.py, which re-exports these names) so
that the log summaries in controller/analysis can read logs without the logging setup.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_LINE = 1024 * 1024  # our lines are a few hundred bytes; a longer one is damage
TEXT_FIELDS = ("event", "level", "timestamp", "session_id", "kind")  # sorted, grouped, filtered


def json_type(value: object) -> str:
    """A parsed JSON value's type as JSON names it, for messages."""
    for t, name in ((bool, "boolean"), (str, "string"), (int, "number"), (float, "number"),
                    (list, "array"), (dict, "object")):
        if isinstance(value, t):
            return name
    return "null"


def check_event(e: object) -> str | None:
    """Why a parsed value is no log event (None: it is one): an object whose fields in
    TEXT_FIELDS hold text or nothing."""
    if not isinstance(e, dict):
        return f"is a JSON {json_type(e)}, not an object"
    for key in TEXT_FIELDS:
        v = e.get(key)
        if v is not None and not isinstance(v, str):
            return f"has {key!r} as a JSON {json_type(v)} (text expected)"
    return None


def parse_event(line: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the event, None), or (None, why the line is not one)."""
    try:
        e = json.loads(line)
    except RecursionError:
        return None, "is nested too deeply to read"
    except ValueError:
        return None, "is not JSON"
    why = check_event(e)
    return (None, why) if why else (e, None)


class JsonLogReader:
    """A JSON log, one line at a time: memory stays at one line (at most MAX_LINE bytes)
    whatever the file's size. Lines that are not JSON, not objects or have fields of the wrong
    type are skipped and counted; `problem` names the first (line number, what was wrong)."""

    def __init__(self, path: Path):
        self.path = path
        self.events = 0  # events yielded
        self.skipped = 0
        self.first_problem: str | None = None
        self.fallback: str | None = None  # why it was not read as another kind, if it was tried

    @property
    def problem(self) -> str | None:
        if self.first_problem is None:
            return None
        more = f"; {self.skipped} lines skipped in all" if self.skipped > 1 else ""
        return self.first_problem + more

    def _skip(self, why: str) -> None:
        self.skipped += 1
        self.first_problem = self.first_problem or why

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as f:
            n = 0
            while raw := f.readline(MAX_LINE):
                n += 1
                if len(raw) == MAX_LINE and not raw.endswith(b"\n"):
                    rest = raw
                    while rest and not rest.endswith(b"\n"):  # the rest of the line, unread
                        rest = f.readline(MAX_LINE)
                    self._skip(f"line {n} is longer than {MAX_LINE} bytes (skipped)")
                    continue
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                e, why = parse_event(line)
                if e is None:
                    self._skip(f"line {n} {why} (skipped): {line[:60]!r}")
                    continue
                self.events += 1
                yield e
