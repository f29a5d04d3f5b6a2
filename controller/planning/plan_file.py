"""Plan files: read and written whole (never half-written), and a new person's first plan.

A plan file a person must fix is a `PlanProblem`: a usage error, so every command that reads
one exits 2 with one line saying which file and what is wrong.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from pydantic import ValidationError

from controller.planning.models import (
    DEFAULT_PHASES,
    Exercise,
    PlanFile,
    ProfileKind,
    Program,
    UserProfile,
)
from firmware_bridge.validation import describe


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
    if not path.parent.is_dir():
        raise PlanProblem(f"{path}: the folder {path.parent} does not exist")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(plan.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # never a half-written plan


def default_exercises(kind: ProfileKind) -> list[Exercise]:
    first = {ProfileKind.ATHLETE: (40.0, 25.0, 20.0), ProfileKind.PAIN: (15.0, 10.0, 8.0),
             ProfileKind.OLDER: (10.0, 6.0, 5.0)}[kind]
    return [
        Exercise(name="cable squat", target_muscles=["quadriceps", "glutes"], multi_joint=True,
                 region="lower", first_load_kg=first[0]),
        Exercise(name="seated row", target_muscles=["back", "biceps"], multi_joint=True,
                 region="upper", first_load_kg=first[1]),
        Exercise(name="chest press", target_muscles=["chest", "triceps"], multi_joint=True,
                 region="upper", first_load_kg=first[2]),
    ]


def default_plan(kind: ProfileKind, start: dt.date, name: str = "simulated",
                 sessions_per_week: int | None = None) -> PlanFile:
    spw = sessions_per_week or {ProfileKind.ATHLETE: 3}.get(kind, 2)
    return PlanFile(
        profile=UserProfile(name=name, kind=kind, sessions_per_week=spw,
                            painful_regions=[] if kind == ProfileKind.ATHLETE else ["knee"]),
        program=Program(start_date=start, exercises=default_exercises(kind),
                        phases=list(DEFAULT_PHASES)))
