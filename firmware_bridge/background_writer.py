"""BackgroundWriter: a bounded queue drained to the disk by one daemon thread, so that no
caller (the event loop, the link) ever waits on or is raised into by a slow, full or read-only
disk. The wire log and the JSON log file are both kinds of it; `write_all` and
`describe_error` are the disk helpers they share.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, BinaryIO

QUEUE_BYTES = 8 * 1024 * 1024  # records waiting for the disk; beyond this they are dropped
ROUND_S = 0.2  # the writer thread takes what is queued this often (or at WAKE_BYTES, or flush)
WAKE_BYTES = 64 * 1024
CLOSE_TIMEOUT_S = 5.0  # how long closing waits for a slow disk


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
