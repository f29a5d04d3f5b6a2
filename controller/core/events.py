"""Session events fanned out to the surfaces that watch a session (MQTT, the panel).

The session emits and moves on: a subscriber is a plain function that must not block (it puts
the event into its own bounded queue). A subscriber that raises is logged and skipped, never
allowed to stop the set in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog

from controller.core.control_core import LoopSink

log = structlog.get_logger("controller.core.events")

SESSION_KINDS = ("unit", "state", "rep", "set", "session", "safety", "telemetry")
KINDS = (*SESSION_KINDS, "home")  # home: `halfstep serve`'s people, Start and the summary


@dataclass(frozen=True)
class Event:
    kind: str  # one of KINDS
    data: dict[str, Any]
    at: float = field(default_factory=time.time)  # wall clock, seconds since the epoch


Subscriber = Callable[[Event], None]


def jsonable(value: Any) -> Any:
    """`default=` for json.dumps of event data: numpy values as plain ones, the rest as text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class EventBus:
    def __init__(self) -> None:
        self._subs: list[tuple[Subscriber, frozenset[str]]] = []
        self.errors = 0

    def subscribe(self, fn: Subscriber, kinds: Collection[str] = KINDS) -> Callable[[], None]:
        """Returns the function that unsubscribes. A subscriber is called on the loop it
        subscribed from, whichever thread emits (the session runs on the control core's)."""
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds {sorted(unknown)}; allowed: {KINDS}")
        with contextlib.suppress(RuntimeError):  # no loop running: called where emitted
            fn = LoopSink(fn, asyncio.get_running_loop())
        entry = (fn, frozenset(kinds))
        self._subs.append(entry)
        return lambda: self._subs.remove(entry) if entry in self._subs else None

    def wants(self, kind: str) -> bool:
        """Whether anyone listens: telemetry is only converted when someone does."""
        return any(kind in kinds for _, kinds in self._subs)

    def emit(self, kind: str, /, **data: Any) -> None:
        event = Event(kind, data)
        for fn, kinds in list(self._subs):
            if kind in kinds:
                try:
                    fn(event)
                except Exception:
                    self.errors += 1
                    log.exception("subscriber_failed", kind=kind)
