"""What check-ins write into the plan file: the 24-48 h answer on the last session, red flags,
and a clinician's all-clear. Pure: a plan in, a new plan out (the caller saves it)."""

from __future__ import annotations

import datetime as dt

from controller.planning.models import AfterCheck, Clearance, PlanFile, RedFlag, RedFlagReport
from controller.planning.planner import pause_state


class ClearanceError(ValueError):
    """An all-clear that cannot be recorded: the reason says why and what is allowed."""


def record_after(plan: PlanFile, answer: str, day: dt.date, source: str) -> PlanFile:
    """The answer to "since your last session..." goes on the last session, where the planner
    reads it (PAIN-SETTLE, and the 48-72 h red flag when it is raised again)."""
    if not plan.history:
        return plan
    last = plan.history[-1]
    check = AfterCheck(date=day, answer=answer, source=source)  # type: ignore[arg-type]
    updated = last.model_copy(update={"after": [*last.after, check],
                                      "pain_settled": answer != "raised"})
    return plan.model_copy(update={"history": [*plan.history[:-1], updated]})


def record_red_flag(plan: PlanFile, kind: RedFlag, checkin: str, day: dt.date,
                    at: dt.datetime | None = None) -> PlanFile:
    report = RedFlagReport(date=day, kind=kind, checkin=checkin,
                           at=at or dt.datetime.now(dt.UTC))
    return plan.model_copy(update={"red_flag_reports": [*plan.red_flag_reports, report]})


def record_clearance(plan: PlanFile, by: str, day: dt.date, today: dt.date,
                     at: dt.datetime | None = None) -> PlanFile:
    """The all-clear after the red flag that paused the program; refused when nothing is
    paused, when dated before the flag or in the future, or without a name."""
    pause = pause_state(plan, today)
    if pause is None:
        raise ClearanceError("the program is not paused: there is no red flag to clear")
    by = by.strip()
    if not by or len(by) > 80:
        raise ClearanceError("say who gave the all-clear (a name of 1 to 80 characters), e.g. "
                             "'Dr Silva' or 'my physiotherapist'")
    if day > today:
        raise ClearanceError(f"the all-clear date {day} is in the future (today is {today})")
    if day < pause.date:
        raise ClearanceError(f"the all-clear date {day} is before the red flag of "
                             f"{pause.date}: it must be on that day or later")
    clear = Clearance(date=day, by=by, at=at or dt.datetime.now(dt.UTC))
    new = plan.model_copy(update={"clearances": [*plan.clearances, clear]})
    if pause_state(new, today) is not None:  # a same-day flag reported after this moment
        raise ClearanceError("a red flag was reported after this all-clear; record it again")
    return new


def apply_since_last(plan: PlanFile, answer: object, day: dt.date, source: str,
                     checkin: str) -> PlanFile:
    """An answer to "since your last session, how has it been?" (parsed: settled, raised,
    soreness, or a Flag): stored on the last session; a red flag, or raised again 48 h or more
    after it was first raised (the 48-72 h rule), is recorded as a red flag and pauses."""
    from controller.planning.questions import Flag

    if isinstance(answer, Flag):
        return record_red_flag(plan, answer.kind, checkin, day)
    was = pause_state(plan, day)
    plan = record_after(plan, str(answer), day, source)
    now = pause_state(plan, day)
    if now is not None and was is None:
        plan = record_red_flag(plan, now.kinds[-1], checkin, day)
    return plan
