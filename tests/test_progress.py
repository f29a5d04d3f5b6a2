"""Progress (the panel's charts): the estimate after each session is the planner's own, read in
one pass over the history, not one replay per session."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

import controller.planning.plan_history
import controller.planning.planner
import controller.planning.records
from controller.planning.models import Clearance, PlanFile, ProfileKind, RedFlag, SessionLog, SetLog
from controller.planning.plan_history import replay, replay_steps
from controller.planning.planner import next_session, pause_state
from controller.planning.progress import progress
from controller.simulated.trial import default_plan

START = dt.date(2026, 1, 5)  # a Monday
SQUAT, ROW, PRESS = "cable squat", "seated row", "chest press"


def reference(plan: PlanFile) -> dict[str, Any]:
    """progress()'s exercises, pain and pause computed the slow way: one replay per session per
    exercise (quadratic), kept as the reference the one-pass version must equal. Working loads
    come from working sets only (a session with only test sets has no working load); the test
    sets are their own series."""
    exercises = []
    for ex in plan.program.exercises:
        points, tests = [], []
        for s in plan.history:
            mine = [x for x in s.sets if x.exercise == ex.name]
            if not mine:
                continue
            work = [x for x in mine if not x.assessment]
            st = replay(plan, ex, s.date + dt.timedelta(days=1))
            tests += [{"date": s.date.isoformat(), "load_kg": x.load_kg, "reps": x.full_reps,
                       "rir": x.rir} for x in mine if x.assessment]
            points.append({"date": s.date.isoformat(),
                           "load_kg": max(x.load_kg for x in work) if work else None,
                           "reps": sum(x.full_reps for x in work), "sets": len(work),
                           "volume_kg": round(sum(x.load_kg * x.full_reps for x in work), 1),
                           "one_rm_kg": None if st.one_rm is None else round(st.one_rm, 1),
                           "test": any(x.assessment for x in mine)})
        exercises.append({"name": ex.name, "points": points, "tests": tests})
    pain = [{"date": s.date.isoformat(), "pain": s.pain_during, "red_flag": bool(s.red_flags),
             "red_flags": [k.value for k in s.red_flags]} for s in plan.history]
    in_sessions = {(s.date, k) for s in plan.history for k in s.red_flags}
    for r in plan.red_flag_reports:
        if (r.date, r.kind) not in in_sessions:
            pain.append({"date": r.date.isoformat(), "pain": None, "red_flag": True,
                         "red_flags": [r.kind.value]})
    pain.sort(key=lambda p: p["date"])
    pause = pause_state(plan, max([dt.date.today(), *(s.date for s in plan.history)]))
    return {"exercises": exercises, "pain": pain,
            "sessions_per_week": plan.profile.sessions_per_week,
            "paused": None if pause is None else pause.as_dict()}


def compared(got: dict[str, Any]) -> dict[str, Any]:
    """The part of progress() the reference computes."""
    return {k: got[k] for k in ("exercises", "pain", "sessions_per_week", "paused")}


# ---- a realistic history: the planner's own prescriptions, done by a person -----------------


TRUE_1RM = {SQUAT: 62.0, ROW: 31.0, PRESS: 25.0}


def to_failure(name: str, w: float, n: int) -> int:
    """Reps to failure at w (Epley inverted) for a person who gets 0.4% stronger a session."""
    true = TRUE_1RM[name] * (1 + 0.004 * n)
    return max(0, int(30 * (true / w - 1)))


def done(rx, d: dt.date, n: int, *, pain: int = 1, flags: list[RedFlag] | None = None,
         skip: tuple[str, ...] = (), stop_after: int | None = None) -> SessionLog:
    """What the person does with a prescription: ladders to 2-3 reps in reserve, working sets
    towards the target (tiring over the sets), RIR after every set."""
    sets: list[SetLog] = []
    for it in rx.items:
        if it.exercise in skip:
            continue
        if it.kind == "assessment":
            w = it.load_kg
            for _ in range(it.sets):
                rtf = to_failure(it.exercise, w, n)
                reps = max(1, min(10, rtf - 2))
                sets.append(SetLog(exercise=it.exercise, load_kg=w, full_reps=reps,
                                   rir=min(5, max(0, rtf - reps)), assessment=True,
                                   ended_by="target reached"))
                nxt = min(it.cap_kg or 400.0, int(w * 1.25 * 2) / 2)
                if rtf <= 6 or nxt <= w:
                    break
                w = nxt
        else:
            for i in range(it.sets):
                rtf = to_failure(it.exercise, it.load_kg, n) - 2 * i
                reps = max(0, min(it.target_reps, rtf - 2))
                sets.append(SetLog(exercise=it.exercise, load_kg=it.load_kg, full_reps=reps,
                                   rir=min(5, max(0, rtf - reps)), min_rom_pct=96.0,
                                   velocity_loss=0.1, ended_by="target reached"))
    if stop_after is not None:
        sets = sets[:stop_after]
    return SessionLog(date=d, sets=sets, pain_during=None if flags else pain,
                      pain_settled=True, red_flags=flags or [],
                      status="stopped: red flag" if flags else "finished")


def realistic_plan() -> PlanFile:
    """About 40 sessions over 30 weeks, as the planner prescribed them: the first ladder,
    adaptation, progression, reassessments every 5 weeks, a 4-week gap and its recalibration, a
    session stopped by a red flag and the pause until the all-clear, a session stopped before
    any set (link lost), a second session on the same day, an exercise skipped for pain."""
    plan = default_plan(ProfileKind.PAIN, START)
    history: list[SessionLog] = []
    clearances: list[Clearance] = []
    n = 0
    for week in range(30):
        if 9 <= week < 13:  # the gap
            continue
        for wd in (0, 3):
            d = START + dt.timedelta(weeks=week, days=wd)
            cur = plan.model_copy(update={"history": history, "clearances": clearances})
            rx = next_session(cur, d)
            if rx.status == "paused":
                continue
            if week == 18 and wd == 0:  # a red flag mid-session; the all-clear 10 days later
                history.append(done(rx, d, n, flags=[RedFlag.CHEST_PAIN], stop_after=4))
                clearances.append(Clearance(date=d + dt.timedelta(days=10), by="Dr Lee"))
            elif week == 6 and wd == 3:  # link lost before the first set, done again that day
                history.append(SessionLog(date=d, status="stopped"))
                history.append(done(rx, d, n))
            elif week == 15 and wd == 0:  # the knee hurt: squats rested, pain 4
                history.append(done(rx, d, n, pain=4, skip=(SQUAT,)))
            elif week == 22 and wd == 3:  # a short extra session the same day
                history.append(done(rx, d, n, pain=2))
                again = next_session(plan.model_copy(update={
                    "history": history, "clearances": clearances}), d)
                history.append(done(again, d, n, skip=(ROW, PRESS)))
            else:
                history.append(done(rx, d, n, pain=(n % 4)))
            n += 1
    # Validated like a plan file read from disk.
    return PlanFile.model_validate(plan.model_copy(
        update={"history": history, "clearances": clearances}).model_dump())


def test_the_realistic_plan_has_what_it_claims():
    plan = realistic_plan()
    hist = plan.history
    assert 35 <= len(hist) <= 60
    tests = [s for s in hist if any(x.assessment for x in s.sets)]
    assert len(tests) >= 4  # the first ladder, reassessments, the recalibration after the gap
    assert any((b.date - a.date).days >= 28 for a, b in itertools.pairwise(hist))
    assert any(s.red_flags for s in hist) and plan.clearances
    assert any(not s.sets for s in hist)
    assert any(a.date == b.date for a, b in itertools.pairwise(hist))


def test_progress_equals_one_replay_per_session():
    plan = realistic_plan()
    got = progress(plan)
    assert compared(got) == reference(plan)
    # Not vacuous: estimates change along the way, and there is one point per session.
    rms = [p["one_rm_kg"] for p in got["exercises"][0]["points"]]
    assert rms[0] is not None and len(set(rms)) > 5
    assert [len(e["points"]) for e in got["exercises"]] == [
        sum(1 for s in plan.history if any(x.exercise == ex.name for x in s.sets))
        for ex in plan.program.exercises]


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_progress_equals_the_reference_even_out_of_date_order(order):
    """A plan file is validated in date order; one built in memory need not be: the same
    answer as one replay per session, whatever the order."""
    plan = realistic_plan()
    hist = list(plan.history)
    hist = hist[::-1] if order == "reversed" else hist[1::2] + hist[0::2]
    plan = plan.model_copy(update={"history": hist})
    assert compared(progress(plan)) == reference(plan)


def test_replay_is_the_last_step_and_each_step_a_replay():
    plan = realistic_plan()
    for ex in plan.program.exercises:
        *_, last = replay_steps(plan, ex)
        assert last == replay(plan, ex, dt.date.max)
        for k, st in enumerate(replay_steps(plan, ex)):
            s = plan.history[k]
            if k + 1 < len(plan.history) and plan.history[k + 1].date == s.date:
                continue  # replay() reads whole days
            assert st == replay(plan, ex, s.date + dt.timedelta(days=1))


# ---- linear --------------------------------------------------------------------------------


def long_plan(sessions: int) -> PlanFile:
    """A long history built directly (no planner per session): 3 exercises, 3 sets each, two
    sessions a week, a ladder every 10 sessions (5 weeks), loads rising and deloading."""
    plan = default_plan(ProfileKind.PAIN, START)
    base = {SQUAT: 30.0, ROW: 15.0, PRESS: 12.0}
    history = []
    for i in range(sessions):
        d = START + dt.timedelta(days=7 * (i // 2) + 3 * (i % 2))
        sets = []
        for name, b in base.items():
            w = b * (1 + 0.02 * (i % 20))
            if i % 10 == 0:
                sets += [SetLog(exercise=name, load_kg=round(w * f * 2) / 2, full_reps=r, rir=2,
                                assessment=True) for f, r in ((1.0, 8), (1.25, 6), (1.5, 4))]
            else:
                sets += [SetLog(exercise=name, load_kg=round(w * 2) / 2, full_reps=12 - j,
                                rir=2, min_rom_pct=95.0, velocity_loss=0.1) for j in range(3)]
        history.append(SessionLog(date=d, sets=sets, pain_during=i % 3, pain_settled=True))
    return plan.model_copy(update={"history": history})


def test_progress_folds_each_session_once_per_exercise(monkeypatch):
    """2,000 sessions: the replay machinery folds every session once per exercise (it used to
    fold the history once per session: ~6 million sessions folded, not 6,000)."""
    plan = long_plan(2000)
    folds = {"working": 0, "steps": 0}
    working = controller.planning.plan_history.working

    def counted_working(s, name):
        folds["working"] += 1
        return working(s, name)

    def counted_steps(*a, **kw):
        for st in replay_steps(*a, **kw):
            folds["steps"] += 1
            yield st

    def no_replay(*a, **kw):
        raise AssertionError("progress() must not replay per session")

    monkeypatch.setattr(controller.planning.plan_history, "working", counted_working)
    monkeypatch.setattr(controller.planning.records, "replay_steps", counted_steps)
    monkeypatch.setattr(controller.planning.plan_history, "replay", no_replay)
    monkeypatch.setattr(controller.planning.planner, "replay", no_replay)
    out = progress(plan)
    per_ex = len(plan.history)
    n_ex = len(plan.program.exercises)
    assert folds["steps"] == n_ex * per_ex
    assert folds["working"] == n_ex * per_ex  # every session holds every exercise
    assert [len(e["points"]) for e in out["exercises"]] == [per_ex] * n_ex


# ---- separate series, weeks against the plan, streaks, confidence ----------------------------


def test_working_loads_never_include_test_sets():
    """The complaint (#20): a ladder's loads drawn on the working line, a spike and then what
    read as "I got weaker". Working loads come from working sets only; every test set is in
    its own series."""
    plan = realistic_plan()
    got = progress(plan)
    spikes = 0
    for ex, series in zip(plan.program.exercises, got["exercises"], strict=True):
        held = [s for s in plan.history if any(x.exercise == ex.name for x in s.sets)]
        for s, p in zip(held, series["points"], strict=True):
            work = [x.load_kg for x in s.sets if x.exercise == ex.name and not x.assessment]
            tests = [x.load_kg for x in s.sets if x.exercise == ex.name and x.assessment]
            assert p["load_kg"] == (max(work) if work else None)
            assert p["test"] == bool(tests)
            spikes += bool(tests and work and max(tests) > max(work)) or bool(
                tests and not work)
        assert len(series["tests"]) == sum(1 for s in held for x in s.sets
                                           if x.exercise == ex.name and x.assessment)
        line = [p["load_kg"] for p in series["points"] if p["load_kg"] is not None]
        assert max(line) < max(t["load_kg"] for t in series["tests"])  # the ladder's are apart
    assert spikes >= 4  # not vacuous: the history has test days the old line drew as spikes


def week_plan() -> PlanFile:
    """Two sessions a week planned. Week 1 (started on a Thursday): one session. Week 2: two,
    but on the same day (one day trained: short). Weeks 3-5: two each (an empty session, stopped
    before its first set, on top in week 3). Week 6: a red flag on Monday, the all-clear on
    Wednesday of week 8; week 8 then has two sessions. Week 9 (this week): one so far."""
    plan = default_plan(ProfileKind.PAIN, START)

    def s(week: int, day: int, *, sets: bool = True, **kw) -> SessionLog:
        d = START + dt.timedelta(weeks=week - 1, days=day)
        return SessionLog(date=d, sets=[
            SetLog(exercise=ROW, load_kg=20.0, full_reps=10, rir=3),
            SetLog(exercise=ROW, load_kg=25.0, full_reps=5, rir=2, assessment=True),
        ] if sets else [], **kw)

    hist = [s(1, 3), s(2, 0), s(2, 0), s(3, 0), s(3, 1, sets=False), s(3, 3), s(4, 1), s(4, 4),
            s(5, 0), s(5, 3), s(6, 0, red_flags=[RedFlag.CHEST_PAIN], pain_during=None),
            s(8, 3), s(8, 4), s(9, 0, checkin={"confidence": 8})]
    return PlanFile.model_validate(plan.model_copy(update={
        "history": hist, "clearances": [Clearance(date=START + dt.timedelta(weeks=7, days=2),
                                                  by="Dr Lee")]}).model_dump())


def test_weeks_count_days_trained_against_the_plan_and_keep_a_streak():
    plan = week_plan()
    today = START + dt.timedelta(weeks=8, days=1)  # Tuesday of week 9
    got = progress(plan, today)
    weeks = got["weeks"]
    assert [w["start"] for w in weeks] == [(START + dt.timedelta(weeks=k)).isoformat()
                                           for k in range(9)]  # the empty week 7 included
    assert [w["sessions"] for w in weeks] == [1, 1, 2, 2, 2, 1, 0, 2, 1]
    assert [w["met"] for w in weeks] == [False, False, True, True, True, False, False, True,
                                         False]
    assert [w["note"] for w in weeks] == ["first week", None, None, None, None, "paused",
                                          "paused", "paused", "this week"]
    assert [w["paused"] for w in weeks] == [False] * 5 + [True] * 3 + [False]
    assert all(w["planned"] == 2 for w in weeks)
    # Working sets only: 20 kg x 10 a session (the test set at 25 kg is not volume).
    assert weeks[2]["volume_kg"] == 400.0 and weeks[6]["volume_kg"] == 0.0
    # Weeks 3-5 met, 6-7 paused (neither break nor count), 8 met, 9 not over yet: 4 in a row;
    # week 2 (short) broke the run before.
    assert got["streak"] == {"current": 4, "best": 4, "unit": "weeks", "per_week": 2}
    # A week later, week 9 is over and short: the streak is broken, the best kept.
    later = progress(plan, today + dt.timedelta(days=7))
    assert later["weeks"][8]["note"] is None and later["weeks"][9]["note"] == "this week"
    assert later["streak"]["current"] == 0 and later["streak"]["best"] == 4
    # Confidence where it was asked; the red flag as a flag, not a pain number.
    assert got["confidence"] == [{"date": weeks[8]["start"], "confidence": 8}]
    flagged = [p for p in got["pain"] if p["red_flag"]]
    assert flagged == [{"date": weeks[5]["start"], "pain": None, "red_flag": True,
                        "red_flags": ["chest_pain"]}]


def test_a_pause_not_cleared_runs_to_today():
    plan = week_plan().model_copy(update={"clearances": []})
    got = progress(plan, START + dt.timedelta(weeks=8, days=1))
    assert [w["paused"] for w in got["weeks"]] == [False] * 5 + [True] * 4
    assert got["paused"]["red_flags"] == ["chest_pain"]


def test_progress_with_no_history():
    plan = default_plan(ProfileKind.PAIN, START)
    got = progress(plan, START)
    assert got["weeks"] == [] and got["streak"]["current"] == got["streak"]["best"] == 0
    assert all(e["points"] == [] and e["tests"] == [] for e in got["exercises"])
    assert got["records"] == {ex.name: {"heaviest": None, "most_reps": None, "strength": None,
                                        "volume": None} for ex in plan.program.exercises}
    assert got["pain"] == got["confidence"] == [] and got["paused"] is None


def test_records_in_progress_are_the_records():
    from controller.planning.records import records

    plan = realistic_plan()
    got = progress(plan)
    assert got["records"] == records(plan)
    for series in got["exercises"]:  # the best estimate is the top of the strength line
        rms = [p["one_rm_kg"] for p in series["points"] if p["one_rm_kg"] is not None]
        assert got["records"][series["name"]]["strength"]["one_rm_kg"] == max(rms)


def test_a_long_history_is_quick_enough(capsys):
    """1,000 sessions: printed, not asserted (a loaded CI machine is no benchmark)."""
    import time

    plan = long_plan(1000)
    t = time.perf_counter()
    out = progress(plan)
    took = time.perf_counter() - t
    with capsys.disabled():
        print(f"\nprogress() on 1,000 sessions: {took * 1000:.0f} ms")
    assert len(out["exercises"][0]["points"]) == 1000
