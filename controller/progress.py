"""Progress over weeks, from the plan file's history: what the panel's charts show.

The estimated 1RM is the planner's own (replayed after each session), so the chart and the
planner's decisions never disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from controller.models import PlanFile
from controller.planner import pause_state, replay


def progress(plan: PlanFile) -> dict[str, Any]:
    exercises = []
    for ex in plan.program.exercises:
        points = []
        for s in plan.history:
            mine = [x for x in s.sets if x.exercise == ex.name]
            if not mine:
                continue
            work = [x for x in mine if not x.assessment] or mine
            st = replay(plan, ex, s.date + dt.timedelta(days=1))
            points.append({"date": s.date.isoformat(), "load_kg": max(x.load_kg for x in work),
                           "reps": sum(x.full_reps for x in work),
                           "one_rm_kg": None if st.one_rm is None else round(st.one_rm, 1)})
        exercises.append({"name": ex.name, "points": points})
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
    pause = pause_state(plan, max([dt.date.today(), *(s.date for s in plan.history)]))
    weeks: dict[str, int] = {}
    for s in plan.history:
        y, w, _ = s.date.isocalendar()
        key = f"{y}-W{w:02d}"
        weeks[key] = weeks.get(key, 0) + 1
    return {"exercises": exercises, "pain": pain,
            "weeks": [{"week": k, "sessions": v} for k, v in sorted(weeks.items())],
            "sessions_per_week": plan.profile.sessions_per_week,
            "paused": None if pause is None else pause.as_dict()}
