"""`halfstep demo`: a short workout, end to end through the codec, against any unit.

The load for each set is applied only once the lifter has taken up the handles, held through
the final rep, and removed once the handles are released (the unit also deloads on release).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from controller.handles import docked, wait_handles_up
from controller.rep_report import rep_line
from controller.reps import CableRepEngine, SetSummary
from controller.safety import Supervisor
from firmware_bridge.client import DeviceClient
from firmware_bridge.transports.base import LinkClosed

log = structlog.get_logger("controller.demo")


@dataclass(frozen=True)
class DemoSet:
    exercise: str
    load_kg: float
    reps: int
    rest_s: float
    warmup: bool = False


DEMO_WORKOUT: tuple[DemoSet, ...] = (
    DemoSet("seated row", 10.0, 8, 60.0, warmup=True),
    DemoSet("seated row", 17.5, 10, 60.0),
    DemoSet("seated row", 17.5, 10, 60.0),
    DemoSet("seated row", 17.5, 10, 0.0),
)


@dataclass(frozen=True)
class SetResult:
    index: int
    exercise: str
    load_kg: float
    target_reps: int
    summary: SetSummary


def sim_url(seed: int, workout: tuple[DemoSet, ...] = DEMO_WORKOUT) -> str:
    """The in-process simulated unit, its lifter briefed with the workout's reps and rest."""
    reps = ",".join(str(s.reps) for s in workout)
    rest = max(s.rest_s for s in workout)
    return f"sim://?seed={seed}&reps={reps}&rest={rest:g}"


async def run_set(dev: DeviceClient, index: int, plan: DemoSet, say: Callable[[str], None],
                  reference_mm: float | None = None) -> tuple[SetResult, float | None]:
    """One set; returns its result and the reference range to carry to the next set."""
    assert dev.info is not None
    gate = Supervisor(dev.info.max_load_kg)  # the same gate as every other load change
    load = plan.load_kg
    engine = CableRepEngine(dev.info.cable_count, reference_mm=reference_mm)
    async with contextlib.aclosing(dev.telemetry()) as stream:
        try:
            await wait_handles_up(stream.__anext__)
        except StopAsyncIteration:
            raise LinkClosed(f"{dev.url}: the link closed before set {index}") from None
        gate.arm()  # the person took up the handles
        gate.telemetry_age(dev.health.last_sample_age_s)
        applied = await dev.set_load(gate.check(load, allowed_kg=load))
        say(f"  load applied: {applied[0]:.1f} kg per cable")
        async for batch in stream:
            for rep in engine.feed(batch.t_us / 1e6, batch.position_mm, batch.velocity_m_s,
                                   batch.tension_n):
                say(rep_line(rep, engine.combined.full_reps, plan.reps))
                log.info("rep", exercise=plan.exercise, set_index=index,
                         count=engine.combined.full_reps, rep_kind=rep.kind,
                         mean_concentric_m_s=round(rep.mean_concentric_m_s, 3))
            if engine.combined.ended_by is None and docked(batch):
                for rep in engine.finish("handles released"):
                    say(rep_line(rep, engine.combined.full_reps, plan.reps))
            if engine.combined.ended_by is not None:
                break
        else:  # the telemetry ended: the link is gone (the unit deloads by itself)
            gate.event("link_lost", f"the link closed during set {index} after "
                       f"{engine.combined.full_reps} rep(s)", load_kg=load)
            raise LinkClosed(f"{dev.url}: the link closed during set {index} after "
                             f"{engine.combined.full_reps} rep(s)")
    await dev.stop()
    summary = engine.combined.summary()
    log.info("set_done", exercise=plan.exercise, set_index=index, load_kg=load,
             reps=summary.reps, partial_reps=summary.partial_reps, ended_by=summary.ended_by)
    return SetResult(index, plan.exercise, load, plan.reps, summary), summary.reference_rom_mm


async def run_workout(dev: DeviceClient, workout: tuple[DemoSet, ...],
                      say: Callable[[str], None]) -> list[SetResult]:
    results = []
    references: dict[str, float | None] = {}
    for i, plan in enumerate(workout, 1):
        tag = " (warm-up)" if plan.warmup else ""
        say(f"set {i}/{len(workout)}: {plan.exercise}{tag}, {plan.load_kg:.1f} kg x {plan.reps}"
            " - take up the handles")
        result, references[plan.exercise] = await run_set(
            dev, i, plan, say, references.get(plan.exercise))
        results.append(result)
        s = result.summary
        say(f"  set {i} done: {s.reps} reps ({s.ended_by})"
            + (f"; rest {plan.rest_s:.0f} s" if plan.rest_s and i < len(workout) else ""))
    return results


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def summary_table(results: list[SetResult]) -> str:
    head = (f"{'set':>3}  {'exercise':<12} {'load kg':>7}  {'reps':>4}  {'partial':>7}  "
            f"{'mean conc. m/s':>14}  {'vel. loss':>9}  {'ROM cons.':>9}  {'TUT s':>5}")
    lines = [head, "-" * len(head)]
    for r in results:
        s = r.summary
        lines.append(
            f"{r.index:>3}  {r.exercise:<12} {r.load_kg:>7.1f}  {s.reps:>4}  "
            f"{s.partial_reps:>7}  {_fmt(s.mean_concentric_m_s, '.2f'):>14}  "
            f"{_fmt(s.velocity_loss, '.0%'):>9}  {_fmt(s.rom_consistency, '.0%'):>9}  "
            f"{s.time_under_tension_s:>5.0f}")
    total = sum(r.summary.reps for r in results)
    volume = sum(r.summary.reps * r.load_kg for r in results)
    lines.append(f"total: {total} reps, {volume:.0f} kg lifted per cable")
    return "\n".join(lines)
