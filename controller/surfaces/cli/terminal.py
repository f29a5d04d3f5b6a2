"""The terminal during `halfstep run`: what the session says, line by line, and between those
lines a status kept up to date (the rest's countdown, how long the set has waited for the
handles), so a quiet stretch is never silence.

On a terminal the status is one line rewritten in place; it steps aside while a question waits
for typing (it would garble what is typed). Off a terminal (a pipe, a log file) it is a plain
line every EVERY_S, and at each change of what is waited for.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

EVERY_S = 15.0  # off a terminal: a status line this often
TICK_S = 0.5


def clock(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def status_text(state: Any, armed_since: float | None, now: float) -> str | None:
    """What is being waited for now, in a few words; None when nothing is."""
    if state.phase == "rest" and state.rest_until:
        nxt = f", next set {state.next_kg:.1f} kg" if state.next_kg else ""
        return f"  rest: {clock(state.rest_until - now)} left{nxt}"
    if state.phase == "armed" and armed_since is not None:
        return (f"  waiting for the handles: take them up to start "
                f"({clock(now - armed_since)})")
    return None


class Terminal:
    """`echo` for the session's lines (any thread), `show` for the status (the main loop)."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 every_s: float = EVERY_S):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s
        self._lock = threading.Lock()
        self._shown = ""  # the status on screen now (a terminal)
        self._said: tuple[str, float] = ("", 0.0)  # the kind last printed and when (no tty)

    def echo(self, line: str) -> None:
        with self._lock:
            if self._shown:
                self._write("\r\x1b[K")
            self._write(line + "\n")
            if self._shown:
                self._write(self._shown)

    def show(self, text: str | None, now: float, typing: bool = False) -> None:
        with self._lock:
            if self.tty:
                text = None if typing else text
                if text != self._shown:
                    self._write("\r\x1b[K" + (text or ""))
                    self._shown = text or ""
                return
            if text is None:
                self._said = ("", 0.0)
                return
            kind = text.split(":")[0]
            if kind != self._said[0] or now - self._said[1] >= self.every_s:
                self._write(text + "\n")
                self._said = (kind, now)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe: the session goes on
            pass


async def keep_status(term: Terminal, state: Callable[[], Any],
                      typing: Callable[[], bool]) -> None:
    """The status, every TICK_S, until cancelled."""
    armed_since: float | None = None
    try:
        while True:
            s = state()
            now = time.time()
            if s.phase == "armed":
                armed_since = armed_since or now
            else:
                armed_since = None
            term.show(status_text(s, armed_since, now), now, typing())
            await asyncio.sleep(TICK_S)
    finally:
        term.show(None, time.time())
