"""Reading wire logs: streamed record by record, damage reported rather than raised, plus the
whole-file, per-link and redacted-copy helpers built on it. Kept apart from the writer so the
support tools and replay load no recording machinery.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from firmware_bridge.redact import redact_text
from firmware_bridge.wirelog_format import (
    CLOSE,
    HEAD,
    KINDS,
    MAGIC,
    MAX_RECORD,
    OPEN,
    RECORD,
    VERSION,
    Record,
    WireLog,
    WireLogError,
)

MAX_META = 1 << 20  # metadata is a few hundred bytes; more is damage, not metadata
READ_CHUNK = 1 << 20
LAST_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z: later is no host time


def is_wire_log(path: Path) -> bool:
    with Path(path).open("rb") as f:
        return f.read(4) == MAGIC


class WireLogReader:
    """A wire log read a record at a time, so memory stays at one read chunk plus one record
    however big the file (a 100 MB log once took 900 MB read whole).

    Opening reads the header and metadata and raises WireLogError if there is no wire log to
    read (no header, another version, metadata running past the end). Iterating (once) yields
    the records up to the first damage; `problem` then says where it stopped and why.
    Unreadable metadata is not damage to the records: it is told in `meta_problem`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.meta: dict[str, Any] = {}
        self.meta_problem: str | None = None
        self.problem: str | None = None
        self.count = 0  # records yielded so far
        with self.path.open("rb") as f:  # not `open`: tests stand in for the writer's
            self.size = os.fstat(f.fileno()).st_size
            head = f.read(HEAD.size)
            self._check_head(head)
            _, self.version, meta_len = HEAD.unpack(head)
            if meta_len > MAX_META or HEAD.size + meta_len > self.size:
                raise WireLogError(f"{self.path}: metadata length {meta_len} (byte 8) runs past "
                                   f"the end of the file ({self.size} bytes): damaged header")
            self._read_meta(f.read(meta_len))
        self.start = HEAD.size + meta_len

    def _check_head(self, head: bytes) -> None:
        if head[:4] != MAGIC:
            raise WireLogError(f"{self.path}: not a Halfstep wire log (no HSWL header)")
        if len(head) < HEAD.size:
            raise WireLogError(f"{self.path}: the header is cut short ({len(head)} of "
                               f"{HEAD.size} bytes)")
        if head[4] != VERSION:
            raise WireLogError(f"{self.path}: wire log version {head[4]} (byte 4); this "
                               f"halfstep reads version {VERSION}")

    def _read_meta(self, raw: bytes) -> None:
        where = f"metadata (bytes {HEAD.size} to {HEAD.size + len(raw)})"
        try:
            meta = json.loads(raw)
        except RecursionError:
            self.meta_problem = f"{where} is nested too deeply to read"
            return
        except ValueError as e:
            self.meta_problem = f"{where} is not JSON ({str(e)[:80]})"
            return
        if not isinstance(meta, dict):
            self.meta_problem = f"{where} is a JSON {type(meta).__name__}, not an object"
            return
        self.meta = meta

    @property
    def records(self) -> Iterator[Record]:
        return iter(self)

    def __iter__(self) -> Iterator[Record]:
        with self.path.open("rb") as f:
            f.seek(self.start)
            buf, i, base = b"", 0, self.start  # base: the file offset of buf[0]
            while True:
                if len(buf) - i < RECORD.size:
                    buf, base, i = buf[i:] + f.read(READ_CHUNK), base + i, 0
                    if len(buf) < RECORD.size:
                        if buf:
                            self.problem = (f"truncated record header at byte {base} of "
                                            f"{base + len(buf)}")
                        return
                kind, at_us, loop_us, n = RECORD.unpack_from(buf, i)
                if kind not in KINDS or n > MAX_RECORD:
                    self.problem = f"corrupt record at byte {base + i} (kind {kind}, length {n})"
                    return
                if not 0 <= at_us <= LAST_US:
                    self.problem = (f"corrupt record at byte {base + i}: host time {at_us} us "
                                    f"is not a date from 1970 to 9999")
                    return
                end = i + RECORD.size + n
                if end > len(buf):
                    buf, base = buf[i:] + f.read(max(READ_CHUNK, end - len(buf))), base + i
                    i, end = 0, RECORD.size + n
                    if end > len(buf):
                        self.problem = (f"truncated record at byte {base}: {n} bytes announced, "
                                        f"{len(buf) - RECORD.size} present")
                        return
                self.count += 1
                yield Record(kind, at_us, buf[i + RECORD.size:end], loop_us)
                i = end


def read_wire_log(path: Path) -> WireLog:
    """A whole wire log in memory (replay, tests); a damaged tail is reported in `problem`.
    Big files are read with WireLogReader instead. Raises WireLogError (a ValueError) for a
    file that holds no readable wire log."""
    reader = WireLogReader(path)
    records = list(reader)
    return WireLog(reader.path, reader.meta, records, reader.problem, reader.meta_problem)


def segments(log: WireLog | WireLogReader) -> Iterator[list[Record]]:
    """The records of each link opening, in order (a reconnect starts a new one)."""
    current: list[Record] = []
    for r in log.records:
        if r.kind == OPEN and current:
            yield current
            current = []
        current.append(r)
    if current:
        yield current


def copy_redacted(src: Path, out: BinaryIO) -> str | None:
    """`src` written to `out` with the credentials out of its metadata and of its open and
    close records (a wire log written before they were redacted); stops at damage, and says
    where in what it returns (None: copied whole)."""
    reader = WireLogReader(src)
    meta = json.loads(redact_text(json.dumps(reader.meta)))
    head = json.dumps(meta).encode()
    out.write(HEAD.pack(MAGIC, VERSION, len(head)) + head)
    for r in reader:
        data = r.data
        if r.kind in (OPEN, CLOSE):
            data = redact_text(data.decode("utf-8", "replace")).encode()
        out.write(RECORD.pack(r.kind, r.at_us, r.loop_us, len(data)) + data)
    return reader.problem
