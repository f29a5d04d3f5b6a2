"""The history database's schema and the open connection to it: the migrations, the columns a
journal record may write, how a file is recognised as a Halfstep history before anything is
written to it, and the transactions every write goes through.

The schema is versioned with `PRAGMA user_version` and migrated forward on open.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    # 3: the id of every write, stored with its rows: a journaled record is written once
    """
    CREATE TABLE applied (
        id TEXT PRIMARY KEY,
        row_id INTEGER,  -- the row it made: the session's id for a session, the set's for a set
        provisional INTEGER  -- a session started while the disk was full: the id handed out
    ) WITHOUT ROWID;
    CREATE INDEX applied_by_provisional ON applied(provisional) WHERE provisional IS NOT NULL;
    """,
)

COLUMNS = {  # what a journal record may write, by table
    "sessions": {"day", "started_at", "profile", "device_serial", "firmware"},
    "decisions": {"session_id", "exercise", "load_kg", "change", "reasons"},
    "sets": {"session_id", "exercise", "set_index", "kind", "load_kg", "target_reps",
             "full_reps", "partial_reps", "mean_concentric_m_s", "velocity_loss",
             "rom_consistency", "time_under_tension_s", "ended_by", "started_at", "ended_at"},
    "reps": {"set_id", "idx", "kind", "start_s", "turn_s", "end_s", "rom_mm", "rom_pct",
             "mean_concentric_m_s", "peak_concentric_m_s", "peak_tension_n",
             "mean_concentric_power_w", "time_under_tension_s"},
    "checkins": {"session_id", "exercise", "pain", "at"},
    "answers": {"session_id", "question", "answer", "red_flag", "at"},
    "safety_events": {"session_id", "at", "kind", "cause", "load_kg", "seq", "firmware", "data"},
    "finish": {"ended_at", "status", "pain_during", "red_flags", "confidence", "more_capable",
               "notes"},
}
REP_COLUMNS = ("idx", "kind", "start_s", "turn_s", "end_s", "rom_mm", "rom_pct",
               "mean_concentric_m_s", "peak_concentric_m_s", "peak_tension_n",
               "mean_concentric_power_w", "time_under_tension_s")

STRONG_COLUMNS = ("Date", "Workout Name", "Duration", "Exercise Name", "Set Order", "Weight",
                  "Reps", "Distance", "Seconds", "Notes", "Workout Notes", "RPE")

SQLITE_MAGIC = b"SQLite format 3\x00"


class NotAHistory(ValueError):
    """The file named as the history cannot be one: says which file and what is wrong with it.
    Nothing has been written to it."""


def check_history_file(path: Path, create: bool = True) -> None:
    """Refuse, before anything is written, a path that is not a Halfstep history (or, with
    `create`, a new one in a folder that exists): an empty or foreign file is never taken over."""
    if path.is_dir():
        raise NotAHistory(f"{path} is a folder, not a history database")
    if not path.exists():
        if not path.parent.is_dir():
            raise NotAHistory(f"{path}: the folder {path.parent} does not exist")
        if not create:
            raise NotAHistory(f"{path}: no history yet (run a session with halfstep run)")
        return
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise NotAHistory(f"{path}: cannot be read ({e.strerror or e})") from None
    if not head:
        raise NotAHistory(f"{path} is an empty file, not a Halfstep history: remove it or "
                          "name another file")
    if head != SQLITE_MAGIC:
        raise NotAHistory(f"{path} is not a Halfstep history database (not an SQLite file)")
    try:  # read-only: whose SQLite database it is
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            check_schema(db, path)
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise NotAHistory(f"{path} cannot be read as a history database ({e})") from None


def check_schema(db: sqlite3.Connection, path: Path) -> None:
    """An SQLite file of some other program (tables but no Halfstep schema version) is
    refused rather than given Halfstep's tables."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if version == 0 and tables:
        raise NotAHistory(f"{path} is an SQLite database of another program, not a Halfstep "
                          "history")
    if version and "sessions" not in tables:
        raise NotAHistory(f"{path} is not a Halfstep history (no sessions table)")


class Database:
    """The open database: its schema version, the migrations that bring it up to date and the
    transactions records are written in (the base of History)."""

    path: Path
    db: sqlite3.Connection

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
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # a failed COMMIT (disk full) leaves it open
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise
