"""No finished set is lost: a history write that fails (disk full, I/O error) goes to a journal
beside the database and is written into it later, in order and exactly once; sessions a finished
program left `running` are marked interrupted on open.

Disk full is real here: `PRAGMA max_page_count` capped at the database's size makes SQLite answer
"database or disk is full" to any write that needs a new page. The databases use 1 KiB pages, so
a set with its 12 reps (1.3 KB: SQLite keeps whole floats as integers, so they are not whole)
always needs one.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from controller.analysis.reps import Rep
from controller.core.history import History, SetRecord, transient

DAY = dt.date(2026, 11, 16)


def new_db(tmp_path: Path) -> Path:
    db = tmp_path / "h.sqlite"
    con = sqlite3.connect(db)
    con.execute("PRAGMA page_size=1024")
    con.execute("PRAGMA journal_mode=WAL")  # writes the header: the page size is fixed
    con.close()
    return db


def disk_full(h: History) -> None:
    pages = h.db.execute("PRAGMA page_count").fetchone()[0]
    h.db.execute(f"PRAGMA max_page_count={pages}").fetchone()


def space_back(h: History) -> None:
    h.db.execute("PRAGMA max_page_count=1073741823").fetchone()


def a_set(index: int, exercise: str = "seated row", reps: int = 12) -> SetRecord:
    t = dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=3 * index)
    done = [Rep(i, "full", 2.1 * i, 2.1 * i + 0.83, 2.1 * i + 1.87, 0.83, 1.04, 420.3 + i, 98.5,
                0.52, 0.71, 310.7, 85.2, 1.87) for i in range(1, reps + 1)]
    return SetRecord(exercise, index, "work", 10.0 + index, 12, reps, 0, 0.52, 0.12, 0.95,
                     21.6, "handles released", t.isoformat(timespec="milliseconds"),
                     (t + dt.timedelta(seconds=40)).isoformat(timespec="milliseconds"), done)


def journal(h: History) -> list[dict[str, Any]]:
    return [json.loads(line) for line in h.journal_path.read_text().splitlines()]


def rejected(h: History) -> Path:
    return h.journal_path.with_name(h.journal_path.name + ".rejected")


def sets_in_db(db: Path) -> list[tuple[int, int, int]]:
    """(session, set index, reps kept) of every set row."""
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT t.session_id, t.set_index, COUNT(r.id) FROM sets t "
                           "LEFT JOIN reps r ON r.set_id = t.id GROUP BY t.id "
                           "ORDER BY t.id").fetchall()
    finally:
        con.close()


def test_the_disk_full_is_real_and_counts_as_transient(tmp_path):
    db = new_db(tmp_path)
    with History(db) as h:
        assert h.version == 3
        sid = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
        disk_full(h)
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full") as got, \
                h.transaction() as con:
            con.execute("INSERT INTO checkins(session_id, pain, at) VALUES (?, 1, 'now')",
                        (sid,))
            con.execute("INSERT INTO decisions(session_id, exercise, load_kg, change, reasons) "
                        "VALUES (?, 'x', 1, 'y', ?)", (sid, "z" * 5000))
        assert transient(got.value) and not h.db.in_transaction


def test_a_set_finished_while_the_disk_is_full_waits_in_the_journal(tmp_path):
    db = new_db(tmp_path)
    h = History(db)
    sid = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
    assert h.record_set(sid, a_set(1)) > 0
    disk_full(h)
    assert h.record_set(sid, a_set(2)) == 0  # no raise: the session goes on
    assert h.pending == 1 and h.unsaved == 0
    [kept] = journal(h)
    assert kept["op"] == "set" and kept["row"]["set_index"] == 2 and len(kept["reps"]) == 12
    # Later records wait behind it (the order is kept), whatever their size.
    h.record_checkin(sid, "seated row", 3)
    h.record_answer(sid, "rir:seated row:2", 2)
    h.record_safety_event(sid, "stop", "test", load_kg=12.0)
    h.finish_session(sid, status="finished", pain_during=3, red_flags=[], confidence=7)
    assert h.pending == 5
    assert sets_in_db(db) == [(sid, 1, 12)]
    # Space is back: the next write puts the journal in first, then itself.
    space_back(h)
    h.record_answer(sid, "after", True)
    assert h.pending == 0 and not h.journal_path.exists()
    s = h.session(sid)
    assert [(t["set_index"], len(t["reps"])) for t in s["sets"]] == [(1, 12), (2, 12)]
    assert s["status"] == "finished" and s["confidence"] == 7
    assert [c["pain"] for c in s["checkins"]] == [3]
    assert [a["question"] for a in s["answers"]] == ["rir:seated row:2", "after"]
    assert [e["kind"] for e in s["safety_events"]] == ["stop"]
    h.close()
    with History(db) as h:  # and no second time on open
        assert h.pending == 0
    assert sets_in_db(db) == [(sid, 1, 12), (sid, 2, 12)]


def test_the_journal_is_written_on_the_next_open(tmp_path):
    db = new_db(tmp_path)
    h = History(db)
    sid = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
    disk_full(h)
    for k in (1, 2, 3):
        h.record_set(sid, a_set(k))
    h.finish_session(sid, status="finished", pain_during=2, red_flags=[])
    h.close()  # tries once more: still full
    assert h.pending == 4 and sets_in_db(db) == []
    with h.journal_path.open("ab") as f:  # the program ended while writing a line
        f.write(b'{"op":"set","session_id":1,"ro')
    with History(db) as h:
        assert h.pending == 0
        s = h.session(sid)
        assert [t["set_index"] for t in s["sets"]] == [1, 2, 3]
        assert s["status"] == "finished" and s["notes"] == ""  # finished, not "interrupted"
    assert not h.journal_path.exists()
    with History(db):
        pass
    assert sets_in_db(db) == [(sid, 1, 12), (sid, 2, 12), (sid, 3, 12)]


def test_a_crash_between_the_commit_and_the_journal_removal_writes_nothing_twice(tmp_path):
    db = new_db(tmp_path)
    h = History(db)
    sid = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
    disk_full(h)
    h.record_set(sid, a_set(1))
    h.record_set(sid, a_set(2))
    h.record_checkin(sid, None, 4)
    left = h.journal_path.read_bytes()
    space_back(h)
    assert h.retry() == 0
    h.close()
    h.journal_path.write_bytes(left)  # as if the program died before removing the journal
    with History(db) as h:
        assert h.pending == 0 and not h.journal_path.exists()
        assert [c["pain"] for c in h.session(sid)["checkins"]] == [4]
    assert sets_in_db(db) == [(sid, 1, 12), (sid, 2, 12)]
    assert not rejected(h).exists()  # skipped as written, not refused by the database


class CommitFailsAfterCommitting:
    """A connection whose COMMIT reaches the disk, then reports an I/O error (an fsync that
    failed after the write): the caller cannot know the set is in."""

    def __init__(self, db: sqlite3.Connection):
        self.real = db

    def execute(self, sql: str, *args: Any) -> Any:
        out = self.real.execute(sql, *args)
        if sql == "COMMIT":
            e = sqlite3.OperationalError("disk I/O error")
            e.sqlite_errorcode = sqlite3.SQLITE_IOERR_FSYNC  # type: ignore[attr-defined]
            raise e
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_commit_that_reports_failure_after_all_is_not_written_twice(tmp_path):
    db = new_db(tmp_path)
    with History(db) as h:
        real = h.db
        h.db = CommitFailsAfterCommitting(real)  # type: ignore[assignment]
        sid = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
        assert sid < 0  # journaled: the id is provisional
        h.record_set(sid, a_set(1))
        assert h.pending == 2
        h.db = real
        h.record_set(sid, a_set(2))
        assert h.pending == 0
        assert [s["id"] for s in h.sessions()] == [1]
    assert sets_in_db(db) == [(1, 1, 12), (1, 2, 12)]
    assert not rejected(h).exists()


def test_a_session_started_while_the_disk_is_full_gets_a_provisional_id(tmp_path):
    db = new_db(tmp_path)
    h = History(db)
    first = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
    disk_full(h)
    h.record_set(first, a_set(1))
    h.finish_session(first, status="finished", pain_during=1, red_flags=[])
    sid = h.start_session(DAY + dt.timedelta(days=2), profile="pain", device_serial="X",
                          firmware="1.0.0")
    assert sid == -1
    h.record_decisions(sid, [{"exercise": "seated row", "load_kg": 11.0, "change": "up",
                              "reasons": [{"rule": "PROG-1"}]}])
    h.record_set(sid, a_set(1))
    assert h.pending == 5 and sets_in_db(db) == []
    space_back(h)
    h.record_set(sid, a_set(2))  # the provisional id, mapped once the session is written
    h.record_checkin(sid, None, 2)
    h.finish_session(sid, status="finished", pain_during=2, red_flags=[])
    assert h.pending == 0
    h.close()
    assert sets_in_db(db) == [(first, 1, 12), (2, 1, 12), (2, 2, 12)]
    with History(db) as h:  # another run still knows -1: through `applied`
        h.record_checkin(-1, "seated row", 5)
        s = h.session(2)
        assert s["status"] == "finished" and s["day"] == "2026-11-18"
        assert [c["pain"] for c in s["checkins"]] == [2, 5]
        assert [d["exercise"] for d in s["decisions"]] == ["seated row"]
        disk_full(h)
        h.record_set(2, a_set(3))
        assert h.start_session(DAY, profile="pain", device_serial=None, firmware=None) == -2


def test_when_even_the_journal_cannot_be_written_the_records_wait_in_memory(tmp_path,
                                                                             monkeypatch):
    db = new_db(tmp_path)
    h = History(db)
    assert h.reserve_path.stat().st_size > 0
    sid = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
    disk_full(h)
    real = History._journal_locked

    def no_space(self, *, create):
        if create:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, create=create)

    monkeypatch.setattr(History, "_journal_locked", no_space)
    assert h.record_set(sid, a_set(1)) == 0  # no raise
    h.record_set(sid, a_set(2))
    assert not h.reserve_path.exists()  # freed for the journal, once
    assert h.pending == h.unsaved == 2 and not h.journal_path.exists()
    monkeypatch.setattr(History, "_journal_locked", real)
    h.record_set(sid, a_set(3))  # the journal file takes them again, in order
    assert h.pending == 3 and h.unsaved == 0
    assert [r["row"]["set_index"] for r in journal(h)] == [1, 2, 3]
    space_back(h)
    h.finish_session(sid, status="finished", pain_during=None, red_flags=[])
    assert h.pending == 0
    h.close()
    assert sets_in_db(db) == [(sid, 1, 12), (sid, 2, 12), (sid, 3, 12)]
    with History(db) as h:  # the reserve is made again once nothing waits
        assert h.reserve_path.exists()


def test_a_session_left_running_is_marked_interrupted_on_open(tmp_path):
    db = new_db(tmp_path)
    with History(db) as h:
        done = h.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
        h.finish_session(done, status="finished", pain_during=1, red_flags=[])
        left = h.start_session(DAY + dt.timedelta(days=2), profile="pain", device_serial="X",
                               firmware="1.0.0")
        h.record_set(left, a_set(1))
        h.record_checkin(left, "seated row", 4)
        h.record_set(left, a_set(2))
        last_at = h.session(left)["checkins"][-1]["at"]
        # The program is killed here: the session is never finished.
    with History(db) as h:
        s = h.session(left)
        assert (s["status"], s["notes"]) == ("stopped", "interrupted")  # as SessionRunner does
        assert s["pain_during"] == 4 and s["red_flags"] == []
        assert s["ended_at"] == max(last_at, s["sets"][-1]["ended_at"])  # its last record
        assert len(s["sets"]) == 2
        kept = h.session(done)
        assert (kept["status"], kept["notes"]) == ("finished", "")


def test_the_session_of_a_program_still_running_is_left_alone(tmp_path):
    db = new_db(tmp_path)
    live = History(db)
    sid = live.start_session(DAY, profile="pain", device_serial="X", firmware="1.0.0")
    live.record_set(sid, a_set(1))
    with History(db) as h:  # `halfstep history list` while the session runs
        assert h.session(sid)["status"] == "running"
    with History(db) as h:
        assert h.session(sid)["status"] == "running"
    live.finish_session(sid, status="finished", pain_during=1, red_flags=[])
    live.close()
    with History(db) as h:
        assert (h.session(sid)["status"], h.session(sid)["notes"]) == ("finished", "")


def test_an_error_that_is_not_about_space_is_still_raised(tmp_path):
    db = new_db(tmp_path)
    with History(db) as h:
        with pytest.raises(sqlite3.IntegrityError):  # no such session: a bug, not the disk
            h.record_set(42, a_set(1))
        assert h.pending == 0


def test_a_history_from_before_the_journal_is_migrated_and_its_running_session_closed(tmp_path):
    from controller.core.history import MIGRATIONS

    db = tmp_path / "h.sqlite"
    con = sqlite3.connect(db, isolation_level=None)
    for version, script in enumerate(MIGRATIONS[:2], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version={version}")
    con.execute("INSERT INTO sessions(day, started_at) VALUES ('2026-11-16', "
                "'2026-11-16T10:00:00.000+00:00')")
    con.close()
    with History(db) as h:
        assert h.version == 3
        s = h.session(1)
        assert (s["status"], s["notes"], s["ended_at"]) == \
            ("stopped", "interrupted", "2026-11-16T10:00:00.000+00:00")
