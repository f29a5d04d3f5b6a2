"""`halfstep support bundle`: one archive with logs, wire logs, flight records, a summary of
the last sessions, redacted config and versions. A plan, database or --out path the user named
that cannot be used is one line on stderr, exit 2; an archive that cannot be written, exit 1.
What goes into the archive, redacted, is controller/analysis/support_bundle.py; this module
reads the plan and the history database (the history is the core's, which analysis may not
import) and writes the archive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import tarfile
from pathlib import Path
from typing import Any

import click

from controller.analysis.support_bundle import fill_bundle, versions
from controller.surfaces.cli.logs import FileProblem

MAX_PLAN = 4 * 1024 * 1024
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EIO}  # the disk's fault, not the path's
HISTORY_SESSIONS = 20  # sessions summarised in a bundle's history.txt


@click.group()
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
            fill_bundle(tar, state, plan, info, history)
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

