"""Today's exercises in order: each one's warm-up, its working sets or its test ladder, the
rests and reps-in-reserve questions between sets, and the pain check-in after it (an exercise
that loads a region that hurt today is rested). Each set goes through the STOP check before it
and the reconnecting set runner; the sets done become the session's log."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from controller.core.history import SetRecord
from controller.core.session.state import SafetyStop, SessionResult
from controller.planning import assessment, questions
from controller.planning.body_regions import hurt_regions, loaded_regions
from controller.planning.models import SetLog
from controller.planning.planner import ExercisePlan

if TYPE_CHECKING:
    from controller.core.session.runner import SessionRunner


class Exercises:
    """The sets of today's prescription, one exercise after another."""

    def __init__(self, runner: SessionRunner):
        self.r = runner

    async def run(self, result: SessionResult) -> None:
        r = self.r
        protected: dict[str, tuple[str, int]] = {}  # region -> (exercise, pain), for today
        exercises = {e.name: e for e in r.plan.program.exercises}
        for item in r.rx.items:
            ex = exercises[item.exercise]
            hit = sorted(loaded_regions(ex) & protected.keys())
            if hit:
                by, pain = protected[hit[0]]
                r.skipped.append(item.exercise)
                r.io.say(f"\n{item.exercise}: rested today: pain {pain}/10 during {by} in "
                         f"the {' and '.join(hit)}; exercises that load it are not loaded "
                         "again today.")
                continue
            r.io.say(f"\n{item.exercise}: " + (
                f"finding your level: sets getting heavier from {item.load_kg:.1f} kg"
                if item.kind == "assessment" else
                f"{item.sets} x {item.target_reps} at {item.load_kg:.1f} kg"))
            for reason in item.reasons:
                if reason.plain:
                    r.io.say(f"  {reason.plain}")
            if item.kind == "assessment":
                await self._ladder(item, result)
            else:
                await self._working_sets(item, result)
            if result.status == "safety stop":
                r.io.say("The session was stopped for safety: the unit's signal could "
                         "not be trusted. Check the unit before the next session.")
            if result.status != "finished":
                return
            r._upcoming = None
            r.set_state(phase="paused", reason="pain check-in", next_kg=None,
                        rest_until=None)
            answer = await r.checkins.ask(questions.pain(item.exercise))
            r.pains[item.exercise] = answer
            r.history.record_checkin(r.session_id, item.exercise, answer)
            if answer > 5:  # red: not part of the program; rest what hurt, go on with the rest
                for region in hurt_regions(ex, r.plan.profile.painful_regions):
                    protected.setdefault(region, (item.exercise, answer))

    async def _one_set(self, item: ExercisePlan, k: int, planned: float,
                       result: SessionResult) -> SetRecord | None:
        """One set with everything around it (STOP before it, the safety stop); None when the
        person chose not to go on."""
        r = self.r
        r._upcoming = (item, k, planned)
        if not await r.stops.go_on_after_stop():
            result.status = "stopped"
            return None
        try:
            record = await r.connection.set_with_reconnect(
                item, k, r.choices.load_for(item, planned))
        except SafetyStop as stop:
            record = stop.args[0]
            result.status = "safety stop"
        result.sets.append(record)
        if item.kind != "warmup":  # the planner reads working and test sets only
            r.set_logs.append(set_log(item, record, r.choices.mode_for(item)))
        return record

    def _note_rir(self, rir: Any) -> None:
        logs = self.r.set_logs
        if rir is not None:
            logs[-1] = logs[-1].model_copy(update={"rir": rir})

    async def _working_sets(self, item: ExercisePlan, result: SessionResult) -> None:
        """The prescribed sets at the day's load; reps in reserve asked during each rest."""
        r = self.r
        loads = (item.load_kg,) * item.sets
        if not await self._warmup_set(item, result):
            return
        for k, planned in enumerate(loads, 1):
            if await self._one_set(item, k, planned, result) is None or \
                    result.status != "finished":
                return
            rir_q = questions.rir(item.exercise, k)
            if k < len(loads):
                r._upcoming = (item, k + 1, loads[k])
                self._note_rir(await r.rests.rest(item.rest_s, rir_q))
            else:
                r._upcoming = None
                r.set_state(phase="paused", reason="reps in reserve", next_kg=None,
                            rest_until=None)
                self._note_rir(await r.checkins.ask(rir_q))

    async def _warmup_set(self, item: ExercisePlan, result: SessionResult) -> bool:
        """WARMUP-1: one light set before the first working set (when the plan gives one and
        this surface does them); False when the session should not go on."""
        r = self.r
        kg = getattr(item, "warmup_kg", None)
        if not r.warmups or not kg:
            return True
        reps = int(getattr(item, "warmup_reps", 0) or 10)
        warm = dataclasses.replace(item, kind="warmup", target_reps=reps, cap_kg=kg)
        r.io.say(f"  warm-up: {kg:.1f} kg x {reps}, easy")
        if await self._one_set(warm, 0, kg, result) is None or result.status != "finished":
            return False
        r.choices.chosen.pop(item.exercise, None)  # a load chosen for the warm-up stays there
        r._upcoming = (item, 1, item.load_kg)
        await r.rests.after_warmup(item)
        return True

    async def _ladder(self, item: ExercisePlan, result: SessionResult) -> None:
        """ASSESS-1: rising test sets, each ended by the person (or by the speed) with 2-3
        reps in reserve; after each, how many more reps they had; the next load follows from
        that and the speed, never above the test cap. A load chosen on a surface applies to
        that one set only: the ladder is never flattened."""
        r = self.r
        mvt = item.mvt_m_s or assessment.BENCH_MVT
        frac = item.test_fraction or assessment.TEST_FRACTION[r.plan.profile.kind]
        unit_max = r.plan.program.unit_max_kg
        done: list[SetLog] = []
        load: float | None = item.load_kg
        k = 0
        while load is not None:
            k += 1
            if await self._one_set(item, k, load, result) is None or \
                    result.status != "finished":
                return
            r.choices.chosen.pop(item.exercise, None)
            r._upcoming = None
            r.set_state(phase="paused", reason="reps in reserve", next_kg=None,
                        rest_until=None)
            self._note_rir(await r.checkins.ask(questions.rir(item.exercise, k)))
            done.append(r.set_logs[-1])
            load, why = assessment.next_test_load(done, mvt, frac, item.one_rm_kg, unit_max,
                                                  item.sets)
            r.io.say(f"  {why}")
            if load is not None:
                r._upcoming = (item, k + 1, load)
                await r.rests.rest(item.rest_s, None)
        est, how = assessment.assess(done, mvt)
        if est is not None:
            r.io.say(f"  estimated 1RM {est:.1f} kg ({'; '.join(how)})")


def set_log(item: ExercisePlan, r: SetRecord, mode: str = "standard") -> SetLog:
    """A set as the planner reads it."""
    full = [x for x in r.reps if x.full]
    return SetLog(exercise=item.exercise, load_kg=r.load_kg, full_reps=r.full_reps,
                  partial_reps=r.partial_reps,
                  min_rom_pct=min((x.rom_pct or 100.0) for x in full) if full else None,
                  rom_consistency=None if r.rom_consistency is None
                  else min(1.0, max(0.0, r.rom_consistency)),
                  velocity_loss=None if r.velocity_loss is None
                  else min(1.0, max(0.0, r.velocity_loss)),
                  rep_velocities_m_s=[min(5.0, round(x.mean_concentric_m_s, 4))
                                      for x in full],
                  mean_concentric_m_s=max((x.mean_concentric_m_s for x in full[:3]),
                                          default=None),
                  assessment=item.kind == "assessment", ended_by=r.ended_by, mode=mode)
