"""Each hostile invocation found by the probe of issue 16: one line, exit 2 for a usage error
and 1 for a runtime one, never a traceback, and nothing written where it should not be."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from controller.surfaces.cli.main import cli


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    r = CliRunner().invoke(cli, ["--no-wire-log", *args], env=env, catch_exceptions=True)
    assert r.exception is None or isinstance(r.exception, SystemExit), (
        f"{args}: {type(r.exception).__name__}: {r.exception}\n{r.output}")
    assert "Traceback" not in r.output
    return r


def halfstep(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "controller.surfaces.cli.main",
                       "--no-wire-log", *args],
                       capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in r.stderr, r.stderr
    return r


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    p = tmp_path / "plan.json"
    assert invoke("plan", "init", "--file", str(p), "--profile", "pain").exit_code == 0
    return p


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("kind,message", [
    ("empty", "is an empty file, not a Halfstep history"),
    ("binary", "not an SQLite file"),
    ("foreign", "another program"),
    ("folder", "is a directory"),  # click's own check of --db, before ours
    ("missing", "does not exist"),
])
def test_a_file_that_is_not_a_history_is_named_and_never_written(
        tmp_path: Path, plan: Path, kind: str, message: str) -> None:
    db = tmp_path / "data" / "h.sqlite"
    db.parent.mkdir()
    if kind == "empty":
        db.write_bytes(b"")
    elif kind == "binary":
        db.write_bytes(bytes(range(256)) * 4)
    elif kind == "foreign":
        with sqlite3.connect(db) as c:
            c.execute("CREATE TABLE notes(x)")
    elif kind == "folder":
        db.mkdir()
    else:
        db = tmp_path / "missing" / "h.sqlite"
    before = _snapshot(db.parent) if db.parent.exists() else {}
    for args in (["run", "--file", str(plan), "--no-panel", "--speed", "0", "--pain", "1",
                  "--yes"], ["history", "list"], ["history", "export"],
                 ["history", "show", "1"]):
        r = invoke(*args, "--db", str(db))
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output and str(db) in r.output, r.output
        assert sum(x.startswith("Error:") for x in r.output.splitlines()) == 1
    after = _snapshot(db.parent) if db.parent.exists() else {}
    assert after == before  # no schema written, no .lock or .reserve beside it
    if kind == "empty":
        assert db.stat().st_size == 0


def test_reading_a_history_leaves_nothing_beside_it(tmp_path: Path, plan: Path) -> None:
    db = tmp_path / "h.sqlite"
    r = invoke("run", "--file", str(plan), "--db", str(db), "--no-panel", "--speed", "0",
               "--pain", "1", "--yes", "--device", "sim://?seed=1&rest=1")
    assert r.exit_code == 0, r.output
    for p in tmp_path.glob("h.sqlite.*"):
        p.unlink()  # the lock and reserve of the run (a writer keeps them)
    before = sorted(x.name for x in tmp_path.iterdir())
    assert invoke("history", "list", "--db", str(db)).exit_code == 0
    assert invoke("history", "show", "1", "--db", str(db)).exit_code == 0
    sqlite_own = {"h.sqlite-wal", "h.sqlite-shm"}  # SQLite's, for a reader of a WAL database
    assert sorted(x.name for x in tmp_path.iterdir() if x.name not in sqlite_own) == \
        sorted(x for x in before if x not in sqlite_own)


@pytest.mark.parametrize("args,needle", [
    (["run", "--no-panel", "--mqtt", "mqtt://[::1"], "not a URL"),
    (["mqtt", "watch", "mqtt://[::1"], "not a URL"),
    (["mqtt", "watch", "mqtt://127.0.0.1:0"], "port must be a number from 1 to 65535"),
    (["device", "info", "--device", "tcp://[::1"], "cannot be read"),
    (["run", "--no-panel", "--device", "tcp://[::1"], "cannot be read"),
    (["history", "show", "99999999999999999999999"], "out of range"),
    (["history", "show", "١"], "not a whole number"),
    (["mqtt", "watch", "mqtt://127.0.0.1:1", "--unit", "BAD UNIT/#"], "is not allowed"),
    (["mqtt", "watch", "mqtt://127.0.0.1:1", "--unit", "#"], "is not allowed"),
    (["device", "set-load", "10", "--device", "sim://", "--hold", "nan"], "plain decimal"),
    (["device", "set-load", "10", "--device", "sim://", "--hold", "inf"], "plain decimal"),
    (["device", "set-load", "10", "--device", "sim://", "--hold", "1e400"], "plain decimal"),
    (["device", "set-load", "10", "--device", "sim://", "--hold", "99999"], "out of range"),
    (["run", "--no-panel", "--speed", "nan"], "plain decimal"),
    (["run", "--no-panel", "--speed", "inf"], "plain decimal"),
    (["run", "--no-panel", "--today", "2026-13-45"], "is not a date: month must be"),
    (["run", "--no-panel", "--today", "20261201"], "not a date like"),
    (["run", "--no-panel", "--today", "0001-01-01"], "out of range"),
    (["run", "--no-panel", "--panel", "127.0.0.1:٨٠٨٠"], "not a whole number"),
    (["run", "--no-panel", "--panel", "[::1:80"], "not a host name"),
    (["sim", "serve", "--tcp", "127.0.0.1:٠"], "not a whole number"),
    (["plan", "init", "--profile", "pain", "--sessions-per-week", "0"], "out of range"),
    (["plan", "init", "--profile", "pain", "--start", "9950-01-01"], "out of range"),
    (["plan", "init", "--profile", "pain", "--exercise", "row:upper:multi:1_0"],
     "plain decimal"),
    (["plan", "trial", "--miss", "nan"], "plain decimal"),
    (["sim", "serve", "--tcp", "127.0.0.1:0", "--reps", "5,1_0"], "plain decimal"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str],
                                              needle: str) -> None:
    r = invoke(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.output, r.output


def test_tls_files_that_are_not_certificates_are_refused_at_once(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_bytes(b"\x00\x01 not a certificate")
    r = invoke("mqtt", "watch", f"mqtts://127.0.0.1?ca={garbage}")
    assert r.exit_code == 2 and "TLS files cannot be used" in r.output


def test_missing_folders_for_files_written(tmp_path: Path, plan: Path) -> None:
    missing = tmp_path / "no" / "such"
    r = invoke("plan", "init", "--profile", "pain", "--file", str(missing / "p.json"))
    assert r.exit_code == 2 and "does not exist" in r.output
    assert not missing.exists()
    r = invoke("history", "export", "--db", str(tmp_path / "h.sqlite"), "--out",
               str(missing / "x.csv"))
    assert r.exit_code == 2  # no history yet: named before anything else
    r = invoke("plan", "init", "--profile", "pain", "--start", "9950-01-01", "--file",
               str(tmp_path / "late.json"))
    assert r.exit_code == 2 and not (tmp_path / "late.json").exists()


def test_sim_urls_take_plain_numbers_only() -> None:
    r = invoke("device", "info", "--device", "sim://?seed=1_0")
    assert r.exit_code == 1 and "plain decimal" in r.output
    r = invoke("device", "info", "--device", "vitruvian://sim?seed=abc")
    assert r.exit_code == 1 and "not a whole number" in r.output


def test_a_csv_field_too_large_for_the_reader(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("t,position\n" + "1," + "9" * 200_000 + "\n")
    r = invoke("reps", str(f))
    assert r.exit_code == 2 and "not a readable CSV file" in r.output
    f.write_text("t,position\n0,0\n0.1,inf\n")
    r = invoke("reps", str(f))
    assert r.exit_code == 2 and "row 3" in r.output and "not a finite number" in r.output
    f.write_text("t,position\n0,nan\n0.1,\n")  # lost samples, and nothing else
    r = invoke("reps", str(f))
    assert r.exit_code == 2 and "no row has a time and position value" in r.output


def test_serving_on_an_address_that_cannot_be_bound_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = halfstep("sim", "serve", "--tcp", f"127.0.0.1:{port}")
    assert r.returncode == 1 and "cannot serve on 127.0.0.1" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = halfstep("sim", "serve", "--tcp", "192.0.2.1:7878")  # not this machine's
    assert r.returncode == 1 and "cannot serve on 192.0.2.1" in r.stderr


def test_an_unexpected_failure_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """The last net: whatever a command did not foresee is one line (the log has the rest)."""
    @cli.command("explode-for-test", hidden=True)
    def explode() -> None:
        raise RuntimeError("boom")

    try:
        r = invoke("explode-for-test", env={"HALFSTEP_STATE_DIR": str(tmp_path)})
    finally:
        cli.commands.pop("explode-for-test")
    assert r.exit_code == 1
    assert r.output.strip() == ("Error: RuntimeError: boom (an unexpected failure: the log "
                                "file has the details)")
    from controller.core import logs
    logs.close()  # the log file's writer thread flushed
    logged = "".join(p.read_text() for p in (tmp_path / "logs").glob("*.jsonl"))
    assert "unexpected_failure" in logged and "RuntimeError: boom" in logged
