"""The trial bench: simulated people train through the real session runner
(controller/simulated/trial.py),
and the plan is measured against their true strength (issue 14's figures).

    python bench/trial_bench.py [--persons 20] [--long 8] [--jobs N]

Scenarios: clean (12 weeks, every profile; the first `--long` athletes carry on to 24 weeks,
for the late rise) and one with a pain flare in week 3 and a 3-week gap from week 6 (12 weeks,
every profile). Prints every profile's figures,
then each target with its measured value, and the time the whole bench took.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.planning.dose import BAND
from controller.planning.models import ProfileKind
from controller.simulated.trial import Scenario, run_people
from controller.simulated.trial_report import report_text, summarise

CLEAN = Scenario(weeks=12)
LONG = Scenario(weeks=24)
GAP = Scenario(weeks=12, flare_week=2, gap_start_week=5, gap_weeks=3)  # 0-based weeks
MAX_FRACTION = {"athlete": 0.90, "pain": 0.85, "older": 0.85}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=20)
    ap.add_argument("--long", type=int, default=8,
                    help="athletes (of --persons) who train on to week 24")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    work = ([("athlete", i, a.seed, LONG if i < a.long else CLEAN) for i in range(a.persons)]
            + [(k, i, a.seed, CLEAN) for k in ("pain", "older") for i in range(a.persons)]
            + [(k, i, a.seed + 1, GAP) for k in ("athlete", "pain", "older")
               for i in range(a.persons)])
    started = time.monotonic()
    results = run_people(work, a.jobs)
    took = time.monotonic() - started
    clean = [r for r, w in zip(results, work, strict=True) if w[3] is not GAP]
    gap = [r for r, w in zip(results, work, strict=True) if w[3] is GAP]
    # Everyone's first 12 weeks for the 12-week figures; the long athletes for weeks 13-24.
    s_clean = summarise([replace(r, rows=[x for x in r.rows if x.week < CLEAN.weeks])
                         for r in clean], CLEAN)
    s_long = summarise([r for r, w in zip(results, work, strict=True) if w[3] is LONG], LONG)
    for s in s_clean:
        if s.profile == "athlete" and s_long:
            s.late_rise = s_long[0].late_rise
            s.highest_fraction = max(s.highest_fraction, s_long[0].highest_fraction)
    s_gap = summarise(gap, GAP)
    print(f"clean scenario ({a.persons} people per profile, 12 weeks; {a.long} of the athletes "
          "on to 24 weeks)")
    print(report_text(s_clean, CLEAN))
    if s_long:
        print(f"  the {a.long} athletes over 24 weeks:")
        print("\n".join("  " + x for x in report_text(s_long, LONG).splitlines()))
    print(f"\nflare in week {GAP.flare_week + 1}, {GAP.gap_weeks}-week gap from week "
          f"{GAP.gap_start_week + 1} (12 weeks)")
    print(report_text(s_gap, GAP))
    checks = []
    for s in s_clean + s_gap:
        e = s.error_after_assessment
        checks.append((f"{s.profile}: estimate after the assessment, median |error| <= 15%",
                       e["median_abs"], e["median_abs"] is not None and e["median_abs"] <= 0.15))
        checks.append((f"{s.profile}: estimate after the assessment, p90 |error| <= 25%",
                       e["p90_abs"], e["p90_abs"] is not None and e["p90_abs"] <= 0.25))
        lim = MAX_FRACTION[s.profile]
        checks.append((f"{s.profile}: no set above {lim:.0%} of true 1RM", s.highest_fraction,
                       s.highest_fraction <= lim))
    for s in s_clean:
        lo, hi = BAND[ProfileKind(s.profile)]
        checks.append((f"{s.profile}: clean, weeks 9-12 median working load in {lo:.0%}-"
                       f"{hi:.0%} of true 1RM", s.late_fraction,
                       s.late_fraction is not None and lo <= s.late_fraction <= hi))
        if s.profile == "athlete":
            checks.append(("athlete: loads still rise in weeks 13-24 (x weeks 21-24 / 13-16)",
                           s.late_rise, s.late_rise is not None and s.late_rise > 1.0))
    for s in s_gap:
        g = s.gap
        checks.append((f"{s.profile}: after the gap, back to the pre-gap load within 4 weeks "
                       "(share of exercises)", g["back_within_4_weeks"],
                       (g["back_within_4_weeks"] or 0) >= 0.9))
        checks.append((f"{s.profile}: after the gap, no rise in pain (mean after - before)",
                       None if g["pain_after_mean"] is None else
                       g["pain_after_mean"] - g["pain_before_mean"],
                       g["pain_after_mean"] is not None
                       and g["pain_after_mean"] <= g["pain_before_mean"] + 0.25))
    sessions = sum(s.sessions for s in s_clean + s_gap)
    checks.append((f"whole bench <= 600 s on {a.jobs} processes", took, took <= 600))
    print("\ntargets")
    for text, value, ok in checks:
        shown = "-" if value is None else (f"{value:.0f} s" if "bench" in text else
                                           f"{value:.3f}" if "x weeks" in text or "mean" in text
                                           else f"{value:.1%}")
        print(f"  {'PASS' if ok else 'FAIL'}  {text}: {shown}")
    print(f"\n{sessions} sessions through the session runner in {took:.0f} s "
          f"({took / max(sessions, 1) * (a.jobs or 1):.2f} s of one core a session, "
          f"{a.jobs} processes; {took / 600:.2f} of the 10-minute budget)")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
