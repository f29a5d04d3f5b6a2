"""A new person's first plan: the exercises and phases a profile starts with, before any test
set has found their loads."""

from __future__ import annotations

import datetime as dt

from controller.planning.models import (
    DEFAULT_PHASES,
    Exercise,
    PlanFile,
    ProfileKind,
    Program,
    UserProfile,
)


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
