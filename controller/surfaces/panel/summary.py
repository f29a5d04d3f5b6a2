"""The end-of-session summary the panel keeps on screen: what was done, what it beat, how it
felt, and when the next session is. Pure: from the plan before and after the session and the
sets the history kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

from controller.core.history import SetRecord
from controller.planning.models import PlanFile, SessionLog
from controller.planning.planner import next_session

LOOK_AHEAD_DAYS = 14


def next_day(plan: PlanFile, today: dt.date) -> dt.date | None:
    """The first day after `today` the planner would train (the spacing rule SPACE-1 is the
    planner's own); None while the program is paused."""
    for n in range(1, LOOK_AHEAD_DAYS + 1):
        day = today + dt.timedelta(days=n)
        rx = next_session(plan, day)
        if rx.status == "paused":
            return None
        if rx.too_soon is None:
            return day
    return today + dt.timedelta(days=LOOK_AHEAD_DAYS)


def day_words(day: dt.date, today: dt.date) -> str:
    if day == today + dt.timedelta(days=1):
        return f"tomorrow, {day.strftime('%A')} {day.day} {day.strftime('%B')}"
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"


def session_summary(before: PlanFile, after: PlanFile, sets: list[SetRecord], status: str,
                    today: dt.date, log: SessionLog | None = None,
                    red_flag: str | None = None) -> dict[str, Any]:
    """The summary screen's content: per exercise its sets (warm-ups apart), totals of the
    working sets, records beaten, pain, and the next session's day in words."""
    from controller.planning.records import new_records

    exercises: dict[str, dict[str, Any]] = {}
    for s in sets:
        ex = exercises.setdefault(s.exercise, {"name": s.exercise, "sets": [],
                                               "volume_kg": 0.0})
        ex["sets"].append({"kind": s.kind, "set_index": s.set_index, "load_kg": s.load_kg,
                           "reps": s.full_reps, "partial_reps": s.partial_reps,
                           "mean_concentric_m_s": s.mean_concentric_m_s,
                           "ended_by": s.ended_by})
        if s.kind != "warmup":
            ex["volume_kg"] = round(ex["volume_kg"] + s.load_kg * s.full_reps, 1)
    work = [s for s in sets if s.kind != "warmup"]
    records = new_records(before, log) if log is not None and log.sets else []
    paused = next_session(after, today).status == "paused"
    nxt = None if paused else next_day(after, today)
    if paused:
        next_plain = "Training is paused until a clinician's all-clear is recorded."
    elif nxt is None:
        next_plain = ""
    else:
        next_plain = f"Next session: {day_words(nxt, today)}."
    pain = None if log is None else log.pain_during
    return {
        "date": today.isoformat(), "status": status, "name": after.profile.name,
        "exercises": list(exercises.values()),
        "sets": len(work), "warmups": len(sets) - len(work),
        "reps": sum(s.full_reps for s in work),
        "volume_kg": round(sum(s.load_kg * s.full_reps for s in work), 1),
        "records": records, "pain": pain,
        "pain_by_exercise": {} if log is None else dict(log.pain_by_exercise),
        "red_flag": red_flag, "paused": paused,
        "next_date": None if nxt is None else nxt.isoformat(), "next_plain": next_plain,
        "plain": _headline(status, red_flag, len(work)),
    }


def _headline(status: str, red_flag: str | None, sets: int) -> str:
    if red_flag:
        return "Session stopped: you reported a warning sign. The load is off."
    if status == "finished":
        return f"Well done: {sets} set{'s' if sets != 1 else ''} finished."
    if status == "rest":
        return "Resting today: nothing was loaded."
    if status.startswith("stopped"):
        return "Session stopped early: the sets you did are kept."
    return f"Session ended: {status}."
