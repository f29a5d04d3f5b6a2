"""`halfstep logs summary|timeline|export FILE` and `halfstep support bundle`: what support
engineers read. Works on JSON logs (lines), wire logs (.hswl) and flight records (one JSON
object). Files are streamed (memory does not grow with their size); a damaged file gives what
can be read and says where reading stopped; a file that is none of these, or a bundle that
cannot be written, is one line on stderr (exit 2 for a file the user named, 1 otherwise)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import errno
import json
import platform
import re
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from firmware_bridge.redact import redact_text

FAULT_EVENTS = {"link_closed", "command_timeout", "command_retry", "reconnect_failed",
                "device_rebooted", "load_differs", "mqtt_lost", "subscriber_failed"}
LEVEL_ORDER = {"debug": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}


class FileProblem(click.ClickException):
    """Exit 2 with one line: the file named is not one these commands can read."""

    exit_code = 2


# ---- JSON logs and flight records ----------------------------------------------------------

MAX_KEYS = 200  # distinct kinds counted by name; beyond, "(other)": memory stays bounded
MAX_SESSIONS = 10_000
MAX_SETS = 100  # sets listed in a summary; the rest are counted


def _bump(counts: dict[str, int], key: object) -> None:
    k = str(key)[:80]
    if k not in counts and len(counts) >= MAX_KEYS:
        k = "(other)"
    counts[k] = counts.get(k, 0) + 1


class JsonSummary:
    """A JSON log summarised as it streams by: what is kept does not grow with the file."""

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = None
        self.sessions: set[str] = set()
        self.sets: list[dict[str, Any]] = []
        self.set_count = self.reps = 0
        self.safety: dict[str, int] = {}
        self.faults: dict[str, int] = {}

    def add(self, e: dict[str, Any]) -> None:
        self.count += 1
        sid, kind = e.get("session_id"), e.get("event")
        if sid and (sid[:80] in self.sessions or len(self.sessions) < MAX_SESSIONS):
            self.sessions.add(sid[:80])
        if e.get("timestamp"):
            self.first = self.first or e["timestamp"][:80]
            self.last = e["timestamp"][:80]
        if kind == "set_done":
            self.set_count += 1
            if len(self.sets) < MAX_SETS:
                self.sets.append({k: str(e.get(k))[:80] for k in
                                  ("set_index", "exercise", "load_kg", "reps", "ended_by")})
        elif kind == "rep" and e.get("rep_kind") == "full":
            self.reps += 1
        elif kind == "safety_event":
            _bump(self.safety, e.get("kind"))
        if kind in FAULT_EVENTS or e.get("level") in ("error", "critical"):
            _bump(self.faults, kind)

    def lines(self, problem: str | None, what: str = "log", unit: str = "lines") -> list[str]:
        sessions = sorted(self.sessions)
        more = "+" if len(sessions) >= MAX_SESSIONS else ""
        faults, safety = self.faults, self.safety
        lines = [f"{what}: {self.count} {unit}"
                 + (f", {self.first} to {self.last}" if self.first else ""),
                 f"sessions: {len(sessions)}{more} ({', '.join(sessions[:5])}"
                 + ("..." if len(sessions) > 5 else "") + ")",
                 f"sets: {self.set_count}, reps: {self.reps}"
                 + "".join(f"\n  set {e['set_index']} {e['exercise']}: {e['load_kg']} kg, "
                           f"{e['reps']} reps, ended by {e['ended_by']}" for e in self.sets)
                 + (f"\n  ... and {self.set_count - len(self.sets)} more"
                    if self.set_count > len(self.sets) else ""),
                 "safety events: " + (", ".join(f"{k} {v}" for k, v in sorted(safety.items()))
                                      or "none"),
                 "faults: " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
                               or "none"),
                 f"link: retries {faults.get('command_retry', 0)}, timeouts "
                 f"{faults.get('command_timeout', 0)}, links closed "
                 f"{faults.get('link_closed', 0)}, reconnects {safety.get('reconnected', 0)}"]
        if problem:
            lines.append(f"file: {problem}")
        return lines


def json_row(e: dict[str, Any]) -> dict[str, Any]:
    """One checked event (logs.check_event) as a timeline row."""
    kind = e.get("event") or "?"
    detail = {k: v for k, v in e.items() if k not in ("event", "level", "timestamp",
                                                         "link", "device_serial",
                                                         "firmware", "session_id")}
    text = kind
    if kind == "safety_event":
        text = f"safety: {e.get('kind')}: {e.get('cause')}"
        kind = f"safety:{e.get('kind')}"
    elif detail:
        text += " " + " ".join(f"{k}={v}" for k, v in detail.items())
    return {"time": e.get("timestamp") or "", "level": e.get("level") or "info",
            "kind": kind, "text": text, "session": e.get("session_id")}


def flight_events(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A flight record's events that are log events, and where the first that is not was."""
    from controller.logs import check_event

    events, problem = [], None
    for i, e in enumerate(body["events"], 1):
        why = check_event(e)
        if why:
            problem = problem or f"event {i} of the record {why} (skipped)"
        else:
            events.append(e)
    return events, problem


def flight_summary(body: dict[str, Any]) -> list[str]:
    events, problem = flight_events(body)
    agg = JsonSummary()
    for e in events:
        agg.add(e)
    tel = body.get("telemetry") or {}
    t_s = tel.get("t_s") if isinstance(tel.get("t_s"), list) else []
    pos = tel.get("position_mm") if isinstance(tel.get("position_mm"), list) else []
    span = ""
    if len(t_s) > 1 and all(isinstance(t, int | float) for t in (t_s[0], t_s[-1])):
        span = f" over {t_s[-1] - t_s[0]:.1f} s"
    head = [f"flight record: {body['reason'][:80]} at {body['at'][:40]}; the "
            f"{str(body.get('window_s', '?'))[:20]} s before it",
            f"telemetry: {len(t_s)} samples{span}, {len(pos)} cable(s)"]
    return head + agg.lines(problem, what="events", unit="kept")


# ---- either kind -----------------------------------------------------------------------------


def kind_of(path: Path) -> tuple[str, Any]:
    """("wire", WireLogReader) | ("flight", its body) | ("json", JsonLogReader); FileProblem
    (exit 2) for a file that is none of them, naming the file and where it went wrong."""
    from controller.logs import JsonLogReader
    from firmware_bridge.flight import (
        FlightRecordError,
        looks_like_flight_record,
        read_flight_record,
    )
    from firmware_bridge.wirelog import WireLogError, WireLogReader, is_wire_log

    if not path.is_file():
        raise FileProblem(f"{path}: no such file")
    try:
        if is_wire_log(path):
            try:
                return "wire", WireLogReader(path)
            except WireLogError as e:
                raise FileProblem(str(e)) from None
        flight_problem = None
        if looks_like_flight_record(path):
            try:
                return "flight", read_flight_record(path)
            except FlightRecordError as e:
                flight_problem = f"not a flight record: {e}"
        reader = JsonLogReader(path)
        reader.fallback = flight_problem
        return "json", reader
    except OSError as e:
        raise click.ClickException(f"{path}: cannot be read ({e.strerror or e})") from None


def _nothing_read(path: Path, reader: Any) -> FileProblem:
    problem = reader.fallback or reader.problem
    return FileProblem(f"{path}: neither a wire log nor a JSON log"
                       + (f" ({problem})" if problem else ""))


def summarise(path: Path) -> list[str]:
    from controller.wire_report import analyse, summary_lines

    kind, src = kind_of(path)
    if kind == "flight":
        return flight_summary(src)
    if kind == "wire":
        s, _ = analyse(src, emit=lambda row: None)
        if not src.count and src.problem:
            raise FileProblem(f"{path}: no record could be read: {src.problem}")
        lines = summary_lines(s, src.problem)
        if src.meta_problem:
            lines.append(f"file: {src.meta_problem} (the records were read)")
        return lines
    agg = JsonSummary()
    for e in src:
        agg.add(e)
    if not src.events:
        raise _nothing_read(path, src)
    return agg.lines(src.problem)


def each_row(path: Path, sink: Callable[[dict[str, Any]], None]) -> None:
    """The timeline of any kind of file, handed to `sink` a row at a time as it is read (memory
    does not grow with the file). A JSON log's first unreadable line is told on stderr at the
    end; a wire log's damage is a row of its own."""
    from controller.wire_report import analyse

    kind, src = kind_of(path)
    if kind == "flight":
        events, problem = flight_events(src)
        for e in events:
            sink(json_row(e))
        sink({"time": src["at"], "level": "warning", "kind": "flight",
              "text": f"flight record written: {src['reason']}", "session": None})
        if problem:
            click.echo(f"{path}: {problem}", err=True)
    elif kind == "wire":
        def wire_row(r: Any) -> None:
            if r.kind == "file" and not src.count:
                raise FileProblem(f"{path}: no record could be read: {src.problem}")
            sink(r.as_dict())

        analyse(src, emit=wire_row)
        if src.meta_problem:
            click.echo(f"{path}: {src.meta_problem} (the records were read)", err=True)
    else:
        for e in src:
            sink(json_row(e))
        if not src.events:
            raise _nothing_read(path, src)
        if src.problem:
            click.echo(f"{path}: {src.problem}", err=True)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """A file that fails while it is read (EIO, a removed disk) is one line, exit 1; a closed
    stdout (`| head`) is click's to handle."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise click.ClickException(f"{path}: reading failed ({e.strerror or e})") from None


FILE_ARG = click.argument("file", type=click.Path(path_type=Path, dir_okay=False))


def register(cli: click.Group) -> None:
    @cli.group()
    def logs() -> None:
        """Read JSON logs and wire logs (docs/support.md)."""

    @logs.command()
    @FILE_ARG
    def summary(file: Path) -> None:
        """Sessions, sets, reps, faults, safety events and link quality, in a few lines."""
        with reading(file):
            lines = summarise(file)
        click.echo("\n".join(lines))

    @logs.command()
    @FILE_ARG
    @click.option("--session", help="Only this session id (JSON logs) or link opening "
                                    "number (wire logs).")
    @click.option("--level", type=click.Choice(list(LEVEL_ORDER)), default="debug",
                  help="Only lines at this level and above.")
    @click.option("--kind", "kinds", multiple=True,
                  help="Only these kinds (prefix match; repeatable), e.g. safety, link, rep.")
    def timeline(file: Path, session: str | None, level: str, kinds: tuple[str, ...]) -> None:
        """Events in order."""
        def show(r: dict[str, Any]) -> None:
            click.echo(f"{r['time']}  {r['level']:<7} {r['kind']:<16} {r['text']}")

        with reading(file):
            each_row(file, _filter(show, session, level, kinds))

    @logs.command()
    @FILE_ARG
    @click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
                  show_default=True)
    @click.option("--session")
    @click.option("--level", type=click.Choice(list(LEVEL_ORDER)), default="debug")
    @click.option("--kind", "kinds", multiple=True)
    def export(file: Path, fmt: str, session: str | None, level: str,
               kinds: tuple[str, ...]) -> None:
        """The timeline as CSV or JSON, for other tools (written as it is read)."""
        out = sys.stdout
        if fmt == "json":
            n = 0

            def as_json(r: dict[str, Any]) -> None:
                nonlocal n
                text = json.dumps(r, indent=1, default=str).replace("\n", "\n ")
                out.write(("[\n " if n == 0 else ",\n ") + text)
                n += 1

            with reading(file):
                each_row(file, _filter(as_json, session, level, kinds))
            out.write("\n]\n" if n else "[]\n")
            return
        w = csv.DictWriter(out, fieldnames=["time", "level", "kind", "text", "session"],
                           extrasaction="ignore")
        w.writeheader()
        with reading(file):
            each_row(file, _filter(lambda r: w.writerow({**r, "session": r.get("session",
                                                                               r.get("link"))}),
                                   session, level, kinds))

    @cli.group()
    def support() -> None:
        """Support tools."""

    @support.command()
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
                  help="Where to write the archive (default: the state folder).")
    @click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False),
                  default=Path("plan.json"), show_default=True,
                  help="The plan file to include (secrets redacted).")
    @click.pass_context
    def bundle(ctx: click.Context, out: Path | None, plan_path: Path) -> None:
        """One archive with logs, wire logs, flight records, redacted config and versions."""
        named = ctx.get_parameter_source("plan_path") != click.core.ParameterSource.DEFAULT
        path = make_bundle(out, plan_path, plan_named=named)
        click.echo(str(path))


def _filter(sink: Callable[[dict[str, Any]], None], session: str | None, level: str,
            kinds: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    least = LEVEL_ORDER[level]

    def keep(r: dict[str, Any]) -> None:
        if LEVEL_ORDER.get(r["level"], 1) < least:
            return
        if session is not None and str(r.get("session", r.get("link"))) != session:
            return
        if kinds and not any(r["kind"].startswith(k) for k in kinds):
            return
        sink(r)

    return keep


# ---- the support bundle ------------------------------------------------------------------------

SECRET_KEYS = re.compile(r'("[^"]*(?:pass(?:word)?|secret|token|pin|scrypt|salt)[^"]*"\s*:\s*)'
                         r'(?:"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*)', re.I)
STAMPED = re.compile(r"\d{8}-\d{6}-\d{6}")
MAX_PLAN = 4 * 1024 * 1024
SPOOL = 8 * 1024 * 1024  # a member is built in memory up to this, on disk beyond
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EIO}  # the disk's fault, not the path's


def redact(text: str) -> str:
    """URL credentials masked (whatever `@`, `:` or quotes the password holds), home folders
    as `~`, and the values of secret-looking JSON keys as ***."""
    return SECRET_KEYS.sub(r'\1"***"', redact_text(text))


def versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("halfstep", "aiomqtt", "paho-mqtt", "bleak", "pyserial", "numpy", "pydantic",
                 "aiohttp", "structlog", "click"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def make_bundle(out: Path | None, plan_path: Path, plan_named: bool = True) -> Path:
    """Writes the archive; a file of the state folder that cannot be read is left out and
    named in versions.json. Raises FileProblem (exit 2) for a plan or an --out path the user
    named that cannot be used, ClickException (exit 1) when the archive cannot be written."""
    from firmware_bridge.wirelog import state_dir

    state = state_dir()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    info: dict[str, Any] = {"created": stamp, "versions": versions(), "left_out": []}
    plan = _plan_text(plan_path, plan_named, info["left_out"])
    if out is not None and not out.parent.is_dir():  # the default folder is made; not --out's
        raise FileProblem(f"--out {out}: {out.parent} " + ("is not a folder" if out.parent.exists()
                                                           else "does not exist"))
    target = out or state / "bundles" / f"halfstep-support-{stamp}.tar.gz"
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, "w:gz") as tar:
            _fill(tar, state, plan, info)
    except OSError as e:
        if not existed:
            with contextlib.suppress(OSError):
                if target.is_file():
                    target.unlink()
        why = f"cannot write the support bundle {target}: {e.strerror or e}"
        if out is not None and e.errno not in NO_ROOM:
            raise FileProblem(f"--out {why}") from None
        raise click.ClickException(why + ("" if out else "; give another place with --out")
                                   ) from None
    return target


def _plan_text(path: Path, named: bool, left_out: list[str]) -> str | None:
    """The plan's text; a plan the user named that cannot be read is a FileProblem, the
    default one is left out (and said so)."""
    try:
        if not path.is_file():
            if named:
                raise FileProblem(f"--plan {path}: no such file")
            return None
        if path.stat().st_size > MAX_PLAN:
            raise ValueError(f"more than {MAX_PLAN} bytes: not a plan file")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        why = f"not UTF-8 text (byte {e.start}): not a plan file"
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e)
    if named:
        raise FileProblem(f"--plan {path}: {why}")
    left_out.append(f"config/plan.json: {path}: {why}")
    return None


def _files(folder: Path, pattern: str) -> list[Path]:
    try:
        return sorted(p for p in folder.glob(pattern) if p.is_file())  # not a folder so named
    except OSError:
        return []


def _fill(tar: tarfile.TarFile, state: Path, plan: str | None, info: dict[str, Any]) -> None:
    from firmware_bridge.wirelog import WireLogError, copy_redacted

    left_out: list[str] = info["left_out"]
    logs = _files(state / "logs", "*.jsonl")
    for p in logs:
        _add(tar, f"logs/{p.name}", _spooled_text(p, left_out))
    for i, p in enumerate(_files(state / "wire", "*.hswl"), 1):
        # Named by when it began: old names hold the link URL, credentials included.
        name = f"wire/{p.name[:22] if STAMPED.match(p.name) else i}.hswl"
        spool = tempfile.SpooledTemporaryFile(SPOOL)
        try:
            problem = copy_redacted(p, spool)  # old files have the link's credentials
        except (OSError, WireLogError) as e:
            left_out.append(f"{name}: {e}")
            spool.close()
            continue
        if problem:
            left_out.append(f"{name}: cut where reading stopped: {problem}")
        _add(tar, name, spool)
    for p in _files(state / "flight", "*.json"):
        _add(tar, f"flight/{p.name}", _spooled_text(p, left_out))
    if plan is not None:
        _add(tar, "config/plan.json", _spool(redact(plan).encode()))
    if logs:
        unit = _unit(logs[-1])
        if unit:
            info["unit"] = unit
    _add(tar, "versions.json", _spool(json.dumps(info, indent=1).encode()))


def _spool(data: bytes) -> Any:
    spool = tempfile.SpooledTemporaryFile(SPOOL)
    spool.write(data)
    return spool


def _spooled_text(path: Path, left_out: list[str]) -> Any:
    """A text file redacted a line at a time into a spool (memory: one line and the spool's
    in-memory part); None, and a note, if it cannot be read."""
    from controller.logs import MAX_LINE

    spool = tempfile.SpooledTemporaryFile(SPOOL)
    try:
        with open(path, "rb") as f:
            carry = ""  # the unfinished last word of a line longer than one read
            while raw := f.readline(MAX_LINE):
                text, carry = _whole_words(carry + raw.decode("utf-8", "replace"))
                spool.write(redact(text).encode())
            spool.write(redact(carry).encode())
    except OSError as e:
        spool.close()
        left_out.append(f"{path.name}: {e.strerror or e}")
        return None
    return spool


def _whole_words(text: str) -> tuple[str, str]:
    """A piece of a line split by the read limit, cut after its last whitespace: a URL cut in
    two would escape redaction half in each piece. A run with no whitespace longer than a read
    that holds `://` is not shown at all (no URL is that long; memory stays bounded)."""
    from controller.logs import MAX_LINE

    if text.endswith("\n"):
        return text, ""
    cut = max(text.rfind(" "), text.rfind("\t"))
    if cut >= 0:
        return text[:cut + 1], text[cut + 1:]
    if len(text) <= MAX_LINE:
        return "", text
    return (f"***(a run of {len(text)} characters holding a URL, not shown)" if "://" in text
            else text), ""


def _add(tar: tarfile.TarFile, name: str, spool: Any) -> None:
    if spool is None:
        return
    with spool:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime = spool.tell(), int(time.time())
        spool.seek(0)
        tar.addfile(ti, spool)


def _unit(log: Path) -> dict[str, Any] | None:
    """The unit the last session talked to: the last line of the log naming its serial and
    firmware (lines that are not events are passed over)."""
    from controller.logs import JsonLogReader

    unit = None
    try:
        for e in JsonLogReader(log):
            serial, firmware = e.get("device_serial"), e.get("firmware")
            if isinstance(serial, str) and isinstance(firmware, str):
                unit = {"serial": serial, "firmware": firmware}
    except OSError:
        return None
    return unit
