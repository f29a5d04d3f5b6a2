"""The History class: opening a history (read-write or read-only), closing it, and the calls
that record a session. Its parts live beside it: the journal every write goes through
(journal.py), the lock and the sessions left running (locking.py), the reading calls
(queries.py) and the schema (schema.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import structlog

from controller.core.history.journal import RESERVE_BYTES, Journal
from controller.core.history.queries import Queries
from controller.core.history.records import SetRecord, now
from controller.core.history.schema import (
    MIGRATIONS,
    REP_COLUMNS,
    NotAHistory,
    check_history_file,
    check_schema,
)

log = structlog.get_logger("controller.core.history")


class History(Queries, Journal):
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
                check_schema(self.db, self.path)
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
            check_schema(self.db, self.path)
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
