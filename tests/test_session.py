"""Live sessions: the runner on the simulated unit, the history it keeps, faults on the way."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

import pytest

from controller.core.history import History
from controller.core.session import SessionRunner
from controller.planning.models import Exercise, PlanFile, ProfileKind, SessionLog, SetLog
from controller.planning.planner import next_session
from controller.simulated.demo import sim_person
from controller.simulated.trial import default_plan
from firmware_bridge.client import DeviceClient
from firmware_bridge.clock import loop_factory

DAY = dt.date(2026, 11, 16)


class ScriptedIO:
    """A person who answers from a script, through the same parser as the terminal and the
    panel (`Question.parse`): answers by question id first, then pains in order."""

    def __init__(self, pains=None, resume=True, answers=None):
        self.lines: list[str] = []
        self.pains = list(pains or [])
        self.resume = resume
        self.resumes = 0
        self.asked: list[str] = []
        self.ids: list[str] = []
        self.answers = dict(answers or {})

    def say(self, line: str) -> None:
        self.lines.append(line)

    async def ask(self, q):
        self.asked.append(q.text)
        self.ids.append(q.id)
        self.resumes += q.id == "resume_after_link_loss"
        if q.id in self.answers:
            return q.parse(self.answers[q.id])
        if q.kind == "pain":
            return q.parse(self.pains.pop(0) if self.pains else 2)
        if q.kind == "yes":
            return q.parse("yes" if self.resume else "no")
        if q.kind == "choice":
            return q.parse("settled")
        if q.id == "confidence":
            return 7
        return None  # reps in reserve: skipped


def one_exercise_plan(sets_done: bool = True) -> PlanFile:
    """A pain-profile plan, assessed, with one exercise: short sessions for fault tests."""
    base = default_plan(ProfileKind.PAIN, DAY - dt.timedelta(days=14))
    ex = Exercise(name="seated row", multi_joint=True, region="upper", first_load_kg=10.0)
    prog = base.program.model_copy(update={"exercises": [ex]})
    hist = [SessionLog(date=DAY - dt.timedelta(days=14), sets=[
        SetLog(exercise="seated row", load_kg=w, full_reps=r, rir=2, assessment=True)
        for w, r in ((10.0, 8), (12.5, 6), (15.0, 4))])]
    return base.model_copy(update={"program": prog, "history": hist})


def run_session(plan: PlanFile, db, url: str, io=None, speed: float = 0, watch=None,
                **runner_kw):
    """Run a session in warped time; `watch(unit)` is called every 10 ms of device time."""
    io = io or ScriptedIO()
    seen = {"max_target_kg": 0.0}

    async def main():
        with History(db) as history:
            runner = SessionRunner(lambda: DeviceClient(url), plan, history, io, DAY,
                                   brief=sim_person(plan, 1), **runner_kw)

            async def monitor():
                from sim.links import _UNITS

                while True:
                    await asyncio.sleep(0.01)
                    servers = _UNITS.get(asyncio.get_running_loop(), {})
                    if url in servers:
                        unit = servers[url].unit
                        seen["unit"] = unit
                        seen["max_target_kg"] = max(seen["max_target_kg"],
                                                    max(unit.targets) / 2)
                        if watch:
                            watch(unit, runner)

            task = asyncio.create_task(monitor())
            try:
                return await runner.run(), runner
            finally:
                task.cancel()

    with asyncio.Runner(loop_factory=loop_factory(speed)) as r:
        result, runner = r.run(main())
    return result, runner, io, seen


def test_a_whole_session_is_kept(tmp_path):
    plan = default_plan(ProfileKind.PAIN, DAY)
    db = tmp_path / "h.sqlite"
    result, _, _io, seen = run_session(plan, db, "sim://?seed=3&rest=60")
    rx = next_session(plan, DAY)
    assert result.status == "finished"
    for i in rx.items:  # a ladder each: rising loads, at most the plan's number of sets
        loads = [r.load_kg for r in result.sets if r.exercise == i.exercise]
        assert 1 <= len(loads) <= i.sets and loads == sorted(loads) and loads[0] == i.load_kg
    expected_sets = len(result.sets)
    with History(db) as h:
        s = h.session(result.session_id)
        assert s["status"] == "finished" and len(s["sets"]) == expected_sets
        assert all(t["reps"] for t in s["sets"])  # every set has its reps
        assert [c["exercise"] for c in s["checkins"]] == [i.exercise for i in rx.items] + [None]
        assert [d["exercise"] for d in s["decisions"]] == [i.exercise for i in rx.items]
        assert s["decisions"][0]["reasons"][0]["rule"]
        # "More capable than a few weeks ago?" is not asked at the first session.
        assert s["confidence"] == 7 and s["more_capable"] is None
        assert "capable" not in _io.ids and _io.ids[0].startswith("rir:")
    assert result.log is not None and len(result.log.sets) == expected_sets
    # The planner reads the session back: the next prescription starts working sets.
    after = plan.model_copy(update={"history": [result.log]})
    assert next_session(after, DAY + dt.timedelta(days=3)).items[0].kind == "work"
    # Never more load than a set asked for.
    assert seen["max_target_kg"] <= max(r.load_kg for r in result.sets)


def test_a_red_flag_stops_everything_and_pauses_the_program(tmp_path):
    plan = default_plan(ProfileKind.OLDER, DAY)
    db = tmp_path / "h.sqlite"
    result, _, _io, _ = run_session(plan, db, "sim://?seed=4", ScriptedIO(pains=["!"]))
    assert result.status == "stopped: red flag"
    first = plan.program.exercises[0].name
    assert {s.exercise for s in result.sets} == {first}  # nothing after the flag
    with History(db) as h:
        s = h.session(result.session_id)
    assert s["status"] == "stopped: red flag" and s["red_flags"] == ["other"]
    assert any(e["kind"] == "red_flag" for e in s["safety_events"])
    after = plan.model_copy(update={"history": [result.log]})
    assert next_session(after, DAY + dt.timedelta(days=2)).status == "paused"


@pytest.mark.parametrize("fault", ["disconnect_at=15", "reboot_at=15"])  # in the first set
def test_link_lost_mid_set_keeps_reps_and_waits_for_rearm(tmp_path, fault):
    plan = one_exercise_plan()
    db = tmp_path / "h.sqlite"
    url = f"sim://?seed=5&rest=30&{fault}"
    loads_after_loss: list[tuple[float, bool]] = []
    phase = {"zeroed": False}

    def watch(unit, runner):
        if unit.now_us > 15e6 and not any(unit.targets):
            phase["zeroed"] = True  # the unit deloaded: the host's new HELLO, or a reboot
        if phase["zeroed"] and max(unit.targets) > 0:
            loads_after_loss.append((unit.now_us / 1e6, runner.supervisor.armed))

    result, _runner, io, seen = run_session(plan, db, url, watch=watch)
    rx = next_session(plan, DAY)
    assert result.status == "finished"
    with History(db) as h:
        s = h.session(result.session_id)
    kinds = [e["kind"] for e in s["safety_events"]]
    assert "link_lost" in kinds and "reconnected" in kinds
    lost = [t for t in s["sets"] if t["ended_by"] == "link lost"]
    assert len(lost) == 1 and lost[0]["reps"]  # the reps done before the loss are kept
    # The interrupted set counts as done (with what was done); the session goes on from there.
    assert len(s["sets"]) == rx.items[0].sets
    assert lost[0]["set_index"] == 1
    assert io.resumes == 1
    # After the loss the load came back only with the supervisor armed again.
    assert loads_after_loss and all(armed for _, armed in loads_after_loss)
    assert seen["max_target_kg"] <= rx.items[0].load_kg


def test_the_unit_deloads_within_lease_and_ramp_when_the_link_drops(tmp_path):
    plan = one_exercise_plan()
    marks: dict[str, float] = {}

    def watch(unit, runner):
        t = unit.now_us / 1e6
        if "dropped" not in marks and unit.faults.disconnect_at_s is None and t > 15:
            marks["dropped"] = t
            marks["load"] = max(unit.applied_half_kg) / 2
        if "dropped" in marks and "zero" not in marks and not any(unit.applied_half_kg):
            marks["zero"] = t

    run_session(plan, tmp_path / "h.sqlite", "sim://?seed=5&rest=30&disconnect_at=15",
                watch=watch)
    took = marks["zero"] - marks["dropped"]
    assert took <= 0.5 + marks["load"] / 30 + 0.1  # lease + ramp down + a tick or two


def test_history_survives_and_migrates(tmp_path):
    db = tmp_path / "h.sqlite"
    with History(db) as h:
        assert h.version == 3
        sid = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
        h.record_checkin(sid, None, 3)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.execute("PRAGMA user_version=99")
    con.commit()
    con.close()
    with pytest.raises(RuntimeError, match="newer than this program"):
        History(db)


@pytest.mark.parametrize("go_on", [True, False])
def test_a_stop_from_a_surface_ends_the_set_and_waits_for_the_person(tmp_path, go_on):
    """STOP mid-set (as the panel or MQTT sends it): the load comes off, confirmed; the set is
    kept with its reps; before the next set the person is asked, and "no" ends the session."""
    plan = one_exercise_plan()  # 2 sets of 12
    io = ScriptedIO(resume=go_on)
    answers: list[dict] = []
    tasks: list[asyncio.Task] = []

    def watch(unit, runner):
        if runner.state.phase == "set" and runner.state.set_index == 1 and \
                runner.state.reps >= 4 and not answers:
            answers.append({})
            task = asyncio.ensure_future(runner.stop("test"))
            task.add_done_callback(lambda t: answers.__setitem__(0, t.result()))
            tasks.append(task)  # held until it is done

    result, _, _, _ = run_session(plan, tmp_path / "h.sqlite", "sim://?seed=2&rest=60", io,
                                  watch=watch)
    assert answers[0]["confirmed"] is True and answers[0]["applied_kg"] == 0.0
    first = result.sets[0]
    assert first.ended_by == "stopped from test" and 4 <= first.full_reps < 12
    assert any("Stopped from test" in q for q in io.lines + io.asked)
    if go_on:
        assert result.status == "finished" and len(result.sets) == 2
        assert result.sets[1].full_reps == 12
    else:
        assert result.status == "stopped" and len(result.sets) == 1
    with History(tmp_path / "h.sqlite") as h:
        kinds = [e["kind"] for e in h.session(result.session_id)["safety_events"]]
    assert "stop" in kinds


def test_a_stop_whose_acks_are_lost_is_retried_until_confirmed(tmp_path):
    """The unit's ACKs to STOP go missing (5 in a row: more than one command's 4 attempts):
    the STOP is sent again until telemetry confirms the load is off."""
    plan = one_exercise_plan()
    answers: list[dict] = []
    tasks: list[asyncio.Task] = []

    def watch(unit, runner):
        if runner.state.phase == "set" and runner.state.reps >= 2 and not answers:
            answers.append({})
            unit.faults.drop_acks = 5
            task = asyncio.ensure_future(runner.stop("test"))
            task.add_done_callback(lambda t: answers.__setitem__(0, t.result()))
            tasks.append(task)

    result, _, _, _ = run_session(plan, tmp_path / "h.sqlite", "sim://?seed=2&rest=60",
                                  ScriptedIO(resume=False), watch=watch)
    assert answers[0] == {"confirmed": True, "applied_kg": 0.0}
    assert result.sets[0].ended_by == "stopped from test"
    with History(tmp_path / "h.sqlite") as h:
        kinds = [e["kind"] for e in h.session(result.session_id)["safety_events"]]
    assert "stop" in kinds and "stop_retry" in kinds


def test_after_a_stop_the_load_returns_only_from_the_dock_after_the_rest(tmp_path):
    """STOP from a surface mid-set while the person keeps holding the handles (as with STOP
    from Home Assistant): nothing is loaded while they hold on; the rest is honoured in full;
    the load comes back only after the handles were docked, taken up again and the person
    said to go on."""
    from sim.lifter import Phase

    plan = one_exercise_plan()
    rest_s = next_session(plan, DAY).items[0].rest_s
    io = ScriptedIO(resume=True)
    seen: dict = {}

    def watch(unit, runner):
        t = unit.now_us / 1e6
        lifter = unit.lifter
        if "stop_t" not in seen:
            if runner.state.phase == "set" and runner.state.reps >= 4:
                seen["stop_t"] = t
                seen["task"] = asyncio.ensure_future(runner.stop("home assistant"))
            return
        if t - seen["stop_t"] < rest_s + 30:  # the person holds on, well past the rest
            if lifter.phase is Phase.DOCKED or not lifter.held:
                lifter.held, lifter.phase, lifter._phase_t = True, Phase.WAIT_LOAD, 0.0
                lifter.position_mm = max(lifter.position_mm, 300.0)
            return
        if unit.physics.state[0].position_mm <= 2.0:
            seen.setdefault("docked_t", t)
        if any(unit.targets) and "load_t" not in seen:
            seen["load_t"] = t
            seen["asked_by_then"] = list(io.ids)

    result, _, _, _ = run_session(plan, tmp_path / "h.sqlite", "sim://?seed=2&rest=60", io,
                                  watch=watch)
    assert result.status == "finished" and len(result.sets) == 2
    assert result.sets[0].ended_by == "stopped from home assistant"
    assert "docked_t" in seen and seen["load_t"] > seen["docked_t"]
    assert seen["load_t"] - seen["stop_t"] >= rest_s
    assert "continue_after_stop" in seen["asked_by_then"]


def test_a_stalled_controller_never_arms_on_stale_samples_and_re_arms_after_not_ready(
        tmp_path, monkeypatch):
    """The controller is held up 7 s while waiting for the handles (the unit runs on in its
    own thread): the unit's lease runs out meanwhile. The samples queued during the stall are
    history: no load is sent on them; the load refused as NOT_READY is a safety event, a fresh
    HELLO follows and the person arms again from the dock; nothing crashes."""
    import time

    from controller.core.control_core import ControlCore
    from tests.conftest import running_sim

    plan = one_exercise_plan()
    sent: list[float] = []
    stall: dict = {}
    original = DeviceClient.set_load

    async def set_load(self, kg, *a, **kw):
        sent.append(time.monotonic())
        return await original(self, kg, *a, **kw)

    monkeypatch.setattr(DeviceClient, "set_load", set_load)

    def brief(dev, item, load):
        if not stall:
            time.sleep(7.0)  # the whole controller stalls (its loop is blocked)
            stall["end"] = time.monotonic()

    with ControlCore(1.0, name="sim-unit") as unit_core:
        sim_cm = running_sim("tcp", seed=2, rest=3, pickup=1)
        handle = unit_core.submit(sim_cm.__aenter__()).result(10)
        try:
            async def main():
                with History(tmp_path / "h.sqlite") as history:
                    runner = SessionRunner(lambda: DeviceClient(handle.link), plan, history,
                                           ScriptedIO(resume=False), DAY, brief=brief)

                    async def stop_once_loaded():
                        while runner.state.phase != "set":
                            await asyncio.sleep(0.05)
                        await runner.red_flag_now("red_flag:other", "test")  # ends at once

                    stopper = asyncio.ensure_future(stop_once_loaded())
                    try:
                        return await asyncio.wait_for(runner.run(), 90)
                    finally:
                        stopper.cancel()

            result = asyncio.run(main())
        finally:
            unit_core.submit(sim_cm.__aexit__(None, None, None)).result(10)
    assert result.status == "stopped: red flag"
    first_after_stall = next(t for t in sent if t >= stall["end"])
    assert first_after_stall - stall["end"] >= 0.25  # fresh samples, not the queued ones
    with History(tmp_path / "h.sqlite") as h:
        events = h.session(result.session_id)["safety_events"]
    # The unit went quiet once its lease ran out (or refused the load as NOT_READY): armed
    # again on a fresh link, nothing recorded as a lost set, the set then loaded and run.
    rearmed = [e for e in events if e["kind"] in ("rearm", "load_refused")]
    assert rearmed and ("NOT_READY" in rearmed[0]["cause"] or "telemetry" in rearmed[0]["cause"])
    assert not [e for e in events if e["kind"] == "link_lost"]
    assert result.sets[0].ended_by.startswith("stopped from red flag")
