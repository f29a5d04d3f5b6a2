"""Records and "last time": what the history says a person has done best, and what they did
the last time, per exercise. Pure functions over the plan file, linear in the history.

What counts (the choices, in one place):

- A *working* set is one that is not an assessment (test) set. Test sets are ladders to 2-3
  reps in reserve, deliberately heavier than training: they count for estimated strength only
  (through the planner's own estimate), never as the heaviest working load, most reps or
  session volume. Counting them would make a test day an unbeatable "heaviest" and bring back
  the spike that read as "I got weaker" afterwards.
- The heaviest load and most reps come from sets that say something (`assessment.counted`):
  at least one full rep, not cut short by STOP, a lost link, a safety stop or the unit
  deloading. A record is a clean set.
- Volume is load x full reps over every working set of one session (cut sets included: the
  work was done), as on the Progress screen's weekly volume.
- Estimated strength is the planner's estimate at the end of each session's day (the line on
  the Progress screen, `strength_by_session`), so a record never disagrees with the chart.
- Each record carries the date it was first reached; an equal later value does not move it.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from itertools import accumulate
from typing import Any, Literal

from controller.planning.assessment import counted
from controller.planning.models import PlanFile, SessionLog, SetLog
from controller.planning.plan_history import replay_steps

LB_PER_KG = 2.20462
Unit = Literal["kg", "lb"]
KINDS = ("heaviest", "most_reps", "strength", "volume")


def fmt_load(kg: float, unit: Unit = "kg") -> str:
    """A load as the person reads it: kg, or pounds (1 decimal) when they chose pounds."""
    return f"{kg * LB_PER_KG:.1f} lb" if unit == "lb" else f"{kg:.1f} kg"


def fmt_volume(kg: float, unit: Unit = "kg") -> str:
    return f"{kg * LB_PER_KG:,.0f} lb" if unit == "lb" else f"{kg:,.0f} kg"


def volume(sets: list[SetLog]) -> float:
    """Load x full reps over the working (non-test) sets given."""
    return float(sum(x.load_kg * x.full_reps for x in sets if not x.assessment))


# ---- the planner's estimate, once per exercise -------------------------------------------------


def strength_by_session(plan: PlanFile) -> dict[str, list[float | None]]:
    """Per exercise, the planner's estimated 1RM at the end of each session's day, indexed like
    `plan.history` (what `replay(plan, ex, s.date + 1 day)` gives). One `replay_steps` pass per
    exercise, not one replay per session: linear in the history."""
    # replay(until=d + 1 day) folds the history up to the first session dated after d: that
    # many sessions (a running maximum, so a history out of date order gives the same answer).
    reach = list(accumulate((s.date for s in plan.history), max))
    folded = [bisect_right(reach, s.date) for s in plan.history]
    out: dict[str, list[float | None]] = {}
    for ex in plan.program.exercises:
        # The estimate after the first k sessions, k = 0..len(history), in one pass (the
        # state is yielded updated in place: the number is read at once).
        after = [None, *(st.one_rm for st in replay_steps(plan, ex))]
        out[ex.name] = [after[k] for k in folded]
    return out


# ---- records ---------------------------------------------------------------------------------


def records(plan: PlanFile,
            strength: dict[str, list[float | None]] | None = None) -> dict[str, dict[str, Any]]:
    """Per exercise of the program (program order), its records; None where there is none yet:

    - `heaviest`: {load_kg, reps, date}: the heaviest working load done cleanly, the reps of
      the set that first reached it, the date it was first reached;
    - `most_reps`: {load_kg, reps, date}: the most full reps in one set at that heaviest load;
    - `strength`: {one_rm_kg, date}: the best estimated 1RM (the planner's, 0.1 kg);
    - `volume`: {volume_kg, sets, date}: the most load x reps of working sets in one session.

    `strength` is `strength_by_session(plan)` when the caller already has it (progress())."""
    if strength is None:
        strength = strength_by_session(plan)
    out = {ex.name: dict.fromkeys(KINDS) for ex in plan.program.exercises}
    order = sorted(range(len(plan.history)), key=lambda i: plan.history[i].date)
    for i in order:
        s = plan.history[i]
        by_ex: dict[str, list[SetLog]] = {}
        for x in s.sets:
            by_ex.setdefault(x.exercise, []).append(x)
        for name, sets in by_ex.items():
            if name in out:
                _fold(out[name], s.date.isoformat(), sets, strength[name][i])
    return out


def _fold(rec: dict[str, Any], day: str, sets: list[SetLog], est: float | None) -> None:
    work = [x for x in sets if not x.assessment]
    clean = [x for x in work if counted(x)]
    if clean:
        top = max(x.load_kg for x in clean)
        reps = max(x.full_reps for x in clean if x.load_kg == top)
        best = rec["heaviest"]
        if best is None or top > best["load_kg"]:
            rec["heaviest"] = {"load_kg": top, "reps": reps, "date": day}
            rec["most_reps"] = {"load_kg": top, "reps": reps, "date": day}
        elif top == best["load_kg"] and reps > rec["most_reps"]["reps"]:
            rec["most_reps"] = {"load_kg": top, "reps": reps, "date": day}
    vol = round(volume(work), 1)
    if vol > 0 and (rec["volume"] is None or vol > rec["volume"]["volume_kg"]):
        rec["volume"] = {"volume_kg": vol, "sets": len(work), "date": day}
    if est is not None:
        est = round(est, 1)
        if rec["strength"] is None or est > rec["strength"]["one_rm_kg"]:
            rec["strength"] = {"one_rm_kg": est, "date": day}


def new_records(before: PlanFile, after_log: SessionLog, unit: Unit = "kg") -> list[dict[str, Any]]:
    """The records a just-finished session beat, for the end-of-session summary, in program
    order and heaviest, most reps, strength, volume within an exercise. Each is
    {exercise, kind, new, was, text}: `new`/`was` are the record dicts of `records()`, `text` a
    plain sentence such as "Heaviest seated row: 42.5 kg x 8 (was 40.0 kg)" (loads in `unit`).

    Nothing is said for a first: the first session ever (before has no session with a set)
    returns [], and a record an exercise did not have before (its first working session, its
    first estimate) is not "beaten". A heavier load is said once, as the heaviest (the most
    reps at the new load are its own reps); most reps are said when the heaviest load was
    matched with more reps. The estimate beats the record when it rises by 0.1 kg or more."""
    if not any(s.sets for s in before.history):
        return []
    old = records(before)
    new = records(before.model_copy(update={"history": [*before.history, after_log]}))
    done = {x.exercise for x in after_log.sets}
    out = []
    for ex in before.program.exercises:
        name = ex.name
        if name not in done:
            continue
        o, n = old[name], new[name]
        beat: list[tuple[str, str]] = []
        if o["heaviest"] and n["heaviest"]["load_kg"] > o["heaviest"]["load_kg"]:
            h, was = n["heaviest"], o["heaviest"]["load_kg"]
            beat.append(("heaviest", f"Heaviest {name}: {fmt_load(h['load_kg'], unit)} x "
                                     f"{h['reps']} (was {fmt_load(was, unit)})"))
        elif o["most_reps"] and n["most_reps"]["reps"] > o["most_reps"]["reps"]:
            m = n["most_reps"]
            beat.append(("most_reps", f"Most reps on {name} at {fmt_load(m['load_kg'], unit)}: "
                                      f"{m['reps']} (was {o['most_reps']['reps']})"))
        if o["strength"] and n["strength"]["one_rm_kg"] > o["strength"]["one_rm_kg"]:
            beat.append(("strength", f"Estimated strength on {name}: "
                                     f"{fmt_load(n['strength']['one_rm_kg'], unit)} "
                                     f"(was {fmt_load(o['strength']['one_rm_kg'], unit)})"))
        if o["volume"] and n["volume"]["volume_kg"] > o["volume"]["volume_kg"]:
            beat.append(("volume", f"Most volume in a session on {name}: "
                                   f"{fmt_volume(n['volume']['volume_kg'], unit)} lifted "
                                   f"(was {fmt_volume(o['volume']['volume_kg'], unit)})"))
        out += [{"exercise": name, "kind": kind, "new": n[kind], "was": o[kind], "text": text}
                for kind, text in beat]
    return out


# ---- last time -------------------------------------------------------------------------------


def _best_speed(x: SetLog) -> float | None:
    """The fastest rep's mean concentric velocity (m/s), else the set's own figure."""
    if x.rep_velocities_m_s:
        return max(x.rep_velocities_m_s)
    return x.mean_concentric_m_s


def last_time(plan: PlanFile, exercise: str, before: dt.date | None = None,
              unit: Unit = "kg") -> dict[str, Any] | None:
    """What was done on `exercise` the last time (the latest session holding it, dated before
    `before` if given; None if never): {date, test, sets: [{load_kg, reps, best_m_s}],
    best_m_s, text}. The sets are its working sets; a session that held only test sets of it
    (the first ladder, a reassessment with nothing after it) gives those, with `test` true.
    `best_m_s` is the fastest rep's mean concentric speed (m/s, 2 decimals) or None where the
    unit did not measure it; `text` is a short summary: "12, 11 at 8.0 kg"."""
    last: SessionLog | None = None
    for s in plan.history:
        if before is not None and s.date >= before:
            continue
        if (last is None or s.date >= last.date) and any(x.exercise == exercise for x in s.sets):
            last = s
    if last is None:
        return None
    mine = [x for x in last.sets if x.exercise == exercise]
    work = [x for x in mine if not x.assessment]
    shown = work or mine
    speeds = [v for x in shown if (v := _best_speed(x)) is not None]
    sets = [{"load_kg": x.load_kg, "reps": x.full_reps,
             "best_m_s": None if (v := _best_speed(x)) is None else round(v, 2)} for x in shown]
    return {"date": last.date.isoformat(), "test": not work, "sets": sets,
            "best_m_s": round(max(speeds), 2) if speeds else None,
            "text": _summary(shown, unit) + (" (test sets)" if not work else "")}


def _summary(sets: list[SetLog], unit: Unit) -> str:
    """Reps grouped by load, in the order done: "12, 11 at 8.0 kg; 9 at 8.5 kg"."""
    groups: list[tuple[float, list[int]]] = []
    for x in sets:
        if groups and groups[-1][0] == x.load_kg:
            groups[-1][1].append(x.full_reps)
        else:
            groups.append((x.load_kg, [x.full_reps]))
    return "; ".join(f"{', '.join(map(str, reps))} at {fmt_load(w, unit)}" for w, reps in groups)
