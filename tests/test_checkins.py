"""Check-ins that never lose a signal, through the real session runner and the real CLI: red
flags at every kind of check-in, the pause everywhere, clearance, the 24-48 h rule, pain that
rests only what hurt, and answers given in advance."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from controller.core.history import History
from controller.core.plan_file import load_plan, save_plan
from controller.planning.models import Exercise, PlanFile, RedFlag, SessionLog, SetLog
from controller.planning.planner import next_session, pause_state
from controller.planning.questions import AnswerBook, AnswerError, Flag, since_last
from tests.procs import HALFSTEP, run
from tests.test_session import DAY, ScriptedIO, one_exercise_plan, run_session


def worked_plan(exercises: list[Exercise] | None = None, painful=("knee",)) -> PlanFile:
    """A pain profile with working sets done 3 days before DAY (so loads can go down)."""
    base = one_exercise_plan()
    exercises = exercises or base.program.exercises
    before = DAY - dt.timedelta(days=3)
    assessed = SessionLog(date=DAY - dt.timedelta(days=14), sets=[
        SetLog(exercise=e.name, load_kg=w, full_reps=r, rir=2, assessment=True)
        for e in exercises for w, r in ((10.0, 8), (12.5, 6), (15.0, 4))])
    worked = SessionLog(date=before, pain_during=2, sets=[
        SetLog(exercise=e.name, load_kg=7.0, full_reps=12) for e in exercises for _ in (1, 2)])
    return base.model_copy(update={
        "program": base.program.model_copy(update={"exercises": exercises}),
        "profile": base.profile.model_copy(update={"painful_regions": list(painful)}),
        "history": [assessed, worked]})


def knee_plan() -> PlanFile:
    return worked_plan([
        Exercise(name="cable squat", multi_joint=True, region="lower", first_load_kg=10.0),
        Exercise(name="knee extension", multi_joint=False, region="lower", first_load_kg=10.0),
        Exercise(name="seated row", multi_joint=True, region="upper", first_load_kg=10.0),
    ])


class FlagAt(ScriptedIO):
    """Answers as a person would, and raises a red flag at one question id; remembers the
    loop time of the flag and every question asked after it."""

    def __init__(self, qid: str, kind: str = "chest_pain", **kw):
        super().__init__(**kw)
        self.flag_id, self.kind = qid, kind
        self.flagged_at: float | None = None

    async def ask(self, q):
        if q.id == self.flag_id and self.flagged_at is None:
            self.ids.append(q.id)
            self.flagged_at = asyncio.get_running_loop().time()
            return q.parse(f"red_flag:{self.kind}")
        return await super().ask(q)


# ---- a red flag at every kind of check-in -------------------------------------------------


@pytest.mark.parametrize("qid,kind", [
    ("pre:pain_since_last", "numbness_tingling"),   # before the session
    ("rir:seated row:1", "chest_pain"),             # after a set, during the rest
    ("pain:seated row", "snap_or_tear"),            # per exercise
    ("pain:session", "fainting"),                   # end of session
    ("confidence", "breathlessness"),               # any question at all
])
def test_a_red_flag_at_any_check_in_unloads_ends_and_pauses(tmp_path, qid, kind):
    plan = one_exercise_plan()
    saved: list[PlanFile] = []
    io = FlagAt(qid, kind)
    loads_after: list[tuple[float, float]] = []

    def watch(unit, runner):
        if io.flagged_at is not None:
            loads_after.append((asyncio.get_running_loop().time() - io.flagged_at,
                                max(unit.applied_half_kg) / 2))

    result, runner, _, seen = run_session_saving(plan, tmp_path / "h.sqlite", io, watch, saved)
    assert result.status == "stopped: red flag" and result.red_flag == RedFlag(kind)
    # Nothing is asked after the flag.
    assert io.ids[-1] == qid
    # The load is off within the unit's ramp (and stays off).
    late = [kg for t, kg in loads_after if t > 0.5]
    assert all(kg == 0 for kg in late)
    assert seen.get("unit") is None or not any(seen["unit"].applied_half_kg)
    # Recorded with its kind, as a red flag, never a number.
    with History(tmp_path / "h.sqlite") as h:
        s = h.session(result.session_id)
    assert s["status"] == "stopped: red flag" and s["red_flags"] == [kind]
    flagged = [a for a in s["answers"] if a["question"] == qid]
    assert flagged == [{**flagged[0], "answer": None, "red_flag": kind}]
    assert any(e["kind"] == "red_flag" and e["data"]["red_flag"] == kind
               for e in s["safety_events"])
    # The program is paused from today on, saved at once, with the flag and its advice.
    assert saved and saved[-1] == runner.plan
    for day in (DAY, DAY + dt.timedelta(days=3)):
        rx = next_session(saved[-1], day)
        assert rx.status == "paused" and rx.items == ()
        flag = next(r.data for r in rx.reasons if r.rule == "FLAG-1")
        assert flag["red_flags"] == [kind] and flag["checkin"] == qid
        assert "doctor" in rx.advice
    assert saved[-1].history[-1].red_flags == [RedFlag(kind)]
    assert runner.state.program == "paused" and runner.state.pause["red_flags"] == [kind]


def run_session_saving(plan, db, io, watch, saved):
    """run_session with the runner's plan saves collected (as `halfstep run` writes them)."""
    from controller.core import session as session_mod
    original = session_mod.SessionRunner.__init__

    def init(self, *a, **kw):
        kw.setdefault("save", saved.append)
        original(self, *a, **kw)

    session_mod.SessionRunner.__init__ = init
    try:
        return run_session(plan, db, "sim://?seed=2&rest=30", io, watch=watch)
    finally:
        session_mod.SessionRunner.__init__ = original


def test_a_red_flag_is_never_a_number():
    q = since_last(["knee"])
    for raw in ("!", "red_flag", "red_flag:chest_pain", " RED_FLAG:fainting "):
        assert isinstance(q.parse(raw), Flag)
    with pytest.raises(AnswerError, match="not a kind of red flag"):
        q.parse("red_flag:tired")
    from controller.planning.questions import pain

    p = pain("squat")
    for bad in (True, "1_0", "١٠", "+3", 11, 2.5, "lots"):
        with pytest.raises(AnswerError):
            p.parse(bad)
    assert p.parse("7") == 7 and p.parse(0) == 0


# ---- pain above 5 at one exercise rests what hurt ------------------------------------------


def test_pain_7_at_the_squat_rests_the_knee_and_the_row_goes_on(tmp_path):
    plan = knee_plan()
    io = ScriptedIO(answers={"pain:cable squat": 7})
    result, _, _, _ = run_session(plan, tmp_path / "h.sqlite", "sim://?seed=2&rest=30", io)
    assert result.status == "finished"
    done = [s.exercise for s in result.sets]
    assert "knee extension" not in done and done.count("seated row") == 2
    assert done.count("cable squat") == 2
    assert result.log.skipped == ["knee extension"]
    assert any("knee extension: rested today: pain 7/10 during cable squat in the knee" in line
               for line in io.lines)
    assert "pain:knee extension" not in io.ids and "pain:seated row" in io.ids
    # Next time only what hurt is reduced (the squat, and the other knee exercise).
    after = plan.model_copy(update={"history": [*plan.history, result.log]})
    rx = next_session(after, DAY + dt.timedelta(days=3))
    rules = {i.exercise: {r.rule for r in i.reasons} for i in rx.items}
    assert "PAIN-RED" in rules["cable squat"] and "PAIN-RED" in rules["knee extension"]
    assert "PAIN-RED" not in rules["seated row"]
    row = next(i for i in rx.items if i.exercise == "seated row")
    assert row.change != "down"


# ---- answers given in advance -----------------------------------------------------------------


def test_answers_file_unknown_ids_and_bad_answers_exit_2_naming_them(tmp_path):
    plan = tmp_path / "plan.json"
    save_plan(one_exercise_plan(), plan)
    cases = [
        ({"pain:deadlift": 3}, "unknown question id 'pain:deadlift'"),
        ({"pain:seated row": 11}, "pain:seated row: 11 is not a whole number from 0 to 10"),
        ({"pre:pain_since_last": "fine"}, "pre:pain_since_last: 'fine' is not one of"),
        ({"continue_after_stop": "maybe"}, "continue_after_stop: 'maybe' is not yes or no"),
        ({"pain:session": "red_flag:tired"}, "'tired' is not a kind of red flag"),
        ({"rir:seated row:0": 2}, "unknown question id 'rir:seated row:0'"),
        ({"pain:session": True}, "True is not a whole number"),
    ]
    for answers, says in cases:
        f = tmp_path / "a.json"
        f.write_text(json.dumps(answers))
        r = run("run", "--file", str(plan), "--db", str(tmp_path / "h.sqlite"), "--answers",
                str(f), "--no-panel", "--today", DAY.isoformat())
        assert r.returncode == 2 and says in r.stderr, (answers, r.stderr)
        assert "Traceback" not in r.stderr
    f.write_text("[1, 2]")
    r = run("run", "--file", str(plan), "--answers", str(f), "--no-panel")
    assert r.returncode == 2 and "not a JSON object" in r.stderr
    assert not (tmp_path / "h.sqlite").exists()  # nothing started


def test_pain_shorthand_no_longer_answers_the_continue_question():
    from controller.planning.questions import continue_after_stop, pain, rir
    from controller.surfaces.panel.answers import PersonIO

    async def given():
        io = PersonIO(auto_pain=2)
        return (io.given(continue_after_stop("panel")), io.given(pain("row")),
                io.given(rir("row", 1)), PersonIO(auto_yes=True).given(continue_after_stop("x")))

    cont, p, r, yes = asyncio.run(given())
    assert cont == (False, None) and p == (True, 2) and r == (True, None) and yes == (True, True)


# ---- the CLI: pause everywhere, refusal, clearance, the 24-48 h rule --------------------------


def halfstep_run(plan: Path, db: Path, day: dt.date, answers: dict, *extra: str):
    f = plan.with_name(f"answers-{day}.json")
    f.write_text(json.dumps(answers))
    return run("run", "--file", str(plan), "--db", str(db), "--speed", "0", "--no-panel",
               "--today", day.isoformat(), "--answers", str(f), *extra, timeout=180)


def test_terminal_red_flag_pauses_today_and_run_refuses_until_cleared(tmp_path):
    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    save_plan(one_exercise_plan(), plan)
    # At the terminal: "settled" before, set 1 skipped RIR, then "!" and 1 (chest pain).
    lines = "settled\n\n\n!\n1\n"
    res = subprocess.run([*HALFSTEP, "run", "--file", str(plan), "--db", str(db), "--speed", "0",
                          "--no-panel", "--today", DAY.isoformat()], input=lines,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert "RED FLAG: chest pain or pressure" in res.stdout and "emergency" in res.stdout
    assert "Pain during the session overall" not in res.stdout  # nothing further asked
    shown = json.loads(run("history", "show", "1", "--db", str(db), "--json").stdout)
    assert shown["status"] == "stopped: red flag" and shown["red_flags"] == ["chest_pain"]
    text = run("history", "show", "1", "--db", str(db)).stdout
    assert "RED FLAG: chest pain or pressure" in text
    assert "answer pain:seated row: red flag: chest_pain" in text

    # Paused everywhere, the same day and later, with the flag, its date and the advice.
    for day in (DAY, DAY + dt.timedelta(days=4)):
        nxt = run("plan", "next", "--file", str(plan), "--today", day.isoformat()).stdout
        assert f"PAUSED since {DAY}: red flag (chest pain or pressure)" in nxt
        assert "emergency" in nxt and "halfstep plan clear --red-flag" in nxt
    show = run("plan", "show", "--file", str(plan), "--today", DAY.isoformat()).stdout
    assert show.startswith(f"PAUSED since {DAY}")
    # run refuses: exit 2, the reason, nothing connected, no session recorded.
    again = halfstep_run(plan, db, DAY, {}, "--pain", "2")
    assert again.returncode == 2 and "PAUSED" in again.stderr and "Traceback" not in again.stderr
    assert "take up the handles" not in again.stdout
    assert "2026" in run("history", "list", "--db", str(db)).stdout.split("\n")[1]
    assert len(run("history", "list", "--db", str(db)).stdout.strip().split("\n")) == 2

    # Clearance: refused without a flag date that makes sense, then recorded and resumed.
    bad = run("plan", "clear", "--red-flag", "--by", "Dr Silva", "--file", str(plan),
              "--date", (DAY - dt.timedelta(days=1)).isoformat(), "--today", DAY.isoformat())
    assert bad.returncode == 2 and "before the red flag" in bad.stderr
    assert run("plan", "clear", "--red-flag", "--file", str(plan)).returncode == 2  # no --by
    later = DAY + dt.timedelta(days=5)
    ok = run("plan", "clear", "--red-flag", "--by", "Dr Silva", "--file", str(plan),
             "--today", later.isoformat())
    assert ok.returncode == 0 and "all-clear by Dr Silva" in ok.stdout
    saved = load_plan(plan)
    assert saved.clearances[-1].by == "Dr Silva" and pause_state(saved, later) is None
    rx = next_session(saved, later)
    row = rx.items[0]
    assert rx.status == "train" and any(r.rule == "FLAG-1" for r in row.reasons)
    assert row.load_kg < 7.0  # restarted lower
    twice = run("plan", "clear", "--red-flag", "--by", "Dr Silva", "--file", str(plan),
                "--today", later.isoformat())
    assert twice.returncode == 2 and "not paused" in twice.stderr
    res = halfstep_run(plan, db, later, {"pre:pain_since_last": "settled", "pain:session": 1},
                       "--pain", "2")
    assert res.returncode == 0 and "finished" in res.stdout, res.stderr


def test_24_48h_rule_raised_reduces_raised_again_pauses_and_checkin_feeds_it(tmp_path):
    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    save_plan(worked_plan(), plan)
    before = next_session(load_plan(plan), DAY).items[0]

    # Soreness is not pain: no reduction.
    sore = load_plan(plan)
    from controller.planning.plan_updates import apply_since_last

    sore = apply_since_last(sore, "soreness", DAY, "checkin", "checkin:pain_since_last")
    assert next_session(sore, DAY).items[0].load_kg == before.load_kg

    # Before the session: raised -> today is lighter, with the reason.
    res = halfstep_run(plan, db, DAY, {"pre:pain_since_last": "raised"}, "--pain", "2")
    assert res.returncode == 0, res.stderr
    assert "Your pain had not settled since last time" in res.stdout  # the plain reason
    assert "today is lighter" in res.stdout
    done = load_plan(plan)
    assert done.history[-2].after[-1].answer == "raised"  # stored on the previous session
    assert done.history[-1].sets[0].load_kg < before.load_kg
    # Raised again 48-72 h later: paused with the medical-reassessment advice.
    later = DAY + dt.timedelta(days=3)
    res = halfstep_run(plan, db, later, {"pre:pain_since_last": "raised"}, "--pain", "2")
    assert "RED FLAG: pain that keeps rising" in res.stdout
    nxt = run("plan", "next", "--file", str(plan), "--today", later.isoformat()).stdout
    assert "PAUSED" in nxt and "medical reassessment" in nxt and "48-72 hours" in nxt

    # `halfstep checkin` the next morning feeds the same rule.
    plan2 = tmp_path / "plan2.json"
    save_plan(worked_plan(), plan2)
    morning = DAY - dt.timedelta(days=2)
    r = run("checkin", "--file", str(plan2), "--answer", "raised", "--today", morning.isoformat())
    assert r.returncode == 0 and "still raised" in r.stdout
    rx = next_session(load_plan(plan2), DAY)
    assert all(i.change == "down" and any(x.rule == "PAIN-SETTLE" for x in i.reasons)
               for i in rx.items)
    r = run("checkin", "--file", str(plan2), "--answer", "raised", "--today", DAY.isoformat())
    assert r.returncode == 0 and "PAUSED" in r.stdout
    r = run("checkin", "--file", str(plan2), "--answer", "sometimes")
    assert r.returncode == 2 and "not one of the answers" in r.stderr
    # Piped to the terminal: '!' and the kind of flag.
    plan3 = tmp_path / "plan3.json"
    save_plan(worked_plan(), plan3)
    r = subprocess.run([*HALFSTEP, "checkin", "--file", str(plan3), "--today",
                        DAY.isoformat()], input="!\n4\n", capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "PAUSED" in r.stdout
    assert load_plan(plan3).red_flag_reports[-1].kind == RedFlag.BLADDER_BOWEL


def test_older_logs_unsettled_pain_is_read(tmp_path):
    """pain_after above the pain during (3 then 5 the next day) is not settled: reduce; pain not
    settled after two sessions in a row: paused with advice (not -10% forever)."""
    base = worked_plan()
    last = base.history[-1].model_copy(update={"pain_during": 3, "pain_after": 5})
    p = base.model_copy(update={"history": [*base.history[:-1], last]})
    item = next_session(p, DAY).items[0]
    assert item.change == "down" and any(r.rule == "PAIN-SETTLE" for r in item.reasons)
    again = SessionLog(date=DAY, sets=last.sets, pain_during=3, pain_settled=False)
    p2 = p.model_copy(update={"history": [*p.history, again]})
    rx = next_session(p2, DAY + dt.timedelta(days=3))
    assert rx.status == "paused" and "48-72 hours" in rx.advice


def test_answer_book_parses_by_id():
    book = AnswerBook({"pain:seated row": "3", "pain:session": "red_flag:other"})
    from controller.planning.questions import pain

    known, raw = book.get("pain:seated row")
    assert known and pain("seated row").parse(raw) == 3


def test_mqtt_state_says_paused_with_the_flag(tmp_path):
    """A red flag at the end-of-session check-in: the retained MQTT state says the program is
    paused, with the flag, its date and the advice; the session's message says why it ended."""
    import aiomqtt

    from tests.mosquitto import Broker
    from tests.test_mqtt import Collector, session_with_mqtt

    broker = Broker(tmp_path / "broker").start()
    col = Collector(broker)

    async def during(runner, sink):
        col.start()
        await col.ready.wait()
        await asyncio.sleep(3600)

    try:
        result, _, _ = session_with_mqtt(tmp_path / "h.sqlite", broker.url(),
                                              during=during, io=FlagAt("pain:session", "fainting"))

        async def retained_state() -> dict:
            async with aiomqtt.Client("127.0.0.1", broker.port) as c:
                await c.subscribe("halfstep/+/state", qos=1)
                async with asyncio.timeout(5.0):
                    async for m in c.messages:
                        return json.loads(m.payload)
            return {}

        state = asyncio.run(retained_state())
    finally:
        broker.stop()
    assert result.status == "stopped: red flag"
    assert state["program"] == "paused" and state["pause"]["red_flags"] == ["fainting"]
    assert state["pause"]["date"] == DAY.isoformat() and "emergency" in state["pause"]["advice"]
    sessions = col.of("session")
    assert sessions and sessions[-1]["status"] == "stopped: red flag"
    assert any(s["program"] == "paused" for s in col.of("state"))


def test_an_all_clear_starts_the_48_72h_count_again():
    from controller.planning.plan_updates import apply_since_last, record_clearance

    p = worked_plan()
    p = apply_since_last(p, "raised", DAY - dt.timedelta(days=2), "checkin", "c")
    p = apply_since_last(p, "raised", DAY, "pre-session", "p")
    assert pause_state(p, DAY).kinds == (RedFlag.PAIN_NOT_SETTLING,)
    p = record_clearance(p, "Dr Silva", DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1))
    later = DAY + dt.timedelta(days=3)
    p = apply_since_last(p, "raised", later, "pre-session", "p")
    assert pause_state(p, later) is None  # the first raised report since the all-clear
    item = next_session(p, later).items[0]
    assert any(r.rule == "PAIN-SETTLE" for r in item.reasons) or item.change == "down"


# ---- a red flag is never lost: races, flags given in advance, odd spellings ------------------


class Lines:
    """What StdinLines gives the session: lines typed at the terminal, in a queue."""

    def __init__(self):
        self.queue: asyncio.Queue = asyncio.Queue()


def test_a_red_flag_typed_in_a_rest_stands_when_the_rest_runs_out(tmp_path):
    """`!` typed during the rest; the kind comes after the rest would have ended: the flag
    stands, the next set never loads, and the kind is not taken as another answer."""
    from controller.surfaces.panel.answers import PersonIO

    holder: dict = {}
    plan = one_exercise_plan()
    lines = Lines()
    lines.queue.put_nowait("settled")  # before the session

    def watch(unit, runner):
        loop = asyncio.get_running_loop()
        if runner.state.phase == "rest" and "bang" not in holder:
            holder["bang"] = loop.time()
            lines.queue.put_nowait("!")
        if "bang" in holder and "kind" not in holder and loop.time() > holder["bang"] + 100:
            holder["kind"] = True  # well past the 75 s rest
            lines.queue.put_nowait("1")

    io = PersonIO(lines=lines)  # the terminal, nothing given in advance
    result, _, _, _ = run_session(plan, tmp_path / "h.sqlite", "sim://?seed=2&rest=30", io,
                                  watch=watch)
    assert result.status == "stopped: red flag" and result.red_flag == RedFlag.CHEST_PAIN
    assert len(result.sets) == 1  # set 2 never started
    with History(tmp_path / "h.sqlite") as h:
        answers = h.session(result.session_id)["answers"]
    assert next(a for a in answers if a["question"] == "rir:seated row:1")["red_flag"] == \
        "chest_pain"
    assert not any(a["question"] == "rir:seated row:2" for a in answers)


def test_a_red_flag_from_the_panel_mid_set_stops_the_set_and_the_session(tmp_path):
    """The panel's red flag outside any question (its card's question was gone): the set
    stops with its reps, the load comes off, nothing more is asked, the program pauses."""
    io = ScriptedIO()
    tasks: list = []

    def watch(unit, runner):
        if runner.state.phase == "set" and runner.state.reps >= 3 and not tasks:
            tasks.append(asyncio.ensure_future(runner.red_flag_now("red_flag:fainting",
                                                                   "panel")))

    result, runner, _, seen = run_session(one_exercise_plan(), tmp_path / "h.sqlite",
                                          "sim://?seed=2&rest=30", io, watch=watch)
    assert result.status == "stopped: red flag" and result.red_flag == RedFlag.FAINTING
    assert len(result.sets) == 1 and result.sets[0].ended_by.startswith("stopped from red flag")
    assert result.sets[0].full_reps >= 3
    assert not any(i.startswith("rir:") or i.startswith("pain:") for i in io.ids)
    assert tasks[0].result()["stop"]["confirmed"] is True
    assert not any(seen["unit"].applied_half_kg)
    assert next_session(runner.plan, DAY).status == "paused"


def test_a_red_flag_in_the_answers_file_is_raised_before_anything_loads(tmp_path):
    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    save_plan(one_exercise_plan(), plan)
    # `capable` is not asked in the first weeks: the flag is raised all the same, at once.
    res = halfstep_run(plan, db, DAY, {"pain:session": 2, "capable": "red flag: snap or tear"})
    assert res.returncode == 0, res.stderr
    assert "RED FLAG: a snap or tearing feeling" in res.stdout
    assert "take up the handles" not in res.stdout  # nothing was loaded
    shown = json.loads(run("history", "show", "1", "--db", str(db), "--json").stdout)
    assert shown["status"] == "stopped: red flag" and shown["sets"] == []
    assert shown["red_flags"] == ["snap_or_tear"] and shown["pain_during"] is None
    assert next_session(load_plan(plan), DAY).status == "paused"
    f = tmp_path / "dup.json"
    f.write_text('{"pain:session": "red_flag:chest_pain", "pain:session": 2}')
    save_plan(one_exercise_plan(), plan)
    r = run("run", "--file", str(plan), "--answers", str(f), "--no-panel")
    assert r.returncode == 2 and "given twice: pain:session" in r.stderr


@pytest.mark.parametrize("text,kind", [
    ("!", "other"), ("!!", "other"), ("red_flag:", "other"), ("Red Flag", "other"),
    ("red-flag", "other"), ("red flag: chest pain", "chest_pain"),
    ("RED_FLAG:Chest_Pain", "chest_pain"), ("red flag:new weakness", "new_weakness"),
])
def test_red_flags_however_written(text, kind):
    from controller.planning.questions import pain

    for q in (since_last([]), pain("row")):
        assert q.parse(text) == Flag(RedFlag(kind))


def test_a_later_milder_flag_never_hides_an_urgent_one():
    from controller.planning.plan_updates import record_red_flag

    p = record_red_flag(worked_plan(), RedFlag.CHEST_PAIN, "pain:session", DAY)
    p = record_red_flag(p, RedFlag.OTHER, "checkin:pain_since_last", DAY + dt.timedelta(days=1))
    pause = pause_state(p, DAY + dt.timedelta(days=2))
    assert pause.date == DAY and set(pause.kinds) == {RedFlag.CHEST_PAIN, RedFlag.OTHER}
    assert "emergency" in pause.advice
    # A flag dated after the day asked about still pauses (an earlier --today gets round
    # nothing).
    assert next_session(p, DAY - dt.timedelta(days=1)).status == "paused"


def test_hand_edited_times_without_a_zone_compare(tmp_path):
    plan = tmp_path / "plan.json"
    data = json.loads(worked_plan().model_dump_json())
    data["red_flag_reports"] = [{"date": str(DAY), "kind": "fainting", "checkin": "pain:session",
                                 "at": f"{DAY}T10:00:00"}]
    data["clearances"] = [{"date": str(DAY), "by": "Dr Silva", "at": f"{DAY}T11:00:00+00:00"}]
    plan.write_text(json.dumps(data))
    r = run("plan", "next", "--file", str(plan), "--today", str(DAY))
    assert r.returncode == 0 and "PAUSED" not in r.stdout, r.stderr


def test_run_and_checkin_dates_are_checked(tmp_path):
    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    save_plan(worked_plan(), plan)
    r = run("run", "--file", str(plan), "--db", str(db), "--today", "2026-13-01", "--no-panel")
    assert r.returncode == 2 and "is not a date" in r.stderr and "Traceback" not in r.stderr
    r = run("run", "--file", str(plan), "--db", str(db), "--no-panel", "--pain", "2",
            "--today", str(DAY - dt.timedelta(days=10)))
    assert r.returncode == 2 and "before the last session" in r.stderr
    r = run("checkin", "--file", str(plan), "--answer", "red_flag:chest_pain",
            "--today", str(dt.date.today() + dt.timedelta(days=365)))
    assert r.returncode == 2 and "in the future" in r.stderr


def test_checkin_red_flag_before_any_session_and_while_paused(tmp_path):
    plan = tmp_path / "plan.json"
    r = run("plan", "init", "--file", str(plan), "--profile", "older", "--start", str(DAY))
    assert r.returncode == 0
    r = run("checkin", "--file", str(plan), "--answer", "settled", "--today", str(DAY))
    assert r.returncode == 2 and "no session yet" in r.stderr
    r = run("checkin", "--file", str(plan), "--answer", "red_flag:new_weakness", "--today",
            str(DAY))
    assert r.returncode == 0 and "PAUSED" in r.stdout and "new weakness" in r.stdout
    r = run("checkin", "--file", str(plan), "--answer", "red_flag:chest_pain", "--today",
            str(DAY))
    assert "PAUSED" in r.stdout and "emergency" in r.stdout and "as planned" not in r.stdout
    r = halfstep_run(plan, tmp_path / "h.sqlite", DAY, {}, "--pain", "2")
    assert r.returncode == 2 and "PAUSED" in r.stderr


def test_a_session_cut_short_is_kept_in_the_plan_too(tmp_path):
    """The terminal's input ends mid-session: the sets done are in the history and the plan."""
    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    save_plan(one_exercise_plan(), plan)
    res = subprocess.run([*HALFSTEP, "run", "--file", str(plan), "--db", str(db), "--speed", "0",
                          "--no-panel", "--today", DAY.isoformat()], input="settled\n\n\n",
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 1 and "no answer to 'pain:seated row'" in res.stderr
    saved = load_plan(plan)
    assert saved.history[-1].status == "stopped" and len(saved.history[-1].sets) == 2


def test_a_paused_run_serves_the_panel_for_the_all_clear_then_trains(tmp_path):
    """`halfstep run --panel-linger S` on a paused plan: the panel says PAUSED and takes the
    all-clear (confirmed, PIN-guarded off the loopback); then the session runs, lower."""
    from controller.planning.plan_updates import record_red_flag
    from tests.procs import Background
    from tests.test_panel import request

    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    save_plan(record_red_flag(one_exercise_plan(), RedFlag.NEW_WEAKNESS, "checkin", DAY), plan)
    proc = Background("run", "--file", str(plan), "--db", str(db), "--today", str(DAY),
                      "--speed", "10", "--pain", "2", "--yes", "--panel", "127.0.0.1:0",
                      "--panel-linger", "15")
    try:
        url = proc.first_line().removeprefix("panel: ")
        status, body, _ = request(url + "api/state")
        assert status == 200 and body["state"]["program"] == "paused"
        assert body["state"]["pause"]["red_flags"] == ["new_weakness"]
        status, body, _ = request(url + "api/clear", {"by": "Dr Silva", "confirm": False})
        assert status == 400 and body["field"] == "confirm"
        status, body, _ = request(url + "api/clear", {"by": "  ", "confirm": True})
        assert status == 409 and body["field"] == "by"
        status, body, _ = request(url + "api/clear", {"by": "Dr Silva", "date": "2026-02-30",
                                                      "confirm": True})
        assert status == 400 and body["field"] == "date"
        status, body, _ = request(url + "api/clear", {"by": "Dr Silva", "confirm": True})
        assert status == 200 and body["program"] == "active"
        assert any(r["rule"] == "FLAG-1" for r in body["today"]["items"][0]["reasons"])
        lines = [proc.first_line(timeout=60) for _ in range(9)]
        assert any("take up the handles" in line for line in lines), lines
        proc.proc.wait(120)
    finally:
        proc.stop()
    assert proc.proc.returncode == 0
    saved = load_plan(plan)
    assert saved.clearances[-1].by == "Dr Silva" and saved.history[-1].status == "finished"
    assert saved.history[-1].sets[0].load_kg < 7.0  # restarted lower (FLAG-1)


def test_a_paused_run_without_the_all_clear_exits_2(tmp_path):
    from controller.planning.plan_updates import record_red_flag

    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    save_plan(record_red_flag(one_exercise_plan(), RedFlag.FAINTING, "checkin", DAY), plan)
    r = run("run", "--file", str(plan), "--db", str(db), "--today", str(DAY), "--speed", "10",
            "--panel", "127.0.0.1:0", "--panel-linger", "2", "--pain", "2")
    assert r.returncode == 2 and "PAUSED" in r.stderr and "take up the handles" not in r.stdout


def test_low_back_pain_rests_what_loads_the_back_not_the_elbow(tmp_path):
    """Pain 7 at a back extension with low back pain: the exercises that load the back rest
    today (squat, row), the chest press goes on; next time the back ones are reduced."""
    plan = worked_plan([
        Exercise(name="back extension", multi_joint=False, region="lower", first_load_kg=10.0),
        Exercise(name="cable squat", multi_joint=True, region="lower", first_load_kg=10.0),
        Exercise(name="chest press", multi_joint=True, region="upper", first_load_kg=10.0),
        Exercise(name="calf raise", multi_joint=False, region="lower", first_load_kg=10.0),
    ], painful=("lower back (LBP)",))
    io = ScriptedIO(answers={"pain:back extension": 7})
    result, _, _, _ = run_session(plan, tmp_path / "h.sqlite", "sim://?seed=2&rest=30", io)
    assert result.log.skipped == ["cable squat"]
    assert any("cable squat: rested today: pain 7/10 during back extension in the back" in x
               for x in io.lines)
    done = {s.exercise for s in result.sets}
    assert done == {"back extension", "chest press", "calf raise"}
    after = plan.model_copy(update={"history": [*plan.history, result.log]})
    rx = next_session(after, DAY + dt.timedelta(days=3))
    red = {i.exercise for i in rx.items if any(r.rule == "PAIN-RED" for r in i.reasons)}
    assert red == {"back extension", "cable squat"}


def test_one_raised_answer_cuts_once(tmp_path):
    """'raised' before a session lowers that session; the session after is not cut again for
    the same answer (it belongs to the session before)."""
    from controller.planning.plan_updates import record_after

    p = record_after(worked_plan(), "raised", DAY, "pre-session")
    today = next_session(p, DAY).items[0]
    assert today.change == "down"
    done = SessionLog(date=DAY, pain_during=2, sets=[
        SetLog(exercise="seated row", load_kg=today.load_kg, full_reps=12) for _ in (1, 2)])
    p = p.model_copy(update={"history": [*p.history, done]})
    later = next_session(p, DAY + dt.timedelta(days=3)).items[0]
    assert later.load_kg >= today.load_kg
    assert not any(r.rule == "PAIN-SETTLE" for r in later.reasons)


def test_plan_next_says_where_a_flag_was_reported_in_words(tmp_path):
    from controller.planning.plan_updates import record_red_flag

    plan = tmp_path / "plan.json"
    save_plan(record_red_flag(worked_plan(), RedFlag.SUDDEN_SWELLING, "checkin:pain_since_last",
                              DAY), plan)
    out = run("plan", "next", "--file", str(plan), "--today", str(DAY)).stdout
    assert "reported at the next-morning check-in" in out and "checkin:" not in out
