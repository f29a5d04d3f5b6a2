"""Rep engine accuracy against ground truth, and its throughput.

1. The unit's telemetry: sample rate (10/50/100/500 Hz) x noise (none, typical, heavy) x
   variety (plain sets; partial reps, pauses at the top/bottom and stalls mid-rep) x lost
   samples (none, 5%), 21 sets a cell (1,008 sets). The engine is fed as it is live: batches of
   10 samples with the unit's velocity and tension.
2. Realistic recordings (sim.recordings): free-weight sets with the bar lifted from the floor,
   unracked, walked out, racked or put down around them, pauses, grinding reps, 30-200 Hz, lost
   samples, metres or mm, the axis up or down; counted as `halfstep reps FILE` counts them
   (controller.analysis.rep_file), told nothing but the position.

Usage: python bench/reps_bench.py [--sets-per-cell N] [--recordings N] [--jobs N]
"""

from __future__ import annotations

import argparse
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from controller.analysis import rep_file
from controller.analysis.reps import RepEngine
from sim.recordings import RecordingSpec, generate
from sim.traces import TraceSpec, simulate_set

RATES = (10, 50, 100, 500)
NOISE = {"none": (0.0, 0.0), "typical": (1.0, 0.01), "heavy": (3.0, 0.03)}
VARIETY = {"plain": dict(partial_prob=0.0, pause_prob=0.0, midpause_prob=0.0),
           "varied": dict(partial_prob=0.12, pause_prob=0.3, midpause_prob=0.1)}
DROPS = (0.0, 0.05)


@dataclass
class SetResult:
    exact: bool
    boundary_s: list[float]
    mcv_err: list[float]
    tp: int
    fp: int
    fn: int


def run_set(args: tuple[int, TraceSpec]) -> SetResult:
    seed, spec = args
    trace = simulate_set(seed, spec)
    e = RepEngine()
    for i in range(0, len(trace.t_s), 10):
        sl = slice(i, i + 10)
        e.feed(trace.t_s[sl], trace.position_mm[sl], trace.velocity_m_s[sl], trace.tension_n[sl])
    e.finish()
    boundary, mcv = [], []
    tp = fp = 0
    matched_truth = set()
    for r in e.reps:
        j = min(range(len(trace.truth)), key=lambda k: abs(trace.truth[k].start_s - r.start_s))
        t = trace.truth[j]
        if abs(t.start_s - r.start_s) > 0.5:
            fp += r.kind == "partial"
            continue
        matched_truth.add(j)
        boundary += [abs(r.start_s - t.start_s), abs(r.turn_s - t.turn_s),
                     abs(r.end_s - t.end_s)]
        if r.kind == "full" and t.kind == "full":
            mcv.append(abs(r.mean_concentric_m_s - t.mean_concentric_m_s))
        if r.kind == "partial":
            tp += t.kind == "partial"
            fp += t.kind != "partial"
    fn = sum(1 for k, t in enumerate(trace.truth) if t.kind == "partial" and not any(
        r.kind == "partial" and abs(trace.truth[k].start_s - r.start_s) <= 0.5
        for r in e.reps))
    return SetResult(e.full_reps == trace.true_full, boundary, mcv, tp, fp, fn)


def summarise(results: list[SetResult]) -> dict[str, float]:
    b = np.array([x for r in results for x in r.boundary_s]) * 1000
    m = np.array([x for r in results for x in r.mcv_err])
    tp, fp, fn = (sum(getattr(r, k) for r in results) for k in ("tp", "fp", "fn"))
    return {
        "sets": len(results),
        "exact": np.mean([r.exact for r in results]),
        "b_med": float(np.median(b)) if len(b) else float("nan"),
        "b_p95": float(np.percentile(b, 95)) if len(b) else float("nan"),
        "mcv": float(np.mean(m)) if len(m) else float("nan"),
        "prec": tp / (tp + fp) if tp + fp else float("nan"),
        "rec": tp / (tp + fn) if tp + fn else float("nan"),
    }


@dataclass
class RecordingResult:
    exact: bool
    periods: list[float]  # |boundary error| / sample period, for matched reps
    grind_start: list[float]  # the same for the start of a grinding final rep
    nonmonotone: int  # reps ending after the next starts, or out of order inside
    unit_ok: bool
    axis_ok: bool
    rate_hz: float
    lift: str
    around: str


def run_recording(seed: int, bare: float = 0.0) -> RecordingResult:
    rec = generate(seed, RecordingSpec.random(seed, bare=bare))
    got = rep_file.count(rec.t_s, rec.position)
    kept = [r for r in got.reps if r.kind != "ignored"]
    periods: list[float] = []
    grind: list[float] = []
    for k, truth in enumerate(rec.truth):
        near = min(kept, key=lambda r: abs(r.start_s - truth.start_s), default=None)
        if near is None or abs(near.start_s - truth.start_s) > 0.5:
            continue
        if rec.spec.grind and k == len(rec.truth) - 1:
            grind.append(abs(near.start_s - truth.start_s) / rec.period_s)
        periods += [abs(near.start_s - truth.start_s) / rec.period_s,
                    abs(near.turn_s - truth.turn_s) / rec.period_s,
                    abs(near.end_s - truth.end_s) / rec.period_s]
    bad = sum(a.end_s > b.start_s for a, b in itertools.pairwise(kept)) + sum(
        not r.start_s <= r.turn_s <= r.end_s for r in kept)
    full = sum(r.kind == "full" for r in got.reps)
    spec = rec.spec
    return RecordingResult(full == rec.true_full, periods, grind, bad, got.unit == spec.unit,
                           got.axis == ("down" if spec.axis_down else "up"), spec.rate_hz,
                           spec.lift, f"{spec.before}/{spec.after}")


def recordings(n: int, jobs: int) -> None:
    started = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        res = list(pool.map(run_recording, range(n), chunksize=16))
    periods = np.array([p for r in res for p in r.periods])
    print(f"\nrealistic recordings: {n} sets, each with movements before and after it, counted "
          f"from the position column alone ({time.perf_counter() - started:.0f} s)")
    head = f"{'':<22}{'sets':>6}{'exact':>8}{'bnd median':>12}{'bnd p90':>9}{'non-mono':>9}"
    print(head + "   (boundaries in sample periods)")
    print("-" * len(head))

    def row(name: str, rs: list[RecordingResult]) -> None:
        pp = np.array([p for r in rs for p in r.periods])
        print(f"{name:<22}{len(rs):>6}{np.mean([r.exact for r in rs]):>8.1%}"
              f"{np.median(pp):>12.2f}{np.percentile(pp, 90):>9.2f}"
              f"{sum(r.nonmonotone for r in rs):>9}")

    for lift in sorted({r.lift for r in res}):
        sub = [r for r in res if r.lift == lift]
        row(f"{lift} ({sub[0].around})", sub)
    for lo, hi in ((30, 60), (61, 120), (121, 200)):
        row(f"{lo}-{hi} Hz", [r for r in res if lo <= r.rate_hz <= hi])
    exact = np.mean([r.exact for r in res])
    print(f"\nall {n} recordings: exact count {exact:.2%} (target >= 99%); boundary median "
          f"{np.median(periods):.2f} sample periods (target <= 1); non-monotone boundaries "
          f"{sum(r.nonmonotone for r in res)} (target 0); unit right "
          f"{np.mean([r.unit_ok for r in res]):.1%}, axis right "
          f"{np.mean([r.axis_ok for r in res]):.1%}")
    grind = [g for r in res for g in r.grind_start]
    print(f"grinding final reps ({len(grind)}): start median {np.median(grind):.2f} sample "
          f"periods, p90 {np.percentile(grind, 90):.2f}")
    with ProcessPoolExecutor(jobs) as pool:  # and ones that start or end with the set itself
        bare = list(pool.map(run_recording, range(n, n + n // 3), [0.5] * (n // 3),
                             chunksize=16))
    pp = np.array([p for r in bare for p in r.periods])
    print(f"{len(bare)} more, half of them starting or ending with the set itself (a recording "
          f"that stops at the top of the last rep): exact {np.mean([r.exact for r in bare]):.2%}, "
          f"boundary median {np.median(pp):.2f} periods, non-monotone "
          f"{sum(r.nonmonotone for r in bare)}, axis right "
          f"{np.mean([r.axis_ok for r in bare]):.1%}")


def throughput() -> None:
    trace = simulate_set(1, TraceSpec(rate_hz=1000, reps=12))
    t, p, v, f = trace.t_s, trace.position_mm, trace.velocity_m_s, trace.tension_n
    print("\nthroughput, streaming, one core (best of 5; a 1,000 Hz set of "
          f"{len(t):,} samples):")
    for batch, with_v in itertools.product((10, 16, 100, 1000), (True, False)):
        best = 0.0
        for _ in range(5):
            e = RepEngine()
            start = time.perf_counter()
            for i in range(0, len(t), batch):
                sl = slice(i, i + batch)
                e.feed(t[sl], p[sl], v[sl] if with_v else None, f[sl])
            best = max(best, len(t) / (time.perf_counter() - start))
        src = "unit's velocity" if with_v else "position only  "
        print(f"  batches of {batch:4d}, {src}: {best:12,.0f} samples/s "
              f"({best / 1000:8,.0f}x a 1,000 Hz unit)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets-per-cell", type=int, default=21)
    ap.add_argument("--recordings", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    cells = list(itertools.product(RATES, NOISE, VARIETY, DROPS))
    jobs, keys = [], []
    for rate, noise, variety, drop in cells:
        mm, ms = NOISE[noise]
        spec = TraceSpec(rate_hz=rate, noise_mm=mm, velocity_noise_m_s=ms, drop=drop,
                         **VARIETY[variety])
        for k in range(args.sets_per_cell):
            jobs.append((1000 * len(keys) + k, spec))
            keys.append((rate, noise, variety, drop))
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_set, jobs, chunksize=8))
    by_cell: dict[tuple, list[SetResult]] = {}
    for key, res in zip(keys, results, strict=True):
        by_cell.setdefault(key, []).append(res)
    print(f"rep engine accuracy: {len(results)} simulated sets in {len(cells)} cells "
          f"({time.perf_counter() - started:.0f} s)")
    head = (f"{'Hz':>4} {'noise':<8}{'variety':<8}{'drop':>5} {'exact':>7} {'bnd med ms':>10} "
            f"{'bnd p95 ms':>10} {'MCV err':>8} {'part. P':>8} {'part. R':>8}")
    print(head)
    print("-" * len(head))
    for key in cells:
        s = summarise(by_cell[key])
        rate, noise, variety, drop = key
        print(f"{rate:>4} {noise:<8}{variety:<8}{drop:>5.0%} {s['exact']:>7.1%} "
              f"{s['b_med']:>10.1f} {s['b_p95']:>10.1f} {s['mcv']:>8.4f} "
              f"{s['prec']:>8.3f} {s['rec']:>8.3f}")
    print("\nby sample rate (all noise, variety and loss):")
    for rate in RATES:
        s = summarise([r for k, v in by_cell.items() if k[0] == rate for r in v])
        print(f"  {rate:>4} Hz: exact {s['exact']:.1%}, boundary median {s['b_med']:.1f} ms "
              f"(one sample = {1000 / rate:.0f} ms), p95 {s['b_p95']:.1f} ms, "
              f"MCV error {s['mcv']:.4f} m/s")
    s = summarise(results)
    hi = summarise([r for k, v in by_cell.items() if k[0] >= 50 for r in v])
    print(f"\nall {s['sets']} sets: exact count {s['exact']:.2%} (target >= 99.5%); "
          f"boundary median {s['b_med']:.1f} ms, p95 {s['b_p95']:.1f} ms; "
          f"MCV error at >= 50 Hz {hi['mcv']:.4f} m/s (target <= 0.02); partial precision "
          f"{s['prec']:.3f}, recall {s['rec']:.3f} (targets >= 0.95)")
    recordings(args.recordings, args.jobs)
    throughput()


if __name__ == "__main__":
    main()
