"""The next set's load and mode: chosen between sets (from a surface, or the plan's), always
through the safety supervisor and within the day's cap; and the mode sent to the unit before a
set's load."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from controller.core import load_modes
from controller.core.safety import SafetyRefusal
from controller.planning.planner import GRID, ExercisePlan
from firmware_bridge.client import DeviceClient

if TYPE_CHECKING:
    from controller.core.session.runner import SessionRunner

log = structlog.get_logger("controller.core.session")


class Choices:
    """What the person (or a remote) chose for the sets to come, per exercise."""

    def __init__(self, runner: SessionRunner):
        self.r = runner
        self.chosen: dict[str, float] = {}  # loads chosen between sets, per exercise
        self.modes: dict[str, str] = {}  # load modes chosen between sets, per exercise
        self._mode_sent: dict[int, str] = {}  # the mode last sent, per client

    def next_range(self, item: ExercisePlan, planned: float) -> tuple[float, float]:
        """Loads a person (or a remote) may choose for a set: down to the smallest step, up to
        the plan's cap for the day (an assessment set never above its own load)."""
        hi = planned if item.kind in ("assessment", "warmup") or item.cap_kg is None \
            else item.cap_kg
        return GRID, max(hi, planned)

    def load_for(self, item: ExercisePlan, planned: float) -> float:
        return self.chosen.get(item.exercise, planned)

    def mode_for(self, item: ExercisePlan) -> str:
        """Working sets are done in the mode chosen (the plan's, or a surface's between sets);
        warm-ups and test sets always in the standard mode (a test needs a constant load)."""
        if item.kind != "work":
            return "standard"
        ex = next((e for e in self.r.plan.program.exercises if e.name == item.exercise), None)
        return self.modes.get(item.exercise, ex.mode if ex is not None else "standard")

    def set_next_load(self, kg: float, source: str) -> float:
        """Choose the load of the next set (and the rest of this exercise's sets), between
        sets only; refused with SafetyRefusal, whose cause says why."""
        r = self.r
        if r.state.phase == "set":
            r.supervisor.refuse("a set is in progress: the load can be changed between "
                                "sets only", kg, None, source)
        if r._upcoming is None:
            r.supervisor.refuse("no set is coming up: a load can be chosen while a set "
                                "is ready or during the rest before it", kg, None, source)
        item, _, planned = r._upcoming
        lo, hi = self.next_range(item, planned)
        value = r.supervisor.check_target(kg, allowed_kg=hi, source=source)
        if value < lo:
            r.supervisor.refuse("a set needs some load", value, hi, source)
        r.supervisor.check_mode(self.mode_for(item), value, allowed_kg=hi,
                                unit_modes=self.unit_modes(), source=source)
        self.chosen[item.exercise] = value
        log.info("next_load_chosen", exercise=item.exercise, load_kg=value, source=source)
        r.set_state(next_kg=value)
        return value

    def set_next_mode(self, name: str, source: str) -> str:
        """Choose the load mode of the next set (and this exercise's sets after it), between
        working sets only, through the same gate as a load: the mode's peak at the next set's
        load must fit under its cap. SafetyRefusal says why not."""
        r = self.r
        if r.state.phase == "set":
            r.supervisor.refuse("a set is in progress: the mode can be changed between "
                                "sets only", r.state.applied_kg, None, source)
        if r._upcoming is None:
            r.supervisor.refuse("no set is coming up: a mode can be chosen while a set "
                                "is ready or during the rest before it", 0.0, None, source)
        item, _, planned = r._upcoming
        if item.kind != "work":
            what = "a warm-up" if item.kind == "warmup" else "a test set"
            r.supervisor.refuse(f"{what} is done in the standard mode (a steady load); "
                                "modes apply to working sets", planned, None, source)
        load = self.load_for(item, planned)
        hi = self.next_range(item, planned)[1]
        r.supervisor.check_mode(name, load, allowed_kg=hi, unit_modes=self.unit_modes(),
                                source=source)
        self.modes[item.exercise] = name
        log.info("next_mode_chosen", exercise=item.exercise, mode=name, source=source)
        r.set_state(mode=name)
        return name

    def unit_modes(self) -> int | None:
        dev = self.r.dev
        return dev.info.modes if dev is not None and dev.info is not None else None

    def fitting_mode(self, item: ExercisePlan, load: float) -> str:
        """The set's mode, checked before anyone takes up the handles: a plan's mode that
        would pull above the day's cap at this load, or that the unit does not offer, gives
        way to the standard mode for this set (said, and kept as a safety event)."""
        name = self.mode_for(item)
        if name == "standard":
            return name
        try:
            self.r.supervisor.check_mode(name, load,
                                         allowed_kg=self.next_range(item, load)[1],
                                         unit_modes=self.unit_modes())
        except SafetyRefusal as e:
            self.r.io.say(f"  {e.cause}: this set is done in the standard mode")
            self.modes[item.exercise] = "standard"
            return "standard"
        return name

    async def send_mode(self, dev: DeviceClient, item: ExercisePlan, name: str) -> None:
        """The set's mode to the unit before its load; nothing is sent for the standard mode
        on a link that never had another (the common path stays as it was)."""
        wire_mode = "standard" if name == "just_lift" else name
        if self._mode_sent.get(id(dev), "standard") == wire_mode:
            return
        await dev.set_mode(*load_modes.wire(wire_mode, self.r.references.get(item.exercise)))
        self._mode_sent[id(dev)] = wire_mode
