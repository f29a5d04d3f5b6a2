"""`halfstep plan ...`: create a plan file, get today's prescription, look at it, run a trial."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click
from pydantic import ValidationError

from controller.core import plan_file
from controller.core.inputs import InputError, date, load_kg
from controller.planning.models import Exercise, PlanFile, ProfileKind, Program, UserProfile
from controller.surfaces.cli.params import Number
from firmware_bridge.validation import describe


class PlanProblem(click.UsageError):
    """A plan file or plan option a person must fix: exit 2, one clear message."""


def load_plan(path: Path) -> PlanFile:
    try:
        return plan_file.load_plan(path)
    except plan_file.PlanFileError as e:
        raise PlanProblem(str(e)) from None


def save_plan(plan: PlanFile, path: Path) -> None:
    try:
        plan_file.save_plan(plan, path)
    except plan_file.PlanFileError as e:
        raise PlanProblem(str(e)) from None


FILE_OPTION = click.option("--file", "path", type=click.Path(path_type=Path, dir_okay=False),
                           default=Path("plan.json"), show_default=True, help="The plan file.")


def parse_exercise(spec: str) -> Exercise:
    """NAME:upper|lower:multi|isolated[:FIRST_KG[:REGION+REGION...]]"""
    parts = spec.split(":")
    if len(parts) not in (3, 4, 5):
        raise PlanProblem(f"--exercise {spec!r}: expected NAME:upper|lower:multi|isolated"
                          "[:FIRST_KG[:REGIONS]], e.g. 'seated row:upper:multi:10' or "
                          "'back extension:lower:isolated:10:back+hip'")
    loads = [r.strip() for r in parts[4].replace(",", "+").split("+")] if len(parts) == 5 \
        else []
    try:
        return Exercise(name=parts[0].strip(), region=parts[1], multi_joint=parts[2] == "multi",
                        first_load_kg=load_kg(parts[3]) if len(parts) >= 4 and parts[3]
                        else 5.0,
                        loads=loads) \
            if parts[2] in ("multi", "isolated") else _bad_kind(spec)
    except ValidationError as e:
        raise PlanProblem(f"--exercise {spec!r}: {describe(e)}") from None
    except ValueError as e:  # LoadError: the load's own message (format, grid)
        raise PlanProblem(f"--exercise {spec!r}: first {e}") from None


def _bad_kind(spec: str) -> Exercise:
    raise PlanProblem(f"--exercise {spec!r}: the third part must be multi or isolated")


def plan_date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return date(value, max(getattr(param, "opts", None) or ["date"], key=len))
    except InputError as e:
        raise click.BadParameter(str(e)) from None


@click.group()
def plan() -> None:
    """The progression planner: profile, program, today's prescription and its reasons."""


@plan.command("init")
@FILE_OPTION
@click.option("--name", default="me", show_default=True)
@click.option("--profile", "kind", type=click.Choice([k.value for k in ProfileKind]),
              required=True, help="athlete, pain (adult with persistent pain) or older.")
@click.option("--sessions-per-week", type=Number(1, 7, integer=True), default=None,
              help="Default: 3 for athletes, 2 otherwise.")
@click.option("--painful", multiple=True, help="A painful region or condition (repeatable).")
@click.option("--exercise", "exercises", multiple=True,
              help="NAME:upper|lower:multi|isolated[:FIRST_KG[:REGIONS]] (repeatable; default: "
                   "squat, row, chest press). REGIONS: the joints it loads, e.g. back+hip, from "
                   "neck, shoulder, elbow, wrist, back, hip, knee, ankle (default: from the "
                   "name).")
@click.option("--start", callback=plan_date, help="First day (default: today).")
@click.option("--unit-max-kg", type=Number(1, 200), default=100.0, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing plan file.")
def plan_init(path: Path, name: str, kind: str, sessions_per_week: int | None,
              painful: tuple[str, ...], exercises: tuple[str, ...], start: dt.date | None,
              unit_max_kg: float, force: bool) -> None:
    """Create a plan file: profile and exercises, checked."""
    from controller.planning.starter import default_exercises

    if path.exists() and not force:
        raise PlanProblem(f"{path} exists; use --force to replace it (its history would be "
                          "lost)")
    profile_kind = ProfileKind(kind)
    spw = sessions_per_week or (3 if profile_kind == ProfileKind.ATHLETE else 2)
    try:
        new = PlanFile(
            profile=UserProfile(name=name, kind=profile_kind, sessions_per_week=spw,
                                painful_regions=list(painful)),
            program=Program(start_date=start or dt.date.today(),
                            exercises=[parse_exercise(e) for e in exercises]
                            or default_exercises(profile_kind), unit_max_kg=unit_max_kg))
    except ValidationError as e:
        raise PlanProblem(describe(e)) from None
    save_plan(new, path)
    click.echo(f"wrote {path}")
    click.echo(_plan_text(new))


def _plan_text(p: PlanFile) -> str:
    from controller.planning.plan_report import plan_text

    return plan_text(p)


@plan.command("next")
@FILE_OPTION
@click.option("--today", callback=plan_date, help="Plan for this day (default: today).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--explain", is_flag=True, help="Show the rule behind each decision and its "
              "numbers (for support).")
def plan_next(path: Path, today: dt.date | None, as_json: bool, explain: bool) -> None:
    """Today's prescription, with the reason for every load."""
    from controller.planning.plan_report import prescription_text
    from controller.planning.planner import next_session

    rx = next_session(load_plan(path), today or dt.date.today())
    click.echo(json.dumps(rx.as_dict(), indent=2) if as_json else prescription_text(rx, explain))


@plan.command("show")
@FILE_OPTION
@click.option("--today", callback=plan_date, help="As of this day (default: today).")
def plan_show(path: Path, today: dt.date | None) -> None:
    """The profile, program and what the history says so far (and PAUSED, if it is)."""
    from controller.planning.plan_report import plan_text

    click.echo(plan_text(load_plan(path), today))


@plan.command("clear")
@FILE_OPTION
@click.option("--red-flag", "red_flag", is_flag=True, required=True,
              help="Record a clinician's all-clear after the red flag that paused the program.")
@click.option("--by", required=True, help="Who gave the all-clear (e.g. 'Dr Silva').")
@click.option("--date", "day", callback=plan_date, help="When they gave it (default: today).")
@click.option("--today", callback=plan_date, hidden=True)
def plan_clear(path: Path, red_flag: bool, by: str, day: dt.date | None,
               today: dt.date | None) -> None:
    """Resume after a red flag: records who gave the all-clear and when; the next session
    restarts lower (FLAG-1)."""
    from controller.planning.plan_report import prescription_text
    from controller.planning.plan_updates import ClearanceError, record_clearance
    from controller.planning.planner import next_session

    today = today or dt.date.today()
    p = load_plan(path)
    try:
        new = record_clearance(p, by, day or today, today)
    except ClearanceError as e:
        raise PlanProblem(str(e)) from None
    save_plan(new, path)
    click.echo(f"all-clear by {by.strip()} on {day or today} recorded in {path}; the program "
               "resumes.\n")
    click.echo(prescription_text(next_session(new, today)))


@plan.command("trial")
@click.option("--profile", "kinds", type=click.Choice([k.value for k in ProfileKind]),
              multiple=True, help="Profile(s) to simulate (repeatable; default: all three).")
@click.option("--persons", type=Number(1, 200, integer=True), default=5, show_default=True,
              help="Simulated people per profile.")
@click.option("--weeks", type=Number(1, 104, integer=True), default=12, show_default=True)
@click.option("--seed", type=Number(0, 2**31, integer=True), default=1, show_default=True)
@click.option("--flare-week", type=Number(0, 104, integer=True), default=0, show_default=True,
              help="Week (from 1) of a pain flare from outside the training (0: none).")
@click.option("--gap-start-week", type=Number(0, 104, integer=True), default=0, show_default=True,
              help="First week (from 1) of a break from training (0: none).")
@click.option("--gap-weeks", type=Number(0, 52, integer=True), default=3, show_default=True,
              help="Weeks the break lasts.")
@click.option("--miss", type=Number(0, 0.9), default=0.1, show_default=True,
              help="Chance that a planned session is missed (made up the next day).")
@click.option("--jobs", type=Number(1, 64, integer=True), default=None,
              help="Processes to use (default: the machine's cores).")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a PNG chart: working load as % of true 1RM by week, with the band.")
@click.option("--json", "as_json", is_flag=True, help="The figures and every session as JSON.")
def plan_trial(kinds: tuple[str, ...], persons: int, weeks: int, seed: int, flare_week: int,
               gap_start_week: int, gap_weeks: int, miss: float, jobs: int | None,
               plot_path: Path | None, as_json: bool) -> None:
    """Simulated people train through the real session runner on the simulated unit; the
    plan is measured against each person's true strength (docs/planner.md, "The trial")."""
    import time

    from controller.simulated.trial import Scenario, rows_json, run_trial
    from controller.simulated.trial_report import report_text, summarise

    if plot_path is not None:
        _need_matplotlib()
        if not plot_path.parent.is_dir():
            raise PlanProblem(f"--plot {plot_path}: the folder {plot_path.parent} does not "
                              "exist")
    sc = Scenario(weeks=weeks, flare_week=max(0, flare_week - 1) if flare_week else 0,
                  gap_start_week=gap_start_week - 1 if gap_start_week else 0,
                  gap_weeks=gap_weeks if gap_start_week else 0, miss_prob=miss)
    started = time.monotonic()
    results = run_trial(list(kinds or [k.value for k in ProfileKind]), persons, sc, seed, jobs)
    summaries = summarise(results, sc)
    took = time.monotonic() - started
    if as_json:
        click.echo(json.dumps({"scenario": {**sc.__dict__, "start": sc.start.isoformat()},
                               "seconds": round(took, 1),
                               "profiles": [s.as_dict() for s in summaries],
                               "sessions": rows_json(results)}, indent=1, default=str))
    else:
        click.echo(report_text(summaries, sc))
        click.echo(f"\n{sum(s.sessions for s in summaries)} sessions through the session "
                   f"runner in {took:.0f} s")
    if plot_path is not None:
        import io

        from controller.simulated.trial_report import plot

        chart = io.BytesIO()
        # Drawn first, then written: a full disk is an error, not "chart written".
        plot(summaries, chart, plot_path.suffix.lstrip(".").lower() or "png")
        try:
            plot_path.write_bytes(chart.getvalue())
        except OSError as e:
            raise click.ClickException(f"--plot {plot_path}: cannot be written "
                                       f"({e.strerror or e})") from None
        if not as_json:
            click.echo(f"chart written to {plot_path}")


def _need_matplotlib() -> None:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise PlanProblem("--plot needs matplotlib: pip install 'halfstep[plot]' (or "
                          "pip install matplotlib)")
