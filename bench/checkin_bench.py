"""What a check-in costs the control loop: every answer is one SQLite row, and every change to
the plan (a 24-48 h answer, a red flag, the session's end) saves the plan file and makes the
prescription again, on the session's loop, between sets. Printed against the heartbeat period
(100 ms) and the "degraded" telemetry bound (300 ms), for histories of growing length.

    python bench/checkin_bench.py
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.core.history import History
from controller.core.plan_file import save_plan
from controller.planning.models import ProfileKind, SessionLog, SetLog
from controller.planning.plan_updates import record_after
from controller.planning.planner import next_session
from controller.simulated.trial import default_plan

HEARTBEAT_MS, DEGRADED_MS = 100.0, 300.0


def plan_with(n: int):
    start = dt.date(2020, 1, 6)
    plan = default_plan(ProfileKind.PAIN, start)
    names = [e.name for e in plan.program.exercises]
    history = [SessionLog(date=start, sets=[
        SetLog(exercise=n_, load_kg=w, full_reps=r, rir=2, assessment=True)
        for n_ in names for w, r in ((10.0, 8), (12.5, 6), (15.0, 4))])]
    for i in range(1, n):
        history.append(SessionLog(date=start + dt.timedelta(days=3 * i), pain_during=2, sets=[
            SetLog(exercise=n_, load_kg=7.0, full_reps=12, rir=2) for n_ in names
            for _ in range(3)]))
    return plan.model_copy(update={"history": history})


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    with TemporaryDirectory() as d:
        with History(Path(d) / "h.sqlite") as h:
            sid = h.start_session(dt.date(2026, 1, 1), profile="pain", device_serial=None,
                                  firmware=None)
            rows = timed(lambda: h.record_answer(sid, "rir:seated row:1", 2), 200)
        print(f"one answer (SQLite row, synchronous=FULL): p50 {statistics.median(rows):.2f} ms,"
              f" max {max(rows):.2f} ms ({max(rows) / HEARTBEAT_MS:.2f} of a heartbeat period)")
        for n in (10, 100, 1000):
            plan = plan_with(n)
            today = plan.history[-1].date + dt.timedelta(days=3)
            path = Path(d) / f"plan-{n}.json"

            def change(plan=plan, today=today, path=path) -> None:  # SessionRunner._replace_plan
                p = record_after(plan, "settled", today, "pre-session")
                save_plan(p, path)
                next_session(p, today)

            ms = timed(change, 5 if n >= 1000 else 20)
            print(f"plan change with {n:>4} sessions of history (save + prescription): "
                  f"p50 {statistics.median(ms):7.1f} ms, max {max(ms):7.1f} ms "
                  f"({max(ms) / HEARTBEAT_MS:.2f} heartbeat periods, "
                  f"{max(ms) / DEGRADED_MS:.2f} of the degraded bound)")


if __name__ == "__main__":
    main()
