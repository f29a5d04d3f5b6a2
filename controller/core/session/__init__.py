"""The session runner and what it shares with the surfaces (runner.py says how it is built).

Everything other modules import from here keeps its old name: `from controller.core.session
import SessionRunner, ProgramPaused, ...`.
"""

from controller.core.session.person import RunnerIO
from controller.core.session.reconnect import BACKOFF_S
from controller.core.session.rests import WARMUP_REST_S
from controller.core.session.runner import SessionRunner
from controller.core.session.set_loop import ARM_ATTEMPTS, expected_travel_mm
from controller.core.session.state import (
    Interrupted,
    LinkLost,
    LiveState,
    ProgramPaused,
    RedFlagRaised,
    RestToday,
    SafetyStop,
    SessionResult,
    StopRequested,
    paused_text,
)
from controller.core.session.stop import INTERRUPT_STOP_S
from controller.core.session.telemetry import FRESH_S

__all__ = [
    "ARM_ATTEMPTS",
    "BACKOFF_S",
    "FRESH_S",
    "INTERRUPT_STOP_S",
    "WARMUP_REST_S",
    "Interrupted",
    "LinkLost",
    "LiveState",
    "ProgramPaused",
    "RedFlagRaised",
    "RestToday",
    "RunnerIO",
    "SafetyStop",
    "SessionResult",
    "SessionRunner",
    "StopRequested",
    "expected_travel_mm",
    "paused_text",
]
