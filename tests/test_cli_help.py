"""Help texts say what is true: --device is optional where the simulator is the default, the
device command lists every kind of unit URL, a missing --device is a usage error, and --plot
without matplotlib says how to get it."""

from __future__ import annotations

import importlib.util

from click.testing import CliRunner

from controller.surfaces.cli.main import cli
from tests.procs import run


def test_device_is_optional_where_the_simulator_is_the_default():
    for cmd in ("demo", "run", "serve"):
        text = " ".join(run(cmd, "--help").stdout.split())
        assert "[required]" not in text, cmd
        assert "the simulator" in text.split("--device", 1)[1][:600], cmd


def test_device_help_lists_every_kind_of_unit():
    for args in (("device", "--help"), ("device", "info", "--help")):
        text = " ".join(run(*args).stdout.split())
        for url in ("sim://", "serial:", "tcp://", "ble://", "vitruvian://", "replay:"):
            assert url in text, (args, url)


def test_a_missing_device_is_a_usage_error_not_a_failure():
    res = run("device", "info")
    assert res.returncode == 2 and "Missing option '--device'" in res.stderr
    assert "Traceback" not in res.stderr and "unexpected" not in res.stderr


def test_plot_without_matplotlib_is_one_clear_line(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    res = CliRunner().invoke(cli, ["--no-wire-log", "plan", "trial", "--persons", "1",
                                   "--weeks", "1", "--plot", str(tmp_path / "p.png")])
    assert res.exit_code == 2, res.output
    assert "--plot needs matplotlib: pip install 'halfstep[plot]'" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "p.png").exists()
