"""Load modes a set can be done in: what each does, its peak load, and its SET_MODE frame.

The unit shapes the load itself (firmware_bridge/messages.py `Mode`); the host decides whether
the shape is safe. A mode's peak is the heaviest the cable can pull at any point of a rep, and
that peak, not the setpoint, must fit under the day's cap (`Supervisor.check_mode`): choosing
eccentric never becomes a way round the plan. Just Lift is a set without a rep target (it ends
when the handles go back), at a constant load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from firmware_bridge.messages import Mode, ModeBits

ModeName = Literal["standard", "eccentric", "chains", "spotter", "just_lift"]
MODES: tuple[ModeName, ...] = ("standard", "eccentric", "chains", "spotter", "just_lift")

ECCENTRIC_PCT = 120  # the lowering at 120% of the lifting load
CHAINS_PCT = 25  # +25% at full extension, growing from nothing at the start
CHAINS_DEFAULT_MM = 600  # full extension when the set's range is not known yet
SPOTTER = (40, 1250, 30)  # a stall under 40 mm/s for 1.25 s takes 30% off (design.md)


@dataclass(frozen=True)
class LoadMode:
    name: ModeName
    label: str  # on a button
    plain: str  # what it does, for the person
    peak: float  # the heaviest pull as a multiple of the set's load
    needs: ModeBits | None  # what the unit must offer (None: any unit)
    target: bool = True  # a rep target (Just Lift has none)


TABLE: dict[str, LoadMode] = {m.name: m for m in (
    LoadMode("standard", "Standard", "The same load all the way up and down.", 1.0, None),
    LoadMode("eccentric", "Eccentric", f"Heavier on the way down: {ECCENTRIC_PCT}% of the "
             "load as you lower it, slowly.", ECCENTRIC_PCT / 100, ModeBits.ECCENTRIC),
    LoadMode("chains", "Chains", f"Heavier as you extend: up to {CHAINS_PCT}% more at the end "
             "of the movement, like chains on a bar.", 1 + CHAINS_PCT / 100, ModeBits.CHAINS),
    LoadMode("spotter", "Spotter", "If you stall part way up, the unit takes "
             f"{SPOTTER[2]}% off until you lower it.", 1.0, ModeBits.SPOTTER),
    LoadMode("just_lift", "Just Lift", "No rep target: lift as many as feel right, put the "
             "handles back to end the set.", 1.0, None, target=False),
)}


def mode(name: str) -> LoadMode:
    """The mode by name; ValueError naming the allowed ones."""
    try:
        return TABLE[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a load mode: one of {', '.join(MODES)}") from None


def offered(name: str, unit_modes: int | None) -> bool:
    """Whether a unit whose DEVICE_INFO lists `unit_modes` can do this mode (None: unknown
    until a unit is connected, so every mode is offered)."""
    needs = mode(name).needs
    return needs is None or unit_modes is None or bool(unit_modes & needs)


def wire(name: str, range_mm: float | None = None) -> tuple[Mode, int, int, int]:
    """The SET_MODE frame's mode and parameters; chains reach their peak at the set's own
    range when it is known."""
    if name == "eccentric":
        return Mode.ECCENTRIC, ECCENTRIC_PCT, 0, 0
    if name == "chains":
        reach = int(min(3000, max(100, range_mm or CHAINS_DEFAULT_MM)))
        return Mode.CHAINS, CHAINS_PCT, reach, 0
    if name == "spotter":
        return Mode.SPOTTER, *SPOTTER
    return Mode.CONSTANT, 0, 0, 0


def as_list(unit_modes: int | None) -> list[dict[str, object]]:
    """For a surface: every mode with its words, peak and whether this unit offers it."""
    return [{"name": m.name, "label": m.label, "plain": m.plain, "peak": m.peak,
             "offered": offered(m.name, unit_modes)} for m in TABLE.values()]
