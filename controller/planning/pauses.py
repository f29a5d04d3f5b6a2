"""Red flags and the pause they put on the program: which flags stand, since when, with what
advice. Pure functions over the plan file (reports, session flags, the 48-72 h pain rule,
all-clears)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from controller.planning.models import PlanFile, RedFlag, SessionLog
from controller.planning.red_flags import advice_for, describe, where_asked

CLEAR_HINT = ("Record their all-clear to resume: halfstep plan clear --red-flag --by NAME (or on "
              "the panel).")

@dataclass(frozen=True)
class Pause:
    """FLAG-1: the program is paused since `date` by these red flags, until an all-clear."""

    date: dt.date
    kinds: tuple[RedFlag, ...]
    checkin: str  # where it was reported (a question id, or "history")
    advice: str

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "red_flags": [k.value for k in self.kinds],
                "what": describe(list(self.kinds)), "checkin": self.checkin,
                "where": where_asked(self.checkin), "advice": self.advice}


@dataclass(frozen=True)
class _FlagEvent:
    date: dt.date
    kind: RedFlag
    checkin: str
    at: dt.datetime | None = None


def settle_reports(plan: PlanFile) -> list[tuple[dt.date, str]]:
    """PAIN-SETTLE: how the painful region was after each session, in date order: the
    person's own reports, else the older fields (`pain_settled`, `pain_after` above the pain
    during the session)."""
    out: list[tuple[dt.date, str]] = []
    for s in plan.history:
        if s.after:
            out += [(a.date, "settled" if a.answer == "soreness" else a.answer) for a in s.after]
        elif (old := older_settle(s)) is not None:
            out.append((s.date + dt.timedelta(days=1), old))
    return sorted(out, key=lambda r: r[0])


def older_settle(s: SessionLog) -> str | None:
    """Older logs: `pain_settled`, else `pain_after` above the pain during the session."""
    if s.pain_settled is not None:
        return "settled" if s.pain_settled else "raised"
    if s.pain_after is not None:
        return "raised" if s.pain_after > (s.pain_during or 0) else "settled"
    return None


def _persisting_pain(plan: PlanFile) -> list[_FlagEvent]:
    """Pain reported raised again 48 h or more after it was first reported raised, with no
    settled report in between: pain that does not improve within 48-72 h (a red flag)."""
    events, first = [], None
    cleared = [c.date for c in plan.clearances] + list(plan.medical_clearance)
    for day, answer in settle_reports(plan):
        if any(first is not None and first <= c <= day for c in cleared):
            first = None  # a clinician has seen it since: counting starts again
        if answer != "raised":
            first = None
        elif first is None:
            first = day
        elif (day - first).days >= 2:
            events.append(_FlagEvent(day, RedFlag.PAIN_NOT_SETTLING, "pain since last session"))
            first = day
    return events


def _flag_events(plan: PlanFile, today: dt.date) -> list[_FlagEvent]:
    events = {(r.date, r.kind): _FlagEvent(r.date, r.kind, r.checkin, r.at)
              for r in plan.red_flag_reports}
    for s in plan.history:
        for k in s.red_flags:
            events.setdefault((s.date, k), _FlagEvent(s.date, k, "session"))
    for e in _persisting_pain(plan):
        events.setdefault((e.date, e.kind), e)
    # Every flag counts, whatever day is asked about: a flag dated after `today` (a session
    # run with an earlier --today, a check-in dated ahead) still pauses.
    return sorted(events.values(),
                  key=lambda e: (e.date, e.at or dt.datetime.min.replace(tzinfo=dt.UTC)))


def _cleared(plan: PlanFile, flag: _FlagEvent, today: dt.date) -> bool:
    if any(flag.date <= c <= today for c in plan.medical_clearance):
        return True
    for c in plan.clearances:
        if c.date > today:
            continue
        if c.date > flag.date or (c.date == flag.date and (
                flag.at is None or c.at is None or c.at > flag.at)):
            return True
    return False


def last_red_flag(plan: PlanFile, today: dt.date) -> dt.date | None:
    """The date of the latest red flag up to today (cleared or not)."""
    events = _flag_events(plan, today)
    return events[-1].date if events else None


def pause_state(plan: PlanFile, today: dt.date) -> Pause | None:
    """FLAG-1: paused while any red flag (reported, or the pain rule's) has no all-clear after
    it; a flag reported today pauses today. The pause dates from the first flag not cleared,
    lists them all, and gives the most urgent advice among them (a later, milder flag never
    hides an urgent one)."""
    open_ = [e for e in _flag_events(plan, today) if not _cleared(plan, e, today)]
    if not open_:
        return None
    kinds = tuple(dict.fromkeys(e.kind for e in open_))
    return Pause(open_[0].date, kinds, open_[0].checkin, advice_for(list(kinds)))
