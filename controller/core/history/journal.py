"""The journal (see the package's docstring): a record the database cannot take now goes to
`<db>.journal` (or memory) and is written in later, in order and exactly once, by its id in
`applied`; `<db>.reserve` (RESERVE_BYTES) is space kept back for it. Kept apart from the rest of
History because every write goes through `_write` here and this is its most delicate part.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import structlog

from controller.core.history.records import Unresolved, transient
from controller.core.history.schema import COLUMNS, Database

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, sessions are still marked on open
    fcntl = None  # type: ignore[assignment]

log = structlog.get_logger("controller.core.history")

RESERVE_BYTES = 256 * 1024  # about 100 sets with their reps, as journal lines


class Journal(Database):
    """Writing records through the journal (the part of History that writes)."""

    journal_path: Path
    reserve_path: Path
    _memory: list[dict[str, Any]]
    _provisional: dict[int, int]
    _handed_out: int

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
