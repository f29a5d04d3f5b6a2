"""Logging never touches control: a full or read-only disk under the state folder loses log and
wire-log records (counted, one warning per sink), never the link, the set or its reps."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import threading
import time

import pytest
import structlog

from controller.core import logs
from controller.core.history import History
from controller.core.logs import configure_logging
from firmware_bridge import flight, wirelog
from firmware_bridge.wirelog import RX, read_wire_log
from tests.test_session import one_exercise_plan, run_session

URL = "sim://?seed=5&rest=30"


class Disk:
    """The state folder's disk as the writers see it through `open`: it can fill up (a short
    write, then ENOSPC), turn read-only (writes and opens fail with EROFS), or take no new file
    after `max_files` (EROFS on opening one; the files already open go on)."""

    def __init__(self) -> None:
        self.room: int | None = None  # bytes it still takes; None: plenty
        self.read_only = False
        self.max_files: int | None = None  # files it lets be opened for writing, in all
        self.opened: list[str] = []
        self.written = 0  # bytes it took
        self.refused = 0

    def open(self, path, mode="r", *args, **kw):
        if any(c in mode for c in "wax+") and (
                self.read_only or (self.max_files is not None
                                   and len(self.opened) >= self.max_files)):
            self.refused += 1
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        self.opened.append(str(path))
        return _File(builtins.open(path, mode, *args, **kw), self)

    def fill(self, room: int = 20) -> None:
        self.room = room


class _File:
    def __init__(self, f, disk: Disk):
        self._f, self._disk = f, disk

    def write(self, data) -> int:
        d = self._disk
        if d.read_only:
            d.refused += 1
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        if d.room is not None:
            if d.room <= 0:
                d.refused += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            data = data[:d.room]  # what fits goes: a short write
            d.room -= len(data)
        n = self._f.write(data)
        n = len(data) if n is None else n
        d.written += n
        return n

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.fixture(autouse=True)
def _restore(monkeypatch):
    monkeypatch.setattr(wirelog, "RETRY_S", 0.0)  # after a failure, try again at once
    yield
    wirelog.enable(None)
    logs.close()
    flight.enable(None)
    structlog.reset_defaults()


def events(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def history_of(db, result) -> dict:
    with History(db) as h:
        return h.session(result.session_id)


def assert_the_session_went_on(db, result) -> None:
    """Finished, every set with its reps and ended by its target, no link lost."""
    assert result.status == "finished"
    s = history_of(db, result)
    assert len(s["sets"]) == 2
    assert all(t["full_reps"] == 12 and len(t["reps"]) >= 12 and t["ended_by"] == "target reached"
               for t in s["sets"])
    kinds = [e["kind"] for e in s["safety_events"]]
    assert "link_lost" not in kinds and "reconnected" not in kinds


def wait_for(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "the writer thread never got there"
        time.sleep(0.005)


def fill_mid_set_then_free(disk: Disk, marks: dict, writer):
    """The disk fills in the middle of set 1 and has room again 30 s later. The writer thread
    keeps its own time, so the (warped) loop waits for it to have written something before
    filling the disk, and for it to have had a write refused before freeing it."""
    def watch(unit, runner):
        st = runner.state
        if st.phase == "set" and st.set_index == 1 and st.reps >= 3 and "full" not in marks:
            marks["full"] = unit.now_us
            writer()._kick()  # now, not at its next round
            wait_for(lambda: disk.written > 1000)
            disk.fill()
        if "full" in marks and "freed" not in marks and unit.now_us > marks["full"] + 30e6:
            # The writer keeps wall time: on a busy machine the (warped) session can outrun
            # it, so wait for it to have met the full disk before there is room again.
            writer()._kick()
            wait_for(lambda: disk.refused > 0)
            marks["freed"] = unit.now_us
            disk.room = None
    return watch


def test_a_full_disk_mid_set_drops_wire_log_records_not_the_set(tmp_path, monkeypatch):
    disk = Disk()
    monkeypatch.setattr(wirelog, "open", disk.open, raising=False)
    out = io.StringIO()
    configure_logging("json", "warning", stream=out)
    before = wirelog.dropped()
    wirelog.enable(tmp_path / "wire")
    marks: dict = {}
    db = tmp_path / "h.sqlite"
    result, _, _, _ = run_session(
        one_exercise_plan(), db, URL,
        watch=fill_mid_set_then_free(disk, marks, lambda: wirelog.recorder("x")))
    assert_the_session_went_on(db, result)
    writer = wirelog.recorder("x")
    assert writer is not None and writer.error is not None
    seen = events(out)  # before closing: what was said while the session ran
    wirelog.enable(None)
    assert "full" in marks and "freed" in marks and disk.refused > 0
    lost = wirelog.dropped() - before
    assert lost > 0 and lost == writer.dropped
    warned = [e for e in seen if e["level"] == "warning"]
    assert [e["event"] for e in warned] == ["wire_log_write_failed"]  # once, not per record
    assert warned[0]["error"].startswith("ENOSPC")
    # The file cut by the full disk reads up to the cut; once there is room again a new file
    # starts, saying how many records went missing before it.
    first, *later = [read_wire_log(p) for p in writer.files]
    assert first.records and first.records[0].name == "open"
    assert later and later[0].meta["dropped_before"] > 0 and later[0].meta["part"] == 2
    assert any(r.kind == RX for r in later[0].records) and later[-1].records[-1].name == "close"


def test_a_full_disk_mid_set_drops_log_lines_not_the_set(tmp_path, monkeypatch):
    disk = Disk()
    monkeypatch.setattr(logs, "open", disk.open, raising=False)
    out = io.StringIO()
    path = tmp_path / "logs" / "halfstep.jsonl"
    before = logs.dropped()
    configure_logging("json", "warning", stream=out, file=path)
    wirelog.enable(None)
    marks: dict = {}
    db = tmp_path / "h.sqlite"
    result, _, _, _ = run_session(one_exercise_plan(), db, URL,
                                  watch=fill_mid_set_then_free(disk, marks, lambda: logs._sink))
    assert_the_session_went_on(db, result)
    sink = logs._sink
    assert sink is not None
    logs.close()
    assert "full" in marks and "freed" in marks and disk.refused > 0
    assert logs.dropped() - before == sink.dropped > 0
    warned = [e for e in events(out) if e["level"] == "warning"]
    assert [e["event"] for e in warned] == ["log_file_write_failed"]
    assert warned[0]["error"].startswith("ENOSPC") and warned[0]["file"] == str(path)
    # The file: what went before the disk filled, one line cut short, then (room again) a
    # line saying how many were lost, and the rest of the session.
    lines = path.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            parsed.append(None)
    assert parsed.count(None) <= 1
    names = [e["event"] for e in parsed if e]
    gaps = [e for e in parsed if e and e["event"] == "log_lines_dropped"]
    assert gaps and gaps[0]["lines"] > 0 and gaps[0]["error"].startswith("ENOSPC")
    gap = names.index("log_lines_dropped")
    assert "device_connected" in names[:gap] and "set_done" in names[gap:]


def test_a_read_only_state_folder_loses_the_logs_not_the_session(tmp_path, monkeypatch):
    """EROFS on opening the wire log and the log file from the start."""
    disk = Disk()
    disk.read_only = True
    monkeypatch.setattr(wirelog, "open", disk.open, raising=False)
    monkeypatch.setattr(logs, "open", disk.open, raising=False)
    out = io.StringIO()
    before = (wirelog.dropped(), logs.dropped())
    configure_logging("json", "warning", stream=out, file=tmp_path / "logs" / "h.jsonl")
    wirelog.enable(tmp_path / "wire")
    db = tmp_path / "h.sqlite"
    result, _, _, _ = run_session(one_exercise_plan(), db, URL)
    seen = events(out)
    wirelog.enable(None)
    logs.close()
    assert_the_session_went_on(db, result)
    assert wirelog.dropped() > before[0] and logs.dropped() > before[1]
    assert not list((tmp_path / "wire").glob("*.hswl"))
    warned = sorted(e["event"] for e in seen if e["level"] == "warning")
    assert warned == ["log_file_write_failed", "wire_log_write_failed"]
    assert all(e["error"].startswith("EROFS") for e in seen if e["level"] == "warning")


def test_a_wire_log_that_cannot_rotate_keeps_its_first_file_and_the_session(tmp_path,
                                                                             monkeypatch):
    """The folder takes no new file when the first one reaches its cap (EROFS on rotating)."""
    disk = Disk()
    monkeypatch.setattr(wirelog, "open", disk.open, raising=False)
    monkeypatch.setattr(wirelog, "FILE_CAP", 30_000)
    out = io.StringIO()
    configure_logging("json", "warning", stream=out)
    before = wirelog.dropped()
    wirelog.enable(tmp_path / "wire")

    disk.max_files = 1
    db = tmp_path / "h.sqlite"
    result, _, _, _ = run_session(one_exercise_plan(), db, URL)
    writer = wirelog.recorder("x")
    seen = events(out)
    wirelog.enable(None)
    assert_the_session_went_on(db, result)
    assert writer is not None and len(writer.files) == 1 and disk.refused > 0
    assert wirelog.dropped() - before > 0
    only = read_wire_log(writer.files[0])
    assert only.problem is None and only.records  # closed whole at the cap
    assert writer.files[0].stat().st_size <= 30_000
    warned = [e for e in seen if e["level"] == "warning"]
    assert len(warned) == 1 and warned[0]["error"].startswith("EROFS")


def test_a_disk_slower_than_the_link_drops_and_counts_instead_of_blocking(tmp_path,
                                                                          monkeypatch):
    """The writer's queue is bounded: while the disk hangs, `write` returns at once and what
    does not fit is dropped (counted, one warning); what was queued is written on closing."""
    gate = threading.Event()
    real_open = builtins.open

    class Slow:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            gate.wait()
            return self._f.write(data)

        def __getattr__(self, name):
            return getattr(self._f, name)

    monkeypatch.setattr(wirelog, "open", lambda *a, **k: Slow(real_open(*a, **k)),
                        raising=False)
    out = io.StringIO()
    configure_logging("json", "warning", stream=out)
    w = wirelog.WireLogWriter(tmp_path, {"link": "x"}, queue_bytes=10_000)
    t0 = time.monotonic()
    for _ in range(200):
        w.write(RX, bytes(100))
    assert time.monotonic() - t0 < 1.0  # never waited for the disk
    assert w.dropped > 0 and w.queue_full
    assert [e["event"] for e in events(out)] == ["wire_log_behind"]
    gate.set()
    w.close()
    assert len(read_wire_log(w.files[0]).records) == 200 - w.dropped


def test_a_failing_stream_or_flight_recorder_is_not_raised_into_the_caller(tmp_path,
                                                                            monkeypatch):
    def full(self, reason):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(flight.FlightRecorder, "dump", full)
    flight.enable(tmp_path / "flight")
    out = io.StringIO()
    configure_logging("json", "warning", stream=out, file=tmp_path / "h.jsonl")
    log = structlog.get_logger("test")
    before = logs.flight_failures()
    log.warning("link_closed", reason="test")  # a flight-record trigger
    assert logs.flight_failures() == before + 1
    assert [e["event"] for e in events(out)] == ["flight_record_failed", "link_closed"]
    out.close()  # stderr gone (a closed pipe)
    s = logs.stream_dropped()
    log.warning("link_closed", reason="again")
    assert logs.stream_dropped() == s + 1
