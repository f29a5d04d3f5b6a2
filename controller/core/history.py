"""Training history in SQLite: sessions, sets, reps, check-ins, planner decisions, safety events.

WAL journal, synchronous=FULL: every finished set is one committed transaction, so a crash or
`kill -9` of the controller loses at most the set in progress. The schema is versioned with
`PRAGMA user_version` and migrated forward on open.

No finished set is lost when the database cannot be written (disk full, I/O error, read-only):
the record goes to a journal beside it (`<db>.journal`, JSON lines, fsync'd; when even that
cannot be written, to memory), the caller goes on, and the journal is written into the database,
in order and exactly once, at the next write or open that succeeds. Each write carries an id,
stored in the `applied` table in the same transaction as its rows, so a crash between the commit
and the journal's removal (or a commit that failed after all) does not write it twice.
`<db>.reserve` (RESERVE_BYTES) is space kept back for the journal: freed when the disk is full.
On open, sessions a finished program left `running` are marked interrupted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import structlog

from controller.analysis.reps import Rep

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, sessions are still marked on open
    fcntl = None  # type: ignore[assignment]

log = structlog.get_logger("controller.core.history")

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

# Failures that say the database cannot be written now (space, I/O, permissions, another writer,
# a damaged file) but may be later, or by a person's repair: the record is journaled. Any other
# error (a constraint, no such table) is a bug and is raised.
TRANSIENT = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY,
                       sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
                       sqlite3.SQLITE_PERM, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
RESERVE_BYTES = 256 * 1024  # about 100 sets with their reps, as journal lines
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


def transient(e: BaseException) -> bool:
    """A write that may succeed later (disk full, I/O error, read-only, busy): journal it."""
    if isinstance(e, OSError):
        return True
    code = getattr(e, "sqlite_errorcode", None)
    return isinstance(e, sqlite3.DatabaseError) and code is not None \
        and code & 0xFF in TRANSIENT


class Unresolved(LookupError):
    """A provisional session id whose session is not in the database (yet)."""


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
            _check_schema(db, path)
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise NotAHistory(f"{path} cannot be read as a history database ({e})") from None


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """An SQLite file of some other program (tables but no Halfstep schema version) is
    refused rather than given Halfstep's tables."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if version == 0 and tables:
        raise NotAHistory(f"{path} is an SQLite database of another program, not a Halfstep "
                          "history")
    if version and "sessions" not in tables:
        raise NotAHistory(f"{path} is not a Halfstep history (no sessions table)")


class History:
    """The history database. Writes never raise for a database that cannot be written now
    (see `transient`): the record is journaled and written later; `pending` says how many wait.

    Files beside `<db>`: `<db>.lock` (held while open: only an opener that finds no other
    History open marks `running` sessions interrupted), `<db>.journal` (while records wait),
    `<db>.reserve` (space kept for the journal), `<db>.journal.rejected` (a journal record the
    database refused for a reason other than space: kept for a person to look at).
    """

    def __init__(self, path: Path | str, *, reserve_bytes: int = RESERVE_BYTES,
                 readonly: bool = False):
        self.path = Path(path)
        check_history_file(self.path, create=not readonly)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.reserve_path = self.path.with_name(self.path.name + ".reserve")
        self._memory: list[dict[str, Any]] = []  # journal records not even the file took
        self._provisional: dict[int, int] = {}  # provisional session id -> real id
        self._handed_out = 0  # the lowest provisional id handed out by this instance
        self._lock: int | None = None
        self._opened = False
        self._left_over = False  # read-only: `running` sessions are a killed program's
        if readonly:  # reading (history list/show/export): no lock, journal or reserve files
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                      isolation_level=None)
            try:
                self.db.row_factory = sqlite3.Row
                _check_schema(self.db, self.path)
                if self.version < len(MIGRATIONS):
                    raise NotAHistory(f"{self.path} was written by an older halfstep: run a "
                                      "session (halfstep run) once to bring it up to date")
                self.migrate()  # a newer schema than this program knows: refused there
            except BaseException:
                self.db.close()
                raise
            self._left_over = self._nobody_has_it_open()
            return
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
        try:
            _check_schema(self.db, self.path)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
            alone = self._take_lock()
            done = self._replay()
            if alone and done:
                self._mark_interrupted()
            self._share_lock()
            self._keep_reserve(reserve_bytes)
            self._opened = True
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Closes the database; records still waiting are tried once more first (those only in
        memory are lost once the program ends: logged as an error)."""
        try:
            if self._opened and self._has_pending():
                try:
                    self._replay()
                    self._flush_memory()
                except Exception as e:  # closing goes on: what is in the journal stays there
                    log.error("history_close_replay_failed", error=repr(e))
            if self._memory:
                log.error("history_records_lost", db=str(self.path), records=len(self._memory),
                          journal=str(self.journal_path))
        finally:
            self._opened = False  # `pending` and `unsaved` still answer after closing
            self.db.close()
            if self._lock is not None:
                os.close(self._lock)  # releases the lock
                self._lock = None

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
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # a failed COMMIT (disk full) leaves it open
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
            raise

    # ---- the journal ------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Records waiting to be written into the database (for "N records waiting to be
        written"): in the journal file, or only in memory (see `unsaved`)."""
        return len(self._file_records()) + len(self._memory)

    @property
    def unsaved(self) -> int:
        """Records that not even the journal file took: lost if the program ends first."""
        return len(self._memory)

    def retry(self) -> int:
        """Writes what waits, if the database takes it now; returns `pending`."""
        if self._has_pending():
            self._replay()
        return self.pending

    def _has_pending(self) -> bool:
        if self._memory:
            return True
        try:
            return self.journal_path.stat().st_size > 0
        except OSError:
            return False

    def _write(self, record: dict[str, Any]) -> int | None:
        """One record into the database, or into the journal when the database cannot be
        written now (or older records still wait: the order is kept). Returns the row id it made,
        or None when it was journaled."""
        record["id"] = uuid.uuid4().hex
        if self._has_pending():
            self._replay()
        if not self._has_pending():
            try:
                with self.transaction() as db:
                    return self._apply(db, record)
            except Unresolved:
                pass  # its session waits in a journal: so does it (rejected if it never comes)
            except Exception as e:
                if not transient(e):
                    raise
                log.warning("history_write_failed", db=str(self.path), record=record["op"],
                            error=str(e))
        if record["op"] == "start_session":
            record["provisional"] = self._new_provisional()
        self._memory.append(record)
        self._flush_memory()
        log.warning("history_record_journaled", record=record["op"], pending=self.pending,
                    in_memory=len(self._memory))
        return None

    def _apply(self, db: sqlite3.Connection, r: dict[str, Any]) -> int | None:
        """A record's rows, and its id in `applied`, inside the caller's transaction."""
        op = r["op"]
        row: int | None = None
        session = self._resolve(r.get("session_id"))
        if op == "start_session":
            row = self._insert(db, "sessions", r["row"])
        elif op == "decisions":
            for item in r["rows"]:
                self._insert(db, "decisions", {**item, "session_id": session})
        elif op == "set":
            row = self._insert(db, "sets", {**r["row"], "session_id": session})
            for rep in r["reps"]:
                self._insert(db, "reps", {**rep, "set_id": row})
        elif op in ("checkins", "answers", "safety_events"):
            self._insert(db, op, {**r["row"], "session_id": session})
        elif op == "finish_session":
            values = r["row"]
            if not set(values) <= COLUMNS["finish"]:
                raise ValueError(f"journal record with unknown columns: {sorted(values)}")
            db.execute(f"UPDATE sessions SET {', '.join(f'{k}=?' for k in values)} WHERE id=?",
                       (*values.values(), session))
        else:
            raise ValueError(f"unknown journal record {op!r}")
        db.execute("INSERT INTO applied(id, row_id, provisional) VALUES (?, ?, ?)",
                   (r["id"], row, r.get("provisional")))
        return row

    @staticmethod
    def _insert(db: sqlite3.Connection, table: str, values: dict[str, Any]) -> int:
        if not set(values) <= COLUMNS[table]:
            raise ValueError(f"journal record with unknown columns for {table}: "
                             f"{sorted(values)}")
        cur = db.execute(f"INSERT INTO {table}({', '.join(values)}) "
                         f"VALUES ({', '.join('?' * len(values))})", tuple(values.values()))
        return int(cur.lastrowid or 0)

    def _resolve(self, session_id: int | None) -> int | None:
        """A provisional (negative) session id as the real one, once its session is written."""
        if session_id is None or session_id >= 0:
            return session_id
        if session_id not in self._provisional:
            got = self.db.execute("SELECT row_id FROM applied WHERE provisional=?",
                                  (session_id,)).fetchone()
            if got is None:
                raise Unresolved(session_id)
            self._provisional[session_id] = got[0]
        return self._provisional[session_id]

    def _new_provisional(self) -> int:
        """-1, -2, ...: below every provisional id this history has handed out, so one from a
        journal an earlier run left is never handed out again."""
        low = min([0, self._handed_out, *self._provisional,
                   *(r.get("provisional") or 0 for r in self._file_records() + self._memory)])
        with contextlib.suppress(sqlite3.Error):
            low = min(low, self.db.execute("SELECT MIN(provisional) FROM applied").fetchone()[0]
                      or 0)
        self._handed_out = low - 1
        return self._handed_out

    def _replay(self) -> bool:
        """Writes the journal (file, then memory) into the database in one transaction, in
        order, each record once (its id in `applied`: one already there is skipped). One
        transaction, not one per record: on a nearly full disk the WAL grows by the pages
        touched once, not once per record. True when nothing is left waiting."""
        try:
            with self._journal_locked(create=False) as f:
                records = (_parse(f.read(), self.journal_path) if f else []) + self._memory
                if not records:
                    return True
                known = dict(self._provisional)
                rejected: list[tuple[dict[str, Any], Exception]] = []
                try:
                    with self.transaction() as db:
                        for r in records:
                            db.execute("SAVEPOINT record")
                            try:
                                self._replay_one(db, r)
                            except Exception as e:
                                if transient(e):
                                    raise
                                db.execute("ROLLBACK TO record")
                                rejected.append((r, e))
                            db.execute("RELEASE record")
                except Exception as e:
                    self._provisional = known  # nothing of it was kept
                    if transient(e):
                        log.info("history_journal_waits", pending=len(records), error=str(e))
                    else:  # kept for the next try: the session is not stopped for it
                        log.error("history_journal_replay_failed", error=repr(e))
                    return False
                for r, e in rejected:
                    self._reject(r, e)
                if f is not None:  # all in: the journal goes (if this fails, no harm done)
                    f.truncate(0)
                    os.fsync(f.fileno())
                    self.journal_path.unlink()
                self._memory.clear()
                log.warning("history_journal_written", records=len(records))
                return True
        except OSError as e:
            log.warning("history_journal_unreadable", journal=str(self.journal_path),
                        error=str(e))
            return False

    def _replay_one(self, db: sqlite3.Connection, r: dict[str, Any]) -> None:
        done = db.execute("SELECT row_id, provisional FROM applied WHERE id=?",
                          (r["id"],)).fetchone()
        if done is None:
            row = self._apply(db, r)
        else:  # written before the journal was removed, or by a commit that "failed"
            row = done["row_id"]
            if r.get("provisional") is not None and done["provisional"] is None:
                db.execute("UPDATE applied SET provisional=? WHERE id=?",
                           (r["provisional"], r["id"]))
        if r.get("provisional") is not None and row is not None:
            self._provisional[r["provisional"]] = row

    def _reject(self, r: dict[str, Any], e: Exception) -> None:
        """A record the database refuses for good (not space): kept aside, logged, skipped."""
        log.error("history_journal_record_rejected", record=r.get("op"), error=repr(e),
                  rejected=str(self.journal_path) + ".rejected")
        with contextlib.suppress(OSError), \
                open(str(self.journal_path) + ".rejected", "ab") as out:
            out.write(_line({**r, "error": repr(e)}))

    def _flush_memory(self) -> bool:
        """Records in memory appended to the journal file, fsync'd; on a full disk the reserve
        is freed for them once. False when they stay in memory."""
        if not self._memory:
            return True
        data = b"".join(_line(r) for r in self._memory)
        for attempt in range(2):
            try:
                with self._journal_locked(create=True) as f:
                    assert f is not None
                    size = f.seek(0, os.SEEK_END)
                    try:
                        _write_all(f, data)
                        os.fsync(f.fileno())
                    except OSError:
                        with contextlib.suppress(OSError):  # no half line left behind
                            f.truncate(size)
                        raise
                _fsync_dir(self.journal_path.parent)
                self._memory.clear()
                return True
            except OSError as e:
                if attempt == 0 and e.errno in (errno.ENOSPC, errno.EDQUOT) and \
                        self._free_reserve():
                    continue
                log.error("history_journal_write_failed", journal=str(self.journal_path),
                          error=str(e), in_memory=len(self._memory))
                return False
        return False

    @contextmanager
    def _journal_locked(self, *, create: bool) -> Iterator[IO[bytes] | None]:
        """The journal file, locked against other processes (None: there is none). The lock is
        taken on the file that is still at the path (another process may have just removed it)."""
        while True:
            try:
                f = open(self.journal_path, "a+b" if create else "r+b", buffering=0)
            except FileNotFoundError:
                if create:
                    raise
                f = None
            if f is None:
                yield None
                return
            with f:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                try:
                    same = os.stat(self.journal_path).st_ino == os.fstat(f.fileno()).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    f.seek(0)
                    yield f
                    return

    def _file_records(self) -> list[dict[str, Any]]:
        try:
            return _parse(self.journal_path.read_bytes(), self.journal_path)
        except OSError:
            return []

    def _keep_reserve(self, size: int) -> None:
        """Space kept back for the journal; made again once nothing waits."""
        if size <= 0 or self._has_pending() or self.reserve_path.exists():
            return
        try:
            with open(self.reserve_path, "wb") as f:
                f.write(b"\0" * size)  # real blocks, not a sparse file
                os.fsync(f.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                self.reserve_path.unlink()

    def _free_reserve(self) -> bool:
        try:
            self.reserve_path.unlink()
        except OSError:
            return False
        log.warning("history_reserve_freed", reserve=str(self.reserve_path))
        return True

    # ---- sessions a finished program left running -----------------------------------------

    def _nobody_has_it_open(self) -> bool:
        """Read-only: whether no program has this history open now (its lock is free), so a
        `running` session is one left over by a program that was killed; nothing is written."""
        if fcntl is None:
            return False
        try:
            fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDONLY)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)  # releases it at once

    def _as_seen(self, row: dict[str, Any]) -> dict[str, Any]:
        """A session as a reader reports it: one left `running` by a killed program reads as
        stopped / interrupted, as the next writer will record it."""
        if self._left_over and row.get("status") == "running":
            row["status"] = "stopped"
            row["notes"] = "interrupted" if not row.get("notes") else \
                f"{row['notes']}; interrupted"
        return row

    def _take_lock(self) -> bool:
        """True when no other History has this database open (in any process): only then are
        `running` sessions known to be left over."""
        if fcntl is None:
            return True
        try:
            self._lock = os.open(self.path.with_name(self.path.name + ".lock"),
                                 os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return False  # no lock, no telling: nothing is marked
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _share_lock(self) -> None:
        """Held, shared, while open: an opener that finds it does not mark our session."""
        if fcntl is not None and self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_SH)

    def _mark_interrupted(self) -> None:
        """Sessions left `running` by a program that ended without finishing them (killed, power
        lost) become stopped / "interrupted", as SessionRunner finishes an interrupted session:
        ended at their last record, pain during as the highest exercise check-in."""
        last = ("(SELECT MAX(t) FROM (SELECT s.started_at AS t FROM sessions s WHERE s.id = "
                "sessions.id UNION ALL SELECT ended_at FROM sets WHERE session_id = sessions.id "
                "UNION ALL SELECT at FROM checkins WHERE session_id = sessions.id "
                "UNION ALL SELECT at FROM answers WHERE session_id = sessions.id "
                "UNION ALL SELECT at FROM safety_events WHERE session_id = sessions.id))")
        try:
            with self.transaction() as db:
                cur = db.execute(
                    f"UPDATE sessions SET status='stopped', ended_at={last}, "
                    "notes=CASE WHEN notes = '' THEN 'interrupted' "
                    "ELSE notes || '; interrupted' END, "
                    "pain_during=COALESCE(pain_during, (SELECT MAX(pain) FROM checkins WHERE "
                    "session_id = sessions.id AND exercise IS NOT NULL)) "
                    "WHERE status='running'")
        except Exception as e:
            if not transient(e):
                raise
            log.warning("history_interrupted_not_marked", error=str(e))  # next open
            return
        if cur.rowcount:
            log.warning("history_sessions_interrupted", sessions=cur.rowcount)

    # ---- writing ----------------------------------------------------------------------------

    def start_session(self, day: dt.date, *, profile: str | None, device_serial: str | None,
                      firmware: str | None) -> int:
        """The session's id. When the database cannot be written, the session is journaled
        and the id is provisional: negative (-1, -2, ... never handed out before in this
        history), taken by every call here like a real one. Once the journal is written the
        session has its real id and the provisional one maps to it (also after a restart, through
        `applied`); `session()` and the CLI know it only by the real one."""
        record = {"op": "start_session", "row": {
            "day": day.isoformat(), "started_at": now(), "profile": profile,
            "device_serial": device_serial, "firmware": firmware}}
        got = self._write(record)
        return record["provisional"] if got is None else got

    def record_decisions(self, session_id: int, items: list[dict[str, Any]]) -> None:
        self._write({"op": "decisions", "session_id": session_id, "rows": [
            {"exercise": i["exercise"], "load_kg": i["load_kg"], "change": i["change"],
             "reasons": json.dumps(i["reasons"])} for i in items]})

    def record_set(self, session_id: int, s: SetRecord) -> int:
        """The set and its reps in one transaction: committed before the next set starts.
        Returns the set's id; 0 when it was journaled (written later, with its own id)."""
        got = self._write({"op": "set", "session_id": session_id, "row": {
            "exercise": s.exercise, "set_index": s.set_index, "kind": s.kind,
            "load_kg": s.load_kg, "target_reps": s.target_reps, "full_reps": s.full_reps,
            "partial_reps": s.partial_reps, "mean_concentric_m_s": s.mean_concentric_m_s,
            "velocity_loss": s.velocity_loss, "rom_consistency": s.rom_consistency,
            "time_under_tension_s": s.time_under_tension_s, "ended_by": s.ended_by,
            "started_at": s.started_at, "ended_at": s.ended_at},
            "reps": [{"idx": r.index, **{k: getattr(r, k) for k in REP_COLUMNS[1:]}}
                     for r in s.reps]})
        return got or 0

    def record_checkin(self, session_id: int, exercise: str | None, pain: int) -> None:
        self._write({"op": "checkins", "session_id": session_id,
                     "row": {"exercise": exercise, "pain": pain, "at": now()}})

    def record_answer(self, session_id: int | None, question: str, answer: Any,
                      red_flag: str | None = None) -> None:
        self._write({"op": "answers", "session_id": session_id, "row": {
            "question": question, "answer": None if red_flag or answer is None
            else json.dumps(answer), "red_flag": red_flag, "at": now()}})

    def record_safety_event(self, session_id: int | None, kind: str, cause: str, *,
                            load_kg: float | None = None, seq: int | None = None,
                            firmware: str | None = None, **data: Any) -> None:
        self._write({"op": "safety_events", "session_id": session_id, "row": {
            "at": now(), "kind": kind, "cause": cause, "load_kg": load_kg, "seq": seq,
            "firmware": firmware, "data": json.dumps(data, default=str)}})

    def finish_session(self, session_id: int, *, status: str, pain_during: int | None,
                       red_flags: list[str], confidence: int | None = None,
                       more_capable: bool | None = None, notes: str = "") -> None:
        self._write({"op": "finish_session", "session_id": session_id, "row": {
            "ended_at": now(), "status": status, "pain_during": pain_during,
            "red_flags": json.dumps(red_flags), "confidence": confidence,
            "more_capable": more_capable, "notes": notes}})

    # ---- reading ----------------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT s.*, COUNT(t.id) AS sets, COALESCE(SUM(t.full_reps), 0) AS reps, "
            "COALESCE(SUM(t.full_reps * t.load_kg), 0) AS volume_kg "
            "FROM sessions s LEFT JOIN sets t ON t.session_id = s.id "
            "GROUP BY s.id ORDER BY s.id").fetchall()
        return [self._as_seen(dict(r)) for r in rows]

    def session(self, session_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM sessions WHERE id=?", (session_id,)).fetchone()
        if row is None:
            return None
        out = self._as_seen(dict(row))
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



def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=_plain).encode() + b"\n"


def _plain(o: Any) -> Any:
    """A number type json does not know (numpy's) as a plain number."""
    return o.item() if hasattr(o, "item") else str(o)


def _parse(data: bytes, where: Path) -> list[dict[str, Any]]:
    """Journal lines; a last line cut short (the program ended while writing it) is dropped."""
    out = []
    lines = data.split(b"\n")
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if n < len(lines) - 1:
                log.error("history_journal_line_unreadable", journal=str(where), line=n + 1)
    return out


def _write_all(f: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = f.write(view)
        if not n:
            raise OSError(errno.EIO, "journal write made no progress")
        view = view[n:]


def _fsync_dir(folder: Path) -> None:
    """The journal's directory entry made durable too."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
