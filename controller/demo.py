"""`halfstep demo`: a short workout, end to end through the codec, against any unit.

The load for each set is applied only once the lifter has taken up the handles, held through
the final rep, and removed once the handles are released (the unit also deloads on release).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from controller.loads import check_load
from controller.reps import RepCounter
from firmware_bridge.client import DeviceClient
from firmware_bridge.messages import SampleStatus, Telemetry

HANDLES_UP_MM = 30.0
HANDLES_UP_S = 0.3


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
    full_reps: int
    partial_reps: int
    mean_concentric_m_s: float | None
    velocity_loss: float | None
    ended_by: str


def sim_url(seed: int, workout: tuple[DemoSet, ...] = DEMO_WORKOUT) -> str:
    """The in-process simulated unit, its lifter briefed with the workout's reps and rest."""
    reps = ",".join(str(s.reps) for s in workout)
    rest = max(s.rest_s for s in workout)
    return f"sim://?seed={seed}&reps={reps}&rest={rest:g}"


def _handles_up(batch: Telemetry) -> bool:
    held = (batch.status & SampleStatus.HANDLE_HELD).astype(bool).all(axis=1)
    return bool(held[-1]) and float(batch.position_mm[-1].min()) > HANDLES_UP_MM


def _released(batch: Telemetry) -> bool:
    return bool((batch.status[-1] & SampleStatus.DOCKED).all())


async def run_set(dev: DeviceClient, index: int, plan: DemoSet,
                  say: Callable[[str], None]) -> SetResult:
    assert dev.info is not None
    load = check_load(plan.load_kg, dev.info.max_load_kg)
    counter = RepCounter()
    ended_by = "link closed"
    async with contextlib.aclosing(dev.telemetry()) as stream:
        up_since: float | None = None
        async for batch in stream:
            t = batch.t_us[-1] / 1e6
            if not _handles_up(batch):
                up_since = None
                continue
            up_since = t if up_since is None else up_since
            if t - up_since >= HANDLES_UP_S:
                break
        applied = await dev.set_load(load)
        say(f"  load applied: {applied[0]:.1f} kg per cable")
        async for batch in stream:
            t_s = batch.t_us / 1e6
            for rep in counter.feed(t_s, batch.position_mm.mean(axis=1),
                                    batch.tension_n.sum(axis=1)):
                kind = "rep" if rep.full else "partial"
                n = counter.full_reps
                say(f"  {kind:7s} {n:2d}/{plan.reps}  range {rep.rom_mm:4.0f} mm  "
                    f"concentric {rep.mean_concentric_m_s:.2f} m/s")
            if _released(batch):
                ended_by = "handles released"
                break
    await dev.stop()
    full = [r.mean_concentric_m_s for r in counter.reps if r.full]
    mcv = float(np.mean(full)) if full else None
    loss = 1.0 - full[-1] / max(full) if full else None
    return SetResult(index, plan.exercise, load, plan.reps, counter.full_reps,
                     len(counter.reps) - counter.full_reps, mcv, loss, ended_by)


async def run_workout(dev: DeviceClient, workout: tuple[DemoSet, ...],
                      say: Callable[[str], None]) -> list[SetResult]:
    results = []
    for i, plan in enumerate(workout, 1):
        tag = " (warm-up)" if plan.warmup else ""
        say(f"set {i}/{len(workout)}: {plan.exercise}{tag}, {plan.load_kg:.1f} kg x {plan.reps}"
            " - take up the handles")
        result = await run_set(dev, i, plan, say)
        results.append(result)
        say(f"  set {i} done: {result.full_reps} reps ({result.ended_by})"
            + (f"; rest {plan.rest_s:.0f} s" if plan.rest_s and i < len(workout) else ""))
    return results


def summary_table(results: list[SetResult]) -> str:
    head = f"{'set':>3}  {'exercise':<12} {'load kg':>7}  {'reps':>4}  {'partial':>7}  " \
           f"{'mean conc. m/s':>14}  {'vel. loss':>9}"
    lines = [head, "-" * len(head)]
    for r in results:
        mcv = f"{r.mean_concentric_m_s:.2f}" if r.mean_concentric_m_s is not None else "-"
        loss = f"{r.velocity_loss:.0%}" if r.velocity_loss is not None else "-"
        lines.append(f"{r.index:>3}  {r.exercise:<12} {r.load_kg:>7.1f}  {r.full_reps:>4}  "
                     f"{r.partial_reps:>7}  {mcv:>14}  {loss:>9}")
    total = sum(r.full_reps for r in results)
    volume = sum(r.full_reps * r.load_kg for r in results)
    lines.append(f"total: {total} reps, {volume:.0f} kg lifted per cable")
    return "\n".join(lines)
