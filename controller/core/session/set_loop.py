"""The set loop: one set from arming to its end. The set is armed and its load applied only once
the handles are taken up (retried on a fresh link when the unit was not ready), runs on
telemetry (reps counted and shown, the signal checked for plausibility) until the target, the
speed, the handles' release, a STOP or a safety stop ends it, and is ended: the load off,
confirmed, and the set committed to the history before anything else."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import structlog

from controller.analysis.rep_report import rep_line
from controller.analysis.reps import CableRepEngine, Rep, across_cables
from controller.core import load_modes
from controller.core.handles import docked
from controller.core.history import SetRecord, now
from controller.core.session.state import LinkLost, SafetyStop, StopRequested
from controller.planning import assessment
from controller.planning.planner import ExercisePlan
from firmware_bridge.client import CommandRejected, DeviceClient
from firmware_bridge.messages import ErrorCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from controller.core.session.runner import SessionRunner

log = structlog.get_logger("controller.core.session")

ARM_ATTEMPTS = 3  # loads refused as not ready (fresh HELLO between) before giving up


class SetLoop:
    """Arming, running and ending one set at a time."""

    def __init__(self, runner: SessionRunner):
        self.r = runner
        # What the set in progress has done so far, built only if the link is lost.
        self.partial: Callable[[str], SetRecord] | None = None
        self._warmup = self._warmup_left = 0  # the unit's calibration reps in this set

    async def run(self, item: ExercisePlan, k: int, load: float) -> SetRecord:
        r, signals = self.r, self.r.signals
        dev = r.dev
        assert dev is not None and dev.info is not None
        mode_name = r.choices.fitting_mode(item, load)
        target: int | None = 10 if item.kind == "assessment" else (
            item.target_reps if load_modes.mode(mode_name).target else None)
        engine = CableRepEngine(dev.info.cable_count,
                                reference_mm=r.references.get(item.exercise))
        started = now()

        def record(ended_by: str | None) -> SetRecord:
            s = engine.combined.summary()
            return SetRecord(item.exercise, k, item.kind, load, target, s.reps, s.partial_reps,
                             s.mean_concentric_m_s, s.velocity_loss, s.rom_consistency,
                             s.time_under_tension_s, ended_by, started, now(),
                             list(engine.combined.reps))

        self.partial = record
        if r.brief is not None:
            r.brief(dev, item, load)
            if target is None and hasattr(dev, "target_reps"):
                dev.target_reps = None  # Just Lift: a unit counting reps has no target either
        # A unit that calibrates on the first reps of every set (a Vitruvian): those are
        # counted apart, never as work and never towards the target.
        self._warmup = self._warmup_left = int(getattr(dev, "warmup_reps", 0) or 0)
        r.io.say(f"  {'warm-up' if item.kind == 'warmup' else f'set {k}'}: {load:.1f} kg x "
                 f"{target or 'as many as you like (Just Lift)'}"
                 + ("" if mode_name in ("standard", "just_lift") else f", {mode_name}")
                 + " - take up the handles")
        r.set_state(phase="armed", exercise=item.exercise, set_index=k,
                    sets=item.sets, target_reps=target, step=item.kind, mode=mode_name,
                    reps=0, partial_reps=0, power_w=None, next_kg=load,
                    next_max_kg=r.choices.next_range(item, load)[1], rest_until=None,
                    reason=None, link=r.supervisor.link)
        ended_by = "handles released"
        try:
            for attempt in range(1, ARM_ATTEMPTS + 1):
                dev = r.dev
                assert dev is not None
                why: Exception | None = None
                async with r.feed.open(dev) as q:
                    try:
                        await r.rests.take_up(q, dev)
                    except LinkLost as e:  # the unit went quiet, nothing loaded: arm again
                        if attempt == ARM_ATTEMPTS:
                            raise
                        why = e
                    if why is None and signals.stop_from is not None:
                        raise StopRequested
                    if why is None:
                        # A load chosen on a surface while this set was ready applies to it.
                        load = r.choices.chosen.get(item.exercise, load)
                        r.supervisor.arm()  # the person took up the handles at the unit
                        allowed = r.choices.next_range(item, load)[1]
                        value = r.supervisor.check(load, allowed_kg=allowed)
                        r.supervisor.check_mode(mode_name, value, allowed_kg=allowed,
                                                unit_modes=dev.info.modes)
                        loop = asyncio.get_running_loop()
                        give_up_at = loop.time() + max(180.0, (target or 15) * 20.0)
                        try:
                            await r.choices.send_mode(dev, item, mode_name)
                            await dev.set_load(value)
                        except CommandRejected as e:
                            if e.error != ErrorCode.NOT_READY or attempt == ARM_ATTEMPTS:
                                raise
                            why = e
                    if why is None:
                        r.supervisor.applied_kg = value
                        if signals.stop_from is not None:  # STOP came while the load was set
                            raise StopRequested
                        r.set_state(phase="set", applied_kg=value)
                        ended_by = await self._loop(dev, q, engine, item, k, value,
                                                    target, give_up_at)
                        break
                assert why is not None
                await r.connection.rearm(why, item, k)
        except StopRequested:
            ended_by = f"stopped from {signals.stop_from}"
            self._finish_reps(engine, ended_by, item, k, load, target)
        await r.stops.confirmed()
        rec = record(ended_by)
        r.references[item.exercise] = engine.combined.reference_mm
        r.history.record_set(r.session_id, rec)  # committed before the next set starts
        self.emit_set(rec)
        if ended_by == "safety stop":
            raise SafetyStop(rec)
        r.io.say(f"  set {k} done: {rec.full_reps} reps"
                 + (f", {rec.partial_reps} partial" if rec.partial_reps else "")
                 + f" ({ended_by})")
        return rec

    async def _loop(self, dev: DeviceClient, q: asyncio.Queue, engine: CableRepEngine,
                    item: ExercisePlan, k: int, value: float, target: int | None,
                    give_up_at: float) -> str:
        """Until the set ends: returns how it ended."""
        supervisor, feed = self.r.supervisor, self.r.feed
        loop = asyncio.get_running_loop()
        while True:
            batch = await feed.next(q, dev)
            new = engine.feed(batch.t_us / 1e6, batch.position_mm, batch.velocity_m_s,
                              batch.tension_n)
            self._show_reps(new, engine, item, k, value, target)
            if new and target is not None and engine.combined.full_reps >= target:
                # The final rep is over (lowered, the cable slowing at the bottom): only
                # now does the load come off, never as the final rep begins.
                return "target reached"
            if new and item.kind == "assessment" and assessment.near_limit(
                    [r.mean_concentric_m_s for r in engine.combined.reps if r.full],
                    item.mvt_m_s or assessment.BENCH_MVT):
                return "speed: about 2-3 reps left"
            # A handful of samples: plain lists are cheaper than numpy reductions here.
            velocity = batch.velocity_m_s
            pos = across_cables(batch.position_mm).tolist()
            why = supervisor.implausible(
                max(map(abs, velocity.ravel().tolist())),
                max(batch.position_mm.ravel().tolist()), max(batch.tension_n.ravel().tolist()),
                value, moved_mm=max(pos) - min(pos),
                expected_mm=expected_travel_mm(batch.t_us, velocity))
            if why is None and loop.time() > give_up_at:
                why = "the set has not ended in the time it could take: stopping it"
            if why is not None:
                supervisor.event("implausible", why)
                return "safety stop"
            if engine.combined.ended_by is None and docked(batch):
                self._finish_reps(engine, "handles released", item, k, value, target)
            if engine.combined.ended_by is not None:
                unit_deload = getattr(dev, "deload_reason", None)  # the unit took it off
                if unit_deload and engine.combined.ended_by == "handles released":
                    return f"unit deloaded: {unit_deload}"
                return engine.combined.ended_by

    # ---- what the person and the surfaces are told of the reps -------------------------------

    def _on_rep(self, rep: Rep, engine: CableRepEngine, item: ExercisePlan, k: int,
                load: float, target: int | None) -> None:
        r = self.r
        c = engine.combined
        if self._warmup_left and rep.kind == "full" and c.reps and c.reps[-1] is rep:
            c.reps.pop()  # the unit's calibration rep: shown, not counted or measured as work
            self._warmup_left -= 1
            r.io.say(f"  warm-up rep {self._warmup - self._warmup_left}/{self._warmup}: "
                     "the unit calibrates its range")
            return
        r.io.say("  " + rep_line(rep, c.full_reps, target))
        log.info("rep", exercise=item.exercise, set_index=k, count=c.full_reps,
                 rep_kind=rep.kind, mean_concentric_m_s=round(rep.mean_concentric_m_s, 3),
                 rom_mm=round(rep.rom_mm))
        if r.bus.wants("rep"):
            r.bus.emit("rep", session=r.session_id, exercise=item.exercise, set_index=k,
                       load_kg=load, count=c.full_reps, target_reps=target, **rep.as_dict())
        r.set_state(reps=c.full_reps, partial_reps=c.partial_reps,
                    power_w=None if rep.mean_concentric_power_w is None
                    else round(rep.mean_concentric_power_w, 1))

    def _finish_reps(self, engine: CableRepEngine, why: str, item: ExercisePlan, k: int,
                     load: float, target: int | None) -> None:
        self._show_reps(engine.finish(why), engine, item, k, load, target)

    def _show_reps(self, new: list[Rep], engine: CableRepEngine, item: ExercisePlan, k: int,
                   load: float, target: int | None) -> None:
        """Reps that just ended: any earlier ones they (or the set's end) made read
        differently first, so the count only moves on from there."""
        self._recount(engine, item, k, load, target, new)
        for rep in new:
            self._on_rep(rep, engine, item, k, load, target)

    def _recount(self, engine: CableRepEngine, item: ExercisePlan, k: int, load: float,
                 target: int | None, pending: list[Rep]) -> None:
        """Reps shown earlier that the set's consensus reads differently now (a first pull
        that was only settling the stance, partial reps once the range is clear): said, sent
        on as corrected reps, and the count shown again."""
        r = self.r
        c = engine.combined
        fixes = engine.take_corrections()
        if not fixes:
            return
        # Before the reps that moved the consensus are shown: the count without them.
        count = c.full_reps - sum(x.kind == "full" for x in pending)
        partial = c.partial_reps - sum(x.kind == "partial" for x in pending)
        for was, rep in fixes:
            why = c.note(rep)
            r.io.say(f"  rep {rep.index} recounted: {_kind_word(was.kind)} -> "
                     f"{_kind_word(rep.kind)}" + (f" ({why})" if why else
                                                  f" ({rep.rom_pct or 0:.0f}% of the "
                                                  "set's range)")
                     + f"; {count}/{target or '-'} reps")
            log.info("rep_corrected", exercise=item.exercise, set_index=k, index=rep.index,
                     was=was.kind, now=rep.kind, count=count, rom_mm=round(rep.rom_mm))
            if r.bus.wants("rep"):
                r.bus.emit("rep", session=r.session_id, exercise=item.exercise,
                           set_index=k, load_kg=load, count=count, target_reps=target,
                           corrected=True, was=was.kind, note=why, **rep.as_dict())
        r.set_state(reps=count, partial_reps=partial)

    def emit_set(self, rec: SetRecord) -> None:
        bus = self.r.bus
        data = {k: v for k, v in asdict(rec).items() if k != "reps"} if bus.wants("set") \
            else {}
        log.info("set_done", exercise=rec.exercise, set_index=rec.set_index,
                 load_kg=rec.load_kg, reps=rec.full_reps, partial_reps=rec.partial_reps,
                 ended_by=rec.ended_by)
        bus.emit("set", session=self.r.session_id, **data)


def expected_travel_mm(t_us: np.ndarray, velocity_m_s: np.ndarray) -> float:
    """How far the velocities say the cable moved over a batch, compared with how far the
    position moved (its range: a turnaround inside the batch moves the cable both ways). A
    unit may report each sample's velocity over the interval before it or after it; at 25 Hz
    the two differ by a whole retract (a handle let go at the end of a set), so the smaller is
    taken: a stuck sensor, whose position does not move at all, disagrees with both."""
    if len(t_us) < 2:
        return 0.0
    v = across_cables(velocity_m_s).tolist()  # a handful of samples: lists beat numpy here
    t = t_us.tolist()
    dt = [(b - a) / 1e6 for a, b in itertools.pairwise(t)]
    forward = sum(x * d for x, d in zip(v, dt, strict=False))  # v[:-1] with the step after
    backward = sum(x * d for x, d in zip(v[1:], dt, strict=True))  # v[1:], the step before
    return 1000 * (forward if abs(forward) < abs(backward) else backward)


def _kind_word(kind: str) -> str:
    return {"full": "a rep", "partial": "partial", "ignored": "not a rep"}.get(kind, kind)
