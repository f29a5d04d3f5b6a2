"""Progress over weeks, from the plan file's history: what the panel's Progress screen shows.

Per exercise, the working sets and the test (assessment) sets are separate series: a ladder's
loads are deliberately heavy, and drawn on the working line they read as a spike and then as
"I got weaker". The estimated strength is the planner's own estimated 1RM at the end of each
session's day, so the chart and the planner's decisions never disagree; it is read from one
replay per exercise that yields the state after each session (`records.strength_by_session`),
not one replay per session. Everything here is linear in the history.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from typing import Any

from controller.planning.models import PlanFile
from controller.planning.planner import pause_state
from controller.planning.records import records, strength_by_session, volume

WEEK = dt.timedelta(days=7)


def progress(plan: PlanFile, today: dt.date | None = None) -> dict[str, Any]:
    """The Progress screen's data (dates ISO, loads kg, one decimal):

    - `exercises`: per exercise of the program, `name`;
      `points`, one per session holding the exercise: {date, load_kg, reps, sets, volume_kg,
      one_rm_kg, test}: load_kg the heaviest *working* set (None when the session held only
      test sets), reps the working sets' full reps, volume_kg their load x reps, one_rm_kg the
      planner's estimate at the end of that day (None before the first), test whether the
      session held test sets of it;
      `tests`, one per test set: {date, load_kg, reps, rir} (never on the working line).
    - `records`: `records.records(plan)`, per exercise name.
    - `weeks`: every ISO week from the first session with a set to today's (weeks without a
      session included): {week "2026-W02", start (its Monday), sessions, planned, met, paused,
      note, volume_kg}. sessions counts days with at least one set (two sessions on one day are
      one: the plan's "2 a week" means two days), planned is the profile's sessions per week,
      volume_kg the load x full reps of every working set that week. paused: the program was
      paused by a red flag on some day of the week (flags reported in sessions or between them,
      until the next all-clear). note: "this week" (not over yet), "first week" (the program
      started during it), "paused", else None.
    - `streak`: {current, best, unit "weeks", per_week}: consecutive weeks meeting the plan.
      A week that did not meet it breaks the streak, except the first week, the week not over
      yet and a week the program was paused in: those neither break nor extend it.
    - `pain`: per session {date, pain, red_flag, red_flags}, and each red flag reported between
      sessions; a red-flagged session's pain is never shown as a number for the flag.
    - `confidence`: per session with the check-in answered {date, confidence} (0-10).
    - `sessions_per_week`, `paused` (the pause, if any, as `Pause.as_dict`).

    `today` defaults to the calendar date; the weeks and the pause run to the later of it and
    the last session."""
    today = max([today or dt.date.today(), *(s.date for s in plan.history)])
    strength = strength_by_session(plan)
    exercises = []
    for ex in plan.program.exercises:
        est = strength[ex.name]
        points, tests = [], []
        for i, s in enumerate(plan.history):
            mine = [x for x in s.sets if x.exercise == ex.name]
            if not mine:
                continue
            work = [x for x in mine if not x.assessment]
            day = s.date.isoformat()
            tests += [{"date": day, "load_kg": x.load_kg, "reps": x.full_reps, "rir": x.rir}
                      for x in mine if x.assessment]
            rm = est[i]
            points.append({"date": day,
                           "load_kg": max(x.load_kg for x in work) if work else None,
                           "reps": sum(x.full_reps for x in work), "sets": len(work),
                           "volume_kg": round(volume(work), 1),
                           "one_rm_kg": None if rm is None else round(rm, 1),
                           "test": len(work) < len(mine)})
        exercises.append({"name": ex.name, "points": points, "tests": tests})
    # A red flag is shown as one, never as a pain number (a red-flagged session's pain is the
    # numbers given before the flag, if any).
    pain = [{"date": s.date.isoformat(), "pain": s.pain_during, "red_flag": bool(s.red_flags),
             "red_flags": [k.value for k in s.red_flags]} for s in plan.history]
    in_sessions = {(s.date, k) for s in plan.history for k in s.red_flags}
    for r in plan.red_flag_reports:  # flags reported between sessions (next-morning check-in)
        if (r.date, r.kind) not in in_sessions:
            pain.append({"date": r.date.isoformat(), "pain": None, "red_flag": True,
                         "red_flags": [r.kind.value]})
    pain.sort(key=lambda p: p["date"])
    confidence = [{"date": s.date.isoformat(), "confidence": s.checkin.confidence}
                  for s in sorted(plan.history, key=lambda s: s.date)
                  if s.checkin.confidence is not None]
    weeks, streak = _weeks(plan, today)
    pause = pause_state(plan, today)
    return {"exercises": exercises, "records": records(plan, strength), "weeks": weeks,
            "streak": streak, "pain": pain, "confidence": confidence,
            "sessions_per_week": plan.profile.sessions_per_week,
            "paused": None if pause is None else pause.as_dict()}


def _monday(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=d.weekday())


def _pauses(plan: PlanFile) -> list[tuple[dt.date, dt.date | None]]:
    """The days the program was paused, as [first, end) spans (end None: not cleared yet): a
    red flag (in a session or reported between them) until the next all-clear on or after it.
    The 48-72 h pain rule's own flags are left out here (`pause_state` has them for today)."""
    flags = sorted({s.date for s in plan.history if s.red_flags}
                   | {r.date for r in plan.red_flag_reports})
    clears = sorted([c.date for c in plan.clearances] + list(plan.medical_clearance))
    spans: list[tuple[dt.date, dt.date | None]] = []
    for f in flags:
        if spans and (spans[-1][1] is None or f < spans[-1][1]):
            continue  # already paused then
        k = bisect_left(clears, f)
        spans.append((f, clears[k] if k < len(clears) else None))
    return spans


def _weeks(plan: PlanFile, today: dt.date) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    per_week = plan.profile.sessions_per_week
    days: dict[dt.date, set[dt.date]] = {}
    vol: dict[dt.date, float] = {}
    for s in plan.history:
        if not s.sets:
            continue  # stopped before any set: not a session done
        mon = _monday(s.date)
        days.setdefault(mon, set()).add(s.date)
        vol[mon] = vol.get(mon, 0.0) + volume(s.sets)
    streak = {"current": 0, "best": 0, "unit": "weeks", "per_week": per_week}
    if not days:
        return [], streak
    spans = _pauses(plan)
    weeks: list[dict[str, Any]] = []
    run = best = 0
    k = 0  # the first pause span not over before this week
    mon, last = min(days), _monday(today)
    first = mon
    while mon <= last:
        sunday = mon + dt.timedelta(days=6)
        while k < len(spans) and spans[k][1] is not None and spans[k][1] <= mon:
            k += 1
        paused = k < len(spans) and spans[k][0] <= sunday
        n = len(days.get(mon, ()))
        met = n >= per_week
        note = ("this week" if sunday >= today else "first week" if mon == first
                else "paused" if paused else None)
        if met:
            run += 1
            best = max(best, run)
        elif note is None:
            run = 0
        y, w, _ = mon.isocalendar()
        weeks.append({"week": f"{y}-W{w:02d}", "start": mon.isoformat(), "sessions": n,
                      "planned": per_week, "met": met, "paused": paused, "note": note,
                      "volume_kg": round(vol.get(mon, 0.0), 1)})
        mon += WEEK
    streak.update(current=run, best=best)
    return weeks, streak
