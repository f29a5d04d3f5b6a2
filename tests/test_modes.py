"""Warm-up sets and load modes through the real session runner on the simulated unit: the
warm-up is light and never reaches the planner; a mode reaches the unit only through the
safety gate, falls back to the standard mode when its peak does not fit, and Just Lift has no
rep target."""

from __future__ import annotations

import dataclasses

import pytest

from controller.core.history import History
from controller.core.safety import SafetyRefusal
from controller.core.session import SessionRunner
from controller.planning.models import PlanFile
from firmware_bridge.messages import Mode
from tests.test_session import DAY, ScriptedIO, one_exercise_plan, run_session


def with_mode(plan: PlanFile, mode: str) -> PlanFile:
    ex = plan.program.exercises[0].model_copy(update={"mode": mode})
    return plan.model_copy(update={"program": plan.program.model_copy(
        update={"exercises": [ex]})})


def test_a_warm_up_set_comes_first_light_and_apart(tmp_path):
    from controller.core.events import EventBus

    plan = one_exercise_plan()  # 2 x 12 at 8.0 kg
    bus, ended = EventBus(), []
    bus.subscribe(lambda e: ended.append(e.data), ("session",))
    result, _runner, io, _seen = run_session(plan, tmp_path / "h.sqlite", "sim://?seed=2&rest=60",
                                             warmups=True, bus=bus)
    assert result.status == "finished"
    kinds = [(r.kind, r.load_kg, r.target_reps) for r in result.sets]
    assert kinds == [("warmup", 4.0, 10), ("work", 8.0, 12), ("work", 8.0, 12)]
    assert result.sets[0].full_reps >= 8
    # The planner never sees it: the plan's log holds the working sets only.
    assert [s.load_kg for s in result.log.sets] == [8.0, 8.0]
    assert any("warm-up: 4.0 kg x 10" in line for line in io.lines)
    # What surfaces (MQTT, Home Assistant) are told the session trained: the working sets.
    work = result.sets[1:]
    assert (ended[-1]["sets"], ended[-1]["reps"], ended[-1]["volume_kg"]) == (
        2, sum(r.full_reps for r in work), round(sum(8.0 * r.full_reps for r in work), 1))
    with History(tmp_path / "h.sqlite") as h:
        assert [s["kind"] for s in h.session(result.session_id)["sets"]] == [
            "warmup", "work", "work"]
    # Without warm-ups (halfstep run's default) the session is as it was.
    plain, *_ = run_session(plan, tmp_path / "h2.sqlite", "sim://?seed=2&rest=60")
    assert [r.kind for r in plain.sets] == ["work", "work"]


def test_the_spotter_mode_reaches_the_unit_before_the_load(tmp_path):
    modes = []
    result, *_ = run_session(with_mode(one_exercise_plan(), "spotter"), tmp_path / "h.sqlite",
                             "sim://?seed=2&rest=60",
                             watch=lambda unit, runner: modes.append(unit.mode))
    assert result.status == "finished"
    assert (int(Mode.SPOTTER), 40, 1250, 30) in modes
    assert [s.mode for s in result.log.sets] == ["spotter", "spotter"]


def test_a_mode_whose_peak_is_above_the_cap_gives_way_to_the_standard_mode(tmp_path):
    # Eccentric at 8.0 kg pulls 9.6 kg on the way down: above the day's 9.5 kg.
    modes = []
    result, _runner, io, _ = run_session(
        with_mode(one_exercise_plan(), "eccentric"), tmp_path / "h.sqlite",
        "sim://?seed=2&rest=60", watch=lambda unit, runner: modes.append(unit.mode[0]))
    assert result.status == "finished"
    assert set(modes) == {int(Mode.CONSTANT)}  # never sent
    assert any("pulls up to 9.6 kg, above the 9.5 kg" in line for line in io.lines)
    assert [s.mode for s in result.log.sets] == ["standard", "standard"]


def test_just_lift_has_no_target_and_ends_when_the_handles_go_back(tmp_path):
    result, _runner, io, _ = run_session(with_mode(one_exercise_plan(), "just_lift"),
                                        tmp_path / "h.sqlite", "sim://?seed=2&rest=60")
    assert result.status == "finished"
    assert [(r.target_reps, r.ended_by) for r in result.sets] == [
        (None, "handles released"), (None, "handles released")]
    assert all(r.full_reps >= 10 for r in result.sets)
    assert any("as many as you like (Just Lift)" in line for line in io.lines)


@pytest.mark.parametrize("step", ["warmup", "work"])
async def test_a_mode_is_chosen_between_working_sets_only(tmp_path, step):
    plan = one_exercise_plan()
    with History(tmp_path / "h.sqlite") as history:
        runner = SessionRunner(lambda: None, plan, history, ScriptedIO(), DAY)  # type: ignore
        item = runner.rx.items[0]
        with pytest.raises(SafetyRefusal, match="no set is coming up"):
            runner.set_next_mode("spotter", "panel")
        runner._upcoming = (dataclasses.replace(item, kind=step), 1, item.load_kg)
        if step == "warmup":
            with pytest.raises(SafetyRefusal, match="standard mode"):
                runner.set_next_mode("spotter", "panel")
            return
        with pytest.raises(SafetyRefusal, match=r"9\.6 kg, above the 9\.5 kg"):
            runner.set_next_mode("eccentric", "panel")
        assert runner.set_next_mode("spotter", "panel") == "spotter"
        with pytest.raises(SafetyRefusal, match=r"10\.0 kg, above the 9\.5 kg"):
            runner.set_next_mode("chains", "panel")  # +25% at full extension
        runner.set_next_load(7.5, "panel")
        assert runner.set_next_mode("eccentric", "panel") == "eccentric"  # 9.0 kg peak
        with pytest.raises(SafetyRefusal, match=r"above the 9\.5 kg"):
            runner.set_next_load(8.0, "panel")  # 9.6 kg on the way down
        assert runner.state.mode == "eccentric" and runner.state.next_kg == 7.5
