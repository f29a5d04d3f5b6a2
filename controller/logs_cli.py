"""`halfstep logs summary|timeline|export FILE` and `halfstep support bundle`: what support
engineers read. Works on JSON logs (lines) and wire logs (.hswl); a damaged file gives what
can be read and says where reading stopped."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import platform
import re
import sys
import tarfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import click

FAULT_EVENTS = {"link_closed", "command_timeout", "command_retry", "reconnect_failed",
                "device_rebooted", "load_differs", "mqtt_lost", "subscriber_failed"}
LEVEL_ORDER = {"debug": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}


# ---- JSON logs -----------------------------------------------------------------------------


def read_json_log(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    events, problem = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                problem = problem or f"line {n} is not JSON (skipped): {line[:60]!r}"
                continue
            if isinstance(e, dict):
                events.append(e)
    return events, problem


def json_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        kind = e.get("event", "?")
        detail = {k: v for k, v in e.items() if k not in ("event", "level", "timestamp",
                                                             "link", "device_serial",
                                                             "firmware", "session_id")}
        text = kind
        if kind == "safety_event":
            text = f"safety: {e.get('kind')}: {e.get('cause')}"
            kind = f"safety:{e.get('kind')}"
        elif detail:
            text += " " + " ".join(f"{k}={v}" for k, v in detail.items())
        rows.append({"time": e.get("timestamp", ""), "level": e.get("level", "info"),
                     "kind": kind, "text": text, "session": e.get("session_id")})
    return rows


def json_summary(events: list[dict[str, Any]], problem: str | None) -> list[str]:
    sessions = sorted({e["session_id"] for e in events if e.get("session_id")})
    sets = [e for e in events if e.get("event") == "set_done"]
    reps = sum(1 for e in events if e.get("event") == "rep" and e.get("rep_kind") == "full")
    safety: dict[str, int] = {}
    for e in events:
        if e.get("event") == "safety_event":
            safety[str(e.get("kind"))] = safety.get(str(e.get("kind")), 0) + 1
    faults: dict[str, int] = {}
    for e in events:
        if e.get("event") in FAULT_EVENTS or e.get("level") in ("error", "critical"):
            faults[str(e.get("event"))] = faults.get(str(e.get("event")), 0) + 1
    times = [e["timestamp"] for e in events if e.get("timestamp")]
    lines = [f"log: {len(events)} lines" + (f", {times[0]} to {times[-1]}" if times else ""),
             f"sessions: {len(sessions)} ({', '.join(sessions[:5])}"
             + ("..." if len(sessions) > 5 else "") + ")",
             f"sets: {len(sets)}, reps: {reps}"
             + "".join(f"\n  set {e.get('set_index')} {e.get('exercise')}: "
                       f"{e.get('load_kg')} kg, {e.get('reps')} reps, ended by "
                       f"{e.get('ended_by')}" for e in sets),
             "safety events: " + (", ".join(f"{k} {v}" for k, v in sorted(safety.items()))
                                  or "none"),
             "faults: " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items())) or "none"),
             f"link: retries {faults.get('command_retry', 0)}, timeouts "
             f"{faults.get('command_timeout', 0)}, links closed {faults.get('link_closed', 0)},"
             f" reconnects {safety.get('reconnected', 0)}"]
    if problem:
        lines.append(f"file: {problem}")
    return lines


# ---- either kind -----------------------------------------------------------------------------


def load(path: Path) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(kind, summary lines, timeline rows) of a JSON log or a wire log."""
    from controller.wire_report import analyse, summary_lines
    from firmware_bridge.wirelog import is_wire_log, read_wire_log

    if not path.is_file():
        raise click.UsageError(f"{path}: no such file")
    if is_wire_log(path):
        log = read_wire_log(path)
        summary, rows = analyse(log)
        return "wire", summary_lines(summary, log.problem), [r.as_dict() for r in rows]
    events, problem = read_json_log(path)
    if not events:
        raise click.UsageError(f"{path}: neither a wire log nor a JSON log"
                               + (f" ({problem})" if problem else ""))
    return "json", json_summary(events, problem), json_rows(events)


FILE_ARG = click.argument("file", type=click.Path(path_type=Path, dir_okay=False))


def register(cli: click.Group) -> None:
    @cli.group()
    def logs() -> None:
        """Read JSON logs and wire logs (docs/support.md)."""

    @logs.command()
    @FILE_ARG
    def summary(file: Path) -> None:
        """Sessions, sets, reps, faults, safety events and link quality, in a few lines."""
        _, lines, _ = load(file)
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
        for r in _filtered(file, session, level, kinds):
            click.echo(f"{r['time']}  {r['level']:<7} {r['kind']:<16} {r['text']}")

    @logs.command()
    @FILE_ARG
    @click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
                  show_default=True)
    @click.option("--session")
    @click.option("--level", type=click.Choice(list(LEVEL_ORDER)), default="debug")
    @click.option("--kind", "kinds", multiple=True)
    def export(file: Path, fmt: str, session: str | None, level: str,
               kinds: tuple[str, ...]) -> None:
        """The timeline as CSV or JSON, for other tools."""
        rows = _filtered(file, session, level, kinds)
        if fmt == "json":
            click.echo(json.dumps(rows, indent=1, default=str))
            return
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["time", "level", "kind", "text", "session"],
                           extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "session": r.get("session", r.get("link"))})
        sys.stdout.write(buf.getvalue())

    @cli.group()
    def support() -> None:
        """Support tools."""

    @support.command()
    @click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
                  help="Where to write the archive (default: the state folder).")
    @click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False),
                  default=Path("plan.json"), show_default=True,
                  help="The plan file to include (secrets redacted).")
    def bundle(out: Path | None, plan_path: Path) -> None:
        """One archive with logs, wire logs, flight records, redacted config and versions."""
        path = make_bundle(out, plan_path)
        click.echo(str(path))


def _filtered(file: Path, session: str | None, level: str,
              kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    _, _, rows = load(file)
    out = []
    for r in rows:
        if LEVEL_ORDER.get(r["level"], 1) < LEVEL_ORDER[level]:
            continue
        if session is not None and str(r.get("session", r.get("link"))) != session:
            continue
        if kinds and not any(r["kind"].startswith(k) for k in kinds):
            continue
        out.append(r)
    return out


# ---- the support bundle ------------------------------------------------------------------------

URL_PASSWORD = re.compile(r"(\w+://[^:/@\s\"]+):[^@\s\"]+@")


def redact(text: str) -> str:
    """Passwords in URLs and values of secret-looking JSON keys become ***."""
    text = URL_PASSWORD.sub(r"\1:***@", text)
    return re.sub(r'("(?:[^"]*(?:pass(?:word)?|secret|token|pin|scrypt|salt)[^"]*)"\s*:\s*)'
                  r'"[^"]*"', r'\1"***"', text, flags=re.I)


def versions() -> dict[str, Any]:
    out: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("halfstep", "aiomqtt", "paho-mqtt", "bleak", "pyserial", "numpy", "pydantic",
                 "aiohttp", "structlog", "click"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def make_bundle(out: Path | None, plan_path: Path) -> Path:
    from firmware_bridge.wirelog import state_dir

    state = state_dir()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out = out or state / "bundles" / f"halfstep-support-{stamp}.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"created": stamp, "versions": versions()}
    with tarfile.open(out, "w:gz") as tar:
        def add_text(name: str, text: str) -> None:
            data = redact(text).encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), int(time.time())
            tar.addfile(ti, io.BytesIO(data))

        for p in sorted((state / "logs").glob("*.jsonl")):
            add_text(f"logs/{p.name}", p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted((state / "wire").glob("*.hswl")):
            tar.add(p, arcname=f"wire/{p.name}")  # bytes to and from the unit: no secrets
        for p in sorted((state / "flight").glob("*.json")):
            add_text(f"flight/{p.name}", p.read_text(encoding="utf-8", errors="replace"))
        if plan_path.is_file():
            add_text("config/plan.json", plan_path.read_text(encoding="utf-8"))
        for p in sorted((state / "logs").glob("*.jsonl"))[-1:]:
            for line in reversed(p.read_text(encoding="utf-8", errors="replace").splitlines()):
                if '"firmware": "' in line and '"device_serial": "' in line:
                    e = json.loads(line)
                    info["unit"] = {"serial": e.get("device_serial"),
                                    "firmware": e.get("firmware")}
                    break
        add_text("versions.json", json.dumps(info, indent=1))
    return out
