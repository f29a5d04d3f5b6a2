"""`halfstep reps FILE.csv` on traces written the way other tools write them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from sim.traces import TraceSpec, simulate_set
from tests.procs import run


@pytest.fixture(scope="module")
def trace():
    return simulate_set(5, TraceSpec(rate_hz=50, noise_mm=1.0, partial_prob=0.25, reps=8))


def write(path, header, *cols, delimiter=","):
    np.savetxt(path, np.column_stack(cols), delimiter=delimiter, header=delimiter.join(header),
               comments="", fmt="%.6f")
    return str(path)


def test_counts_a_trace_in_metres_with_named_columns(tmp_path, trace):
    f = write(tmp_path / "bar.csv", ["Time", "Bar height (m)", "Load cell"], trace.t_s,
              trace.position_mm / 1000, trace.tension_n)
    res = run("reps", f, "--position", "Bar height (m)", "--scale", "1000", "--tension",
              "load cell", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["summary"]["reps"] == trace.true_full
    assert out["summary"]["partial_reps"] == sum(t.kind == "partial" for t in trace.truth)
    assert out["columns"] == {"time": "Time", "position": "Bar height (m)",
                              "tension": "Load cell"}
    assert out["reps"][0]["peak_tension_n"] > 0
    assert out["summary"]["ended_by"] == "handles released"


def test_inverted_trace_in_milliseconds_with_semicolons(tmp_path, trace):
    # A camera tracker: y grows downwards, time in ms, semicolon-separated.
    f = write(tmp_path / "cam.csv", ["ms", "y"], trace.t_s * 1000, 2000 - trace.position_mm,
              delimiter=";")
    res = run("reps", f, "--time", "ms", "--time-unit", "ms", "--invert")
    assert res.returncode == 0, res.stderr
    assert f"reps: {trace.true_full} " in res.stdout
    assert " partial " in res.stdout and "ROM mm" in res.stdout
    # The phases follow the sign: without --invert the (slower) lowering is taken for the lift.
    right = json.loads(run("reps", f, "--time", "ms", "--time-unit", "ms", "--invert",
                           "--json").stdout)
    wrong = json.loads(run("reps", f, "--time", "ms", "--time-unit", "ms", "--axis", "up",
                           "--json").stdout)
    found = json.loads(run("reps", f, "--time", "ms", "--time-unit", "ms", "--json").stdout)
    assert found["axis"] == "down" and found["summary"] == right["summary"]

    def conc(out):
        return np.mean([r["concentric_s"] for r in out["reps"] if r["kind"] == "full"])

    truth = np.mean([t.turn_s - t.start_s for t in trace.truth if t.kind == "full"])
    assert conc(right) == pytest.approx(truth, abs=0.05)
    assert conc(wrong) > conc(right) + 0.3


@pytest.mark.parametrize("content,args,message", [
    ("a,b\n1,2\n", [], "no time column found"),
    ("time,pos\n0,1\n0.1,x\n", [], "row 3, column 'pos': 'x' is not a number"),
    ("time,pos\n", [], "needs a header row and at least one data row"),
    ("time,pos\n0,1\n", ["--position", "height"], "no column 'height' for position"),
])
def test_bad_files_are_named_precisely(tmp_path, content, args, message):
    f = tmp_path / "t.csv"
    f.write_text(content)
    res = run("reps", str(f), *args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_file_is_a_usage_error(tmp_path):
    res = run("reps", str(tmp_path / "none.csv"))
    assert res.returncode == 2 and "No such file" in res.stderr


@pytest.mark.parametrize("lift,before,after", [("curl", "floor", "floor"),
                                               ("bench", "rack", "rack"),
                                               ("squat", "walkout", "rack"),
                                               ("row", "floor", "floor")])
def test_only_the_position_column_of_a_tracker_in_metres_axis_down(tmp_path, lift, before, after):
    from sim.recordings import RecordingSpec, generate

    rec = generate(11, RecordingSpec(lift=lift, before=before, after=after, unit="m",
                                     axis_down=True, rate_hz=90, reps=7))
    f = tmp_path / "tracker.csv"
    f.write_text(rec.csv_text("t", "bar_z"))
    res = run("reps", str(f), "--position", "bar_z")
    assert res.returncode == 0, res.stderr
    assert f"reps: {rec.true_full} " in res.stdout
    assert "assumed position unit: m (" in res.stdout
    assert "assumed axis: down - the numbers fall as the load goes up" in res.stdout
    assert re.search(r"the set: [\d.]+ s to [\d.]+ s \([\d.]+ s before it and [\d.]+ s after",
                     res.stdout)
    assert "warning" not in res.stderr


def test_unsure_assumptions_are_warned_and_options_decide(tmp_path):
    t = np.arange(0, 20, 0.01)
    f = write(tmp_path / "sine.csv", ["time", "position"], t, 300 * np.sin(2 * np.pi * t / 4))
    res = run("reps", f)
    assert res.returncode == 0 and "warning: unsure which way the axis points" in res.stderr
    res = run("reps", f, "--axis", "down", "--unit", "mm")
    assert res.returncode == 0 and "warning" not in res.stderr and "assumed" not in res.stdout
    res = run("reps", f, "--invert", "--axis", "up")
    assert res.returncode == 2 and "give one of them" in res.stderr


def test_a_file_without_time_takes_a_rate(tmp_path):
    from sim.recordings import RecordingSpec, generate

    rec = generate(2, RecordingSpec(lift="curl", unit="mm", axis_down=False, rate_hz=50,
                                    jitter=0.0, drop=0.0, reps=5))
    f = tmp_path / "p.csv"
    f.write_text("height\n" + "\n".join(f"{x:.2f}" for x in rec.position) + "\n")
    res = run("reps", str(f), "--position", "height")
    assert res.returncode == 2 and "--rate HZ" in res.stderr
    res = run("reps", str(f), "--position", "height", "--rate", "50", "--json")
    out = json.loads(res.stdout)
    assert out["summary"]["reps"] == 5 and out["unit"] == "mm" and out["axis"] == "up"


def test_time_in_ms_and_lost_samples_as_trackers_write_them(tmp_path):
    from sim.recordings import RecordingSpec, generate

    rec = generate(6, RecordingSpec(lift="row", unit="m", axis_down=True, rate_hz=60, reps=6))
    lines = ["timestamp,z"]
    for k, (t, p) in enumerate(zip(rec.t_s, rec.position, strict=True)):
        cell = "" if k % 37 == 5 else "NaN" if k % 41 == 7 else f"{p:.5f}"
        lines.append(f"{t * 1000:.1f},{cell}")
    f = tmp_path / "ms.csv"
    f.write_text("\n".join(lines) + "\n")
    res = run("reps", str(f), "--position", "z")
    assert res.returncode == 0, res.stderr
    assert f"reps: {rec.true_full} " in res.stdout
    assert "assumed time unit: ms" in res.stdout
    lost = sum(1 for k in range(len(rec.t_s)) if k % 37 == 5 or k % 41 == 7)
    assert f"warning: {lost} row(s) had no value (lost samples): left out" in res.stderr


def test_small_movements_and_a_second_set_are_not_lost_silently(tmp_path):
    # Calf raises: 70 mm reps, under the 100 mm a squat's noise needs, still counted.
    t = np.arange(0, 30, 0.02)
    p = np.where((t > 2) & (t < 26), 35 - 35 * np.cos(2 * np.pi * (t - 2) / 4), 0.0)
    res = run("reps", write(tmp_path / "calf.csv", ["time", "position"], t, p / 1000))
    assert res.returncode == 0 and "reps: 6 " in res.stdout, res.stdout
    # Two sets with a long still rest between them: the first is counted and the rest said.
    t = np.arange(0, 80, 0.02)
    p = np.where((t > 2) & (t < 22), 250 - 250 * np.cos(2 * np.pi * (t - 2) / 4), 0.0)
    p += np.where((t > 55) & (t < 75), 250 - 250 * np.cos(2 * np.pi * (t - 55) / 4), 0.0)
    res = run("reps", write(tmp_path / "two.csv", ["time", "position"], t, p / 1000))
    assert res.returncode == 0 and "reps: 5 " in res.stdout, res.stdout
    assert "so the set ended there; the last" in res.stderr and "--idle-s" in res.stderr
    res = run("reps", write(tmp_path / "two.csv", ["time", "position"], t, p / 1000),
              "--idle-s", "60")
    assert "reps: 10 " in res.stdout, res.stdout
