"""Hostile files for `halfstep logs` and `halfstep support bundle`: each is read as far as it
can be and the rest is one line saying what and where (exit 2 for a file that cannot be read
at all, 1 for a failure of the machine), never a traceback; reading stays bounded in memory.

The files are made here, byte by byte, as the probe of the issue made them (/tmp/hostile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.surfaces.cli.main import cli
from firmware_bridge.codec import encode
from firmware_bridge.messages import Nack
from firmware_bridge.wirelog import CLOSE, HEAD, MAGIC, OPEN, RECORD, RX
from tests.procs import HALFSTEP

T0 = 1_780_000_000_000_000  # 2026, in microseconds
COMMANDS = (["summary"], ["timeline", "--kind", "x"], ["export", "--format", "json"])
DEEP = "[" * 100_000 + "]" * 100_000


def wire(meta: bytes | None = None, *records: tuple[int, int, bytes], version: int = 1,
         meta_len: int | None = None) -> bytes:
    meta = b'{"link": "sim://"}' if meta is None else meta
    out = HEAD.pack(MAGIC, version, len(meta) if meta_len is None else meta_len) + meta
    for kind, at_us, data in records:
        out += RECORD.pack(kind, at_us, at_us, len(data)) + data
    return out


def halfstep(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """In-process, as the CLI runs; an exception that escaped the command fails the test."""
    r = CliRunner().invoke(cli, ["--no-wire-log", *args],
                           env={"HALFSTEP_STATE_DIR": str(tmp_path / "state")})
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.stderr and "unexpected failure" not in r.stderr, r.stderr
    return r.exit_code, r.stdout, r.stderr


def refused(tmp_path: Path, args: list[str], code: int, *words: str) -> str:
    """Exit `code` with one line on stderr holding each of `words`."""
    rc, _, err = halfstep(tmp_path, *args)
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# ---- JSON logs -------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("line,why", [
    ('{"event": "x", "a": ' + DEEP + "}", "nested too deeply"),
    ('{"event": "x", "a": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001, "nested too deeply"),
    ('{"event": "a", "session_id": 7, "timestamp": "t"}', "'session_id' as a JSON number"),
    ('{"event": "a", "session_id": ["x"], "timestamp": "t"}', "'session_id' as a JSON array"),
    ('{"event": {"x": 1}, "level": "info", "timestamp": "t"}', "'event' as a JSON object"),
    ('{"event": 5, "level": "info", "timestamp": "t"}', "'event' as a JSON number"),
    ('{"event": "a", "level": ["warning"], "timestamp": "t"}', "'level' as a JSON array"),
    ('{"event": "a", "level": 5, "timestamp": 1e400}', "'level' as a JSON number"),
    ('{"event": "safety_event", "kind": [1], "timestamp": "t"}', "'kind' as a JSON array"),
    ('{"event": "set_done", "set_index": {"a": 1}, "timestamp": [1]}',
     "'timestamp' as a JSON array"),
    ("[1, 2]", "is a JSON array, not an object"),
], ids=["deep-list", "deep-dict", "session-int", "session-list", "event-dict", "event-int",
        "level-list", "level-int", "kind-list", "timestamp-list", "not-an-object"])
def test_a_json_log_with_nothing_readable_is_refused_with_the_line(tmp_path, cmd, line, why):
    f = tmp_path / "x.jsonl"
    f.write_text(line + "\n")
    refused(tmp_path, ["logs", *cmd, str(f)], 2, str(f), "line 1", why)


def test_readable_lines_are_read_and_the_bad_ones_named(tmp_path):
    f = tmp_path / "mixed.jsonl"
    f.write_text('{"event": "a", "session_id": "s1", "timestamp": "t1"}\n'
                 '{"event": "b", "session_id": 2, "timestamp": "t2"}\n'
                 '{"event": "c", "level": ["x"]}\n' + "{oops\n"
                 '{"event": "safety_event", "kind": "stop", "cause": "x", "level": "warning"}\n')
    rc, out, err = halfstep(tmp_path, "logs", "summary", str(f))
    assert rc == 0 and "sessions: 1 (s1)" in out and "stop 1" in out
    assert "line 2 has 'session_id' as a JSON number" in out and "3 lines skipped" in out
    rc, out, err = halfstep(tmp_path, "logs", "timeline", str(f), "--kind", "safety")
    assert rc == 0 and "safety: stop: x" in out
    assert err.strip().splitlines() == [f"{f}: line 2 has 'session_id' as a JSON number "
                                        "(text expected) (skipped): '{\"event\": \"b\", "
                                        "\"session_id\": 2, \"timestamp\": \"t2\"}'; 3 lines "
                                        "skipped in all"]


def test_a_line_too_long_to_be_ours_is_skipped(tmp_path):
    f = tmp_path / "long.jsonl"
    f.write_text('{"event": "a", "pad": "' + "x" * 3_000_000 + '"}\n{"event": "b"}\n')
    rc, out, _ = halfstep(tmp_path, "logs", "summary", str(f))
    assert rc == 0 and "log: 1 lines" in out and "line 1 is longer than" in out


# ---- wire logs -------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("data,words", [
    (wire(version=2), ["wire log version 2 (byte 4)", "reads version 1"]),
    (MAGIC + b"\x01", ["header is cut short (5 of 12 bytes)"]),
    (wire(meta_len=0xFFFFFFFF), ["metadata length 4294967295 (byte 8)", "runs past the end"]),
    (wire(None, (OPEN, 2**62, b"sim://")), ["no record could be read", "byte 30",
                                             "host time 4611686018427387904 us"]),
    (wire(None, (OPEN, 2**63 - 1, b"sim://")), ["no record could be read", "byte 30"]),
    (wire(None, (OPEN, -2**63, b"sim://")), ["no record could be read", "byte 30"]),
    (wire(None, (OPEN, -1, b"sim://")), ["no record could be read", "byte 30"]),
    (wire(None, (9, T0, b"")), ["no record could be read", "corrupt record at byte 30"]),
], ids=["v2", "header-only", "meta-past-end", "time-huge", "time-max", "time-min",
        "time-neg", "bad-kind"])
def test_a_wire_log_with_nothing_readable_is_refused_with_the_byte(tmp_path, cmd, data, words):
    f = tmp_path / "x.hswl"
    f.write_bytes(data)
    refused(tmp_path, ["logs", *cmd, str(f)], 2, str(f), *words)


def test_a_wire_log_is_read_up_to_a_record_out_of_range(tmp_path):
    f = tmp_path / "late.hswl"
    f.write_bytes(wire(None, (OPEN, T0, b"sim://"), (CLOSE, 2**62, b"host: closed")))
    rc, out, _ = halfstep(tmp_path, "logs", "summary", str(f))
    assert rc == 0 and "opened 1 time(s)" in out
    assert "reading stopped early: corrupt record at byte 57: host time" in out


def test_unreadable_metadata_is_told_and_the_records_still_read(tmp_path):
    for meta, why in ((DEEP.encode(), "nested too deeply"), (b"[1,2]", "a JSON list")):
        f = tmp_path / "meta.hswl"
        f.write_bytes(wire(meta, (OPEN, T0, b"sim://"), (CLOSE, T0 + 1000, b"host: closed")))
        rc, out, _ = halfstep(tmp_path, "logs", "summary", str(f))
        assert rc == 0 and "opened 1 time(s)" in out
        assert f"file: metadata (bytes 12 to {12 + len(meta)}) is" in out and why in out
        rc, out, err = halfstep(tmp_path, "logs", "timeline", str(f))
        assert rc == 0 and "link opened: sim://" in out and why in err


def test_an_open_record_that_is_not_utf8_is_shown_replaced(tmp_path):
    f = tmp_path / "open.hswl"
    f.write_bytes(wire(None, (OPEN, T0, b"sim://\xff\xfe")))
    rc, out, _ = halfstep(tmp_path, "logs", "timeline", str(f))
    assert rc == 0 and "link opened: sim://\ufffd\ufffd" in out


def test_a_nack_for_an_unknown_message_type_is_named_by_its_number(tmp_path):
    f = tmp_path / "nack.hswl"
    f.write_bytes(wire(None, (OPEN, T0, b"sim://"), (RX, T0 + 20, encode(Nack(5, 238, 3), 1))))
    for cmd in COMMANDS:
        rc, out, err = halfstep(tmp_path, "logs", *cmd[:1], str(f))
        assert rc == 0, err
    rc, out, _ = halfstep(tmp_path, "logs", "timeline", str(f), "--kind", "nack")
    assert "MSG_238 refused by the unit (error 3)" in out


# ---- flight records --------------------------------------------------------------------------

FLIGHT = {"format": "halfstep-flight-record/1", "reason": "link_closed",
          "at": "2026-01-01T00:00:00+00:00", "window_s": 30.0,
          "events": [{"event": "link_closed", "level": "error", "timestamp": "2026-01-01T00:00"},
                     {"event": "safety_event", "kind": "link_lost", "cause": "peer closed",
                      "level": "warning", "timestamp": "2026-01-01T00:00"}],
          "telemetry": {"t_s": [1.0, 2.5, 4.0], "position_mm": [[1, 2, 3]]}}


@pytest.mark.parametrize("indent", [None, 2], ids=["compact", "pretty"])
def test_a_flight_record_is_summarised(tmp_path, indent):
    body = dict(FLIGHT)
    if indent is None:
        del body["format"]  # written before records said what they are
    f = tmp_path / ("flight-20260101-000000-000000-link_closed.json" if indent is None
                    else "record.json")
    f.write_text(json.dumps(body, indent=indent))
    rc, out, err = halfstep(tmp_path, "logs", "summary", str(f))
    assert rc == 0, err
    assert out.startswith("flight record: link_closed at 2026-01-01T00:00:00+00:00")
    assert "telemetry: 3 samples over 3.0 s, 1 cable(s)" in out
    assert "events: 2 kept" in out and "link_lost 1" in out and "link_closed 1" in out
    rc, out, _ = halfstep(tmp_path, "logs", "timeline", str(f))
    assert rc == 0 and "safety: link_lost: peer closed" in out
    assert "flight record written: link_closed" in out.splitlines()[-1]


def test_a_damaged_flight_record_is_refused_with_why(tmp_path):
    f = tmp_path / "flight-x.json"
    f.write_text('{\n  "reason": "x",\n  "events": ' + DEEP + "\n}")
    refused(tmp_path, ["logs", "summary", str(f)], 2, str(f), "not a flight record",
            "nested too deeply")
    f.write_text('{\n  "reason": "x",\n  "at": "t",\n  "events": [1, [2]]\n}')
    rc, out, _ = halfstep(tmp_path, "logs", "summary", str(f))
    assert rc == 0 and "event 1 of the record is a JSON number" in out


# ---- bounded reading -------------------------------------------------------------------------

PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_kb(*args: str) -> int:
    """The peak resident memory of one `halfstep` run, in KiB (a fresh parent, so no other
    child's peak counts)."""
    r = subprocess.run([sys.executable, "-c", PEAK, *HALFSTEP, *args], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return int(r.stdout.strip())


def test_reading_a_big_wire_log_stays_bounded_in_memory(tmp_path):
    small, big = tmp_path / "small.hswl", tmp_path / "big.hswl"
    small.write_bytes(wire(None, (OPEN, T0, b"sim://")))
    empty = RECORD.pack(RX, T0, T0, 0)
    with open(big, "wb") as f:
        f.write(wire(None, (OPEN, T0, b"sim://")))
        f.write(empty * (8 * 1024 * 1024 // len(empty)))  # 8 MB: 400,000 empty records
    base = peak_kb("--no-wire-log", "logs", "summary", str(small))
    grown = peak_kb("--no-wire-log", "logs", "summary", str(big)) - base
    assert grown < 20_000, f"{grown} KiB more for an 8 MB wire log"  # read whole: ~70 MB


def test_reading_a_big_json_log_stays_bounded_in_memory(tmp_path):
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    line = json.dumps({"event": "rep", "rep_kind": "full", "level": "info",
                       "session_id": "abc", "timestamp": "2026-01-01T00:00:00Z"}) + "\n"
    small.write_text(line)
    big.write_text(line * (8 * 1024 * 1024 // len(line)))
    base = peak_kb("--no-wire-log", "logs", "summary", str(small))
    grown = peak_kb("--no-wire-log", "logs", "summary", str(big)) - base
    assert grown < 20_000, f"{grown} KiB more for an 8 MB JSON log"


def test_a_real_process_prints_no_traceback(tmp_path):
    f = tmp_path / "deep.jsonl"
    f.write_text('{"event": "x", "a": ' + DEEP + "}\n")
    r = subprocess.run([*HALFSTEP, "--no-wire-log", "logs", "summary", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith(f"Error: {f}: neither a wire log nor a JSON log (line 1 is nested "
                           "too deeply to read (skipped): ")


# ---- support bundle --------------------------------------------------------------------------


def state_with(tmp_path: Path, log_lines: list[str]) -> Path:
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "halfstep-20260101.jsonl").write_text("\n".join(log_lines) + "\n")
    return state


@pytest.mark.parametrize("data", [bytes(range(256)), "{\"name\": \"caf\xe9\"}".encode("latin-1")],
                         ids=["binary", "latin1"])
def test_a_bundle_refuses_a_plan_that_is_not_text(tmp_path, data):
    plan = tmp_path / "plan.json"
    plan.write_bytes(data)
    refused(tmp_path, ["support", "bundle", "--plan", str(plan), "--out",
                       str(tmp_path / "b.tgz")], 2, f"--plan {plan}", "not UTF-8 text (byte")
    assert not (tmp_path / "b.tgz").exists()


def test_a_bundle_that_cannot_be_written_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    refused(tmp_path, ["support", "bundle", "--out", str(blocker / "x.tgz")], 2,
            f"--out {blocker / 'x.tgz'}: {blocker} is not a folder")
    refused(tmp_path, ["support", "bundle", "--out", str(tmp_path / "none" / "x.tgz")], 2,
            f"{tmp_path / 'none'} does not exist")
    if Path("/dev/full").exists():
        refused(tmp_path, ["support", "bundle", "--out", "/dev/full"], 1,
                "cannot write the support bundle /dev/full: No space left on device")
    # The default place, in a state folder that cannot be one (EPERM, EROFS, ENOTDIR alike).
    r = CliRunner().invoke(cli, ["--no-wire-log", "support", "bundle"],
                           env={"HALFSTEP_STATE_DIR": str(blocker / "state")})
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit | None)
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith(f"Error: cannot write the support bundle {blocker / 'state'}")
    assert "give another place with --out" in lines[-1] and "Traceback" not in r.stderr


def test_a_bundle_passes_over_what_it_cannot_read(tmp_path, monkeypatch):
    state = state_with(tmp_path, [
        '{"device_serial": "S1", "firmware": "1.0", "event": "a"}',
        '{"firmware": "x", "device_serial": "y", oops',
        '{"firmware": "x", "device_serial": "y", "a": ' + DEEP + "}",
        '{"firmware": 5, "device_serial": "y", "event": "b"}'])
    (state / "logs" / "dir.jsonl").mkdir()
    (state / "wire" / "dir.hswl").mkdir(parents=True)
    (state / "wire" / "20260101-000000-000000-v2.hswl").write_bytes(wire(version=2))
    (state / "flight" / "x.json").mkdir(parents=True)
    out = tmp_path / "b.tgz"
    r = CliRunner().invoke(cli, ["--no-wire-log", "support", "bundle", "--out", str(out),
                                 "--plan", str(tmp_path / "none.json")],
                           env={"HALFSTEP_STATE_DIR": str(state)})
    assert r.exit_code == 2 and "--plan" in r.stderr and "no such file" in r.stderr
    monkeypatch.chdir(tmp_path)  # the default plan.json: there is none
    r = CliRunner().invoke(cli, ["--no-wire-log", "support", "bundle", "--out", str(out)],
                           env={"HALFSTEP_STATE_DIR": str(state)})
    assert r.exit_code == 0, r.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
        info = json.loads(tar.extractfile("versions.json").read())  # type: ignore[union-attr]
        history = tar.extractfile("history.txt").read()  # type: ignore[union-attr]
    assert names == ["logs/halfstep-20260101.jsonl", "history.txt", "versions.json"]
    assert history.startswith(b"history: halfstep.sqlite: not read: ")  # none here: said
    assert info["unit"] == {"serial": "S1", "firmware": "1.0"}
    assert any("version 2" in x for x in info["left_out"])
