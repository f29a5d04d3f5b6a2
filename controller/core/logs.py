"""Structured logs: JSON lines (or readable text) with the context bound once per session.

Session id, device serial, firmware version and link are bound as context variables, so every
line written while a session runs carries them without each call repeating them.

Every value of a line has the credentials of any URL masked and the home folder shown as `~`
before it goes anywhere (`redact_event`). `JsonLogReader` reads a JSON log back a line at a time,
refusing lines whose fields the readers sort and group by are not text (it lives in
controller/analysis/log_reader.py, with the log summaries that use it; re-exported here).

Logging never touches control: the JSON log file is written by a writer thread behind a bounded
queue, and a full disk, a read-only folder or a slow disk drops lines (counted: `dropped()`, and
a `log_lines_dropped` line in the file once it takes writes again) with one warning on the
stream. Nothing a log call does (the file, the stream, the flight recorder) raises into its
caller.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO

import structlog

from controller.analysis.log_reader import (
    MAX_LINE,
    TEXT_FIELDS,
    JsonLogReader,
    check_event,
    json_type,
    parse_event,
)
from controller.core.console import ConsoleLine
from firmware_bridge import flight, wirelog
from firmware_bridge.redact import redact_text
from firmware_bridge.wirelog import BackgroundWriter

__all__ = ["LEVELS", "MAX_LINE", "QUEUE_BYTES", "TEXT_FIELDS", "JsonLogReader", "LogFile",
           "LogFormat", "bind_session", "check_event", "close", "configure_logging", "dropped",
           "flight_failures", "json_type", "new_session_id", "parse_event", "redact_event",
           "stream_dropped"]

LogFormat = Literal["text", "json"]


LEVELS = logging.getLevelNamesMapping()
QUEUE_BYTES = 1024 * 1024  # log lines waiting for the disk; beyond this they are dropped


class LogFile(BackgroundWriter):
    """The JSON log file: lines are queued; a writer thread appends them. Lines the disk
    refuses (or that find the queue full) are dropped and counted in `dropped`; after a failure
    the file is tried again every `wirelog.RETRY_S` seconds, and the first line written then
    says how many were lost."""

    thread_name = "halfstep-logfile"

    def __init__(self, path: Path, queue_bytes: int = QUEUE_BYTES):
        super().__init__(queue_bytes)
        self.path = path
        self._f: BinaryIO | None = None
        self._retry_at = 0.0
        self._told = 0  # drops already told in the file
        self._telling = 0  # what the gap line being written tells
        self._cut = False  # the file ends in the middle of a line
        self.warn_once: Callable[[], None] = lambda: None  # set by configure_logging

    def write_line(self, line: str) -> None:
        """Queue one line (with its newline); never blocks on the disk, never raises."""
        try:
            data = line.encode("utf-8", "replace")
            self._put(data, len(data))
        except Exception as e:
            self._failed(e, 1)

    @property
    def failing(self) -> bool:
        return self.error is not None or self.queue_full

    # ---- the writer thread's side --------------------------------------------------------------

    def _handle(self, batch: list[bytes]) -> None:
        if self._f is None and not self._open():
            self._failed(None, len(batch))
            return
        head = self._gap_line()
        buf = bytearray(head)
        ends = []
        for line in batch:
            buf += line
            ends.append(len(buf))
        self._write(buf, ends, told=bool(head))

    def _gap_line(self) -> bytes:
        """A line telling how many lines were lost before it, if any were since last told."""
        lost = self.dropped
        if lost <= self._told:
            return b""
        self._telling = lost
        event = {"event": "log_lines_dropped", "level": "warning", "lines": lost,
                 "error": wirelog.describe_error(self.error),
                 "timestamp": _now_iso()}
        return (json.dumps(event) + "\n").encode()

    def _write(self, buf: bytearray, ends: list[int], told: bool) -> None:
        """`buf`: whole lines, ending at the offsets `ends` (a gap line before them is not
        counted as one)."""
        assert self._f is not None
        if self._cut:  # the file ends in a line a failed write cut short: end it first
            buf[:0] = b"\n"
            ends = [e + 1 for e in ends]
        err, done = wirelog.write_all(self._f, buf)
        if err is None:
            self._cut = False
            if told:
                self._told = self._telling
            return
        self._failed(err, len(ends) - bisect.bisect_right(ends, done))
        if done:
            self._cut = buf[done - 1] != ord("\n")
        self._close_file()
        self._retry_at = time.monotonic() + wirelog.RETRY_S

    def _open(self, *, now: bool = False) -> bool:
        if not now and time.monotonic() < self._retry_at:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "ab", buffering=0)
        except OSError as e:
            self._failed(e, 0)
            self._retry_at = time.monotonic() + wirelog.RETRY_S
            return False
        return True

    def _close_file(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()

    def _at_exit(self) -> None:
        self.close()
        self.warn_once()  # if the last lines were the ones that failed

    def _finish(self) -> None:
        """Last: if lines were lost since the file last said so, one more try to say it."""
        if self.dropped > self._told and (self._f is not None or self._open(now=True)):
            head = self._gap_line()
            if head:
                self._write(bytearray(head), [], told=True)
        self._close_file()

    def _forget(self) -> None:
        self._f = None


class _Stream:
    """structlog's PrintLogger, except that a stream that fails (a full disk behind `2>file`,
    a closed pipe) loses the line (counted) instead of raising into the code that logged."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._lock = threading.Lock()
        self.dropped = 0

    def msg(self, message: str) -> None:
        try:
            with self._lock:
                self._stream.write(message + "\n")
                self._stream.flush()
        except (OSError, ValueError):
            self.dropped += 1

    log = debug = info = warn = warning = err = error = critical = exception = fatal = \
        failure = msg


_sink: LogFile | None = None
_stream: _Stream | None = None
_dropped_before = 0  # lines dropped by log files closed so far
_stream_dropped_before = 0
_flight_failures = 0


def dropped() -> int:
    """Lines this process meant for its JSON log file and dropped (full disk, read-only folder,
    a disk slower than the logging)."""
    return _dropped_before + (_sink.dropped if _sink is not None else 0)


def stream_dropped() -> int:
    """Lines the stream (stderr) refused."""
    return _stream_dropped_before + (_stream.dropped if _stream is not None else 0)


def flight_failures() -> int:
    """Events the flight recorder could not take (e.g. its dump hit a full disk)."""
    return _flight_failures


def close() -> None:
    """Write what the log file has queued and close it (also done at exit)."""
    global _sink, _dropped_before
    if _sink is not None:
        _sink.close()
        _sink.warn_once()  # if the last lines were the ones that failed
        _dropped_before += _sink.dropped
        _sink = None


def configure_logging(fmt: LogFormat = "text", level: str = "warning",
                      stream: TextIO | None = None, file: Path | None = None) -> None:
    """Lines at `level` and above to `stream`; with `file`, every line at info and above also
    goes there as JSON (what `halfstep logs` and support bundles read), and to the flight
    recorder when one is on. A log file already open is closed first."""
    global _sink, _stream, _stream_dropped_before
    close()
    if _stream is not None:
        _stream_dropped_before += _stream.dropped
    out = _Stream(stream or sys.stderr)
    _stream = out
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(sort_keys=False) if fmt == "json"
        else ConsoleLine(stream or sys.stderr))  # one line each: the file keeps the rest
    shown = LEVELS[level.upper()]
    keep = min(shown, logging.INFO) if file is not None else shown
    sink = _sink = LogFile(file) if file is not None else None
    warned = {"flight": False}

    def say(event: str, **kw: Any) -> None:
        """A warning about logging itself, straight to the stream (never to the failing file);
        never raises."""
        if shown > logging.WARNING:
            return
        try:
            ev = {"event": event, "level": "warning", **kw,
                  "timestamp": _now_iso()}
            out.msg(str(renderer(None, "warning", ev)))
        except Exception:
            out.dropped += 1

    def warn_file() -> None:
        if sink is not None and sink.failing and not sink.warned:
            sink.warned = True
            say("log_file_write_failed", file=str(sink.path),
                error=wirelog.describe_error(sink.error), dropped=sink.dropped,
                action="log lines are dropped (and counted) until the disk takes writes "
                       "again; the session goes on")

    if sink is not None:
        sink.warn_once = warn_file

    def tee(logger: object, name: str, event: dict) -> dict:
        global _flight_failures
        if sink is not None and LEVELS[event["level"].upper()] >= logging.INFO:
            try:
                sink.write_line(json.dumps(event, default=str) + "\n")
            except Exception as e:  # e.g. a value json cannot take: the line is lost, counted
                sink._failed(e, 1)
            warn_file()
            rec = flight.recorder()
            if rec is not None:
                try:
                    rec.note_event(dict(event))
                except Exception as e:  # its dump hit the disk: the flight record is lost
                    _flight_failures += 1
                    if not warned["flight"]:
                        warned["flight"] = True
                        say("flight_record_failed", error=wirelog.describe_error(e),
                            action="flight records are lost; the session goes on")
        if LEVELS[event["level"].upper()] < shown:
            raise structlog.DropEvent
        return event

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_event,
            tee,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(keep),
        logger_factory=lambda *args: out,
        cache_logger_on_first_use=False,
    )


def redact_event(logger: object, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: every value (nested ones too; a Path or an exception as the text
    it will be written as) without URL credentials and with the home folder as `~`."""
    for key, value in event.items():
        event[key] = _redacted(value, 0)
    return event


def _redacted(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth < 6 and isinstance(value, dict):
        return {k: _redacted(v, depth + 1) for k, v in value.items()}
    if depth < 6 and isinstance(value, list | tuple):
        return [_redacted(v, depth + 1) for v in value]
    try:
        text = str(value)
    except Exception:
        return value
    clean = redact_text(text)
    return value if clean == text else clean



def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def bind_session(session_id: str) -> None:
    structlog.contextvars.bind_contextvars(session_id=session_id)


def _now_iso() -> str:
    """As structlog's TimeStamper(fmt="iso", utc=True) writes it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
