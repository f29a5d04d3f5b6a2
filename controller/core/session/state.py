"""What the parts of a session share: the exceptions that end a set or a session, the state the
surfaces see (LiveState), a session's result, and the signals one part leaves for the others
(a STOP, Ctrl-C, a red flag from a surface), acted on at their next step."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from controller.core.history import SetRecord
from controller.planning import red_flags
from controller.planning.models import RedFlag, SessionLog
from controller.planning.planner import Prescription
from firmware_bridge.transports.base import LinkClosed


class LinkLost(LinkClosed):
    pass


class SafetyStop(Exception):
    """The signal from the unit cannot be trusted: the session ends (the set is kept)."""


class Interrupted(Exception):
    """Ctrl-C: the session ends here, its sets kept and the plan updated."""


class StopRequested(Exception):
    """STOP from a surface (panel, MQTT): the set in progress ends at once."""


@dataclass
class LiveState:
    """What a surface shows of the session right now (published as `state`)."""

    phase: str = "idle"  # idle | armed | set | rest | paused | fault
    exercise: str | None = None
    set_index: int | None = None
    sets: int | None = None
    target_reps: int | None = None
    reps: int = 0
    partial_reps: int = 0
    applied_kg: float = 0.0
    next_kg: float | None = None
    next_max_kg: float | None = None  # the most the next set may be given (the plan's cap)
    rest_until: float | None = None  # wall clock, seconds since the epoch
    power_w: float | None = None  # mean concentric power of the last rep, all cables
    link: str = "ok"
    reason: str | None = None
    program: str = "active"  # active | paused (a red flag, until an all-clear)
    step: str | None = None  # the set ready or under way: warmup | work | assessment
    mode: str | None = None  # its load mode (controller/core/load_modes.py)
    pause: dict[str, Any] | None = None  # the flag, its date and the advice, while paused


class RedFlagRaised(Exception):
    """A red flag at a check-in: everything stops, the program pauses, nothing more is asked."""

    def __init__(self, kind: RedFlag, checkin: str):
        super().__init__(f"red flag {kind.value} at {checkin}")
        self.kind, self.checkin = kind, checkin


class RestToday(Exception):
    """The person chose to rest: the last session was too recent (SPACE-1). Nothing loaded."""


class ProgramPaused(Exception):
    """The program is paused by a red flag: no session loads the motor until an all-clear."""

    def __init__(self, rx: Prescription):
        super().__init__(paused_text(rx))
        self.rx = rx


def paused_text(rx: Prescription) -> str:
    return red_flags.pause_line(next((r.data for r in rx.reasons if r.rule == "FLAG-1"), {})) \
        + " " + rx.advice


@dataclass
class SessionResult:
    session_id: int
    status: str
    sets: list[SetRecord] = field(default_factory=list)
    log: SessionLog | None = None
    red_flag: RedFlag | None = None


@dataclass
class Signals:
    """What one part leaves for the others, read at their next step: a STOP (the set in
    progress ends; the load returns only from the dock), Ctrl-C, a red flag given outside a
    question, the set's telemetry queue (a STOP wakes the set loop through it) and the event
    that wakes a rest."""

    stop_from: str | None = None  # a STOP not yet acted on: the surface it came from
    need_dock: bool = False  # after a STOP or a refused load: from the dock only
    dock_after_us: int | None = None  # ...docked after this unit time
    interrupted: str | None = None  # Ctrl-C: the session ends at its next step
    pending_flag: RedFlagRaised | None = None  # from a surface, outside a question
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    q: asyncio.Queue | None = None  # the set's telemetry, while a set is armed or under way
