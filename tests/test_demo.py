"""`halfstep demo` through the session runner (one set loop, one watchdog), and a light --help."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from tests.procs import run


def test_a_lost_unit_is_reported_in_one_line_not_waited_for():
    """The unit's lease (100 ms) runs out at the heartbeat: telemetry stops, the watchdog
    gives up after 1 s (simulated time), the demo ends with exit 1 naming the unit."""
    started = time.monotonic()
    res = run("demo", "--device", "sim://?seed=7&lease_ms=100", timeout=30)
    took = time.monotonic() - started
    assert res.returncode == 1, res
    assert took < 5, f"took {took:.1f} s"
    assert "Traceback" not in res.stderr
    lost = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(lost) == 1, res.stderr
    assert "lost unit HSSIM0000001 on sim://?seed=7&lease_ms=100 during set 1 of seated row" \
        in lost[0]


def test_speed_must_be_finite():
    for speed in ("inf", "nan", "-inf"):
        res = run("demo", "--speed", speed)
        assert res.returncode == 2, res
        assert "--speed" in res.stderr and "Traceback" not in res.stderr
        assert len([x for x in res.stderr.splitlines() if x.startswith("Error:")]) == 1


def test_a_fast_demo_is_a_whole_session_with_reps_and_a_summary():
    res = run("demo", "--speed", "0", "--seed", "7", timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    out = res.stdout
    assert out.startswith("unit HSSIM0000001 (firmware 1.0.0, 1 cable(s)")
    assert "seated row: finding your level: sets getting heavier from 10.0 kg" in out
    assert re.search(r"^\s+rep\s+1/10 ", out, re.M)  # per-rep lines, as the reps end
    assert "estimated 1RM" in out
    table = out[out.index("set  exercise"):].splitlines()
    rows = [r.split() for r in table[2:] if r.strip()[:1].isdigit()]
    assert len(rows) >= 2
    loads = [float(r[3]) for r in rows]
    assert loads[0] == 10.0 and loads == sorted(loads) and loads[-1] > loads[0]  # warm-up up
    reps = [int(r[4]) for r in rows]
    assert all(n > 0 for n in reps)
    assert f"total: {sum(reps)} reps" in out


def test_help_imports_neither_the_web_server_nor_mqtt():
    code = ("import sys\n"
            "sys.argv = ['halfstep', '--help']\n"
            "from controller.surfaces.cli.main import main\n"
            "try:\n"
            "    main()\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'aiohttp', 'aiomqtt', "
            "'paho'})\n"
            "print('HEAVY', heavy)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert "Usage: halfstep" in res.stdout
    assert res.stdout.splitlines()[-1] == "HEAVY []"
