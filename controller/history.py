"""Training history in SQLite: sessions, sets, reps, check-ins, planner decisions, safety events.

WAL journal, synchronous=FULL: every finished set is one committed transaction, so a crash or
`kill -9` of the controller loses at most the set in progress. The schema is versioned with
`PRAGMA user_version` and migrated forward on open.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.reps import Rep

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',  -- running|finished|stopped|stopped: red flag
        profile TEXT,
        device_serial TEXT,
        firmware TEXT,
        pain_during INTEGER,
        pain_after INTEGER,
        pain_settled INTEGER,
        red_flags TEXT NOT NULL DEFAULT '[]',
        confidence INTEGER,
        more_capable INTEGER,
        notes TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE sets (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        exercise TEXT NOT NULL,
        set_index INTEGER NOT NULL,
        kind TEXT NOT NULL,  -- work | assessment
        load_kg REAL NOT NULL,
        target_reps INTEGER,
        full_reps INTEGER NOT NULL,
        partial_reps INTEGER NOT NULL,
        mean_concentric_m_s REAL,
        velocity_loss REAL,
        rom_consistency REAL,
        time_under_tension_s REAL,
        ended_by TEXT,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL
    );
    CREATE TABLE reps (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES sets(id),
        idx INTEGER NOT NULL,
        kind TEXT NOT NULL,
        start_s REAL, turn_s REAL, end_s REAL,
        rom_mm REAL, rom_pct REAL,
        mean_concentric_m_s REAL, peak_concentric_m_s REAL,
        peak_tension_n REAL, mean_concentric_power_w REAL, time_under_tension_s REAL
    );
    CREATE TABLE checkins (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        exercise TEXT,  -- NULL: the whole session
        pain INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        exercise TEXT NOT NULL,
        load_kg REAL NOT NULL,
        change TEXT NOT NULL,
        reasons TEXT NOT NULL
    );
    CREATE TABLE safety_events (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        cause TEXT NOT NULL,
        load_kg REAL,
        seq INTEGER,
        firmware TEXT,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX sets_by_session ON sets(session_id);
    CREATE INDEX reps_by_set ON reps(set_id);
    """,
    # 2: every check-in answer by question id, a red flag with its kind (never a number)
    """
    CREATE TABLE answers (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions(id),
        question TEXT NOT NULL,
        answer TEXT,  -- JSON: a number, yes/no, a choice (NULL when skipped or a red flag)
        red_flag TEXT,  -- the kind, when the answer was a red flag
        at TEXT NOT NULL
    );
    CREATE INDEX answers_by_session ON answers(session_id);
    """,
)

STRONG_COLUMNS = ("Date", "Workout Name", "Duration", "Exercise Name", "Set Order", "Weight",
                  "Reps", "Distance", "Seconds", "Notes", "Workout Notes", "RPE")


@dataclass
class SetRecord:
    exercise: str
    set_index: int
    kind: str
    load_kg: float
    target_reps: int | None
    full_reps: int
    partial_reps: int
    mean_concentric_m_s: float | None
    velocity_loss: float | None
    rom_consistency: float | None
    time_under_tension_s: float | None
    ended_by: str | None
    started_at: str
    ended_at: str
    reps: list[Rep] = field(default_factory=list)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class History:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        current = self.version
        if current > len(MIGRATIONS):
            raise RuntimeError(f"{self.path}: schema version {current} is newer than this "
                               f"program knows ({len(MIGRATIONS)}); upgrade halfstep")
        for version in range(current, len(MIGRATIONS)):
            with self.transaction() as db:  # a migration applies whole or not at all
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version={version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---- writing ----------------------------------------------------------------------------

    def start_session(self, day: dt.date, *, profile: str | None, device_serial: str | None,
                      firmware: str | None) -> int:
        with self.transaction() as db:
            cur = db.execute("INSERT INTO sessions(day, started_at, profile, device_serial, "
                             "firmware) VALUES (?, ?, ?, ?, ?)",
                             (day.isoformat(), now(), profile, device_serial, firmware))
            return int(cur.lastrowid)

    def record_decisions(self, session_id: int, items: list[dict[str, Any]]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT INTO decisions(session_id, exercise, load_kg, change, reasons)"
                           " VALUES (?, ?, ?, ?, ?)",
                           [(session_id, i["exercise"], i["load_kg"], i["change"],
                             json.dumps(i["reasons"])) for i in items])

    def record_set(self, session_id: int, s: SetRecord) -> int:
        """The set and its reps in one transaction: committed before the next set starts."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO sets(session_id, exercise, set_index, kind, load_kg, target_reps, "
                "full_reps, partial_reps, mean_concentric_m_s, velocity_loss, rom_consistency, "
                "time_under_tension_s, ended_by, started_at, ended_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, s.exercise, s.set_index, s.kind, s.load_kg, s.target_reps,
                 s.full_reps, s.partial_reps, s.mean_concentric_m_s, s.velocity_loss,
                 s.rom_consistency, s.time_under_tension_s, s.ended_by, s.started_at,
                 s.ended_at))
            set_id = int(cur.lastrowid)
            db.executemany(
                "INSERT INTO reps(set_id, idx, kind, start_s, turn_s, end_s, rom_mm, rom_pct, "
                "mean_concentric_m_s, peak_concentric_m_s, peak_tension_n, "
                "mean_concentric_power_w, time_under_tension_s) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(set_id, r.index, r.kind, r.start_s, r.turn_s, r.end_s, r.rom_mm, r.rom_pct,
                  r.mean_concentric_m_s, r.peak_concentric_m_s, r.peak_tension_n,
                  r.mean_concentric_power_w, r.time_under_tension_s) for r in s.reps])
            return set_id

    def record_checkin(self, session_id: int, exercise: str | None, pain: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO checkins(session_id, exercise, pain, at) VALUES (?, ?, ?, ?)",
                       (session_id, exercise, pain, now()))

    def record_answer(self, session_id: int | None, question: str, answer: Any,
                      red_flag: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO answers(session_id, question, answer, red_flag, at) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (session_id, question, None if red_flag or answer is None
                        else json.dumps(answer), red_flag, now()))

    def record_safety_event(self, session_id: int | None, kind: str, cause: str, *,
                            load_kg: float | None = None, seq: int | None = None,
                            firmware: str | None = None, **data: Any) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO safety_events(session_id, at, kind, cause, load_kg, seq, "
                       "firmware, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (session_id, now(), kind, cause, load_kg, seq, firmware,
                        json.dumps(data, default=str)))

    def finish_session(self, session_id: int, *, status: str, pain_during: int | None,
                       red_flags: list[str], confidence: int | None = None,
                       more_capable: bool | None = None, notes: str = "") -> None:
        with self.transaction() as db:
            db.execute("UPDATE sessions SET ended_at=?, status=?, pain_during=?, red_flags=?, "
                       "confidence=?, more_capable=?, notes=? WHERE id=?",
                       (now(), status, pain_during, json.dumps(red_flags), confidence,
                        more_capable, notes, session_id))

    # ---- reading ----------------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT s.*, COUNT(t.id) AS sets, COALESCE(SUM(t.full_reps), 0) AS reps, "
            "COALESCE(SUM(t.full_reps * t.load_kg), 0) AS volume_kg "
            "FROM sessions s LEFT JOIN sets t ON t.session_id = s.id "
            "GROUP BY s.id ORDER BY s.id").fetchall()
        return [dict(r) for r in rows]

    def session(self, session_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["red_flags"] = json.loads(out["red_flags"])
        out["sets"] = []
        for s in self.db.execute("SELECT * FROM sets WHERE session_id=? ORDER BY id",
                                 (session_id,)):
            d = dict(s)
            d["reps"] = [dict(r) for r in self.db.execute(
                "SELECT * FROM reps WHERE set_id=? ORDER BY idx", (s["id"],))]
            out["sets"].append(d)
        out["checkins"] = [dict(r) for r in self.db.execute(
            "SELECT exercise, pain, at FROM checkins WHERE session_id=? ORDER BY id",
            (session_id,))]
        out["answers"] = [{**dict(r), "answer": None if r["answer"] is None
                           else json.loads(r["answer"])} for r in self.db.execute(
            "SELECT question, answer, red_flag, at FROM answers WHERE session_id=? ORDER BY id",
            (session_id,))]
        out["decisions"] = [{**dict(r), "reasons": json.loads(r["reasons"])}
                            for r in self.db.execute(
                                "SELECT exercise, load_kg, change, reasons FROM decisions "
                                "WHERE session_id=? ORDER BY id", (session_id,))]
        out["safety_events"] = [{**dict(r), "data": json.loads(r["data"])}
                                for r in self.db.execute(
                                    "SELECT at, kind, cause, load_kg, seq, firmware, data FROM "
                                    "safety_events WHERE session_id=? ORDER BY id",
                                    (session_id,))]
        return out

    def strong_rows(self) -> list[dict[str, Any]]:
        """One row per set, in the columns of the Strong app's CSV export."""
        out = []
        q = ("SELECT s.id AS sid, s.started_at, s.ended_at, s.notes AS wnotes, t.* FROM sets t "
             "JOIN sessions s ON s.id = t.session_id ORDER BY s.id, t.id")
        for r in self.db.execute(q):
            start = dt.datetime.fromisoformat(r["started_at"])
            end = dt.datetime.fromisoformat(r["ended_at"] or r["started_at"])
            minutes = max(0, round((end - start).total_seconds() / 60))
            out.append({
                "Date": start.strftime("%Y-%m-%d %H:%M:%S"),
                "Workout Name": f"Halfstep session {r['sid']}",
                "Duration": f"{minutes}m",
                "Exercise Name": r["exercise"],
                "Set Order": r["set_index"],
                "Weight": r["load_kg"],
                "Reps": r["full_reps"],
                "Distance": 0,
                "Seconds": round(r["time_under_tension_s"] or 0),
                "Notes": ("assessment" if r["kind"] == "assessment" else "")
                + (f"; {r['partial_reps']} partial" if r["partial_reps"] else ""),
                "Workout Notes": r["wnotes"],
                "RPE": "",
            })
        return out

