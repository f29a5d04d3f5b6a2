"""`halfstep checkin`: how the painful region has been since the last session (the 24-48 h
rule), reported the next morning or any time before the next session."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import click

from controller.surfaces.cli.plan import FILE_OPTION, PlanProblem, load_plan, plan_date, save_plan


@click.command()
@FILE_OPTION
@click.option("--answer", help="settled, raised, soreness, or red_flag:<kind> (default: asked "
                               "at the terminal).")
@click.option("--today", callback=plan_date, help="The day of the check-in (default: today).")
def checkin(path: Path, answer: str | None, today: dt.date | None) -> None:
    """Report how the painful region has been since the last session."""
    from controller.planning import questions
    from controller.planning.plan_report import prescription_text
    from controller.planning.plan_updates import apply_since_last
    from controller.planning.planner import next_session
    from controller.surfaces.panel.answers import PersonIO, StdinLines

    day = today or dt.date.today()
    if day > dt.date.today() + dt.timedelta(days=1):
        raise PlanProblem(f"--today {day} is in the future: a check-in is about now")
    plan = load_plan(path)
    if plan.history and day < plan.history[-1].date:
        raise PlanProblem(f"--today {day} is before the last session ({plan.history[-1].date})")
    q = questions.since_last(plan.profile.painful_regions, checkin=True)

    async def ask() -> object:
        book = None if answer is None else questions.AnswerBook({q.id: answer})
        io = PersonIO(click.echo, StdinLines() if answer is None else None, answers=book)
        return await io.ask(q)

    try:
        given = asyncio.run(ask())
    except questions.AnswerError as e:
        raise PlanProblem(f"--answer {answer!r}: {e.reason}; allowed: {e.allowed}") from None
    except click.ClickException:
        raise PlanProblem("no answer: give one with --answer (settled, raised, soreness or "
                          "red_flag:<kind>)") from None
    if not plan.history and not isinstance(given, questions.Flag):
        raise PlanProblem(f"{path}: no session yet to check in about (a red flag is recorded "
                          "all the same: answer red_flag:<kind>)")
    new = apply_since_last(plan, given, day, "checkin", q.id)
    save_plan(new, path)
    rx = next_session(new, day)
    if rx.status == "paused":
        click.echo("\nRecorded. " + prescription_text(rx).split("\n", 1)[1])
    elif given == "raised":
        click.echo("Recorded: still raised. The next session is lighter for the exercises that "
                   "load it (24-48 h rule). If it is still raised 48-72 hours after it started, "
                   "the program pauses for a medical reassessment.")
    elif given == "soreness":
        click.echo("Recorded: muscle soreness only. It is expected 1-3 days after training and "
                   "does not lower your loads.")
    else:
        click.echo("Recorded: settled. The next session goes on as planned.")
