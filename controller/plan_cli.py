"""`halfstep plan ...`: create a plan file, get today's prescription, look at it, simulate weeks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from controller.models import Exercise, PlanFile, ProfileKind, Program, UserProfile
from controller.validation import describe

FILE_OPTION = click.option("--file", "path", type=click.Path(path_type=Path, dir_okay=False),
                           default=Path("plan.json"), show_default=True, help="The plan file.")


class PlanProblem(click.UsageError):
    """A plan file or plan option a person must fix: exit 2, one clear message."""


def load_plan(path: Path) -> PlanFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PlanProblem(f"{path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PlanProblem(f"{path}: not a plan file (not UTF-8 text); create one with "
                          "halfstep plan init") from None
    try:
        return PlanFile.model_validate_json(text)
    except ValidationError as e:
        raise PlanProblem(f"{path}: {describe(e)}") from None


def save_plan(plan: PlanFile, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # never a half-written plan


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
                        first_load_kg=float(parts[3]) if len(parts) >= 4 and parts[3] else 5.0,
                        loads=loads) \
            if parts[2] in ("multi", "isolated") else _bad_kind(spec)
    except ValidationError as e:
        raise PlanProblem(f"--exercise {spec!r}: {describe(e)}") from None
    except ValueError:
        raise PlanProblem(f"--exercise {spec!r}: first load {parts[3]!r} is not a number") \
            from None


def _bad_kind(spec: str) -> Exercise:
    raise PlanProblem(f"--exercise {spec!r}: the third part must be multi or isolated")


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-11-23") from None


@click.group()
def plan() -> None:
    """The progression planner: profile, program, today's prescription and its reasons."""


@plan.command("init")
@FILE_OPTION
@click.option("--name", default="me", show_default=True)
@click.option("--profile", "kind", type=click.Choice([k.value for k in ProfileKind]),
              required=True, help="athlete, pain (adult with persistent pain) or older.")
@click.option("--sessions-per-week", type=int, default=None,
              help="Default: 3 for athletes, 2 otherwise.")
@click.option("--painful", multiple=True, help="A painful region or condition (repeatable).")
@click.option("--exercise", "exercises", multiple=True,
              help="NAME:upper|lower:multi|isolated[:FIRST_KG[:REGIONS]] (repeatable; default: "
                   "squat, row, chest press). REGIONS: the joints it loads, e.g. back+hip, from "
                   "neck, shoulder, elbow, wrist, back, hip, knee, ankle (default: from the "
                   "name).")
@click.option("--start", callback=_date, help="First day (default: today).")
@click.option("--unit-max-kg", type=float, default=100.0, show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing plan file.")
def plan_init(path: Path, name: str, kind: str, sessions_per_week: int | None,
              painful: tuple[str, ...], exercises: tuple[str, ...], start: dt.date | None,
              unit_max_kg: float, force: bool) -> None:
    """Create a plan file: profile and exercises, checked."""
    from controller.plan_sim import default_exercises

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
    from controller.plan_report import plan_text

    return plan_text(p)


@plan.command("next")
@FILE_OPTION
@click.option("--today", callback=_date, help="Plan for this day (default: today).")
@click.option("--json", "as_json", is_flag=True)
def plan_next(path: Path, today: dt.date | None, as_json: bool) -> None:
    """Today's prescription, with the reason for every load."""
    from controller.plan_report import prescription_text
    from controller.planner import next_session

    rx = next_session(load_plan(path), today or dt.date.today())
    click.echo(json.dumps(rx.as_dict(), indent=2) if as_json else prescription_text(rx))


@plan.command("show")
@FILE_OPTION
@click.option("--today", callback=_date, help="As of this day (default: today).")
def plan_show(path: Path, today: dt.date | None) -> None:
    """The profile, program and what the history says so far (and PAUSED, if it is)."""
    from controller.plan_report import plan_text

    click.echo(plan_text(load_plan(path), today))


@plan.command("clear")
@FILE_OPTION
@click.option("--red-flag", "red_flag", is_flag=True, required=True,
              help="Record a clinician's all-clear after the red flag that paused the program.")
@click.option("--by", required=True, help="Who gave the all-clear (e.g. 'Dr Silva').")
@click.option("--date", "day", callback=_date, help="When they gave it (default: today).")
@click.option("--today", callback=_date, hidden=True)
def plan_clear(path: Path, red_flag: bool, by: str, day: dt.date | None,
               today: dt.date | None) -> None:
    """Resume after a red flag: records who gave the all-clear and when; the next session
    restarts lower (FLAG-1)."""
    from controller.plan_report import prescription_text
    from controller.plan_updates import ClearanceError, record_clearance
    from controller.planner import next_session

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


@plan.command("simulate")
@click.option("--weeks", type=click.IntRange(1, 104), default=12, show_default=True)
@click.option("--profile", "kind", type=click.Choice([k.value for k in ProfileKind]),
              default="pain", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--red-flag-week", type=click.IntRange(min=0), default=6, show_default=True,
              help="Week whose first session reports a red flag (0: none).")
@click.option("--flare-week", type=click.IntRange(min=0), default=3, show_default=True,
              help="Week of a pain flare from outside the training (0: none).")
@click.option("--gap-start-week", type=click.IntRange(min=0), default=9, show_default=True)
@click.option("--gap-weeks", type=click.IntRange(min=0), default=3, show_default=True,
              help="Weeks without training (0: none).")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a PNG chart of loads and pain.")
@click.option("--save", "save_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the simulated plan file (with its history).")
@click.option("--json", "as_json", is_flag=True)
def plan_simulate(weeks: int, kind: str, seed: int, red_flag_week: int, flare_week: int,
                  gap_start_week: int, gap_weeks: int, plot_path: Path | None,
                  save_path: Path | None, as_json: bool) -> None:
    """Planner + simulated person on the simulated unit, session by session."""
    from controller.plan_report import events_text, plot, weeks_table
    from controller.plan_sim import simulate

    result = simulate(ProfileKind(kind), weeks, seed, gap_start_week=gap_start_week,
                      gap_weeks=gap_weeks, red_flag_week=red_flag_week,
                      flare_week=flare_week)
    if as_json:
        click.echo(json.dumps([_row(r) for r in result.rows], indent=1))
    else:
        click.echo(f"{kind} profile, {weeks} weeks, seed {seed}\n")
        click.echo(weeks_table(result))
        click.echo("\ndecisions that were not routine, with their reasons:")
        click.echo(events_text(result))
    if plot_path is not None:
        plot(result, plot_path)
        click.echo(f"\nchart written to {plot_path}")
    if save_path is not None:
        save_plan(result.plan, save_path)


def _row(r: Any) -> dict[str, Any]:
    return {"date": r.date.isoformat(), "week": r.week, "phase": r.phase, "status": r.status,
            "loads_kg": r.loads, "reps": r.reps, "changes": r.changes, "rules": r.rules,
            "one_rm_estimate_kg": r.one_rm_est, "one_rm_true_kg": r.one_rm_true,
            "pain": r.pain}
