"""Every subcommand driven with generated hostile arguments and files: never a traceback, and a
typed argument that is wrong is a usage error (2) or a runtime failure (1), never accepted.

Each example gives one parameter of one subcommand a hostile value (the others are valid and
cheap: the simulator, a fresh plan, --speed 0), so a failure names the parameter that broke.
Free-text parameters (names, column names, answers) may legitimately be anything: for them
only "no traceback, exit 0, 1 or 2" is asserted.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.surfaces.cli.main import cli
from controller.surfaces.cli.params import Load, Number
from firmware_bridge.loads import PLAIN_DECIMAL

EXAMPLES = int(os.environ.get("HALFSTEP_HOSTILE_EXAMPLES", "300"))
_UNIQUE = itertools.count()  # every generated file gets a name of its own

TRICKY_NUMBERS = ["1_0", "١٠", "۱۰", "１０", "1e1", "1E1", "nan", "NaN", "inf", "-inf",
                  "Infinity", "true", "false", "", " ", "0x10", "1.2.3", "12,5", "--1", "+-1",
                  "9" * 40, "1e999999999", "\x00", "１２.５", "½", "²", "12.4999999999999999" * 3]
TRICKY_TEXT = ["[::1", "\udcff", "\x00", "../../etc/passwd", "a" * 300, "{" * 300,
               "mqtt://[::1", "tcp://[::1", "sim://?seed=abc", "vitruvian://sim?seed=1e1",
               "mqtt://h:0", "mqtts://h?ca=/etc/hostname", "serial:/nonexistent?baud=٩٦٠٠",
               "2026-13-45", "99999-01-01", "20261201", "2026-W49-1", "0001-01-01",
               "BAD UNIT/#", "#", "a+b", "127.0.0.1:٨٠٨٠", "[::1]:99999", ":"]
# Free text: any value may be right, so only "no traceback" holds.
FREE_TEXT = {"--name", "--painful", "--exercise", "--answer", "--by", "--session", "--kind",
             "--time", "--position", "--tension", "--velocity"}
OUTPUTS = {"--out", "--plot"}  # files written: an existing one may be replaced on purpose
# A support bundle is wanted most when things are broken: a bad plan goes in as it is.
ZERO_OK = {("support", "bundle", "--plan")}


def hostile_number(t: Number | Load) -> st.SearchStrategy[str]:
    """Text that is not a plain decimal, or one outside the parameter's range / off the grid."""
    bad_format = st.one_of(
        st.sampled_from(TRICKY_NUMBERS),
        st.text(max_size=30).filter(lambda s: not PLAIN_DECIMAL.fullmatch(s.strip(" \t\r\n"))),
        st.integers().map(lambda i: f"{i}_0"),
        st.floats(allow_nan=False, allow_infinity=False).map(lambda f: f"{f:e}"))
    if isinstance(t, Load):
        off_grid = st.integers(0, 10_000).map(lambda i: f"{i}.{st_digit(i)}")
        return st.one_of(bad_format, off_grid, st.integers(max_value=-1).map(str))
    out = []
    if t.lo is not None:
        out.append(st.integers(max_value=int(t.lo) - 1).map(str))
    if t.hi is not None:
        out.append(st.integers(min_value=int(t.hi) + 1).map(str))
    if t.integer:
        out.append(st.sampled_from(["1.5", "2.0", "0.1"]))
    return st.one_of(bad_format, *out)


def st_digit(i: int) -> str:
    return "25" if i % 2 else "1"  # x.25 and x.1 are off the 0.5 kg grid


def hostile_choice(choices: list[str]) -> st.SearchStrategy[str]:
    return st.text(max_size=20).filter(lambda s: s not in choices)


@st.composite
def hostile_output(draw: st.DrawFn, folder: Path) -> str:
    """Somewhere no file can be written: a folder, a missing folder, under a file, a full
    device."""
    kind = draw(st.sampled_from(["folder", "missing_dir", "under_file", "dev_full"]))
    n = next(_UNIQUE)
    if kind == "folder":
        (folder / f"out-{n}").mkdir(exist_ok=True)
        return str(folder / f"out-{n}")
    if kind == "missing_dir":
        return str(folder / f"missing-{n}" / "out")
    if kind == "under_file":
        (folder / f"file-{n}").write_text("x")
        return str(folder / f"file-{n}" / "out")
    return "/dev/full"


@st.composite
def hostile_file(draw: st.DrawFn, folder: Path) -> str:
    """A file no command should take: binary, not UTF-8, empty, deeply nested, a folder, one
    in a missing folder, a device node."""
    kind = draw(st.sampled_from(["binary", "latin1", "empty", "deep", "huge_line", "folder",
                                 "missing_dir", "dev_null", "json_garbage", "sqlite_foreign"]))
    n = next(_UNIQUE)
    p = folder / f"{kind}-{n}"
    if kind == "binary":
        p.write_bytes(draw(st.binary(min_size=1, max_size=512)) + b"\xff\xfe\x00")
    elif kind == "latin1":
        p.write_bytes("caf\xe9 plan r\xe9sum\xe9".encode("latin-1"))
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "deep":
        p.write_text("[" * 100_000 + "]" * 100_000)
    elif kind == "huge_line":
        p.write_text("x," * 200_000 + "\n1,2\n")
    elif kind == "folder":
        p.mkdir()
    elif kind == "missing_dir":
        p = folder / f"missing-{n}" / "x.json"
    elif kind == "dev_null":
        return "/dev/null"
    elif kind == "json_garbage":
        p.write_text(json.dumps(draw(st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c,
                                                                max_size=3),
            max_leaves=10).map(lambda x: [x]))))  # never an object: no file takes a list
    else:
        import sqlite3

        with sqlite3.connect(p) as db:
            db.execute("CREATE TABLE IF NOT EXISTS t(x)")
    return str(p)


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...],
                                                                           click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            out += _leaves(cmd, (*path, name))
        else:
            out.append(((*path, name), cmd))
    return out


LEAVES = _leaves(cli)


def baseline(path: tuple[str, ...], folder: Path) -> dict[str, list[str]]:
    """Valid, cheap values for the parameters a subcommand needs (by option or argument)."""
    plan, db = str(folder / "plan.json"), str(folder / "h.sqlite")
    sim = "sim://?seed=1"
    cmd = " ".join(path)
    base: dict[str, list[str]] = {
        "run": {"--file": [plan], "--db": [db], "--device": [sim], "--speed": ["0"],
                "--pain": ["1"], "--no-panel": [], "--yes": []},
        "demo": {"--device": [sim], "--speed": ["0"]},
        "device info": {"--device": [sim]}, "device stop": {"--device": [sim]},
        "device set-load": {"kg": ["0"], "--device": [sim]},
        "device scan": {"--timeout": ["1"]},
        "sim serve": {"--tcp": ["127.0.0.1:0"]},
        # An address no machine has (TEST-NET-1): whatever else is accepted, serve cannot
        # listen and ends (exit 2) instead of serving until stopped.
        "serve": {"--home": [str(folder / "serve-home")], "--panel": ["192.0.2.1:1"]},
        "plan init": {"--file": [str(folder / "new-plan.json")], "--profile": ["pain"]},
        "plan next": {"--file": [plan]}, "plan show": {"--file": [plan]},
        "plan clear": {"--file": [plan], "--red-flag": [], "--by": ["dr"]},
        "plan trial": {"--persons": ["1"], "--weeks": ["1"]},
        "checkin": {"--file": [plan]},
        "history list": {"--db": [db]}, "history show": {"session_id": ["1"], "--db": [db]},
        "history export": {"--db": [db]},
        "mqtt watch": {"url": ["mqtt://127.0.0.1:1"], "--timeout": ["0"]},
        "reps": {"file": [str(folder / "trace.csv")]},
        "logs summary": {"file": [str(folder / "log.jsonl")]},
        "logs timeline": {"file": [str(folder / "log.jsonl")]},
        "logs export": {"file": [str(folder / "log.jsonl")]},
        "support bundle": {"--out": [str(folder / "bundle.tar.gz")]},
    }.get(cmd, {})
    return base


def argv(path: tuple[str, ...], cmd: click.Command, values: dict[str, list[str]]) -> list[str]:
    args, positional = list(path), []
    for p in cmd.params:
        key = max(p.opts, key=len) if isinstance(p, click.Option) else p.name
        if key not in values:
            continue
        if isinstance(p, click.Argument):
            positional += values[key]
        else:
            args += [key, *values[key]]
    return [*args, "--", *positional] if positional else args


def hostile_for(p: click.Parameter, folder: Path) -> tuple[st.SearchStrategy[str], bool]:
    """A strategy of hostile values for one parameter, and whether exit 0 is acceptable."""
    name = max(p.opts, key=len) if isinstance(p, click.Option) else str(p.name)
    if isinstance(p.type, Number | Load):
        return hostile_number(p.type), False
    if isinstance(p.type, click.Choice):
        return hostile_choice(list(p.type.choices)), False
    if isinstance(p.type, click.Path):
        return (hostile_output(folder) if name in OUTPUTS else hostile_file(folder)), False
    if name in FREE_TEXT:
        return st.one_of(st.text(max_size=40), st.sampled_from(TRICKY_TEXT)), True
    # URLs, dates, addresses, topic names: callbacks that check them
    return st.one_of(st.sampled_from(TRICKY_TEXT),
                     st.text(max_size=40).filter(lambda s: "://" not in s
                                                 and not s.startswith(("sim:", "serial:",
                                                                       "replay:")))), False


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("hostile")
    r = CliRunner().invoke(cli, ["--no-wire-log", "plan", "init", "--file",
                                 str(f / "plan.json"), "--profile", "pain"])
    assert r.exit_code == 0, r.output
    (f / "trace.csv").write_text("t,position\n0,0\n0.1,10\n0.2,0\n")
    (f / "log.jsonl").write_text(json.dumps({"event": "x", "level": "info",
                                             "timestamp": "2026-01-01T00:00:00Z"}) + "\n")
    return f


@pytest.mark.parametrize("path,cmd", LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_hostile_arguments(path: tuple[str, ...], cmd: click.Command, folder: Path) -> None:
    params = [p for p in cmd.params
              if not getattr(p, "is_flag", False) and p.name not in ("help",)]
    if not params:
        pytest.skip("no parameters that take a value")
    runner = CliRunner()
    env = {"HALFSTEP_STATE_DIR": str(folder / "state"), "HALFSTEP_PANEL_PIN": "123456"}
    strategies = [st.tuples(st.just(p), hostile_for(p, folder)[0]) for p in params]

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(*strategies))
    def check(case: tuple[click.Parameter, str]) -> None:
        p, value = case
        key = max(p.opts, key=len) if isinstance(p, click.Option) else str(p.name)
        values = baseline(path, folder)
        values[key] = [value]
        args = ["--no-wire-log", *argv(path, cmd, values)]
        r = runner.invoke(cli, args, env=env, catch_exceptions=True)
        shown = f"halfstep {' '.join(args)!r}: exit {r.exit_code}\n{r.output[-2000:]}"
        assert r.exception is None or isinstance(r.exception, SystemExit), (
            f"{shown}\n{type(r.exception).__name__}: {r.exception}")
        assert "Traceback" not in r.output, shown
        zero_ok = hostile_for(p, folder)[1] or (*path, key) in ZERO_OK
        allowed = {0, 1, 2} if zero_ok else {1, 2}
        assert r.exit_code in allowed, shown

    check()
