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

The package: `store.py` (History: open, close, record), `journal.py` (the journal and its
reserve), `locking.py` (the lock and sessions left running), `queries.py` (reading back),
`schema.py` (tables, migrations, recognising a history file), `records.py` (SetRecord, which
failures are transient).
"""

from __future__ import annotations

from controller.core.history.journal import RESERVE_BYTES
from controller.core.history.records import TRANSIENT, SetRecord, Unresolved, now, transient
from controller.core.history.schema import (
    COLUMNS,
    MIGRATIONS,
    REP_COLUMNS,
    SQLITE_MAGIC,
    STRONG_COLUMNS,
    NotAHistory,
    check_history_file,
)
from controller.core.history.store import History

__all__ = [
    "COLUMNS",
    "MIGRATIONS",
    "REP_COLUMNS",
    "RESERVE_BYTES",
    "SQLITE_MAGIC",
    "STRONG_COLUMNS",
    "TRANSIENT",
    "History",
    "NotAHistory",
    "SetRecord",
    "Unresolved",
    "check_history_file",
    "now",
    "transient",
]
