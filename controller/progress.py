"""Progress over weeks, from the plan file's history: what the panel's charts show.

The estimated 1RM is the planner's own (replayed after each session), so the chart and the
planner's decisions never disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from controller.models import PlanFile
from controller.planner import replay


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
    pain = [{"date": s.date.isoformat(), "pain": s.pain_during,
             "red_flag": bool(s.red_flags)} for s in plan.history]
    weeks: dict[str, int] = {}
    for s in plan.history:
        y, w, _ = s.date.isocalendar()
        key = f"{y}-W{w:02d}"
        weeks[key] = weeks.get(key, 0) + 1
    return {"exercises": exercises, "pain": pain,
            "weeks": [{"week": k, "sessions": v} for k, v in sorted(weeks.items())],
            "sessions_per_week": plan.profile.sessions_per_week}
