"""Wire logs: every byte in and out of a link with the host's timestamp (MAVLink's .tlog idea).

The file format and record types are in `wirelog_format`, reading in `wirelog_reader`, the
queue-and-thread machinery in `background_writer`; this module writes (WireLogWriter) and
records live links, and every name is importable from here as before. Bytes are stored as the
transport saw them, so a replay feeds the codec exactly what it saw, except that the link's URL
(file name, metadata, open record) is written without its credentials. Files rotate at a size
cap; the oldest go once the folder passes its cap. Reading streams (memory does not grow with
the file); a truncated or corrupt file reads up to the damage, and says where it stopped.

Recording never touches the link: records go on a bounded queue that a writer thread takes to
the disk. A full disk, a read-only folder or a disk slower than the link drops records (counted:
`dropped()`, and `dropped_before` in the next file's metadata) with one warning per writer.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from firmware_bridge.background_writer import (
    CLOSE_TIMEOUT_S,
    QUEUE_BYTES,
    ROUND_S,
    WAKE_BYTES,
    BackgroundWriter,
    describe_error,
    write_all,
)
from firmware_bridge.redact import redact_text, redact_url, safe_name
from firmware_bridge.wirelog_format import (
    CLOSE,
    HEAD,
    KINDS,
    MAGIC,
    MAX_RECORD,
    OPEN,
    RECORD,
    RX,
    TX,
    VERSION,
    Record,
    WireLog,
    WireLogError,
)
from firmware_bridge.wirelog_reader import (
    LAST_US,
    MAX_META,
    READ_CHUNK,
    WireLogReader,
    copy_redacted,
    is_wire_log,
    read_wire_log,
    segments,
)

__all__ = [
    "CLOSE", "CLOSE_TIMEOUT_S", "FILE_CAP", "FOLDER_CAP", "HEAD", "KINDS", "LAST_US", "MAGIC",
    "MAX_META", "MAX_RECORD", "OPEN", "QUEUE_BYTES", "READ_CHUNK", "RECORD", "RETRY_S",
    "ROUND_S", "RX", "SUFFIX", "TX", "VERSION", "WAKE_BYTES", "BackgroundWriter", "Record",
    "RecordingTransport", "WireLog", "WireLogError", "WireLogReader", "WireLogWriter",
    "copy_redacted", "describe_error", "dropped", "enable", "is_wire_log", "now_us",
    "read_wire_log", "recorder", "segments", "state_dir", "write_all",
]

log = structlog.get_logger("firmware_bridge.wirelog")

FILE_CAP = 16 * 1024 * 1024
FOLDER_CAP = 256 * 1024 * 1024
SUFFIX = ".hswl"
RETRY_S = 5.0  # after a failed write or open, a new file is tried this often


def state_dir() -> Path:
    """Where logs, wire logs and flight records go: HALFSTEP_STATE_DIR, else the platform's
    state folder ($XDG_STATE_HOME/halfstep, ~/.local/state/halfstep)."""
    if os.environ.get("HALFSTEP_STATE_DIR"):
        return Path(os.environ["HALFSTEP_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "halfstep"


def now_us() -> int:
    return time.time_ns() // 1000


class WireLogWriter(BackgroundWriter):
    """Appends records; rotates at `file_cap`, keeps the folder under `folder_cap`.

    `write` only queues: the files are opened, written, rotated and pruned by a writer thread,
    so a slow or full disk never holds up (or raises into) the link. Records the disk refuses
    (ENOSPC, EROFS, any OSError) or that find the queue full are dropped and counted in
    `dropped`, and one warning is logged; after a failure a new file is tried every `RETRY_S`
    seconds, its metadata saying how many records were dropped before it."""

    thread_name = "halfstep-wirelog"

    def __init__(self, folder: Path, meta: dict[str, Any], *, file_cap: int = FILE_CAP,
                 folder_cap: int = FOLDER_CAP, queue_bytes: int = QUEUE_BYTES):
        super().__init__(queue_bytes)
        self.folder = folder
        self.meta = meta
        self.file_cap, self.folder_cap = file_cap, folder_cap
        self.files: list[Path] = []  # the files written, in order (pruned ones included)
        self._f: BinaryIO | None = None
        self._size = 0
        self._retry_at = 0.0  # time.monotonic() from which a new file may be tried

    @property
    def path(self) -> Path | None:
        """The file being written (None before the first is open, or if none could be)."""
        return self.files[-1] if self.files else None

    # ---- the caller's side (the event loop) ----------------------------------------------------

    def write(self, kind: int, data: bytes, at_us: int | None = None,
              loop_us: int | None = None) -> None:
        """Queue a record; never blocks on the disk, never raises."""
        try:
            wall = now_us() if at_us is None else at_us
            data = bytes(data)
            self._put((kind, wall, wall if loop_us is None else loop_us, data),
                      RECORD.size + len(data))
        except Exception as e:  # e.g. no thread could be started: the link goes on regardless
            self._failed(e, 1)
        if not self.warned and (self.error is not None or self.queue_full):
            self._warn()

    def flush(self) -> None:
        """Have the writer thread write what is queued now (it does anyway within `ROUND_S`);
        does not wait for it."""
        self._kick()
        if not self.warned and (self.error is not None or self.queue_full):
            self._warn()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued, close the file; never raises."""
        closed = self._closed
        super().close(timeout)
        if closed:
            return
        if not self.warned and (self.error is not None or self.queue_full):
            self._warn()
        if self.dropped:
            with contextlib.suppress(Exception):
                log.info("wire_log_dropped", folder=str(self.folder), records=self.dropped,
                         first_error=describe_error(self.error))

    def _warn(self) -> None:
        """Once per writer: on stderr and in the JSON log, never raised."""
        self.warned = True
        with contextlib.suppress(Exception):
            if self.error is not None:
                log.warning("wire_log_write_failed", folder=str(self.folder),
                            error=describe_error(self.error), dropped=self.dropped,
                            action="wire-log records are dropped (and counted) until the disk "
                                   "takes writes again; the link goes on")
            else:
                log.warning("wire_log_behind", folder=str(self.folder), dropped=self.dropped,
                            action="the disk is slower than the link: wire-log records are "
                                   "dropped (and counted); the link goes on")

    # ---- the writer thread's side --------------------------------------------------------------

    def _handle(self, batch: list[tuple[int, int, int, bytes]]) -> None:
        buf = bytearray()
        ends: list[int] = []
        for kind, wall, loop_us, data in batch:
            n = RECORD.size + len(data)
            if self._f is not None and self._size + n > self.file_cap:
                self._write_out(buf, ends)
                buf, ends = bytearray(), []
                self._close_file()
            if self._f is None and not self._open_next():
                self._failed(None, 1)
                continue
            buf += RECORD.pack(kind, wall, loop_us, len(data))
            buf += data
            ends.append(len(buf))
            self._size += n
        self._write_out(buf, ends)

    def _write_out(self, buf: bytearray, ends: list[int]) -> None:
        if not ends:
            return
        if self._f is None:
            self._failed(None, len(ends))
            return
        err, done = write_all(self._f, buf)
        if err is not None:
            self._failed(err, len(ends) - bisect.bisect_right(ends, done))
            self._close_file()  # its tail may be a partial record: the next file starts clean
            self._retry_at = time.monotonic() + RETRY_S

    def _open_next(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            self._new_file()
        except OSError as e:
            self._failed(e, 0)
            self._retry_at = time.monotonic() + RETRY_S
            return False
        return True

    def _new_file(self) -> None:
        self._close_file()
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        link = redact_url(str(self.meta.get("link", "link")))
        path = self.folder / f"{stamp}-{safe_name(link, 40)}{SUFFIX}"
        meta_d = {**self.meta, "link": link, "part": len(self.files) + 1}
        if self.dropped:
            meta_d["dropped_before"] = self.dropped  # records lost before this file began
        meta = redact_text(json.dumps(meta_d)).encode()  # no credentials, home as ~
        head = HEAD.pack(MAGIC, VERSION, len(meta)) + meta
        f = open(path, "wb", buffering=0)
        err, _ = write_all(f, head)
        if err is not None:
            with contextlib.suppress(OSError):
                f.close()
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)  # a headless file is no wire log
            raise err
        self._f = f
        self._size = len(head)
        self.files.append(path)
        self._prune()

    def _prune(self) -> None:
        try:
            logs = sorted(self.folder.glob(f"*{SUFFIX}"))  # names start with the time
            sizes = {}
            for p in logs:
                with contextlib.suppress(OSError):
                    sizes[p] = p.stat().st_size
        except OSError:
            return
        total = sum(sizes.values())
        for p in logs:
            if total <= self.folder_cap or p == self.files[-1]:
                break
            total -= sizes.get(p, 0)
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)

    def _close_file(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()

    def _finish(self) -> None:
        self._close_file()

    def _forget(self) -> None:
        self._f = None


# ---- recording a live link -------------------------------------------------------------------

_writer: WireLogWriter | None = None
_folder: Path | None = None
_dropped_before = 0  # records dropped by the writers closed so far


def enable(folder: Path | None) -> None:
    """Record every link this process opens into `folder` (None: stop recording). The writer
    in use, if any, writes what it has queued and closes."""
    global _folder, _writer, _dropped_before
    if _writer is not None:
        _writer.close()
        _dropped_before += _writer.dropped
    _folder, _writer = folder, None


def dropped() -> int:
    """Wire-log records this process dropped (full disk, read-only folder, a disk slower than
    the link): what a support engineer asks first about a wire log with gaps."""
    return _dropped_before + (_writer.dropped if _writer is not None else 0)


def recorder(link: str) -> WireLogWriter | None:
    """The process's writer (one file set for all its links, reconnects included)."""
    global _writer
    if _folder is None:
        return None
    if _writer is None:
        from firmware_bridge import version

        _writer = WireLogWriter(_folder, {"link": link, "halfstep": version(),
                                          "started": dt.datetime.now(dt.UTC).isoformat()},
                                file_cap=FILE_CAP, folder_cap=FOLDER_CAP)
    return _writer


class RecordingTransport:
    """A transport that writes what crosses it to a wire log, and is otherwise the same: the
    writer only queues, and whatever the disk does is never raised here (the link goes on)."""

    def __init__(self, inner: Any, writer: WireLogWriter):
        self.inner = inner
        self.url = inner.url
        self.writer = writer
        self._ended = False
        writer.write(OPEN, redact_url(inner.url).encode(), loop_us=_loop_us())

    def __getattr__(self, name: str) -> Any:  # e.g. the simulator's unit, for its person
        return getattr(self.inner, name)

    async def read(self) -> bytes:
        try:
            data = await self.inner.read()
        except (ConnectionError, OSError) as e:
            self._ended = True
            self.writer.write(CLOSE, redact_text(f"lost: {e}").encode(), loop_us=_loop_us())
            self.writer.flush()
            raise
        self.writer.write(RX, data, loop_us=_loop_us())
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
