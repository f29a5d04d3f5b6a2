"""Progress over weeks, from the plan file's history: what the panel's charts show.

The estimated 1RM is the planner's own (replayed after each session), so the chart and the
planner's decisions never disagree. It is read from one replay per exercise that yields the
state after each session (`replay_steps`), not one replay per session: linear in the history.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from itertools import accumulate
from typing import Any

from controller.models import PlanFile
from controller.planner import pause_state
from controller.replay import replay_steps


def progress(plan: PlanFile) -> dict[str, Any]:
    """The panel's charts: per exercise, each session's load, reps and the estimate at the end
    of its day (what `replay(plan, ex, s.date + 1 day)` gives, the planner's own); pain and red
    flags; sessions per week; the pause, if any."""
    # replay(until=d + 1 day) folds the history up to the first session dated after d: that
    # many sessions (a running maximum, so a history out of date order gives the same answer).
    reach = list(accumulate((s.date for s in plan.history), max))
    folded = [bisect_right(reach, s.date) for s in plan.history]
    exercises = []
    for ex in plan.program.exercises:
        # The estimate after the first k sessions, k = 0..len(history), in one pass.
        one_rm = [None, *(st.one_rm for st in replay_steps(plan, ex))]
        points = []
        for s, k in zip(plan.history, folded, strict=True):
            mine = [x for x in s.sets if x.exercise == ex.name]
            if not mine:
                continue
            work = [x for x in mine if not x.assessment] or mine
            rm = one_rm[k]
            points.append({"date": s.date.isoformat(), "load_kg": max(x.load_kg for x in work),
                           "reps": sum(x.full_reps for x in work),
                           "one_rm_kg": None if rm is None else round(rm, 1)})
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
