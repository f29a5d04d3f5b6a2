"""The flight recorder: the last 30 s of telemetry and log events, kept in memory and written
to a file on every safety event or fault, so support sees what led up to it.

Cheap on the hot path: a telemetry batch is appended to a deque (the arrays are the decoder's
own read-only views); old entries fall off by time. Dumps are rate-limited, written whole (a
temporary file renamed) and without credentials. A record is one JSON object per file (compact
here; a person may have pretty-printed it): `read_flight_record` reads either, within a size
limit, so `halfstep logs` can summarise it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections import deque
from pathlib import Path
from typing import Any

from firmware_bridge.redact import redact_text

FORMAT = "halfstep-flight-record/1"
MAX_BYTES = 4 * 1024 * 1024  # a record is ~100 KB: a bigger file is something else (or damage)
WINDOW_S = 30.0
MIN_GAP_S = 5.0  # one dump per this many seconds at most (a burst of events is one story)
TRIGGERS = {"safety_event", "link_closed", "command_timeout", "device_rebooted",
            "reconnect_failed", "emergency_stop_sent"}


class FlightRecorder:
    def __init__(self, folder: Path, window_s: float = WINDOW_S):
        self.folder = folder
        self.window_s = window_s
        self._batches: deque[tuple[float, Any]] = deque()
        self._events: deque[tuple[float, dict[str, Any]]] = deque()
        self._last_dump = 0.0
        self.dumps: list[Path] = []

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0][0] > self.window_s:
            self._events.popleft()

    def note_telemetry(self, batch: Any) -> None:
        """Kept by the unit's own clock (warped simulations included): the last 30 s of it."""
        t = int(batch.t_us[-1])
        b = self._batches
        if b and t < int(b[-1][1].t_us[-1]):  # the unit restarted its clock
            b.clear()
        b.append((time.time(), batch))
        limit = t - self.window_s * 1e6
        while b and int(b[0][1].t_us[-1]) < limit:
            b.popleft()

    def note_event(self, event: dict[str, Any]) -> None:
        now = time.time()
        self._events.append((now, event))
        self._trim(now)
        if event.get("event") in TRIGGERS and now - self._last_dump >= MIN_GAP_S:
            self.dump(str(event.get("kind") or event.get("event")))

    def dump(self, reason: str) -> Path:
        now = time.time()
        self._trim(now)
        self._last_dump = now
        batches = [b for _, b in self._batches]
        telemetry: dict[str, Any] = {}
        if batches:
            telemetry = {"host_time": [round(t, 3) for t, _ in self._batches],
                         "samples_per_batch": [len(b.t_us) for b in batches],
                         **_columns(batches)}
        body = {"format": FORMAT, "reason": reason,
                "at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
                "window_s": self.window_s, "events": [e for _, e in self._events],
                "telemetry": telemetry}
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        why = re.sub(r"[^a-z0-9_]+", "_", reason.lower())[:40]
        path = self.folder / f"flight-{stamp}-{why}.json"
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(redact_text(json.dumps(body, default=str)))  # events carry URLs
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # no half record left behind (the caller counts it)
            raise
        self.dumps.append(path)
        return path


_recorder: FlightRecorder | None = None


def enable(folder: Path | None) -> None:
    global _recorder
    _recorder = None if folder is None else FlightRecorder(folder)


def recorder() -> FlightRecorder | None:
    return _recorder


class FlightRecordError(ValueError):
    """A file that looks like a flight record and cannot be read as one (says why)."""


def looks_like_flight_record(path: Path) -> bool:
    """By its start, without reading it all: `{` then the `"format"` or `"reason"` key (both
    compact and pretty-printed records start so), or a `flight-*.json` name."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    return (re.match(rb'\s*\{\s*"(format|reason)"\s*:', head) is not None
            or (path.name.startswith("flight-") and path.suffix == ".json"
                and head.lstrip()[:1] == b"{"))


def read_flight_record(path: Path) -> dict[str, Any]:
    """A flight record's body, checked as far as a reader relies on it: `reason` and `at` text,
    `events` a list (its items are the caller's to check), `telemetry` an object. Raises
    FlightRecordError (too big, not JSON, not a record) and OSError."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise FlightRecordError(f"{size} bytes: more than a flight record holds "
                                f"({MAX_BYTES} at most)")
    raw = path.read_bytes()
    try:
        body = json.loads(raw)
    except RecursionError:
        raise FlightRecordError("nested too deeply to read") from None
    except ValueError as e:  # JSONDecodeError says line and column; UnicodeDecodeError, byte
        raise FlightRecordError(f"not JSON ({e})") from None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise FlightRecordError("not a flight record (no list of events)")
    for key in ("reason", "at"):
        if not isinstance(body.get(key), str):
            raise FlightRecordError(f"not a flight record ({key!r} is not text)")
    if not isinstance(body.get("telemetry", {}), dict):
        raise FlightRecordError("not a flight record ('telemetry' is not an object)")
    return body


def _columns(batches: Any) -> dict[str, Any]:
    """numpy (through the telemetry's columns) only when a record is written, not at start-up."""
    from firmware_bridge.messages import telemetry_columns

    return telemetry_columns(batches)
