"""The planner: one table-driven test per rule, and properties over random histories."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.planning.assessment import estimate_from_velocity
from controller.planning.models import PlanFile, ProfileKind, RedFlag, SessionLog, SetLog
from controller.planning.planner import (
    DOSE,
    estimate_from_reps,
    floor_grid,
    next_session,
    phase_of,
    step_kg,
    training_week,
    warmup_kg,
)
from controller.simulated.trial import default_plan

START = dt.date(2026, 1, 5)  # a Monday
SQUAT, ROW, PRESS = "cable squat", "seated row", "chest press"


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def assessed(kind: ProfileKind = ProfileKind.PAIN, on: int = 0) -> list[SessionLog]:
    """A ladder for every exercise: three loads, 5-8 reps with 2 in reserve; the heaviest
    (4 + 2 reps) gives the estimate: 60 kg -> 66.2 kg squat, 33.1 kg row, 26.5 kg press."""
    sets = []
    for name, base in ((SQUAT, 40.0), (ROW, 20.0), (PRESS, 16.0)):
        for w, r in ((base, 8), (base * 1.25, 6), (base * 1.5, 4)):
            sets.append(SetLog(exercise=name, load_kg=w, full_reps=r, rir=2, assessment=True))
    return [SessionLog(date=day(on), sets=sets)]


def work(date: dt.date, loads: dict[str, float], reps: int | list[int], *, pain: int = 1,
         settled: bool | None = True, partial: int = 0, rom: float | None = 97.0,
         vloss: float | None = 0.1, flags: list[RedFlag] | None = None,
         rir: int | None = None, sets: int = 3) -> SessionLog:
    per_set = reps if isinstance(reps, list) else [reps] * sets
    return SessionLog(date=date, pain_during=pain, pain_settled=settled, red_flags=flags or [],
                      sets=[SetLog(exercise=n, load_kg=w, full_reps=r,
                                   partial_reps=partial if i == 0 else 0, min_rom_pct=rom,
                                   velocity_loss=vloss, rir=rir)
                            for n, w in loads.items() for i, r in enumerate(per_set)])


def plan_with(history: list[SessionLog], kind: ProfileKind = ProfileKind.PAIN,
              clearance: list[dt.date] | None = None) -> PlanFile:
    p = default_plan(kind, START)
    return p.model_copy(update={"history": history, "medical_clearance": clearance or []})


def item(plan: PlanFile, today: dt.date, name: str = SQUAT):
    rx = next_session(plan, today)
    return next(i for i in rx.items if i.exercise == name)


def rules(it) -> list[str]:
    return [r.rule for r in it.reasons]


LOADS = {SQUAT: 33.0, ROW: 16.5, PRESS: 13.0}  # the adaptation's 50% of the estimates


# ---- estimation ------------------------------------------------------------------------------


@pytest.mark.parametrize("w,r,expected", [
    (100, 5, min(100 * (1 + 5 / 30), 36 * 100 / 32) * 0.95),
    (50, 10, min(50 * (1 + 10 / 30), 36 * 50 / 27) * 0.95),
    (100, 1, min(100 * (1 + 1 / 30), 36 * 100 / 36) * 0.95),
    (100, 11, None),  # EST-1: beyond the valid rep range
    (100, 0, None),
])
def test_est1_epley_brzycki_within_their_range_with_discount(w, r, expected):
    got = estimate_from_reps(w, r)
    assert got == (pytest.approx(expected) if expected is not None else None)


def test_est2_load_velocity_profile_needs_three_loads_and_a_good_fit():
    line = [(w, 1.3 - 0.011 * w) for w in (20, 40, 60)]  # v = 1.3 - 0.011 w
    one_rm, r2 = estimate_from_velocity(line)
    assert one_rm == pytest.approx((1.3 - 0.17) / 0.011 * 0.95)
    assert r2 == pytest.approx(1.0)
    assert estimate_from_velocity(line[:2]) is None
    assert estimate_from_velocity([(20, 1.0), (40, 0.5), (60, 0.95)]) is None  # R^2 < 0.8


def test_est3_estimate_never_rises_more_than_5_percent_a_session():
    hist = assessed()
    first = item(plan_with(hist), day(7)).one_rm_kg
    # A working set that says the person could do far more (RIR reported).
    hist.append(work(day(7), {SQUAT: 55.0}, 8, rir=2))  # says ~70 kg
    second = item(plan_with(hist), day(10)).one_rm_kg
    assert second == pytest.approx(first * 1.05)
    # A set that says less lowers the estimate at once (the safe direction).
    # A set that says less lowers it, at most 5% a session (one tired day is not a trend).
    hist.append(work(day(10), {SQUAT: 30.0}, 8, rir=2))
    assert item(plan_with(hist), day(12)).one_rm_kg == pytest.approx(second * 0.95)


def test_est3_five_plus_in_reserve_only_raises():
    hist = assessed()
    first = item(plan_with(hist), day(7)).one_rm_kg
    # 12 reps and "5+" at a light load: at least 17 reps to failure, less than the estimate
    # says: no change (the person may have had far more in reserve).
    hist.append(work(day(7), {SQUAT: 25.0}, 12, rir=5))
    assert item(plan_with(hist), day(10)).one_rm_kg == pytest.approx(first)
    # 10 reps and "5+" at 50 kg: at least 15, so at least 71 kg: the estimate may rise.
    hist.append(work(day(10), {SQUAT: 50.0}, 10, rir=5))
    assert item(plan_with(hist), day(13)).one_rm_kg == pytest.approx(first * 1.05)


# ---- phases, assessment, start ------------------------------------------------------------


@pytest.mark.parametrize("week,phase", [(0, "assessment"), (1, "adaptation"), (4, "adaptation"),
                                        (5, "progression"), (12, "progression"),
                                        (13, "maintenance"), (60, "maintenance")])
def test_phase1_phases_by_week(week, phase):
    assert phase_of(plan_with([]), week).value == phase


def test_phase1_phases_follow_training_done_not_the_calendar():
    # Three weeks trained (2 a week), then ten weeks off: still adaptation, not maintenance.
    hist = [*assessed(), *(work(day(d), LOADS, 12) for d in (3, 7, 10, 14, 17, 21))]
    plan = plan_with(hist)
    assert training_week(plan, day(21 + 70)) == 4
    rx = next_session(plan, day(21 + 70))
    assert rx.phase.value == "adaptation" and rx.week == 4
    # The calendar would have said week 13 (maintenance).
    assert (day(21 + 70) - START).days // 7 == 13

def test_assess1_no_history_means_submaximal_assessment():
    rx = next_session(plan_with([]), day(0))
    for it in rx.items:
        assert it.kind == "assessment" and it.change == "assess"
        assert it.sets == 5 and it.test_fraction == 0.78 and it.cap_kg is None
        assert rules(it)[-1] == "ASSESS-1"
        assert "2-3" in it.reasons[-1].plain and "1RM" not in it.reasons[-1].plain


def test_assess1_stopped_test_sets_say_nothing_and_the_ladder_starts_again():
    stopped = [SessionLog(date=day(0), sets=[SetLog(
        exercise=SQUAT, load_kg=w, full_reps=2, rir=None, assessment=True,
        ended_by=e) for w, e in ((20.0, "stopped from panel"), (30.0, "link lost"))])]
    it = item(plan_with(stopped), day(3))
    assert it.kind == "assessment" and it.load_kg == 15.0  # the first load again


def test_start1_first_working_load_from_the_estimate():
    plan = plan_with(assessed())
    for kind in (ProfileKind.PAIN, ProfileKind.OLDER, ProfileKind.ATHLETE):
        plan = plan_with(assessed(kind), kind)
        it = item(plan, day(3))
        assert it.change == "start" and "START-1" in rules(it)
        assert it.load_kg == pytest.approx(
            int(it.one_rm_kg * DOSE[kind].start * 2) / 2)


# ---- progression ------------------------------------------------------------------------------


def progressed(reps, **kw) -> PlanFile:
    """Assessed (day 7), at LOADS for three weeks, the last session (day 35) with `reps`."""
    return plan_with([*assessed(on=7), work(day(14), LOADS, 10), work(day(24), LOADS, 11),
                      work(day(35), LOADS, reps, **kw)])


def test_dp1_below_the_top_adds_a_rep_at_the_same_load():
    it = item(progressed(12), day(38))
    assert (it.load_kg, it.change, it.target_reps) == (33.0, "hold", 13)
    assert rules(it)[-1] == "DP-1"
    it = item(progressed(12, rir=4), day(38))
    assert it.target_reps == 14  # plenty in reserve: two more


def test_dp2_top_of_range_on_every_set_adds_one_step():
    it = item(progressed(15), day(38))
    assert it.change == "up" and it.load_kg == 33.0 + step_kg(33.0, default_plan(
        ProfileKind.PAIN, START).program.exercises[0])
    assert "DP-2" in rules(it) and "STEP-1" in rules(it)
    assert it.target_reps == DOSE[ProfileKind.PAIN].reps_adaptation[0]
    assert "15 reps on every set with good form, so +1.5 kg today" in it.reasons[1].plain
    # Plenty in reserve on the weakest set: a double step (never above 10%).
    it = item(progressed(15, rir=4), day(38))
    assert it.load_kg == 33.0 + 3.0


def test_dp2_needs_every_set_at_the_top():
    it = item(progressed([15, 15, 14]), day(38))
    assert it.change == "hold" and rules(it)[-1] == "DP-1"


@pytest.mark.parametrize("load,lower,expected", [
    (20.0, False, 0.5), (40.0, False, 1.0), (30.0, True, 1.5), (100.0, True, 5.0),
    (4.0, False, 0.5), (11.0, True, 0.5)])
def test_step1_step_size(load, lower, expected):
    ex = default_plan(ProfileKind.PAIN, START).program.exercises[0 if lower else 1]
    assert step_kg(load, ex) == expected
    assert step_kg(load, ex) % 0.5 == 0


@pytest.mark.parametrize("kw,why", [
    ({"partial": 3}, "partial_reps"),
    ({"rom": 80.0}, "min_rom_pct"),
    ({"vloss": 0.35}, "velocity_loss"),
])
def test_tech1_technique_not_preserved_holds(kw, why):
    it = item(progressed(15, **kw), day(38))
    assert it.change == "hold" and rules(it)[-1] == "TECH-1"
    assert why in it.reasons[-1].data


def test_cad1_no_second_step_within_the_cadence():
    plan = plan_with([*assessed(on=7), work(day(14), LOADS, 10), work(day(21), LOADS, 12),
                      work(day(28), LOADS, 15),
                      work(day(31), {**LOADS, SQUAT: 34.5}, 15)])  # went up 7 days ago
    it = item(plan, day(38))
    assert it.change == "hold" and rules(it)[-1] == "CAD-1"
    assert it.reasons[-1].data["cadence_days"] == 14


def test_cap1_never_above_the_phase_cap_or_the_unit():
    heavy = {SQUAT: 60.0, ROW: 30.0, PRESS: 25.0}
    plan = plan_with([*assessed(on=7), work(day(14), heavy, 10), work(day(24), heavy, 12),
                      work(day(35), heavy, 15)])
    it = item(plan, day(38))
    assert it.load_kg <= int(it.one_rm_kg * DOSE[ProfileKind.PAIN].cap * 2) / 2
    assert "CAP-1" in rules(it)


def maintained(kind: ProfileKind, loads: dict[str, float]) -> PlanFile:
    """30 sessions (15 weeks at 2 a week: maintenance), reassessed recently, top of the range
    on every set the last time."""
    every = 2 if kind == ProfileKind.ATHLETE else 3  # athletes train 3 times a week
    steady = [work(day(d), loads, 12) for d in range(14, 104, every)]
    return plan_with([*assessed(kind), *steady, *assessed(kind, on=104),
                      work(day(107), loads, 15)], kind)


def test_maint1_maintenance_holds_for_health_goals():
    high = {SQUAT: 47.5, ROW: 23.5, PRESS: 19.0}  # the band's target: nothing to rebuild
    plan = maintained(ProfileKind.PAIN, high)
    rx = next_session(plan, day(110))
    assert rx.phase.value == "maintenance"
    it = item(plan, day(110))
    assert it.change == "hold" and "MAINT-1" in rules(it)


def test_maint1_athletes_keep_progressing_more_slowly():
    plan = maintained(ProfileKind.ATHLETE, {SQUAT: 53.0, ROW: 26.5, PRESS: 21.0})
    assert next_session(plan, day(110)).phase.value == "maintenance"
    it = item(plan, day(110))
    assert it.change == "up" and "DP-2" in rules(it)
    # The next step waits twice the progression cadence (14 days for athletes).
    plan = plan.model_copy(update={"history": [*plan.history, work(
        day(110), {SQUAT: it.load_kg, ROW: 26.5, PRESS: 21.0}, 12, sets=4)]})
    nxt = plan.model_copy(update={"history": [*plan.history, work(
        day(117), {SQUAT: it.load_kg, ROW: 26.5, PRESS: 21.0}, 12, sets=4)]})
    it2 = item(nxt.model_copy(update={"history": [*nxt.history, work(
        day(119), {SQUAT: it.load_kg, ROW: 26.5, PRESS: 21.0}, 12, sets=4)]}), day(121))
    assert it2.change == "hold"


def test_maint1_a_cut_in_maintenance_is_rebuilt():
    plan = maintained(ProfileKind.PAIN, {SQUAT: 47.5, ROW: 23.5, PRESS: 19.0})
    cut = plan.model_copy(update={"history": [*plan.history, work(
        day(110), {SQUAT: 40.0, ROW: 23.5, PRESS: 19.0}, 12)]})
    it = item(cut, day(113))
    assert it.change == "up" and "PROG-1" in rules(it) and 40.0 < it.load_kg <= 44.0


@pytest.mark.parametrize("phase_days", [40, 110])
def test_reassess1_every_five_weeks_in_every_phase(phase_days):
    plan = plan_with([*assessed(), *(work(day(d), LOADS, 12)
                                     for d in range(3, phase_days, 3))])
    it = item(plan, day(phase_days))
    assert it.kind == "assessment" and "REASSESS-1" in rules(it)
    # Submaximal: the ladder starts at half the estimate, capped at 78% of it.
    assert it.load_kg == floor_grid(it.one_rm_kg * 0.5)
    assert it.cap_kg == floor_grid(it.one_rm_kg * 0.78)


# ---- pain, red flags, deloads, gaps -------------------------------------------------------------


@pytest.mark.parametrize("pain,settled,rule,change", [
    (4, True, "PAIN-AMBER", "hold"), (5, True, "PAIN-AMBER", "hold"),
    (6, False, "PAIN-RED", "down"), (9, False, "PAIN-RED", "down"),
    (2, False, "PAIN-SETTLE", "down"), (3, True, "DP-2", "up")])
def test_pain_traffic_lights(pain, settled, rule, change):
    it = item(progressed(15, pain=pain, settled=settled), day(38))
    assert rule in rules(it) and it.change == change
    if change == "down":
        assert it.load_kg == int(33.0 * 0.9 * 2) / 2


def test_flag1_red_flag_pauses_until_medical_clearance():
    flagged = [*assessed(), work(day(14), LOADS, 12),
               work(day(35), LOADS, 12, pain=7, flags=[RedFlag.CHEST_PAIN])]
    rx = next_session(plan_with(flagged), day(38))
    assert rx.status == "paused" and rx.items == ()
    assert "urgent care" in rx.advice and "doctor" in rx.advice  # chest pain is urgent
    assert rx.reasons[-1].rule == "FLAG-1"
    assert rx.reasons[-1].data["red_flags"] == ["chest_pain"]
    cleared = plan_with(flagged, clearance=[day(40)])
    it = item(cleared, day(41))
    assert it.change == "down" and it.load_kg == 23.0 and "FLAG-1" in rules(it)
    # Only once: the session after the restart is planned normally.
    after = plan_with([*flagged, work(day(41), {**LOADS, SQUAT: 23.0}, 12)], clearance=[day(40)])
    assert "FLAG-1" not in rules(item(after, day(44)))


def test_deload1_after_repeated_failed_sessions():
    plan = plan_with([*assessed(on=7), work(day(14), LOADS, 12), work(day(24), LOADS, 13),
                      work(day(31), LOADS, 8), work(day(35), LOADS, 7)])
    it = item(plan, day(38))
    assert rules(it)[-1] == "DELOAD-1" and it.load_kg == 29.5
    assert it.reasons[-1].data["failed_sessions"] == 2


@pytest.mark.parametrize("gap,cut", [(13, 0.0), (14, 0.2), (21, 0.3), (60, 0.3)])
def test_gap1_recalibrate_then_restart_lower_after_an_interruption(gap, cut):
    it = item(progressed(12), day(35 + gap))
    if not cut:
        assert not {"GAP-1", "RECAL-1"} & set(rules(it))
        return
    # First a short recalibration ladder, from the cut load...
    assert it.kind == "assessment" and rules(it) == ["RECAL-1"] and it.sets == 3
    assert it.load_kg == floor_grid(33.0 * (1 - cut))
    # ...then working sets restart lower: the full cut when the strength was not kept...
    back = day(35 + gap)
    weaker = [SetLog(exercise=SQUAT, load_kg=w, full_reps=r, rir=2, assessment=True)
              for w, r in ((20.0, 8), (30.0, 6), (40.0, 4))]
    plan = progressed(12)
    plan = plan.model_copy(update={"history": [*plan.history,
                                               SessionLog(date=back, sets=weaker)]})
    it = item(plan, back + dt.timedelta(days=3))
    assert rules(it)[-1] == "GAP-1" and it.change == "down"
    assert it.load_kg == floor_grid(33.0 * (1 - cut))
    assert it.one_rm_kg == pytest.approx(40 * 36 / 31 * 0.95)  # measured again, not cut
    # ...half of it when the recalibration found the strength kept.
    kept = [SetLog(exercise=SQUAT, load_kg=w, full_reps=r, rir=2, assessment=True)
            for w, r in ((40.0, 8), (50.0, 6), (60.0, 4))]
    plan = progressed(12)
    plan = plan.model_copy(update={"history": [*plan.history, SessionLog(date=back, sets=kept)]})
    it = item(plan, back + dt.timedelta(days=3))
    assert it.load_kg == floor_grid(33.0 * (1 - cut / 2))
    assert it.reasons[-1].data["strength_kept"] is True


# ---- properties ---------------------------------------------------------------------------------


session_st = st.builds(
    dict, gap=st.integers(1, 30), reps=st.integers(0, 16), pain=st.integers(0, 10),
    settled=st.booleans(), partial=st.integers(0, 2),
    flag=st.sampled_from([False] * 9 + [True]))


def last_working_load(plan: PlanFile, name: str) -> float | None:
    for s in reversed(plan.history):
        loads = [x.load_kg for x in s.sets if x.exercise == name and not x.assessment]
        if loads:
            return max(loads)
    return None


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(ProfileKind)), st.lists(session_st, min_size=1, max_size=14))
def test_properties_over_random_histories(kind, sessions):
    """Follow the planner for a while with random outcomes and check its promises."""
    plan = plan_with(assessed(kind), kind)
    today = day(3)
    last_up: dict[str, dt.date] = {}
    for s in sessions:
        rx = next_session(plan, today)
        last = plan.history[-1]
        if rx.status == "paused":
            # A red flag, or pain not settled again 48 h or more after it first was.
            assert any(x.red_flags for x in plan.history) or any(
                x.pain_settled is False for x in plan.history)
            plan = plan.model_copy(update={"medical_clearance": [*plan.medical_clearance,
                                                                 today]})
            today += dt.timedelta(days=s["gap"])
            continue
        for it in rx.items:
            if it.kind != "work":
                continue
            cap = min(plan.program.unit_max_kg,
                      int(it.one_rm_kg * max(DOSE[kind].cap, 0.6) * 2) / 2)
            assert it.load_kg * 2 == int(it.load_kg * 2)  # on the 0.5 kg grid
            assert 0.5 <= it.load_kg <= max(cap, 0.5)
            before = last_working_load(plan, it.exercise)
            if before is not None and (last.pain_during >= 6 or last.red_flags):
                assert it.load_kg <= before  # never up after red pain or a red flag
            if "GAP-1" in rules(it):
                # a long gap never returns to the old load at once
                assert it.load_kg < before or it.load_kg == 0.5
            if it.change == "up" and before is not None:
                assert it.load_kg <= before * 1.10 + 0.5  # never more than 10% (or 0.5 kg)
            if "DP-2" in rules(it):  # load added for reps: at the profile's cadence
                if it.exercise in last_up:
                    assert (today - last_up[it.exercise]).days >= DOSE[kind].cadence_days
                last_up[it.exercise] = today
        log = SessionLog(date=today, pain_during=s["pain"], pain_settled=s["settled"],
                         red_flags=[RedFlag.FAINTING] if s["flag"] else [],
                         sets=[SetLog(exercise=it.exercise, load_kg=it.load_kg,
                                      full_reps=s["reps"], partial_reps=s["partial"],
                                      min_rom_pct=95.0, velocity_loss=0.1)
                               for it in rx.items if it.kind == "work" for _ in range(it.sets)])
        plan = plan.model_copy(update={"history": [*plan.history, log]})
        today += dt.timedelta(days=s["gap"])


# ---- what the person reads: plain words, the day's headline, the dose, the warm-up ------------

JARGON = re.compile(r"1RM|\bRIR\b|deload|%|\b[A-Z]+-\d", re.IGNORECASE)
RULE_ID = re.compile(r"\b[A-Z]+-\d")


def person_texts(rx) -> list[str]:
    """Everything the person is shown: plain reasons, advice, headline, doses, cues, guides."""
    texts = [rx.headline, rx.advice, *(r.plain for r in rx.reasons)]
    for it in rx.items:
        texts += [it.dose_plain, *it.cues, *(r.plain for r in it.reasons)]
        g = it.as_dict()["guide"]
        texts += [*g["setup"], *g["cues"], *g["avoid"], *g["feel"], g["movement"]]
    return [t for t in texts if t]


def assert_plain(rx) -> None:
    for t in person_texts(rx):
        assert not JARGON.search(t) and not RULE_ID.search(t), t


def scenarios() -> list[tuple[PlanFile, dt.date]]:
    """Every rule's situation, for every profile."""
    out = []
    for kind in ProfileKind:
        base = assessed(kind)
        out += [(plan_with([], kind), day(0)), (plan_with(base, kind), day(3)),
                (plan_with(base, kind), day(1)),  # too soon
                (maintained(kind, {SQUAT: 47.5, ROW: 23.5, PRESS: 19.0}), day(110))]
    for reps in (12, 15, [15, 15, 14], 7):
        out.append((progressed(reps), day(38)))
    for kw in ({"partial": 3}, {"rom": 80.0}, {"vloss": 0.35}, {"pain": 4}, {"pain": 7},
               {"pain": 2, "settled": False}, {"rir": 4}):
        out.append((progressed(15, **kw), day(38)))
    out += [(progressed(12), day(35 + gap)) for gap in (14, 21, 60)]  # recalibration
    failing = plan_with([*assessed(on=7), work(day(14), LOADS, 12), work(day(24), LOADS, 13),
                         work(day(31), LOADS, 8), work(day(35), LOADS, 7)])
    out.append((failing, day(38)))  # DELOAD-1
    heavy = {SQUAT: 60.0, ROW: 30.0, PRESS: 25.0}
    out.append((plan_with([*assessed(on=7), work(day(14), heavy, 10), work(day(24), heavy, 12),
                           work(day(35), heavy, 15)]), day(38)))  # CAP-1
    flagged = [*assessed(), work(day(14), LOADS, 12),
               work(day(35), LOADS, 12, pain=7, flags=[RedFlag.CHEST_PAIN])]
    out += [(plan_with(flagged), day(38)), (plan_with(flagged, clearance=[day(40)]), day(41))]
    out.append((plan_with([*assessed(), *(work(day(d), LOADS, 12) for d in range(3, 40, 3))]),
                day(40)))  # REASSESS-1
    out.append((plan_with([*assessed(on=7), work(day(14), LOADS, 10), work(day(21), LOADS, 12),
                           work(day(28), LOADS, 15),
                           work(day(31), {**LOADS, SQUAT: 34.5}, 15)]), day(38)))  # CAD-1
    back = day(35 + 21)
    recal = SessionLog(date=back, sets=[SetLog(exercise=SQUAT, load_kg=w, full_reps=r, rir=2,
                                               assessment=True)
                                        for w, r in ((20.0, 8), (30.0, 6), (40.0, 4))])
    gap = progressed(12)
    out.append((gap.model_copy(update={"history": [*gap.history, recal]}),
                back + dt.timedelta(days=3)))  # GAP-1
    return out


def test_plain_texts_carry_no_jargon_in_any_situation():
    seen = set()
    for plan, today in scenarios():
        rx = next_session(plan, today)
        assert_plain(rx)
        seen |= {r.rule for r in rx.reasons} | {r.rule for i in rx.items for r in i.reasons}
    # The scan reached the rules whose technical text says 1RM, RIR, deload or a percentage.
    assert {"START-1", "CAP-1", "DELOAD-1", "PROG-1", "GAP-1", "RECAL-1", "REASSESS-1",
            "PAIN-RED", "PAIN-SETTLE", "PAIN-AMBER", "TECH-1", "DP-1", "DP-2", "CAD-1",
            "MAINT-1", "FLAG-1", "SPACE-1", "ASSESS-1"} <= seen


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(list(ProfileKind)), st.lists(session_st, min_size=1, max_size=10))
def test_plain_texts_carry_no_jargon_over_random_histories(kind, sessions):
    plan = plan_with(assessed(kind), kind)
    today = day(3)
    for s in sessions:
        rx = next_session(plan, today)
        assert_plain(rx)
        if rx.status == "paused":
            plan = plan.model_copy(update={"medical_clearance": [*plan.medical_clearance,
                                                                 today]})
        else:
            log = SessionLog(date=today, pain_during=s["pain"], pain_settled=s["settled"],
                             red_flags=[RedFlag.FAINTING] if s["flag"] else [],
                             sets=[SetLog(exercise=it.exercise, load_kg=it.load_kg,
                                          full_reps=s["reps"], partial_reps=s["partial"],
                                          min_rom_pct=95.0, velocity_loss=0.1, rir=s["gap"] % 6)
                                   for it in rx.items if it.kind == "work"
                                   for _ in range(it.sets)])
            plan = plan.model_copy(update={"history": [*plan.history, log]})
        today += dt.timedelta(days=s["gap"])


def test_technical_texts_keep_their_numbers():
    it = item(plan_with(assessed()), day(3))
    start = next(r for r in it.reasons if r.rule == "START-1")
    assert "50% of the estimated 1RM" in start.text and "%" not in start.plain


@pytest.mark.parametrize("plan,today,headline", [
    (plan_with([]), day(0), "First sessions: finding your starting loads"),
    (plan_with(assessed()), day(3), "Week 1: getting used to the movements"),
    (plan_with(assessed()), day(1), "Rest day recommended: last session was yesterday"),
    (plan_with(assessed()), day(0), "Rest day recommended: last session was today"),
    (progressed(12), day(35 + 21), "Welcome back: a short check of where you are"),
    (maintained(ProfileKind.PAIN, {SQUAT: 47.5, ROW: 23.5, PRESS: 19.0}), day(110),
     "Keeping what you have built"),
    (plan_with([*assessed(), work(day(14), LOADS, 12),
                work(day(35), LOADS, 12, flags=[RedFlag.CHEST_PAIN])]), day(38),
     "Paused until a clinician's all-clear"),
])
def test_headline_says_the_day_plainly(plan, today, headline):
    rx = next_session(plan, today)
    assert rx.headline == headline == rx.as_dict()["headline"]


def test_headline_in_progression():
    hist = [*assessed(), *(work(day(d), LOADS, 12) for d in range(3, 30, 3))]
    rx = next_session(plan_with(hist), day(30))
    assert rx.phase.value == "progression"
    assert rx.headline == f"Week {rx.week}: building strength step by step"


def test_dose_plain_for_work_and_assessment():
    test = item(plan_with([]), day(0))
    assert test.sets == 5  # the most the ladder may take; the person reads a few
    assert test.as_dict()["dose_plain"] == ("A few test sets, each a little heavier, starting "
                                            "at 15.0 kg; stop each when you have 2-3 reps left")
    it = item(progressed(12), day(38))
    assert (it.sets, it.target_reps, it.load_kg, it.rest_s) == (2, 13, 33.0, 75)
    assert it.as_dict()["dose_plain"] == ("2 sets of 13 at 33.0 kg, 75 s rest between sets, "
                                          "after one light warm-up set of 10 at 16.5 kg")
    d = it.as_dict()  # the numbers stay, for the panel's own units
    assert (d["sets"], d["target_reps"], d["load_kg"], d["rest_s"]) == (2, 13, 33.0, 75)
    assert (d["warmup_kg"], d["warmup_reps"]) == (16.5, 10)


@pytest.mark.parametrize("load,warm", [(33.0, 16.5), (13.0, 6.5), (8.0, 4.0), (7.5, 3.5),
                                       (3.0, 1.5), (2.5, 1.0), (2.0, None), (1.5, None),
                                       (0.5, None), (100.0, 50.0), (1.0, None)])
def test_warmup1_half_the_working_load_on_the_grid(load, warm):
    assert warmup_kg(load) == warm
    if warm is not None:
        assert warm % 0.5 == 0 and 0.5 <= warm < load


@pytest.mark.parametrize("kind,reps", [(ProfileKind.ATHLETE, 8), (ProfileKind.PAIN, 10),
                                       (ProfileKind.OLDER, 10)])
def test_warmup1_on_every_working_item_never_on_a_test(kind, reps):
    plan = plan_with(assessed(kind), kind)
    for it in next_session(plan, day(3)).items:
        assert it.kind == "work"
        assert it.warmup_kg == warmup_kg(it.load_kg) and it.warmup_reps == reps
        assert f"after one light warm-up set of {reps} at {it.warmup_kg:.1f} kg" in \
            it.dose_plain
    for it in next_session(plan_with([], kind), day(0)).items:
        assert it.kind == "assessment" and it.warmup_kg is None and it.warmup_reps == 0
        assert "warm-up" not in it.dose_plain


def test_no_warmup_when_the_working_load_is_light():
    light = dataclasses.replace(item(progressed(12), day(38)), load_kg=2.0, warmup_kg=None,
                                warmup_reps=0)
    assert light.dose_plain == "2 sets of 13 at 2.0 kg, 75 s rest between sets"
