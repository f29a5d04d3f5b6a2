"""`halfstep history list|show|export`: the sessions, sets and reps kept so far, read without
writing anything beside the database."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from controller.surfaces.cli.common import UsageProblem
from controller.surfaces.cli.panel_options import DB_OPTION
from controller.surfaces.cli.params import Number


@click.group()
def history() -> None:
    """Sessions, sets and reps kept so far."""

@history.command("list")
@DB_OPTION
def history_list(db_path: Path) -> None:
    """One line per session."""
    with _open(db_path) as h:
        click.echo(f"{'id':>4}  {'day':<10}  {'status':<17} {'sets':>4} {'reps':>5} "
                   f"{'volume kg':>9}  {'pain':>4}  device")
        for s in h.sessions():
            click.echo(f"{s['id']:>4}  {s['day']:<10}  {s['status']:<17} {s['sets']:>4} "
                       f"{s['reps']:>5} {s['volume_kg']:>9.0f}  "
                       f"{'-' if s['pain_during'] is None else s['pain_during']:>4}  "
                       f"{s['device_serial'] or ''}")

@history.command("show")
@click.argument("session_id", type=Number(1, 2**63 - 1, integer=True))
@DB_OPTION
@click.option("--json", "as_json", is_flag=True)
def history_show(session_id: int, db_path: Path, as_json: bool) -> None:
    """One session: its sets, reps, check-ins, decisions and safety events."""
    with _open(db_path) as h:
        s = h.session(session_id)
    if s is None:
        raise UsageProblem(f"no session {session_id} in {db_path}; see halfstep history list")
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    pain = "-" if s["pain_during"] is None else s["pain_during"]
    click.echo(f"session {s['id']} on {s['day']}: {s['status']}, pain {pain}, "
               f"device {s['device_serial']} (firmware {s['firmware']})")
    for t in s["sets"]:
        mcv = t["mean_concentric_m_s"]
        click.echo(f"  {t['exercise']:<14} set {t['set_index']} {t['kind']:<10} "
                   f"{t['load_kg']:5.1f} kg x {t['full_reps']:>2}"
                   + (f" (+{t['partial_reps']} partial)" if t["partial_reps"] else "")
                   + (f"  {mcv:.2f} m/s" if mcv else "") + f"  [{t['ended_by']}]")
    for c in s["checkins"]:
        click.echo(f"  pain {c['pain']}/10 " + (f"during {c['exercise']}" if c["exercise"]
                                                else "overall"))
    if s["red_flags"]:
        from controller.planning.models import RedFlag
        from controller.planning.red_flags import describe

        click.echo(f"  RED FLAG: {describe([RedFlag(k) for k in s['red_flags']])} "
                   f"({s['notes']})")
    for a in s["answers"]:
        shown = f"red flag: {a['red_flag']}" if a["red_flag"] else (
            "skipped" if a["answer"] is None else a["answer"])
        click.echo(f"  answer {a['question']}: {shown}")
    for e in s["safety_events"]:
        click.echo(f"  safety: {e['kind']}: {e['cause']}")

@history.command("export")
@DB_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="csv: the Strong app's columns; json: everything.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Write here instead of standard output.")
def history_export(db_path: Path, fmt: str, out: Path | None) -> None:
    """Export for other tools (CSV in the Strong app's export format)."""
    from controller.core.history import STRONG_COLUMNS

    with _open(db_path) as h:
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=STRONG_COLUMNS)
            w.writeheader()
            w.writerows(h.strong_rows())
            text = buf.getvalue()
        else:
            text = json.dumps([h.session(s["id"]) for s in h.sessions()], indent=2)
    if out is None:
        sys.stdout.write(text)
        return
    if not out.parent.is_dir():
        raise UsageProblem(f"--out {out}: the folder {out.parent} does not exist")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"{out}: cannot be written ({e.strerror or e})") from None


def _open(db_path: Path) -> Any:
    """The history for reading: nothing is written beside it or into it."""
    import sqlite3

    from controller.core.history import History, NotAHistory

    try:
        return History(db_path, readonly=True)
    except NotAHistory as e:
        raise UsageProblem(str(e)) from None
    except sqlite3.DatabaseError as e:
        raise UsageProblem(f"{db_path}: not a halfstep history ({e})") from None
