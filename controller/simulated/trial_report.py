"""What a trial shows, per profile, against each simulated person's true strength.

Figures: the estimate's error after the first assessment and at the end, the working load as a
fraction of true 1RM by phase and by week, how soon the profile's band is reached and how much
of the training is inside it, the heaviest set of all, pain over time, red flags and pauses,
and (with a gap) how soon the pre-gap load is back and whether pain rose.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from controller.planning.dose import BAND
from controller.planning.models import ProfileKind
from controller.simulated.trial import PersonResult, Scenario, SessionRow


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _med(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def working_fraction(row: SessionRow) -> float | None:
    """The session's working load over true 1RM, median across its exercises."""
    fr = [it.planned_kg / it.true_1rm for it in row.items.values() if it.kind == "work"]
    return _med(fr)


@dataclass
class ProfileSummary:
    profile: str
    persons: int
    sessions: int
    error_after_assessment: dict[str, float | None] = field(default_factory=dict)
    error_at_end: dict[str, float | None] = field(default_factory=dict)
    fraction_by_phase: dict[str, float | None] = field(default_factory=dict)
    fraction_by_week: dict[int, float | None] = field(default_factory=dict)
    weeks_to_band: float | None = None
    share_in_band: float | None = None  # working sessions from week 5 on
    late_fraction: float | None = None  # weeks 9-12, median working load / true 1RM
    highest_fraction: float = 0.0
    pain_by_block: dict[str, float | None] = field(default_factory=dict)
    red_flags: int = 0
    paused_days: int = 0
    rest_days: int = 0  # sessions not run because the last one was too recent
    gap: dict[str, Any] = field(default_factory=dict)
    late_rise: float | None = None  # weeks 21-24 over weeks 13-16 (24-week runs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _errors(pairs: list[tuple[float, float]]) -> dict[str, float | None]:
    signed = [(e - t) / t for e, t in pairs]
    absolute = [abs(x) for x in signed]
    return {"n": len(signed), "median_abs": _med(absolute), "p90_abs": _pct(absolute, 90),
            "p10": _pct(signed, 10), "median": _med(signed), "p90": _pct(signed, 90)}


def summarise(results: list[PersonResult], sc: Scenario) -> list[ProfileSummary]:
    out = []
    for kind in dict.fromkeys(r.kind for r in results):
        people = [r for r in results if r.kind == kind]
        lo, hi = BAND[ProfileKind(kind)]
        s = ProfileSummary(kind, len(people), sum(
            1 for r in people for row in r.rows if row.items))
        first, end = [], []
        by_phase: dict[str, list[float]] = {}
        by_week: dict[int, list[float]] = {}
        reach, inside, late, pains = [], [], [], {}
        for r in people:
            seen: set[str] = set()
            last_est: dict[str, tuple[float, float]] = {}
            reached = None
            for row in r.rows:
                s.paused_days += row.status == "paused"
                s.rest_days += row.status == "rest"
                s.red_flags += row.red_flag is not None
                s.highest_fraction = max(s.highest_fraction, row.max_fraction)
                for name, it in row.items.items():
                    if it.kind == "assessment" and name not in seen and it.estimate_after:
                        first.append((it.estimate_after, it.true_1rm))
                        seen.add(name)
                    if it.estimate_after:
                        last_est[name] = (it.estimate_after, it.true_1rm)
                if row.pain is not None:
                    pains.setdefault(f"weeks {row.week // 4 * 4 + 1}-{row.week // 4 * 4 + 4}",
                                     []).append(row.pain)
                wf = working_fraction(row)
                if wf is None:
                    continue
                by_phase.setdefault(row.phase, []).append(wf)
                by_week.setdefault(row.week + 1, []).append(wf)
                if reached is None and wf >= lo:
                    reached = row.week + 1
                if row.week >= 4:
                    inside.append(lo <= wf <= hi)
                if 8 <= row.week <= 11:
                    late.append(wf)
            end += list(last_est.values())
            if reached is not None:
                reach.append(reached)
        s.error_after_assessment = _errors(first)
        s.error_at_end = _errors(end)
        s.fraction_by_phase = {k: _med(v) for k, v in by_phase.items()}
        s.fraction_by_week = {k: _med(v) for k, v in sorted(by_week.items())}
        s.weeks_to_band = _med(reach) if reach else None
        s.share_in_band = sum(inside) / len(inside) if inside else None
        s.late_fraction = _med(late)
        s.pain_by_block = {k: _med(v) for k, v in pains.items()}
        if sc.gap_weeks:
            s.gap = _gap(people, sc)
        if sc.weeks >= 24:
            s.late_rise = _late_rise(people)
        out.append(s)
    return out


def _late_rise(people: list[PersonResult]) -> float | None:
    """Working load (kg) in weeks 21-24 over weeks 13-16, median over people and exercises."""
    ratios = []
    for r in people:
        for name in r.rows[0].items if r.rows else {}:
            a = [row.items[name].planned_kg for row in r.rows if 12 <= row.week <= 15
                 and name in row.items and row.items[name].kind == "work"]
            b = [row.items[name].planned_kg for row in r.rows if 20 <= row.week <= 23
                 and name in row.items and row.items[name].kind == "work"]
            if a and b:
                ratios.append(statistics.median(b) / statistics.median(a))
    return _med(ratios)


def _gap(people: list[PersonResult], sc: Scenario) -> dict[str, Any]:
    """How soon each exercise's last pre-gap working load is prescribed again, and pain in the
    4 weeks before the gap against the 4 weeks after."""
    back_weeks, within, before, after = [], [], [], []
    end = sc.gap_start_week + sc.gap_weeks
    for r in people:
        for row in r.rows:
            if row.pain is None or not row.items:
                continue
            if row.week == sc.flare_week and sc.flare_week:
                continue  # the flare is not the training's doing
            if sc.gap_start_week - 4 <= row.week < sc.gap_start_week:
                before.append(row.pain)
            elif end <= row.week < end + 4:
                after.append(row.pain)
        names = {n for row in r.rows for n in row.items}
        for name in names:
            pre = [row.items[name].planned_kg for row in r.rows if row.week < sc.gap_start_week
                   and name in row.items and row.items[name].kind == "work"]
            if not pre:
                continue
            back = next((row.week for row in r.rows if row.week >= end and name in row.items
                         and row.items[name].kind == "work"
                         and row.items[name].planned_kg >= pre[-1] - 0.5), None)
            weeks = None if back is None else back - end + 1
            within.append(weeks is not None and weeks <= 4)
            if weeks is not None:
                back_weeks.append(weeks)
    return {"weeks_back_median": _med(back_weeks),
            "back_within_4_weeks": sum(within) / len(within) if within else None,
            "pain_before_median": _med(before), "pain_after_median": _med(after),
            "pain_before_mean": statistics.fmean(before) if before else None,
            "pain_after_mean": statistics.fmean(after) if after else None}


def _f(x: float | None, fmt: str = "{:.0%}") -> str:
    return "-" if x is None else fmt.format(x)


def report_text(summaries: list[ProfileSummary], sc: Scenario) -> str:
    lines = []
    for s in summaries:
        lo, hi = BAND[ProfileKind(s.profile)]
        e, z = s.error_after_assessment, s.error_at_end
        lines += [
            f"{s.profile}: {s.persons} people, {s.sessions} sessions, band {lo:.0%}-{hi:.0%} "
            "of true 1RM",
            f"  estimate after the assessment: median |error| {_f(e['median_abs'])}, p90 "
            f"{_f(e['p90_abs'])} (signed p10 {_f(e['p10'], '{:+.0%}')}, median "
            f"{_f(e['median'], '{:+.0%}')}, p90 {_f(e['p90'], '{:+.0%}')}; n={e['n']})",
            f"  estimate at the end: median |error| {_f(z['median_abs'])}, p90 "
            f"{_f(z['p90_abs'])} (signed median {_f(z['median'], '{:+.0%}')})",
            "  working load / true 1RM by phase: " + ", ".join(
                f"{k} {_f(v)}" for k, v in s.fraction_by_phase.items()),
            "  by week: " + " ".join(f"{w}:{_f(v)}" for w, v in s.fraction_by_week.items()),
            f"  weeks 9-12 median {_f(s.late_fraction)}; band reached in week "
            f"{_f(s.weeks_to_band, '{:.0f}')} (median); working sessions in the band from "
            f"week 5: {_f(s.share_in_band)}",
            f"  heaviest set of all: {_f(s.highest_fraction)} of true 1RM",
            "  pain (median) " + ", ".join(f"{k}: {_f(v, '{:.1f}')}"
                                           for k, v in s.pain_by_block.items()),
            f"  red flags {s.red_flags}, paused session days {s.paused_days}, rested (too soon) "
            f"{s.rest_days}"]
        if s.gap:
            g = s.gap
            lines.append(f"  after the {sc.gap_weeks}-week gap: pre-gap load back in "
                         f"{_f(g['weeks_back_median'], '{:.1f}')} weeks (median), within 4 "
                         f"weeks for {_f(g['back_within_4_weeks'])}; pain 4 weeks before "
                         f"{_f(g['pain_before_mean'], '{:.2f}')}, after "
                         f"{_f(g['pain_after_mean'], '{:.2f}')} (means)")
        if s.late_rise is not None:
            lines.append(f"  weeks 21-24 load over weeks 13-16: x{s.late_rise:.3f}")
    return "\n".join(lines)


def plot(summaries: list[ProfileSummary], path: Any, fmt: str | None = None) -> None:
    """Working load as a fraction of true 1RM by week, per profile, with each band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    for i, s in enumerate(summaries):
        weeks = [w for w, v in s.fraction_by_week.items() if v is not None]
        color = f"C{i}"
        ax.plot(weeks, [100 * s.fraction_by_week[w] for w in weeks], "o-", color=color,
                label=f"{s.profile} (median of {s.persons})")
        lo, hi = BAND[ProfileKind(s.profile)]
        ax.axhspan(100 * lo, 100 * hi, color=color, alpha=0.08)
    ax.set_xlabel("week")
    ax.set_ylabel("working load, % of true 1RM")
    ax.set_title("Trial: working load against true strength (shaded: each profile's band)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100, format=fmt)
    plt.close(fig)
