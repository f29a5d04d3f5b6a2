"""Wire logs: every byte in and out of a link with the host's timestamp (MAVLink's .tlog idea).

File: `HSWL` + version (1 byte) + 3 reserved + metadata length (u32 LE) + metadata (JSON);
records: kind (u8) + host wall time in microseconds since the epoch (i64 LE) + the event
loop's clock in microseconds (i64 LE; the pace a replay follows, simulated time included) +
length (u32 LE) + bytes. Kinds: rx (from the unit), tx (to the unit), open and close of a
link (the bytes are the URL, or the reason). Bytes are stored as the transport saw them, so a
replay feeds the codec exactly what it saw, except that the link's URL (file name, metadata,
open record) is written without its credentials. Files rotate at a size cap; the oldest go once
the folder passes its cap. Reading streams (memory does not grow with the file); a truncated or
corrupt file reads up to the damage, and says where it stopped.

Recording never touches the link: records go on a bounded queue that a writer thread takes to
the disk. A full disk, a read-only folder or a disk slower than the link drops records (counted:
`dropped()`, and `dropped_before` in the next file's metadata) with one warning per writer.
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import contextlib
import datetime as dt
import errno
import json
import os
import struct
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from firmware_bridge.redact import redact_text, redact_url, safe_name

log = structlog.get_logger("firmware_bridge.wirelog")

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
QUEUE_BYTES = 8 * 1024 * 1024  # records waiting for the disk; beyond this they are dropped
ROUND_S = 0.2  # the writer thread takes what is queued this often (or at WAKE_BYTES, or flush)
WAKE_BYTES = 64 * 1024
CLOSE_TIMEOUT_S = 5.0  # how long closing waits for a slow disk
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


class BackgroundWriter:
    """A bounded queue drained by one daemon thread that does the disk work (design contract 7).

    The caller only appends to the queue: it never blocks on the disk and nothing is raised
    into it. When the queue is full, or the disk refuses a write (ENOSPC, EROFS, any OSError),
    the records are dropped and counted in `dropped`; the first failure is kept in `error` for
    the owner to warn about once. `close()` writes what is queued (waiting at most `timeout`
    seconds) and stops the thread; it is also called at interpreter exit."""

    thread_name = "halfstep-writer"

    def __init__(self, queue_bytes: int = QUEUE_BYTES):
        self.queue_bytes = queue_bytes
        self.dropped = 0  # records never written (queue full, or the disk failed them)
        self.error: BaseException | None = None  # the first failure
        self.queue_full = False  # records were dropped because the queue was full
        self.warned = False
        self._init_queue()
        _LIVE.add(self)

    def _init_queue(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._items: deque[Any] = deque()
        self._pending = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    # ---- the caller's side ---------------------------------------------------------------------

    def _put(self, item: Any, size: int) -> bool:
        """Queue `item` (one record of `size` bytes); False if it was dropped instead."""
        with self._lock:
            if self._closed:
                return False
            if self._pending + size > self.queue_bytes:
                self.dropped += 1
                self.queue_full = True
                return False
            if self._thread is None:
                self._start()  # if no thread can be started, this raises with nothing queued
            self._items.append(item)
            self._pending += size
            if len(self._items) == 1 or (self._pending >= WAKE_BYTES > self._pending - size):
                self._wake.notify()  # the first of a round, or a round's worth
        return True

    def _kick(self) -> None:
        """Have the thread take what is queued now, not at its next round."""
        with self._lock:
            if self._items:
                self._wake.notify()

    def _start(self) -> None:
        thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        thread.start()
        self._thread = thread
        atexit.register(self._at_exit)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued and stop; waits at most `timeout` s for a slow disk (what is
        still queued then is counted as dropped). Idempotent, never raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._wake.notify()
        if thread is None:
            self._guard(self._finish)
            return
        with contextlib.suppress(Exception):
            atexit.unregister(self._at_exit)
        if thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():  # the disk hangs: give up on what is still queued
            with self._lock:
                self.dropped += sum(self._count(i) for i in self._items)
                self._items.clear()
                self._pending = 0

    def _at_exit(self) -> None:
        self.close()

    def _after_fork(self) -> None:
        """In a forked child: the parent's thread does not exist here and its lock may be held;
        this copy goes inert (the parent writes its own records)."""
        self._init_queue()
        self._closed = True
        self._forget()

    # ---- the writer thread's side --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._items and not self._closed:
                    self._wake.wait()
                if not self._closed and self._pending < WAKE_BYTES:
                    self._wake.wait(ROUND_S)  # a round: one wake-up and write, many records
                batch = list(self._items)
                self._items.clear()
                self._pending = 0
                done = self._closed and not batch
            if done:
                self._guard(self._finish)
                return
            try:
                self._handle(batch)
            except Exception as e:  # a bug must not end the thread (or reach the caller)
                self._failed(e, sum(self._count(i) for i in batch))

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as e:
            self._failed(e, 0)

    def _failed(self, e: BaseException | None, records: int) -> None:
        """Count `records` as dropped; keep `e` if it is the first failure."""
        with self._lock:
            self.dropped += records
            if self.error is None and e is not None:
                self.error = e

    # ---- what a kind of writer does ------------------------------------------------------------

    def _handle(self, batch: list[Any]) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """On the writer thread after the last batch (or the caller's, if none ever came)."""

    def _forget(self) -> None:
        """Drop open files without writing (a forked child)."""

    def _count(self, item: Any) -> int:
        """How many records `item` is (markers are none)."""
        return 1


_LIVE: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


def _forked() -> None:
    for w in list(_LIVE):
        w._after_fork()


os.register_at_fork(after_in_child=_forked)


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


def write_all(f: BinaryIO, data: bytes | bytearray) -> tuple[OSError | None, int]:
    """Write `data` to the unbuffered `f`, short writes continued: the error if one stopped
    it, and how many bytes went."""
    view = memoryview(data)
    done = 0
    try:
        while done < len(data):
            n = f.write(view[done:])
            if not n:
                raise OSError(errno.EIO, "the file took no bytes")
            done += n
    except OSError as e:
        return e, done
    return None, done


def describe_error(e: BaseException | None) -> str | None:
    """`ENOSPC: No space left on device`, for a warning a person reads."""
    if e is None:
        return None
    if isinstance(e, OSError) and e.errno in errno.errorcode:
        return f"{errno.errorcode[e.errno]}: {e.strerror or e}"
    return f"{type(e).__name__}: {e}"


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
