"""`halfstep demo`: a short session of seated row, end to end, against any unit.

The demo is a real session (controller/core/session/ `SessionRunner`: the same set loop, safety
supervisor and telemetry watchdog as `halfstep run`) on a throwaway one-exercise plan and
history in a temporary folder. The plan is a new athlete's first session, so the planner
prescribes the submaximal ladder: a light first set (the warm-up) and heavier sets, each
stopped with 2-3 reps in reserve, from which it estimates the 1RM. Every question is answered
by the simulated person (controller/simulated/person.py), who also lifts on the simulated unit.

A lost unit ends the demo (the person does not resume): `UnitLost`, one line naming the unit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.analysis.rep_report import figure
from controller.core.history import SetRecord

EXERCISE = "seated row"
FIRST_LOAD_KG = 10.0  # the ladder's first set: light, the warm-up


class UnitLost(Exception):
    """The unit was lost during the demo: one line, which unit, where, how."""


@dataclasses.dataclass
class DemoRun:
    sets: list[SetRecord] = dataclasses.field(default_factory=list)
    unit: dict[str, Any] | None = None  # the unit event: url, serial, firmware, ...
    clients: list[Any] = dataclasses.field(default_factory=list)  # every client opened
    status: str | None = None  # the session's: finished, or stopped (for safety)


def demo_plan(today: dt.date) -> Any:
    """A new athlete's plan with one exercise, starting today (the first session: a ladder)."""
    from controller.planning.models import ProfileKind
    from controller.planning.starter import default_exercises, default_plan

    plan = default_plan(ProfileKind.ATHLETE, today, name="demo")
    row = next(e for e in default_exercises(ProfileKind.ATHLETE) if e.name == EXERCISE)
    program = plan.program.model_copy(
        update={"exercises": [row.model_copy(update={"first_load_kg": FIRST_LOAD_KG})]})
    return plan.model_copy(update={"program": program})


class DemoIO:
    """The runner's person: the simulated person answers (echoed like `--answers`), and does
    not resume after a lost link (the demo ends there)."""

    def __init__(self, say: Callable[[str], None], answer: Callable[[Any], Any]):
        self._say = say
        self._answer = answer

    def say(self, line: str) -> None:
        self._say(line)

    async def ask(self, q: Any) -> Any:
        from controller.planning import questions
        value = q.parse("no" if q.id == questions.RESUME else self._answer(q))
        self._say(f"  {q.text}: {questions.show(value)}")
        return value


async def run_demo(url: str, seed: int, say: Callable[[str], None],
                   today: dt.date | None = None) -> DemoRun:
    """The demo session on the unit at `url`; raises UnitLost if the unit is lost."""
    from controller.core.events import EventBus
    from controller.core.history import History
    from controller.core.session import SessionRunner
    from controller.simulated.person import SimPerson
    from firmware_bridge.client import CommandTimeout
    from firmware_bridge.devices import device_client
    from firmware_bridge.transports.base import LinkClosed

    day = today or dt.date.today()
    plan = demo_plan(day)
    person = SimPerson(plan, seed)
    run = DemoRun()
    bus = EventBus()

    def on_event(e: Any) -> None:
        if e.kind == "unit":
            if run.unit is None:
                d = e.data
                say(f"unit {d['serial']} (firmware {d['firmware']}, {d['cable_count']} "
                    f"cable(s), max {d['max_kg']:.1f} kg) on {d['url']}")
            run.unit = dict(e.data)
        elif e.kind == "set":
            names = {f.name for f in dataclasses.fields(SetRecord)} - {"reps"}
            run.sets.append(SetRecord(**{k: v for k, v in e.data.items() if k in names}))

    bus.subscribe(on_event, ("unit", "set"))

    def connect() -> Any:
        client = device_client(url)
        run.clients.append(client)
        return client

    with tempfile.TemporaryDirectory(prefix="halfstep-demo-") as tmp:
        with History(Path(tmp) / "demo.sqlite") as history:
            runner = SessionRunner(connect, plan, history, DemoIO(say, person.answer), day,
                                   brief=lambda dev, item, load: brief(person, dev, item, load),
                                   bus=bus)
            try:
                result = await runner.run()
            except (LinkClosed, CommandTimeout) as e:
                raise UnitLost(_lost(url, run, e)) from None
    run.status = result.status
    return run


def brief(person: Any, dev: Any, item: Any, load: float) -> None:
    """Before a set: the simulated person is briefed (the panel's load and reps), and a unit
    that counts reps itself (a Vitruvian ends the set at its program's rep target, and its
    simulated lifter aims for that target) is given the reps the set is for: the plan's target,
    or on a test set the reps the person means to stop at. Without it the program says
    "unlimited" and the simulated lifter falls back to its own default."""
    person.brief(dev, item, load)
    if not hasattr(dev, "target_reps"):
        return
    lifter = person.lifter
    aim = lifter.set_reps[0] if item.kind == "assessment" and lifter is not None else None
    dev.target_reps = aim or item.target_reps


def _lost(url: str, run: DemoRun, e: BaseException) -> str:
    unit = f"unit {run.unit['serial']}" if run.unit else "the unit"
    where = ""
    if run.sets and (run.sets[-1].ended_by or "").startswith("link lost"):
        s = run.sets[-1]
        where = f" during set {s.set_index} of {s.exercise} after {s.full_reps} rep(s)"
    return (f"lost {unit} on {url}{where}: {e}; let the handles down slowly (some units keep "
            "the weight on until they are reached again and stopped)")


def summary_table(sets: list[SetRecord]) -> str:
    head = (f"{'set':>3}  {'exercise':<12} {'load kg':>7}  {'reps':>4}  {'partial':>7}  "
            f"{'mean conc. m/s':>14}  {'vel. loss':>9}  {'ROM cons.':>9}  {'TUT s':>5}")
    lines = [head, "-" * len(head)]
    for r in sets:
        lines.append(
            f"{r.set_index:>3}  {r.exercise:<12} {r.load_kg:>7.1f}  {r.full_reps:>4}  "
            f"{r.partial_reps:>7}  {figure(r.mean_concentric_m_s, '.2f'):>14}  "
            f"{figure(r.velocity_loss, '.0%'):>9}  {figure(r.rom_consistency, '.0%'):>9}  "
            f"{r.time_under_tension_s or 0:>5.0f}")
    total = sum(r.full_reps for r in sets)
    volume = sum(r.full_reps * r.load_kg for r in sets)
    lines.append(f"total: {total} reps, {volume:.0f} kg lifted per cable")
    return "\n".join(lines)


def sim_person(plan: Any, seed: int) -> Any:
    """The simulated person reads the panel: reps to aim for, when to stop a test set, rest;
    has a 1RM per exercise (controller/simulated/person.py; the questions are answered by
    whatever asks them). As in the demo, a unit that counts reps itself (a Vitruvian) is told
    each set's target."""
    import functools

    from controller.simulated.person import SimPerson

    return functools.partial(brief, SimPerson(plan, seed))
