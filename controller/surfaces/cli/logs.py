"""`halfstep logs summary|timeline|export FILE`: what support engineers read. Works on JSON logs
(lines), wire logs (.hswl) and flight records (one JSON object). Files are streamed (memory does
not grow with their size); a damaged file gives what can be read and says where reading
stopped; a file that is none of these is one line on stderr (exit 2 for a file the user named,
1 otherwise). The summaries are built in controller/analysis (log_summary.py, flight_summary.py,
wire_report.py); `halfstep support bundle` is in support.py.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from controller.analysis.flight_summary import flight_events, flight_summary
from controller.analysis.log_summary import LEVEL_ORDER, JsonSummary, json_row


class FileProblem(click.ClickException):
    """Exit 2 with one line: the file named is not one these commands can read."""

    exit_code = 2



def kind_of(path: Path) -> tuple[str, Any]:
    """("wire", WireLogReader) | ("flight", its body) | ("json", JsonLogReader); FileProblem
    (exit 2) for a file that is none of them, naming the file and where it went wrong."""
    from controller.analysis.log_reader import JsonLogReader
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


@click.group()
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
