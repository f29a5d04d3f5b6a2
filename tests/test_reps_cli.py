"""`halfstep reps FILE.csv` on traces written the way other tools write them."""

from __future__ import annotations

import json

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
    wrong = json.loads(run("reps", f, "--time", "ms", "--time-unit", "ms", "--json").stdout)

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
