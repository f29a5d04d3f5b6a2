"""Plans and prescriptions as text, for people (plain words; rule ids with --explain)."""

from __future__ import annotations

import datetime as dt

from controller.planning.models import PlanFile
from controller.planning.planner import CLEAR_HINT, Prescription, Reason, pause_state, replay
from controller.planning.red_flags import pause_line


def prescription_text(rx: Prescription, explain: bool = False) -> str:
    """Today's plan in plain words; `explain` adds the rule ids and numbers (support)."""
    lines = [f"{rx.date} - week {rx.week} of training, {rx.phase.value}"]
    if rx.status == "paused":
        lines.append(pause_line(next((r.data for r in rx.reasons if r.rule == "FLAG-1"), {})))
        lines.append(rx.advice)
    for r in rx.reasons:
        if r.rule != "FLAG-1" or explain:
            lines.append(_reason(r, explain))
    for it in rx.items:
        if it.kind == "assessment":
            lines.append(f"\n{it.exercise}: finding your level - sets getting heavier from "
                         f"{it.load_kg:.1f} kg (at most {it.sets}), each stopped with 2-3 reps "
                         f"left, at most 10 reps; rest {it.rest_s} s")
        else:
            lines.append(f"\n{it.exercise}: {it.sets} x {it.target_reps} reps at "
                         f"{it.load_kg:.1f} kg" + (f" (range {it.reps[0]}-{it.reps[1]}) "
                                                   f"[{it.change}]" if explain else "")
                         + f"; rest {it.rest_s} s")
        for r in it.reasons:
            if r.plain or explain:
                lines.append(_reason(r, explain))
        for c in it.cues:
            lines.append(f"  - {c}")
    return "\n".join(lines)


def _reason(r: Reason, explain: bool) -> str:
    if explain:
        return f"  [{r.rule}] {r.text}" + (f" {r.data}" if r.data else "")
    return f"  {r.plain or r.text}"


def plan_text(plan: PlanFile, today: dt.date | None = None) -> str:
    p, prog = plan.profile, plan.program
    today = today or dt.date.today()
    lines = [f"{p.name}: {p.kind.value} profile, {p.sessions_per_week} sessions a week"
             + (f", painful: {', '.join(p.painful_regions)}" if p.painful_regions else ""),
             f"program from {prog.start_date}; unit maximum {prog.unit_max_kg:.1f} kg",
             "phases: " + ", ".join(
                 f"{s.phase.value} weeks {s.first_week}-"
                 f"{s.last_week if s.last_week is not None else ''}" for s in prog.phases),
             f"sessions logged: {len(plan.history)}"
             + (f", last {plan.history[-1].date}" if plan.history else "")]
    pause = pause_state(plan, max([today, *(s.date for s in plan.history)]))
    if pause is not None:
        lines.insert(0, f"{pause_line(pause.as_dict())} {pause.advice} {CLEAR_HINT}")
    for c in plan.clearances:
        lines.append(f"all-clear on {c.date} by {c.by}")
    far_future = prog.start_date.replace(year=prog.start_date.year + 100)
    for ex in prog.exercises:
        st = replay(plan, ex, far_future)
        est = f"{st.one_rm:.1f} kg" if st.one_rm is not None else "not assessed"
        load = f"{st.load:.1f} kg x {st.reps}" if st.load is not None else "-"
        lines.append(f"  {ex.name} ({ex.region}, {'multi-joint' if ex.multi_joint else 'isolated'}"
                     f"): estimated 1RM {est}; last working load {load}")
    return "\n".join(lines)
