"""The host's safety supervisor, on top of the unit's own: one gate every load change goes
through, telemetry staleness, a plausibility envelope, and arming.

Pure decisions; the session runner does the I/O. Every refusal and every state change is
reported as a safety event with its cause (logged and kept in the history).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from controller.core.load_modes import mode, offered
from firmware_bridge.loads import LoadError, check_load

log = structlog.get_logger("controller.core.safety")

DEGRADED_S = 0.3  # telemetry older than this: no load increases, deload requested
LOST_S = 1.0  # older than this: the link is lost, the session pauses
MAX_SPEED_M_S = 3.0  # a cable moving faster than a person can: something is wrong
MAX_POSITION_MM = 3500.0
TENSION_FACTOR = 2.5  # tension above 2.5x the commanded load per cable


class SafetyRefusal(Exception):
    def __init__(self, cause: str, **data: Any):
        self.cause = cause
        self.data = data
        super().__init__(cause)

    @property
    def allowed(self) -> str | None:
        """What would have been accepted, for the person or tool that asked."""
        hi = self.data.get("allowed_kg")
        return None if hi is None else f"0.5 to {hi:.1f} kg in steps of 0.5 kg"


EventSink = Callable[..., None]


@dataclass
class Supervisor:
    unit_max_kg: float
    on_event: EventSink = field(default=lambda kind, cause, **kw: None)
    armed: bool = False
    link: str = "ok"  # ok | degraded | lost
    applied_kg: float = 0.0

    def event(self, kind: str, cause: str, **data: Any) -> None:
        log.warning("safety_event", kind=kind, cause=cause, **data)
        self.on_event(kind, cause, **data)

    # ---- arming ----------------------------------------------------------------------------

    def arm(self) -> None:
        """Only a person at the unit does this (handles taken up, or a local confirmation)."""
        self.armed = True

    def disarm(self, cause: str, *, report: bool = True) -> None:
        if self.armed and report:
            self.event("disarmed", cause, load_kg=self.applied_kg)
        self.armed = False

    # ---- the gate --------------------------------------------------------------------------

    def check(self, kg: float, *, allowed_kg: float, source: str = "session",
              in_set: bool = False) -> float:
        """The load to send, or SafetyRefusal. Zero (deload) is always allowed."""
        value = self.check_target(kg, allowed_kg=allowed_kg, source=source, in_set=in_set)
        if value == 0:
            return 0.0
        if not self.armed:
            self.refuse("not armed: after a stop, a reconnect or a reboot the load stays 0 "
                         "until the person at the unit re-arms", value, allowed_kg, source)
        if self.link != "ok":
            self.refuse(f"telemetry {self.link}: no load increases until it is fresh again",
                         value, allowed_kg, source)
        return value

    def check_target(self, kg: float, *, allowed_kg: float, source: str = "session",
                     in_set: bool = False) -> float:
        """The load rules that hold whatever the unit is doing (grid, unit maximum, the plan's
        cap, no remote raise during a set): a load chosen for the next set passes here first,
        then again through `check` when it is applied."""
        try:
            value = check_load(kg, self.unit_max_kg)
        except LoadError as e:
            self.event("refused", str(e), requested_kg=kg, source=source)
            raise SafetyRefusal(str(e), requested_kg=kg) from None
        if value == 0:
            return 0.0
        if value > allowed_kg:
            self.refuse(f"{value:.1f} kg is above the {allowed_kg:.1f} kg the plan allows for "
                         "this set", value, allowed_kg, source)
        if source != "session" and in_set and value > self.applied_kg:
            self.refuse("a remote request cannot raise the load during a set", value,
                         allowed_kg, source)
        return value

    def check_mode(self, name: str, kg: float, *, allowed_kg: float, unit_modes: int | None,
                   source: str = "session") -> float:
        """A load mode for a set at `kg`: the unit must offer it, and its peak (the heaviest
        pull in a rep: eccentric's lowering, chains at full extension) must fit under the same
        cap as the load itself. Returns the peak, or SafetyRefusal saying why."""
        try:
            m = mode(name)
        except ValueError as e:
            self.event("refused", str(e), source=source)
            raise SafetyRefusal(str(e)) from None
        if not offered(name, unit_modes):
            self.refuse(f"this unit does not offer the {m.label} mode", kg, None, source)
        peak = round(kg * m.peak, 2)
        if peak > allowed_kg + 1e-9 or peak > self.unit_max_kg + 1e-9:
            most = min(allowed_kg, self.unit_max_kg)
            self.refuse(f"{m.label} at {kg:.1f} kg pulls up to {peak:.1f} kg, above the "
                        f"{most:.1f} kg allowed for this set: choose a lighter load first",
                        kg, max(0.5, (most / m.peak) // 0.5 * 0.5), source)
        return peak

    def refuse(self, why: str, value: float, allowed_kg: float | None, source: str) -> None:
        """Report and raise; `allowed_kg` None when no load would do (mid-set, say)."""
        self.event("refused", why, requested_kg=value, allowed_kg=allowed_kg, source=source)
        raise SafetyRefusal(why, requested_kg=value, allowed_kg=allowed_kg)

    # ---- watching the link and the signal -----------------------------------------------------

    def telemetry_age(self, age_s: float | None) -> str:
        """Update the link state from the age of the last sample; returns the new state."""
        state = ("ok" if age_s is not None and age_s <= DEGRADED_S else
                 "degraded" if age_s is not None and age_s <= LOST_S else "lost")
        if state != self.link:
            if state != "ok":
                self.event(f"telemetry_{state}", f"no telemetry for {age_s or 0:.2f} s",
                           load_kg=self.applied_kg)
            else:
                self.event("telemetry_ok", "telemetry fresh again", load_kg=self.applied_kg)
            self.link = state
        return state

    def implausible(self, speed_m_s: float, position_mm: float, tension_n: float,
                    load_kg: float, moved_mm: float | None = None,
                    expected_mm: float | None = None) -> str | None:
        """The plausibility envelope: a reason to stop, or None. `moved_mm` against
        `expected_mm` (velocity x time over a batch) catches a stuck position sensor."""
        if abs(speed_m_s) > MAX_SPEED_M_S:
            return f"cable speed {speed_m_s:.2f} m/s is beyond {MAX_SPEED_M_S} m/s"
        if position_mm > MAX_POSITION_MM:
            return f"cable position {position_mm:.0f} mm is beyond {MAX_POSITION_MM:.0f} mm"
        if load_kg > 0 and tension_n > TENSION_FACTOR * 9.81 * load_kg + 100:
            return f"tension {tension_n:.0f} N is far above the {load_kg:.1f} kg commanded"
        if moved_mm is not None and expected_mm is not None and abs(expected_mm) > 20 and \
                abs(moved_mm) < 0.2 * abs(expected_mm):
            return (f"position and velocity disagree: moved {moved_mm:.0f} mm where the "
                    f"velocity says {expected_mm:.0f} mm (a stuck sensor?)")
        return None
