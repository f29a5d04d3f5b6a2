"""The wire log's file format and its record types, shared by the writer and the reader.

File: `HSWL` + version (1 byte) + 3 reserved + metadata length (u32 LE) + metadata (JSON);
records: kind (u8) + host wall time in microseconds since the epoch (i64 LE) + the event
loop's clock in microseconds (i64 LE; the pace a replay follows, simulated time included) +
length (u32 LE) + bytes. Kinds: rx (from the unit), tx (to the unit), open and close of a
link (the bytes are the URL, or the reason). Kept apart so that reading a log (replay, support
tools) needs none of the writer's threads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAGIC = b"HSWL"
VERSION = 1
HEAD = struct.Struct("<4sB3xI")
RECORD = struct.Struct("<BqqI")
RX, TX, OPEN, CLOSE = 0, 1, 2, 3
KINDS = {RX: "rx", TX: "tx", OPEN: "open", CLOSE: "close"}
MAX_RECORD = 1 << 20


@dataclass(slots=True)
class Record:
    kind: int
    at_us: int  # wall clock
    data: bytes
    loop_us: int = 0  # the recording loop's clock: what a replay paces itself by

    @property
    def name(self) -> str:
        return KINDS.get(self.kind, str(self.kind))


@dataclass
class WireLog:
    path: Path
    meta: dict[str, Any]
    records: list[Record] = field(default_factory=list)
    problem: str | None = None  # where and why reading stopped early, if it did
    meta_problem: str | None = None  # the metadata could not be read (the records could)


class WireLogError(ValueError):
    """A file that is no readable wire log at all: the message names the file, the byte and
    what was wrong there."""
