"""Running `halfstep` as separate processes, the way people and support engineers do."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

HALFSTEP = [str(Path(sys.executable).parent / "halfstep")]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*HALFSTEP, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


class Background:
    """A long-running halfstep process whose stdout and stderr lines are read as they come."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([*HALFSTEP, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.out: queue.Queue[str] = queue.Queue()
        self.err_lines: list[str] = []
        self._err_q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self._err_q),
                         daemon=True).start()

    @staticmethod
    def _pump(stream, q) -> None:
        for line in stream:
            q.put(line.rstrip("\n"))

    def first_line(self, timeout: float = 20) -> str:
        return self.out.get(timeout=timeout)

    def wait_log(self, event: str, timeout: float = 20, **match: object) -> dict:
        """The next JSON log line on stderr with this event (and field values)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self._err_q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.err_lines.append(line)
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == event and all(rec.get(k) == v for k, v in match.items()):
                return rec
        raise AssertionError(f"no {event!r} log line; saw:\n" + "\n".join(self.err_lines[-30:]))

    def drain(self, seconds: float = 0.5) -> list[dict]:
        """Every JSON log line that arrives within `seconds` (and any not yet read)."""
        end = time.monotonic() + seconds
        out = []
        while True:
            try:
                line = self._err_q.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return out
            self.err_lines.append(line)
            try:
                out.append(json.loads(line))
            except ValueError:
                continue

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
