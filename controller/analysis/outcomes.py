"""One vocabulary for what happened to a session, whichever log tells it.

`halfstep logs summary` reads a JSON log (what the controller said) or a wire log (what crossed
the link). Both feed a `Story` with the same facts - a set the unit loaded and how it ended, a
link the unit answered on and how it ended, a unit event, a fault - and print it with the same
words, so a reboot, a lost link and a clean close read the same from either log:

  sets: 5, reps: 46
    set 1: 10.0 kg, 6 reps, ended by unit rebooted
  links: 2 (unit rebooted 1, closed by the host 1)
  faults: unit rebooted 1
  unit events: boot 1, handle released 2, host connected 2, reboot 1, stopped 4

A set is what the unit saw: a load applied, then taken off. How each kind of log finds these
facts (docs/support.md): a set ends by the first of the host's STOP (acknowledged), the unit's
lease expiring or its emergency stop, the unit rebooting, or the link being lost; a link ends
by the unit rebooting, by being lost (it failed, or the host gave it up with a set under way or
a command unanswered) or by the host closing it. The unit's start-up BOOT (before the unit has
said who it is) is routine; a BOOT on a link the unit already answered on is a reboot.
"""

from __future__ import annotations

from typing import Any

# ---- how a set ended ---------------------------------------------------------------------------
STOP = "STOP from the host"  # the controller ended it (target, STOP button, safety stop...)
LINK_LOST = "link lost"
UNIT_REBOOTED = "unit rebooted"
LEASE_EXPIRED = "lease expired"  # the unit took the load off: the host went quiet
EMERGENCY_STOP = "emergency stop"
END_OF_LOG = "end of the log"  # still under way where the log ends

# ---- how a link ended (UNIT_REBOOTED and LINK_LOST as above) ---------------------------------
CLOSED = "closed by the host"
NOT_CLOSED = "open where the log ends"

# ---- faults ----------------------------------------------------------------------------------
RETRIED = "command sent again"
LOAD_DIFFERS = "load differs from the command"
TENSION_LIMIT = "tension limit"
DELOADED = "unit deloaded by itself"

# The unit's events (EventCode names) that are faults, and those that end a set under way.
UNIT_FAULTS = {"LEASE_EXPIRED": LEASE_EXPIRED, "EMERGENCY_STOP_LATCHED": EMERGENCY_STOP,
               "TENSION_LIMIT": TENSION_LIMIT, "DELOADED": DELOADED}
SET_ENDERS = {"LEASE_EXPIRED": LEASE_EXPIRED, "EMERGENCY_STOP_LATCHED": EMERGENCY_STOP}
FAULT_ORDER = (UNIT_REBOOTED, LINK_LOST, LEASE_EXPIRED, EMERGENCY_STOP, TENSION_LIMIT,
               DELOADED, LOAD_DIFFERS, RETRIED)
LINK_ORDER = (UNIT_REBOOTED, LINK_LOST, CLOSED, NOT_CLOSED)
REBOOT = "reboot"  # a BOOT on a link the unit had answered on, in the unit events line

MAX_SETS = 100  # sets listed; the rest are counted
MAX_NAMES = 300  # distinct unit event names (256 codes at most, and ours)


def event_word(name: str) -> str:
    """A unit event's name (EventCode name, or EVENT_n / event_n for a code this halfstep does
    not know) as both summaries print it."""
    return str(name).lower().replace("_", " ")[:40]


def _ordered(counts: dict[str, int], order: tuple[str, ...]) -> str:
    keys = [k for k in order if counts.get(k)] + sorted(k for k in counts
                                                         if k not in order and counts[k])
    return ", ".join(f"{k} {counts[k]}" for k in keys)


class Story:
    """What happened, as a summary tells it: fed fact by fact (memory bounded: the first
    MAX_SETS sets, counts otherwise)."""

    def __init__(self) -> None:
        self.sets: list[dict[str, Any]] = []
        self.set_count = 0
        self.reps = 0
        self.unloaded: list[str] = []  # sets the controller began and the unit never loaded
        self.unloaded_count = 0
        self.links = 0
        self.link_endings: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.unit_events: dict[str, int] = {}

    def add_set(self, load_kg: float, reps: int, partial: int, ending: str,
                detail: str | None = None) -> None:
        self.set_count += 1
        self.reps += reps
        if len(self.sets) < MAX_SETS:
            self.sets.append({"load_kg": load_kg, "reps": reps, "partial_reps": partial,
                              "ended_by": ending, "detail": detail})

    def add_unloaded(self, what: str, ending: str, detail: str) -> None:
        """A set the controller began and ended before the unit took its load (a JSON log's
        alone: the wire shows no set there)."""
        self.unloaded_count += 1
        if len(self.unloaded) < MAX_SETS:
            self.unloaded.append(f"  not loaded: {what}, ended by {ending}  [{detail}]")

    def end_link(self, ending: str) -> None:
        self.links += 1
        self.link_endings[ending] = self.link_endings.get(ending, 0) + 1
        if ending in (UNIT_REBOOTED, LINK_LOST):
            self.fault(ending)

    def fault(self, word: str, n: int = 1) -> None:
        if n:
            self.faults[word] = self.faults.get(word, 0) + n

    def unit_event(self, name: str, *, reboot: bool = False) -> str:
        """Counts one of the unit's events; returns its level in a timeline: routine events
        (the start-up BOOT, host connected, handle released, stopped) are info."""
        word = REBOOT if reboot else event_word(name)
        if word in self.unit_events or len(self.unit_events) < MAX_NAMES:
            self.unit_events[word] = self.unit_events.get(word, 0) + 1
        if name in UNIT_FAULTS:
            self.fault(UNIT_FAULTS[name])
        return "warning" if reboot or name in UNIT_FAULTS else "info"

    def lines(self) -> list[str]:
        more = self.set_count - len(self.sets)
        sets = [f"sets: {self.set_count}, reps: {self.reps}"]
        sets += [set_line(i, x["load_kg"], x["reps"], x["partial_reps"], x["ended_by"],
                          x["detail"]) for i, x in enumerate(self.sets, 1)]
        if more:
            sets.append(f"  ... and {more} more")
        if self.unloaded_count:
            sets += self.unloaded
            if self.unloaded_count > len(self.unloaded):
                sets.append(f"  ... and {self.unloaded_count - len(self.unloaded)} more not "
                            "loaded")
        return ["\n".join(sets),
                f"links: {self.links}" + (f" ({_ordered(self.link_endings, LINK_ORDER)})"
                                          if self.links else ""),
                "faults: " + (_ordered(self.faults, FAULT_ORDER) or "none"),
                "unit events: " + (", ".join(f"{k} {v}" for k, v in
                                             sorted(self.unit_events.items())) or "none")]


def set_line(i: int, load_kg: float, reps: int, partial: int, ending: str,
             detail: str | None = None) -> str:
    """One set, the same words from either log; `detail` is what only one log knows (the JSON
    log: the exercise and how the controller put it), after the shared words."""
    return (f"  set {i}: {load_kg:.1f} kg, {reps} reps"
            + (f" (+{partial} partial)" if partial else "") + f", ended by {ending}"
            + (f"  [{detail}]" if detail else ""))
