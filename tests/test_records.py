"""Records and "last time" (controller/planning/records.py): what counts, what is said after a
session, and that a first session is not a record."""

from __future__ import annotations

import datetime as dt

from controller.planning.models import PlanFile, ProfileKind, SessionLog, SetLog
from controller.planning.plan_history import replay
from controller.planning.records import last_time, new_records, records, strength_by_session
from controller.simulated.trial import default_plan
from tests.test_progress import ROW, SQUAT, START, realistic_plan


def work(w: float, reps: int, rir: int | None = 2, **kw) -> SetLog:
    return SetLog(exercise=kw.pop("exercise", ROW), load_kg=w, full_reps=reps, rir=rir, **kw)


def ladder_set(w: float, reps: int, rir: int = 3) -> SetLog:
    return SetLog(exercise=ROW, load_kg=w, full_reps=reps, rir=rir, assessment=True)


def plan_of(*sessions: list[SetLog]) -> PlanFile:
    """One session every 3-4 days with these sets."""
    plan = default_plan(ProfileKind.PAIN, START)
    hist = [SessionLog(date=START + dt.timedelta(days=3 * i + i // 2), sets=sets)
            for i, sets in enumerate(sessions)]
    return plan.model_copy(update={"history": hist})


LADDER = [ladder_set(20.0, 10, 5), ladder_set(27.5, 8, 4), ladder_set(35.0, 6, 3)]


def test_test_sets_count_for_strength_only():
    plan = plan_of(LADDER, [work(25.0, 10), work(25.0, 9)], [work(25.0, 12), work(25.0, 11)])
    rec = records(plan)[ROW]
    assert rec["heaviest"] == {"load_kg": 25.0, "reps": 10, "date": "2026-01-08"}
    assert rec["most_reps"] == {"load_kg": 25.0, "reps": 12, "date": "2026-01-12"}
    assert rec["volume"] == {"volume_kg": 575.0, "sets": 2, "date": "2026-01-12"}
    # The best estimate is the planner's own, at the end of the day it was reached.
    best = max(replay(plan, plan.program.exercises[1], s.date + dt.timedelta(days=1)).one_rm
               for s in plan.history)
    assert rec["strength"]["one_rm_kg"] == round(best, 1)
    assert records(plan)[SQUAT] == dict.fromkeys(("heaviest", "most_reps", "strength", "volume"))


def test_a_cut_set_is_not_a_record_and_an_equal_one_keeps_its_date():
    plan = plan_of([work(30.0, 8)],
                   [work(32.5, 9, ended_by="stopped from panel"),  # cut: not a clean set
                    work(30.0, 8), work(32.5, 0)],  # no full rep: not a set that counts
                   [work(30.0, 8)])
    rec = records(plan)[ROW]
    assert rec["heaviest"] == {"load_kg": 30.0, "reps": 8, "date": "2026-01-05"}
    assert rec["most_reps"]["date"] == "2026-01-05"
    # Volume is the work done, the cut set included.
    assert rec["volume"] == {"volume_kg": 32.5 * 9 + 240.0, "sets": 3, "date": "2026-01-08"}


def test_new_records_say_what_was_beaten_in_a_sentence():
    before = plan_of(LADDER, [work(40.0, 8), work(40.0, 8)])
    after = SessionLog(date=START + dt.timedelta(days=8),
                       sets=[work(42.5, 8, rir=1), work(42.5, 8, rir=1)])
    beat = new_records(before, after)
    kinds = [b["kind"] for b in beat]
    assert kinds == ["heaviest", "strength", "volume"]  # more reps at 42.5 is the heaviest
    assert beat[0]["text"] == "Heaviest seated row: 42.5 kg x 8 (was 40.0 kg)"
    assert beat[0]["new"]["load_kg"] == 42.5 and beat[0]["was"]["load_kg"] == 40.0
    assert beat[2]["text"] == "Most volume in a session on seated row: 680 kg lifted (was 640 kg)"
    assert beat[1]["text"].startswith("Estimated strength on seated row: ")
    assert all(b["exercise"] == ROW for b in beat)
    # The same load with more reps: most reps, said with the load.
    again = SessionLog(date=START + dt.timedelta(days=8), sets=[work(40.0, 10), work(30.0, 4)])
    beat = new_records(before, again)
    assert [b["text"] for b in beat if b["kind"] == "most_reps"] == [
        "Most reps on seated row at 40.0 kg: 10 (was 8)"]
    assert not any(b["kind"] == "heaviest" for b in beat)
    # In pounds, when the person chose pounds.
    lb = new_records(before, after, unit="lb")
    assert lb[0]["text"] == "Heaviest seated row: 93.7 lb x 8 (was 88.2 lb)"


def test_nothing_beaten_is_nothing_said():
    before = plan_of(LADDER, [work(40.0, 8), work(40.0, 8)])
    easier = SessionLog(date=START + dt.timedelta(days=8), sets=[work(35.0, 8), work(35.0, 8)])
    assert new_records(before, easier) == []
    # A heavy test set is not a heavier working load.
    ladder = SessionLog(date=START + dt.timedelta(days=8), sets=[ladder_set(45.0, 4, 3)])
    assert not any(b["kind"] in ("heaviest", "most_reps", "volume")
                   for b in new_records(before, ladder))


def test_a_first_session_is_not_a_record():
    """The first session ever says nothing; nor does an exercise's first working session (its
    heaviest, reps and volume have nothing to beat)."""
    empty = plan_of()
    first = SessionLog(date=START, sets=LADDER)
    assert new_records(empty, first) == []
    stopped = plan_of([])  # a session stopped before its first set is not a first session
    assert new_records(stopped, first) == []
    after_ladder = plan_of(LADDER)
    first_work = SessionLog(date=START + dt.timedelta(days=3), sets=[work(25.0, 12, rir=4)])
    assert not any(b["kind"] in ("heaviest", "most_reps", "volume")
                   for b in new_records(after_ladder, first_work))
    # Another exercise's first time in a plan with history: nothing said for it.
    squat = SessionLog(date=START + dt.timedelta(days=3),
                       sets=[work(40.0, 10, exercise=SQUAT)])
    assert new_records(after_ladder, squat) == []


def test_last_time_gives_the_working_sets_and_the_best_speed():
    plan = plan_of(LADDER,
                   [work(25.0, 12, rep_velocities_m_s=[0.61, 0.64, 0.5]),
                    work(25.0, 11, mean_concentric_m_s=0.58), work(27.5, 9)],
                   [work(30.0, 8, exercise=SQUAT)])
    last = last_time(plan, ROW)
    assert last == {"date": "2026-01-08", "test": False,
                    "sets": [{"load_kg": 25.0, "reps": 12, "best_m_s": 0.64},
                             {"load_kg": 25.0, "reps": 11, "best_m_s": 0.58},
                             {"load_kg": 27.5, "reps": 9, "best_m_s": None}],
                    "best_m_s": 0.64, "text": "12, 11 at 25.0 kg; 9 at 27.5 kg"}
    # Before that session: only the ladder, given as test sets.
    early = last_time(plan, ROW, before=dt.date(2026, 1, 8))
    assert early["test"] is True and early["date"] == "2026-01-05"
    assert early["text"] == "10 at 20.0 kg; 8 at 27.5 kg; 6 at 35.0 kg (test sets)"
    assert last_time(plan, ROW, before=START) is None
    assert last_time(plan, "chest press") is None
    assert last_time(plan, ROW, unit="lb")["text"] == "12, 11 at 55.1 lb; 9 at 60.6 lb"


def test_records_over_a_realistic_history():
    plan = realistic_plan()
    rec = records(plan)
    strength = strength_by_session(plan)
    for ex in plan.program.exercises:
        r = rec[ex.name]
        sets = [(s.date.isoformat(), x) for s in plan.history for x in s.sets
                if x.exercise == ex.name]
        work_loads = [x.load_kg for _, x in sets if not x.assessment and x.full_reps > 0]
        assert r["heaviest"]["load_kg"] == max(work_loads)
        assert r["heaviest"]["date"] == min(d for d, x in sets if not x.assessment
                                            and x.load_kg == max(work_loads))
        assert r["strength"]["one_rm_kg"] == round(max(e for e in strength[ex.name] if e), 1)
    # Every session's new records, replayed one by one, end at the same records.
    said = []
    for k in range(1, len(plan.history)):
        before = plan.model_copy(update={"history": plan.history[:k]})
        said += new_records(before, plan.history[k])
    assert said and all(b["text"] for b in said)
    last = {}
    for b in said:
        last[(b["exercise"], b["kind"])] = b["new"]
    for (name, kind), value in last.items():
        if kind == "most_reps":
            continue  # a new heaviest resets it without being said
        assert rec[name][kind] == value, (name, kind)
