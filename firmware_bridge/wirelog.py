"""Wire logs: every byte in and out of a link with the host's timestamp (MAVLink's .tlog idea).

File: `HSWL` + version (1 byte) + 3 reserved + metadata length (u32 LE) + metadata (JSON);
records: kind (u8) + host wall time in microseconds since the epoch (i64 LE) + the event
loop's clock in microseconds (i64 LE; the pace a replay follows, simulated time included) +
length (u32 LE) + bytes. Kinds: rx (from the unit), tx (to the unit), open and close of a
link (the bytes are the URL, or the reason). Bytes are stored as the transport saw them, so a
replay feeds the codec exactly what it saw. Files rotate at a size cap; the oldest go once the
folder passes its cap. A truncated or corrupt file reads up to the damage, and says where it
stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"HSWL"
VERSION = 1
HEAD = struct.Struct("<4sB3xI")
RECORD = struct.Struct("<BqqI")
RX, TX, OPEN, CLOSE = 0, 1, 2, 3
KINDS = {RX: "rx", TX: "tx", OPEN: "open", CLOSE: "close"}
MAX_RECORD = 1 << 20
FILE_CAP = 16 * 1024 * 1024
FOLDER_CAP = 256 * 1024 * 1024
SUFFIX = ".hswl"


def state_dir() -> Path:
    """Where logs, wire logs and flight records go: HALFSTEP_STATE_DIR, else the platform's
    state folder ($XDG_STATE_HOME/halfstep, ~/.local/state/halfstep)."""
    if os.environ.get("HALFSTEP_STATE_DIR"):
        return Path(os.environ["HALFSTEP_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "halfstep"


def now_us() -> int:
    return time.time_ns() // 1000


class WireLogWriter:
    """Appends records; rotates at `file_cap`, keeps the folder under `folder_cap`."""

    def __init__(self, folder: Path, meta: dict[str, Any], *, file_cap: int = FILE_CAP,
                 folder_cap: int = FOLDER_CAP):
        self.folder = folder
        self.meta = meta
        self.file_cap, self.folder_cap = file_cap, folder_cap
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: list[Path] = []
        self._f: BinaryIO | None = None
        self._size = 0
        self._new_file()

    @property
    def path(self) -> Path:
        return self.files[-1]

    def _new_file(self) -> None:
        if self._f is not None:
            self._f.close()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(self.meta.get("link", "link")))[:40]
        path = self.folder / f"{stamp}-{name}{SUFFIX}"
        meta = json.dumps({**self.meta, "part": len(self.files) + 1}).encode()
        self._f = open(path, "wb", buffering=64 * 1024)
        self._f.write(HEAD.pack(MAGIC, VERSION, len(meta)) + meta)
        self._size = HEAD.size + len(meta)
        self.files.append(path)
        self._prune()

    def _prune(self) -> None:
        logs = sorted(self.folder.glob(f"*{SUFFIX}"))  # names start with the time
        total = sum(p.stat().st_size for p in logs)
        for p in logs:
            if total <= self.folder_cap or p == self.files[-1]:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)

    def write(self, kind: int, data: bytes, at_us: int | None = None,
              loop_us: int | None = None) -> None:
        if self._f is None:
            return
        if self._size + RECORD.size + len(data) > self.file_cap:
            self._new_file()
        assert self._f is not None
        wall = now_us() if at_us is None else at_us
        self._f.write(RECORD.pack(kind, wall, wall if loop_us is None else loop_us, len(data)))
        self._f.write(data)
        self._size += RECORD.size + len(data)

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


@dataclass
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


def is_wire_log(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == MAGIC


def read_wire_log(path: Path) -> WireLog:
    """Everything readable; a damaged tail is reported in `problem`, never raised."""
    raw = Path(path).read_bytes()
    if len(raw) < HEAD.size or raw[:4] != MAGIC:
        raise ValueError(f"{path}: not a Halfstep wire log (no HSWL header)")
    _, version, meta_len = HEAD.unpack_from(raw)
    if version != VERSION:
        raise ValueError(f"{path}: wire log version {version}; this halfstep reads {VERSION}")
    try:
        meta = json.loads(raw[HEAD.size:HEAD.size + meta_len])
    except ValueError:
        meta = {}
    log = WireLog(Path(path), meta)
    pos = HEAD.size + meta_len
    while pos < len(raw):
        if pos + RECORD.size > len(raw):
            log.problem = f"truncated record header at byte {pos} of {len(raw)}"
            break
        kind, at_us, loop_us, n = RECORD.unpack_from(raw, pos)
        if kind not in KINDS or n > MAX_RECORD:
            log.problem = f"corrupt record at byte {pos} (kind {kind}, length {n})"
            break
        if pos + RECORD.size + n > len(raw):
            log.problem = (f"truncated record at byte {pos}: {n} bytes announced, "
                           f"{len(raw) - pos - RECORD.size} present")
            break
        log.records.append(Record(kind, at_us, raw[pos + RECORD.size:pos + RECORD.size + n],
                                  loop_us))
        pos += RECORD.size + n
    return log


def segments(log: WireLog) -> Iterator[list[Record]]:
    """The records of each link opening, in order (a reconnect starts a new one)."""
    current: list[Record] = []
    for r in log.records:
        if r.kind == OPEN and current:
            yield current
            current = []
        current.append(r)
    if current:
        yield current


# ---- recording a live link -------------------------------------------------------------------

_writer: WireLogWriter | None = None
_folder: Path | None = None


def enable(folder: Path | None) -> None:
    """Record every link this process opens into `folder` (None: stop recording)."""
    global _folder, _writer
    if _writer is not None:
        _writer.close()
    _folder, _writer = folder, None


def recorder(link: str) -> WireLogWriter | None:
    """The process's writer (one file set for all its links, reconnects included)."""
    global _writer
    if _folder is None:
        return None
    if _writer is None:
        from firmware_bridge import version

        _writer = WireLogWriter(_folder, {"link": link, "halfstep": version(),
                                          "started": dt.datetime.now(dt.UTC).isoformat()})
    return _writer


class RecordingTransport:
    """A transport that writes what crosses it to a wire log, and is otherwise the same."""

    def __init__(self, inner: Any, writer: WireLogWriter):
        self.inner = inner
        self.url = inner.url
        self.writer = writer
        self._flushed = time.monotonic()
        self._ended = False
        writer.write(OPEN, inner.url.encode(), loop_us=_loop_us())

    def __getattr__(self, name: str) -> Any:  # e.g. the simulator's unit, for its person
        return getattr(self.inner, name)

    async def read(self) -> bytes:
        try:
            data = await self.inner.read()
        except (ConnectionError, OSError) as e:
            self._ended = True
            self.writer.write(CLOSE, f"lost: {e}".encode(), loop_us=_loop_us())
            self.writer.flush()
            raise
        self.writer.write(RX, data, loop_us=_loop_us())
        if time.monotonic() - self._flushed > 1.0:
            self.writer.flush()
            self._flushed = time.monotonic()
        return data

    async def send(self, data: bytes) -> None:
        self.writer.write(TX, data, loop_us=_loop_us())
        await self.inner.send(data)

    async def close(self) -> None:
        if not self._ended:
            self._ended = True
            self.writer.write(CLOSE, b"host: closed", loop_us=_loop_us())
            self.writer.flush()
        await self.inner.close()


def _loop_us() -> int:
    try:
        return int(asyncio.get_running_loop().time() * 1e6)
    except RuntimeError:
        return now_us()
