"""Sessions a finished program left `running`: the `<db>.lock` file tells whether another
History has the database open, and only an opener that finds none marks them interrupted (a
reader only reports them so). Apart from the journal because it is about other processes, not
about the disk."""

from __future__ import annotations

import os
from typing import Any

import structlog

from controller.core.history.records import transient
from controller.core.history.schema import Database

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, sessions are still marked on open
    fcntl = None  # type: ignore[assignment]

log = structlog.get_logger("controller.core.history")


class Locks(Database):
    """The lock and the sessions left running (a part of History)."""

    _lock: int | None
    _left_over: bool

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
