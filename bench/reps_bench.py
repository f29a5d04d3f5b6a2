"""Rep engine accuracy against the simulated lifter's ground truth, and its throughput.

Matrix: sample rate (10/50/100/500 Hz) x noise (none, typical, heavy) x variety (plain sets;
partial reps, pauses at the top/bottom and stalls mid-rep) x lost samples (none, 5%), 21 sets a
cell (1,008 sets). The engine is fed as it is live: batches of 10 samples with the unit's
velocity and tension. Usage: python bench/reps_bench.py [--sets-per-cell N] [--jobs N]
"""

from __future__ import annotations

import argparse
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from controller.reps import RepEngine
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
    throughput()


if __name__ == "__main__":
    main()
