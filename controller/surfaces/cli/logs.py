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
import math
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

from controller.analysis import outcomes
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


def _bump(counts: dict[str, int], key: object) -> None:
    k = str(key)[:80]
    if k not in counts and len(counts) >= MAX_KEYS:
        k = "(other)"
    counts[k] = counts.get(k, 0) + 1


class JsonSummary:
    """A JSON log summarised as it streams by: what is kept does not grow with the file.

    Sets, links, faults and the unit's events are told in the words of
    controller/analysis/outcomes.py,
    found as the wire log's summary finds them (a set: a load the unit took, to how it came
    off; a link: a connection the unit answered on, to how it ended), so that the summaries of
    the two logs of one session agree line for line; what only this log knows (the exercise,
    how the controller put a set's end, safety events, the controller's own faults) follows."""

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = None
        self.sessions: set[str] = set()
        self.safety: dict[str, int] = {}
        self.faults: dict[str, int] = {}  # the controller's event names
        self.story = outcomes.Story()
        self._link: str | None = None  # the open link's ending so far ("" while none), or None
        self._load: float | None = None  # the load the set under way took (load_set), if any
        self._set_end: str | None = None  # the first thing that ended the set under way
        self._told = False

    def add(self, e: dict[str, Any]) -> None:
        self.count += 1
        sid, kind = e.get("session_id"), e.get("event")
        if sid and (sid[:80] in self.sessions or len(self.sessions) < MAX_SESSIONS):
            self.sessions.add(sid[:80])
        if e.get("timestamp"):
            self.first = self.first or e["timestamp"][:80]
            self.last = e["timestamp"][:80]
        if kind == "safety_event":
            _bump(self.safety, e.get("kind"))
        if kind in FAULT_EVENTS or e.get("level") in ("error", "critical"):
            _bump(self.faults, kind)
        self._story(kind, e)

    def _story(self, kind: str | None, e: dict[str, Any]) -> None:
        st = self.story
        ended = {"device_rebooted": outcomes.UNIT_REBOOTED, "link_closed": outcomes.LINK_LOST,
                 "stop_sent": outcomes.STOP}.get(kind or "")
        if kind == "safety_event" and e.get("kind") == "link_lost":
            ended = outcomes.LINK_LOST
        if kind == "device_connected":  # a new link the unit answered on: the last one ended
            self._end_link()
            self._link = ""
        elif kind == "device_event":
            name = str(e.get("event_code"))[:40].upper()
            reboot = name == "BOOT" and bool(e.get("device_serial"))  # after it said who it is
            st.unit_event(name, reboot=reboot)
            ended = outcomes.SET_ENDERS.get(name)
        elif kind == "load_set":
            applied = e.get("applied_kg")
            kgs = [v for v in (applied if isinstance(applied, list) else [applied])
                   if isinstance(v, int | float) and not isinstance(v, bool)]
            if kgs and max(kgs) > 0 and self._load is None:
                self._load, self._set_end = float(max(kgs)), None
        elif kind == "command_retry":
            st.fault(outcomes.RETRIED)
        elif kind == "load_differs":
            st.fault(outcomes.LOAD_DIFFERS)
        elif kind == "set_done":
            self._set_done(e)
        if ended is not None:
            if self._link == "" and ended != outcomes.STOP:
                self._link = ended
            if self._load is not None and self._set_end is None:
                self._set_end = ended

    def _set_done(self, e: dict[str, Any]) -> None:
        """A set the controller finished: as the unit saw it when it took the load, else
        among the sets the unit never loaded."""
        said = str(e.get("ended_by"))[:80]
        what = f"{str(e.get('exercise'))[:40]} {str(e.get('set_index'))[:10]}"
        lost = said.startswith("link lost")
        if self._load is None:
            self.story.add_unloaded(what, (self._link or outcomes.LINK_LOST) if lost
                                    else said, f"controller: {said}; no load reached the unit")
            return
        ending = self._set_end or ((self._link or outcomes.LINK_LOST) if lost
                                   else outcomes.STOP)
        reps, partial = e.get("reps"), e.get("partial_reps")
        planned = e.get("load_kg")
        detail = f"{what}: {said}"
        if isinstance(planned, int | float) and abs(planned - self._load) > 0.01:
            detail += f"; {planned} kg planned"
        self.story.add_set(self._load, reps if isinstance(reps, int) else 0,
                           partial if isinstance(partial, int) else 0, ending, detail)
        self._load = self._set_end = None

    def _end_link(self) -> None:
        if self._link is not None:
            self.story.end_link(self._link or outcomes.CLOSED)
        self._link = None

    def lines(self, problem: str | None, what: str = "log", unit: str = "lines") -> list[str]:
        if not self._told:  # the log's last link ends with it (closed, as far as it says)
            self._told = True
            self._end_link()
        sessions = sorted(self.sessions)
        more = "+" if len(sessions) >= MAX_SESSIONS else ""
        faults, safety = self.faults, self.safety
        lines = [f"{what}: {self.count} {unit}"
                 + (f", {self.first} to {self.last}" if self.first else ""),
                 f"sessions: {len(sessions)}{more} ({', '.join(sessions[:5])}"
                 + ("..." if len(sessions) > 5 else "") + ")",
                 *self.story.lines(),
                 "safety events: " + (", ".join(f"{k} {v}" for k, v in sorted(safety.items()))
                                      or "none"),
                 "logged faults: " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
                                      or "none"),
                 f"controller: retries {faults.get('command_retry', 0)}, timeouts "
                 f"{faults.get('command_timeout', 0)}, reconnects {safety.get('reconnected', 0)}"
                 f", failed reconnect attempts {faults.get('reconnect_failed', 0)}"]
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
    level = e.get("level") or "info"
    if kind == "device_event" and str(e.get("event_code")).upper() in outcomes.UNIT_FAULTS \
            and LEVEL_ORDER.get(level, 1) < LEVEL_ORDER["warning"]:
        level = "warning"  # the unit's own deload, lease expiry...: as the wire log's timeline
    return {"time": e.get("timestamp") or "", "level": level,
            "kind": kind, "text": text, "session": e.get("session_id")}


def flight_events(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A flight record's events that are log events, and where the first that is not was."""
    from controller.core.logs import check_event

    events, problem = [], None
    for i, e in enumerate(body["events"], 1):
        why = check_event(e)
        if why:
            problem = problem or f"event {i} of the record {why} (skipped)"
        else:
            events.append(e)
    return events, problem


def _numbers(v: Any) -> list[float] | None:
    """A list of plain numbers (a record's column), else None."""
    if not isinstance(v, list) or not all(isinstance(x, int | float) and not isinstance(x, bool)
                                          and math.isfinite(x) for x in v):
        return None
    return [float(x) for x in v]


def _cables(v: Any) -> list[list[float]]:
    """A per-cable column (a list of lists of numbers); what is not one is left out."""
    if not isinstance(v, list):
        return []
    return [c for c in (_numbers(x) for x in v[:8]) if c]


def _epoch(text: Any) -> float | None:
    try:
        t = dt.datetime.fromisoformat(str(text)[:40].replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def _hms(at: float | None) -> str:
    from controller.analysis.timestamps import iso

    return "?" if at is None else iso(at)[11:23]


def flight_summary(body: dict[str, Any]) -> list[str]:
    """What led up to the record: its window, the event that triggered it, the load and the
    last samples (position, speed, tension, and status bits and link age where the record has
    them), the last events, then the events kept summarised as a JSON log is."""
    events, problem = flight_events(body)
    agg = JsonSummary()
    for e in events:
        agg.add(e)
    reason, at = body["reason"][:80], body["at"][:40]
    at_s = _epoch(at)
    tel = body.get("telemetry") or {}
    t_s = _numbers(tel.get("t_s")) or []
    host = _numbers(tel.get("host_time")) or []
    pos, vel, ten = (_cables(tel.get(k)) for k in ("position_mm", "velocity_m_s", "tension_n"))
    lines = [f"flight record: {reason} at {at}; the {str(body.get('window_s', '?'))[:20]} s "
             "before it"]
    times = [t for t in [*(_epoch(e.get("timestamp")) for e in events[:1] + events[-1:]),
                         *host[:1], *host[-1:]] if t is not None]
    if times:
        lines.append(f"window: {_hms(min(times))} to {_hms(max(times))} UTC "
                     f"({max(times) - min(times):.1f} s by the host's clock: the events and "
                     "telemetry kept)")
    span = f" over {t_s[-1] - t_s[0]:.1f} s" if len(t_s) > 1 else ""
    lines.append(f"telemetry: {len(t_s)} samples{span}, {len(pos)} cable(s)"
                 + (f"; the unit's clock {t_s[0]:.2f} to {t_s[-1]:.2f} s" if t_s else ""))
    trigger = next((e for e in reversed(events)
                    if reason in (e.get("kind"), e.get("event"))), None)
    lines.append(f"cause: {json_row(trigger)['text'][:200]} at {trigger.get('timestamp')}"
                 if trigger is not None else
                 f"cause: {reason} (the event itself is not among those kept)")
    lines += _flight_load(events)
    lines += _flight_samples(t_s, host, at_s, pos, vel, ten, tel)
    shown = [e for e in events if e.get("event") not in ("rep", "answer")][-5:]
    if shown:
        lines.append("last events:" + "".join(
            f"\n  {_hms(_epoch(e.get('timestamp')))}  {json_row(e)['text'][:120]}"
            for e in shown))
    return lines + agg.lines(problem, what="events", unit="kept")


def _flight_load(events: list[dict[str, Any]]) -> list[str]:
    """The load at the end of the record, from the log events it kept."""
    load: str | None = None
    set_: str | None = None
    reps = 0
    for e in events:
        kind, when = e.get("event"), _hms(_epoch(e.get("timestamp")))
        if kind == "load_set":
            kgs = _numbers(e.get("applied_kg")) or []
            on = max(kgs, default=0.0)
            load = f"{on:.1f} kg since {when}" if on > 0 else f"off since {when} (0 kg set)"
        elif kind == "stop_sent":
            load = f"off: STOP acknowledged at {when}"
        elif kind == "rep" and e.get("rep_kind") == "full":
            set_, reps = f"{str(e.get('exercise'))[:40]} set {str(e.get('set_index'))[:10]}", \
                reps + 1
        elif kind == "set_done":
            set_, reps = None, 0
    if load is None and set_ is None:
        return []
    return [f"load: {load or 'not set within the record'}"
            + (f"; {set_} under way, {reps} rep(s) in the record" if set_ else "")]


def _flight_samples(t_s: list[float], host: list[float], at_s: float | None,
                    pos: list[list[float]], vel: list[list[float]], ten: list[list[float]],
                    tel: dict[str, Any]) -> list[str]:
    """The last sample of each cable, the last second of movement, and how old the link's
    news was when the record was written."""
    if not t_s:
        return ["last samples: none in the record"]
    out = []
    age = f"; the last telemetry reached the host {at_s - host[-1]:.2f} s before the record" \
        if host and at_s is not None else ""
    out.append(f"last sample: the unit's clock {t_s[-1]:.2f} s{age}")
    recent = [i for i in range(len(t_s)) if t_s[i] >= t_s[-1] - 1.0]
    status = _cables(tel.get("status"))
    for c in range(max(len(pos), len(vel), len(ten))):
        p_c, v_c, t_c = (col[c] if c < len(col) else [] for col in (pos, vel, ten))
        moving = any(abs(v_c[i]) > 0.05 for i in recent if i < len(v_c))
        bits = ""
        if c < len(status):
            from firmware_bridge.messages import SampleStatus

            v = int(status[c][-1])
            bits = "; status " + ("|".join(b.name.lower() for b in SampleStatus
                                           if b and b.name and v & b) or "none")
        out.append(f"  cable {c + 1}: position {_last(p_c, '.1f', 'mm')}, velocity "
                   f"{_last(v_c, '.2f', 'm/s')}, tension {_last(t_c, '.1f', 'N')}{bits}; the "
                   f"last second: position {_spread(p_c, recent, '.0f')} mm, tension "
                   f"{_spread(t_c, recent, '.0f')}"
                   f" N, {'moving' if moving else 'still'}")
    return out


def _last(col: list[float], fmt: str, unit: str) -> str:
    return f"{col[-1]:{fmt}} {unit}" if col else "?"


def _spread(col: list[float], at: list[int], fmt: str) -> str:
    xs = [col[i] for i in at if i < len(col)]
    return f"{min(xs):{fmt}} to {max(xs):{fmt}}" if xs else "?"


# ---- either kind -----------------------------------------------------------------------------


def kind_of(path: Path) -> tuple[str, Any]:
    """("wire", WireLogReader) | ("flight", its body) | ("json", JsonLogReader); FileProblem
    (exit 2) for a file that is none of them, naming the file and where it went wrong."""
    from controller.core.logs import JsonLogReader
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
    from controller.analysis.wire_report import analyse, summary_lines

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
    from controller.analysis.wire_report import analyse

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
    @click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False),
                  default=Path("halfstep.sqlite"), show_default=True,
                  help=f"The history database (read only): its last {HISTORY_SESSIONS} "
                       "sessions go in as history.txt.")
    @click.pass_context
    def bundle(ctx: click.Context, out: Path | None, plan_path: Path, db_path: Path) -> None:
        """One archive with logs, wire logs, flight records, a summary of the last sessions,
        redacted config and versions."""
        def named(p: str) -> bool:
            return ctx.get_parameter_source(p) != click.core.ParameterSource.DEFAULT

        path = make_bundle(out, plan_path, plan_named=named("plan_path"), db_path=db_path,
                           db_named=named("db_path"))
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
HISTORY_SESSIONS = 20  # sessions summarised in a bundle's history.txt


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


def make_bundle(out: Path | None, plan_path: Path, plan_named: bool = True,
                db_path: Path | None = None, db_named: bool = False) -> Path:
    """Writes the archive; a file of the state folder that cannot be read is left out and
    named in versions.json, a history database that cannot be read is said in history.txt.
    Raises FileProblem (exit 2) for a plan, a database or an --out path the user named that
    cannot be used, ClickException (exit 1) when the archive cannot be written."""
    from firmware_bridge.wirelog import state_dir

    state = state_dir()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    info: dict[str, Any] = {"created": stamp, "versions": versions(), "left_out": []}
    plan = _plan_text(plan_path, plan_named, info["left_out"])
    history = history_text(db_path or Path("halfstep.sqlite"), db_named)
    if out is not None and not out.parent.is_dir():  # the default folder is made; not --out's
        raise FileProblem(f"--out {out}: {out.parent} " + ("is not a folder" if out.parent.exists()
                                                           else "does not exist"))
    target = out or state / "bundles" / f"halfstep-support-{stamp}.tar.gz"
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, "w:gz") as tar:
            _fill(tar, state, plan, info, history)
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


def history_text(path: Path, named: bool, last: int = HISTORY_SESSIONS) -> str:
    """The last sessions of the history database, one line each: day and start, status,
    sets, reps, volume, pain, red flags and how each set ended. Read only (a session may be
    running). A database that cannot be read is said in the text, or, when the user named
    it, is a FileProblem (exit 2)."""
    from controller.core.history import History, NotAHistory

    head = f"history: {path}"
    try:
        with History(path, readonly=True) as h:
            sessions = h.sessions()
            shown = sessions[-last:]
            lines = [f"{head}: {len(sessions)} session(s)"
                     + (f"; the last {len(shown)}" if len(shown) < len(sessions) else ""),
                     f"{'id':>5}  {'day':<10}  {'started (UTC)':<16}  {'status':<17} "
                     f"{'sets':>4} {'reps':>5} {'volume kg':>9} {'pain':>4}  red flags; "
                     "how each set ended"]
            for s in shown:
                full = h.session(s["id"]) or {}
                lines.append(_history_line(s, full))
    except Exception as e:  # whatever is wrong with it is said, not raised
        why = str(e) if isinstance(e, NotAHistory) else f"{path}: {type(e).__name__}: {e}"
        if named:
            raise FileProblem(f"--db {why}") from None
        return f"{head}: not read: {why}\n"
    return "\n".join(lines) + "\n"


def _history_line(s: dict[str, Any], full: dict[str, Any]) -> str:
    endings: list[list[Any]] = []  # [how, times], runs of the same ending in order
    for t in full.get("sets") or []:
        how = str(t.get("ended_by") or "?")
        if endings and endings[-1][0] == how:
            endings[-1][1] += 1
        else:
            endings.append([how, 1])
    ended = ", ".join(how + (f" x{n}" if n > 1 else "") for how, n in endings) or "no sets"
    flags = ", ".join(str(f) for f in full.get("red_flags") or []) or "none"
    pain = "-" if s.get("pain_during") is None else s["pain_during"]
    started = str(s.get("started_at") or "")[:16].replace("T", " ")
    status = str(s.get("status")) + (f" ({str(s['notes'])[:60]})" if s.get("notes") else "")
    return (f"{s['id']:>5}  {s.get('day')!s:<10}  {started:<16}  {status:<17} "
            f"{s.get('sets', 0):>4} {s.get('reps', 0):>5} {s.get('volume_kg') or 0:>9.0f} "
            f"{pain:>4}  {flags}; {ended}")


def _files(folder: Path, pattern: str) -> list[Path]:
    try:
        return sorted(p for p in folder.glob(pattern) if p.is_file())  # not a folder so named
    except OSError:
        return []


def _fill(tar: tarfile.TarFile, state: Path, plan: str | None, info: dict[str, Any],
          history: str) -> None:
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
    _add(tar, "history.txt", _spool(redact(history).encode()))
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
    from controller.core.logs import MAX_LINE

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
    from controller.core.logs import MAX_LINE

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
    from controller.core.logs import JsonLogReader

    unit = None
    try:
        for e in JsonLogReader(log):
            serial, firmware = e.get("device_serial"), e.get("firmware")
            if isinstance(serial, str) and isinstance(firmware, str):
                unit = {"serial": serial, "firmware": firmware}
    except OSError:
        return None
    return unit
