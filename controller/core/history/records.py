"""What passes between the history and its callers: a finished set as it is recorded, the time
stamps records carry, and which failures mean "the database cannot be written now" (the record
is journaled) rather than a bug (raised)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field

from controller.analysis.reps import Rep

# Failures that say the database cannot be written now (space, I/O, permissions, another writer,
# a damaged file) but may be later, or by a person's repair: the record is journaled. Any other
# error (a constraint, no such table) is a bug and is raised.
TRANSIENT = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY,
                       sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
                       sqlite3.SQLITE_PERM, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


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
