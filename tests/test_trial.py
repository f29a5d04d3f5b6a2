"""Dosing through the live path: the trial runs the session runner `halfstep run` runs; the
ladder, reps in reserve, spacing and plain reasons are checked on real sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from click.testing import CliRunner

import controller.core.session as session_module
from controller.planning.assessment import (
    TEST_FRACTION,
    assess,
    counted,
    estimate_from_reps,
    next_test_load,
)
from controller.planning.models import Exercise, PlanFile, ProfileKind, SessionLog, SetLog
from controller.planning.planner import next_session
from controller.simulated.trial import Scenario, default_plan, run_trial
from controller.surfaces.cli.main import cli
from tests.test_session import DAY, ScriptedIO, run_session

ROW = "seated row"


def fresh_row_plan() -> PlanFile:
    """Never assessed, one exercise: the session is a ladder."""
    base = default_plan(ProfileKind.PAIN, DAY)
    ex = Exercise(name=ROW, multi_joint=True, region="upper", first_load_kg=8.0)
    return base.model_copy(update={"program": base.program.model_copy(
        update={"exercises": [ex]})})


# ---- the trial is the product's path ---------------------------------------------------------


def test_the_trial_drives_the_session_runner_that_halfstep_run_drives(tmp_path, monkeypatch):
    runs: list[tuple[str, dt.date]] = []
    real = session_module.SessionRunner

    class Counting(real):  # type: ignore[misc,valid-type]
        async def run(self):
            runs.append((type(self.io).__name__, self.today))
            return await super().run()

    monkeypatch.setattr(session_module, "SessionRunner", Counting)
    results = run_trial(["pain"], 1, Scenario(weeks=1, miss_prob=0.0), seed=3, jobs=1)
    rows = [r for r in results[0].rows if r.items]
    assert len(rows) == 2 and len(runs) == 2  # every session of the trial is a run()
    assert {who for who, _ in runs} == {"PersonIO"}
    first = rows[0]
    # The person answered the questions a person gets, by id, through Question.parse.
    assert "rir:cable squat:1" in first.asked and "pain:cable squat" in first.asked
    assert first.asked[-2:] == ["pain:session", "confidence"]
    # ... and `halfstep run` goes through the same class.
    plan = tmp_path / "plan.json"
    CliRunner().invoke(cli, ["plan", "init", "--file", str(plan), "--profile", "pain",
                             "--start", "2026-11-01"])
    out = CliRunner().invoke(cli, ["run", "--file", str(plan), "--db", str(tmp_path / "h.db"),
                                   "--no-panel", "--speed", "0", "--today", "2026-11-02",
                                   "--pain", "2", "--yes"])
    assert out.exit_code == 0, out.output
    # controller.surfaces.panel.answers.PersonIO
    assert runs[-1] == ("PersonIO", dt.date(2026, 11, 2))
    assert len(runs) == 3


def test_a_live_assessment_is_a_rising_submaximal_ladder_close_to_the_truth():
    results = run_trial(["pain"], 2, Scenario(weeks=1, miss_prob=0.0), seed=5, jobs=1)
    for r in results:
        first = r.rows[0]
        assert first.phase == "assessment"
        for name, it in first.items.items():
            assert it.kind == "assessment"
            assert it.set_loads == sorted(it.set_loads) and len(it.set_loads) >= 2
            # RIR asked after every test set
            for k in range(1, len(it.set_loads) + 1):
                assert f"rir:{name}:{k}" in first.asked
            assert abs(it.estimate_after - it.true_1rm) / it.true_1rm <= 0.2
        assert first.max_fraction <= 0.85  # never near-maximal for a person in pain


# ---- the ladder on the unit --------------------------------------------------------------------


def test_the_ladder_is_never_flattened_by_a_load_chosen_between_sets(tmp_path):
    chosen = {}

    def watch(unit, runner):
        if runner.state.phase == "armed" and runner.state.set_index == 1 and not chosen:
            chosen["kg"] = runner.set_next_load(7.5, "test")  # the -0.5 button

    io = ScriptedIO(answers={f"rir:{ROW}:{k}": "5+" for k in range(1, 6)})
    result, _runner, io, _ = run_session(fresh_row_plan(), tmp_path / "h.db",
                                        "sim://?seed=4", io=io, watch=watch)
    loads = [s.load_kg for s in result.sets]
    assert chosen["kg"] == 7.5 and loads[0] == 7.5
    assert len(loads) >= 2 and loads[1] > 8.0  # the next rung follows the set, not the button
    assert loads == sorted(loads)
    assert [i for i in io.ids if i.startswith("rir:")] == [f"rir:{ROW}:{k}"
                                                          for k in range(1, len(loads) + 1)]


def test_a_test_set_ended_by_stop_is_left_out_and_ends_the_ladder(tmp_path):
    stopped = {}

    def watch(unit, runner):
        if runner.state.phase == "set" and runner.state.set_index == 2 and \
                runner.state.reps >= 2 and not stopped:
            stopped["task"] = asyncio.ensure_future(runner.stop("test"))

    _result, runner, _io, _ = run_session(fresh_row_plan(), tmp_path / "h.db",
                                        "sim://?seed=4", watch=watch)
    logs = [s for s in runner.plan.history[-1].sets if s.exercise == ROW]
    assert logs[-1].ended_by == "stopped from test" and len(logs) == 2
    assert not counted(logs[-1])
    est, _ = assess(logs)
    assert est == assess(logs[:1])[0]  # the stopped set changes nothing
    assert next_session(runner.plan, DAY + dt.timedelta(days=3)).items[0].one_rm_kg == \
        pytest.approx(est)


def test_the_ladder_stops_where_speed_or_the_person_says_2_to_3_reps_are_left():
    def s(load, reps, rir, mcv, ended="target reached"):
        return SetLog(exercise=ROW, load_kg=load, full_reps=reps, rir=rir,
                      mean_concentric_m_s=mcv, assessment=True, ended_by=ended)

    frac = TEST_FRACTION[ProfileKind.PAIN]
    # Light and fast: a bigger rung, never above 1.6 x.
    nxt, _ = next_test_load([s(10.0, 10, 5, 1.35)], 0.17, frac, None, 100.0)
    assert nxt == 16.0
    # Said 2 in reserve after 7: close enough.
    assert next_test_load([s(20.0, 7, 2, 0.6)], 0.17, frac, None, 100.0)[0] is None
    # The runner ended it on speed.
    assert next_test_load([s(20.0, 6, None, 0.6, "speed: about 2-3 reps left")], 0.17, frac,
                          None, 100.0)[0] is None
    # A reassessment never tests above 78% of the current estimate.
    nxt, _ = next_test_load([s(10.0, 10, 5, 1.2)], 0.17, frac, 20.0, 100.0)
    assert nxt is not None and nxt <= 0.78 * 20.0
    # A lost link: the set says nothing; the same rung once more (not twice).
    lost = s(16.0, 3, None, None, "link lost")
    assert next_test_load([s(10.0, 10, 5, 1.35), lost], 0.17, frac, None, 100.0)[0] == 16.0
    assert next_test_load([lost, lost], 0.17, frac, None, 100.0)[0] is None
    # Speed says the load is already near the cap: done.
    assert next_test_load([s(15.0, 10, 5, 0.55)], 0.17, frac, None, 100.0)[0] is None


# ---- reps in reserve after working sets ------------------------------------------------------


def row_plan_cli(tmp_path):
    """A pain-profile plan file with one exercise, a history database, a CLI runner."""
    plan = tmp_path / "plan.json"
    r = CliRunner()
    out = r.invoke(cli, ["plan", "init", "--file", str(plan), "--profile", "pain", "--start",
                         "2026-11-01", "--exercise", "seated row:upper:multi:10"])
    assert out.exit_code == 0, out.output
    return plan, str(tmp_path / "h.db"), r


def test_reps_in_reserve_after_working_sets_are_kept_and_move_the_estimate(tmp_path):
    plan, db, r = row_plan_cli(tmp_path)
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"pain:seated row": 1, "pain:session": 1,
                                   **{f"rir:seated row:{k}": "3" for k in range(1, 6)}}))
    out = r.invoke(cli, ["run", "--file", str(plan), "--db", db, "--no-panel", "--speed", "0",
                         "--today", "2026-11-02", "--answers", str(answers)])
    assert out.exit_code == 0, out.output
    saved = PlanFile.model_validate_json(plan.read_text())
    tests = [s for s in saved.history[-1].sets if s.assessment]
    assert tests and all(s.rir == 3 for s in tests)
    est = next_session(saved, dt.date(2026, 11, 5)).items[0].one_rm_kg
    # A working session where every set is said to have had 1 rep left:
    answers.write_text(json.dumps({"pre:pain_since_last": "settled", "pain:seated row": 1,
                                   "pain:session": 1,
                                   **{f"rir:seated row:{k}": "1" for k in range(1, 6)}}))
    out = r.invoke(cli, ["run", "--file", str(plan), "--db", db, "--no-panel", "--speed", "0",
                         "--today", "2026-11-05", "--answers", str(answers)])
    assert out.exit_code == 0, out.output
    saved = PlanFile.model_validate_json(plan.read_text())
    work = [s for s in saved.history[-1].sets if not s.assessment]
    assert work and all(s.rir == 1 for s in work)
    after = next_session(saved, dt.date(2026, 11, 8)).items[0].one_rm_kg
    # EST-3: the best set's reps + RIR, within 5% of the old estimate either way.
    said = max(estimate_from_reps(s.load_kg, s.full_reps + 1, 15) for s in work)
    assert after == pytest.approx(min(max(said, est * 0.95), est * 1.05))
    assert after != pytest.approx(est)


# ---- spacing --------------------------------------------------------------------------------


def test_a_session_the_day_after_asks_and_refuses_unanswered(tmp_path):
    plan, db, r = row_plan_cli(tmp_path)
    base = ["run", "--file", str(plan), "--db", db, "--no-panel", "--speed", "0"]
    assert r.invoke(cli, [*base, "--today", "2026-11-02", "--pain", "1"]).exit_code == 0
    rx = next_session(PlanFile.model_validate_json(plan.read_text()), dt.date(2026, 11, 3))
    assert rx.too_soon["hours"] == 24 and rx.too_soon["min_hours"] == 48
    assert "SPACE-1" in [x.rule for x in rx.reasons]
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"pre:pain_since_last": "settled"}))
    out = r.invoke(cli, [*base, "--today", "2026-11-03", "--answers", str(answers)])
    assert out.exit_code == 2 and "too_soon" in out.output and "Traceback" not in out.output
    answers.write_text(json.dumps({"too_soon": "no"}))
    out = r.invoke(cli, [*base, "--today", "2026-11-03", "--answers", str(answers)])
    assert out.exit_code == 0 and "Resting today" in out.output
    assert len(PlanFile.model_validate_json(plan.read_text()).history) == 1  # nothing ran
    answers.write_text(json.dumps({"too_soon": "yes", "pre:pain_since_last": "settled",
                                   "pain:seated row": 1, "pain:session": 1}))
    out = r.invoke(cli, [*base, "--today", "2026-11-03", "--answers", str(answers)])
    assert out.exit_code == 0, out.output
    assert len(PlanFile.model_validate_json(plan.read_text()).history) == 2
    # Two days later is fine.
    rx = next_session(PlanFile.model_validate_json(plan.read_text()), dt.date(2026, 11, 5))
    assert rx.too_soon is None


def test_athletes_may_train_on_consecutive_days():
    plan = default_plan(ProfileKind.ATHLETE, DAY)
    done = plan.model_copy(update={"history": [SessionLog(date=DAY, sets=[SetLog(
        exercise="seated row", load_kg=20.0, full_reps=10)])]})
    assert next_session(done, DAY + dt.timedelta(days=1)).too_soon is None
    assert next_session(done, DAY).too_soon["min_hours"] == 24  # not twice the same day


# ---- plain reasons, the trial command ---------------------------------------------------------


def test_plan_next_speaks_plainly_and_explains_on_request(tmp_path):
    plan = tmp_path / "plan.json"
    r = CliRunner()
    r.invoke(cli, ["plan", "init", "--file", str(plan), "--profile", "older", "--start",
                   "2026-11-01"])
    plain = r.invoke(cli, ["plan", "next", "--file", str(plan), "--today", "2026-11-02"])
    assert plain.exit_code == 0
    assert "[ASSESS-1]" not in plain.output and "1RM" not in plain.output
    assert "Finding your level" in plain.output
    explained = r.invoke(cli, ["plan", "next", "--file", str(plan), "--today", "2026-11-02",
                               "--explain"])
    assert "[ASSESS-1]" in explained.output and "[PHASE-1]" in explained.output


def test_plan_trial_reports_against_the_truth(tmp_path):
    png = tmp_path / "trial.png"
    out = CliRunner().invoke(cli, ["plan", "trial", "--profile", "older", "--persons", "1",
                                   "--weeks", "1", "--miss", "0", "--jobs", "1", "--json",
                                   "--plot", str(png)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    prof = data["profiles"][0]
    assert prof["profile"] == "older" and prof["sessions"] == 2
    assert prof["error_after_assessment"]["n"] == 3
    assert 0 < prof["highest_fraction"] <= 0.85
    assert {s["status"] for s in data["sessions"]} == {"finished"}
    assert png.read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(cli, ["plan", "trial", "--plot", str(tmp_path / "no" / "x.png")])
    assert bad.exit_code == 2 and "does not exist" in bad.output
