"""The flight recorder: the last 30 s of telemetry and log events, kept in memory and written
to a file on every safety event or fault, so support sees what led up to it.

Cheap on the hot path: a telemetry batch is appended to a deque (the arrays are the decoder's
own read-only views); old entries fall off by time. Dumps are rate-limited.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import deque
from pathlib import Path
from typing import Any

from firmware_bridge.messages import telemetry_columns

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
                         **telemetry_columns(batches)}
        body = {"reason": reason, "at": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
                "window_s": self.window_s, "events": [e for _, e in self._events],
                "telemetry": telemetry}
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        path = self.folder / f"flight-{stamp}-{re.sub(r'[^a-z0-9_]+', '_', reason.lower())}.json"
        path.write_text(json.dumps(body, default=str))
        self.dumps.append(path)
        return path


_recorder: FlightRecorder | None = None


def enable(folder: Path | None) -> None:
    global _recorder
    _recorder = None if folder is None else FlightRecorder(folder)


def recorder() -> FlightRecorder | None:
    return _recorder
