"""Plans, prescriptions and simulated weeks as text (and a chart), for people."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from controller.models import PlanFile
from controller.plan_sim import SimResult
from controller.planner import CLEAR_HINT, Prescription, pause_state, replay
from controller.red_flags import pause_line

ARROW = {"up": "+", "down": "-", "hold": "=", "start": "*", "assess": "?"}
ROUTINE = {"DOSE-1", "PHASE-1", "DP-1", "CAD-1", "START-1", "ASSESS-1", "STEP-1"}


def prescription_text(rx: Prescription) -> str:
    lines = [f"{rx.date} - week {rx.week}, {rx.phase.value}"]
    if rx.status == "paused":
        lines.append(pause_line(next((r.data for r in rx.reasons if r.rule == "FLAG-1"), {})))
        lines.append(rx.advice)
    for r in rx.reasons:
        if r.rule != "PHASE-1":
            lines.append(f"  [{r.rule}] {r.text}")
    for it in rx.items:
        if it.kind == "assessment":
            loads = ", ".join(f"{w:.1f}" for w in it.assessment_loads_kg)
            lines.append(f"\n{it.exercise}: assessment - one set each at {loads} kg, "
                         f"{it.reps[0]}-{it.reps[1]} reps, stop with 2-3 reps in reserve; "
                         f"rest {it.rest_s} s")
        else:
            lines.append(f"\n{it.exercise}: {it.sets} x {it.target_reps} reps "
                         f"(range {it.reps[0]}-{it.reps[1]}) at {it.load_kg:.1f} kg "
                         f"[{it.change}]; rest {it.rest_s} s")
        for r in it.reasons:
            lines.append(f"  [{r.rule}] {r.text}")
        for c in it.cues:
            lines.append(f"  - {c}")
    return "\n".join(lines)


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


def weeks_table(result: SimResult) -> str:
    names = [e.name for e in result.plan.program.exercises]
    head = f"{'wk':>2} {'phase':<12}{'sess':>4}  " + "".join(f"{n[:20]:<24}" for n in names) + \
        f"{'pain':>4}  events"
    lines = [head, "-" * len(head)]
    weeks = sorted({r.week for r in result.rows})
    for w in range(0, max(weeks, default=0) + 1):
        rows = [r for r in result.rows if r.week == w]
        trained = [r for r in rows if r.status == "train"]
        if not rows:
            lines.append(f"{w:>2} {'(no sessions)':<12}{0:>4}")
            continue
        last = trained[-1] if trained else None
        cells = ""
        for n in names:
            if last is None or n not in last.loads:
                cells += f"{'-':<24}"
                continue
            moves = "".join(ARROW[r.changes[n]] for r in trained)
            est = last.one_rm_est.get(n)
            est_txt = f"~{est:.0f}" if est else ""
            cells += f"{last.loads[n]:5.1f}x{last.reps[n]:<2} {moves:<6}{est_txt:<6}"[:23].ljust(24)
        pains = [r.pain for r in trained if r.pain is not None]
        events = sorted({rule for r in trained for rules in r.rules.values() for rule in rules
                         if rule not in ROUTINE})
        if any(r.status == "paused" for r in rows):
            events.insert(0, "PAUSED")
        lines.append(f"{w:>2} {rows[0].phase:<12}{len(trained):>4}  {cells}"
                     f"{max(pains) if pains else '-':>4}  {' '.join(events)}")
    lines.append("\ncells: load x fewest reps of the week's last session, one mark per session "
                 "(+ up, = hold, - down, * start, ? assessment), ~ estimated 1RM")
    return "\n".join(lines)


def events_text(result: SimResult) -> str:
    """The decisions that were not routine, each with its reason."""
    lines = []
    for row in result.rows:
        rx = row.prescription
        if row.status == "paused":
            lines.append(f"{row.date} paused: " + "; ".join(
                r.text for r in rx.reasons if r.rule == "FLAG-1"))
            continue
        for it in rx.items:
            for r in it.reasons:
                if r.rule not in ROUTINE or (r.rule == "DP-2" and it.change == "up"):
                    lines.append(f"{row.date} {it.exercise}: [{r.rule}] {r.text}")
    return "\n".join(lines)


def plot(result: SimResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [e.name for e in result.plan.program.exercises]
    fig, ax = plt.subplots(figsize=(10, 5))
    trained = [r for r in result.rows if r.status == "train"]
    for n in names:
        pts = [(r.date, r.loads[n]) for r in trained if n in r.loads]
        ax.step([d for d, _ in pts], [w for _, w in pts], where="post", label=n)
    ax.set_ylabel("load per cable (kg)")
    ax2 = ax.twinx()
    ax2.bar([r.date for r in trained], [r.pain or 0 for r in trained], color="tab:red",
            alpha=0.25, width=1.5, label="pain during (0-10)")
    ax2.set_ylim(0, 10)
    ax2.set_ylabel("pain (0-10)")
    for r in result.rows:
        if r.status == "paused":
            ax.axvline(r.date, color="black", linestyle=":", linewidth=1)
    p = result.plan.profile
    ax.set_title(f"{p.kind.value} profile: load per exercise, pain, pauses (dotted)")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
