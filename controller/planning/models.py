"""What the planner reads and writes: profile, exercises, program, session logs (pydantic, strict).

A plan file is one JSON document holding all of them; every field is checked on load and an
error names the field, what was given and what is allowed.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kg = Annotated[float, Field(ge=0, le=400, multiple_of=0.5)]
Pain = Annotated[int, Field(ge=0, le=10)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ProfileKind(StrEnum):
    ATHLETE = "athlete"  # young adult / athlete
    PAIN = "pain"  # general adult with persistent pain
    OLDER = "older"  # sarcopenic older adult


class RedFlag(StrEnum):
    """Graded in controller/planning/red_flags.py, with the advice for each."""

    CHEST_PAIN = "chest_pain"
    BREATHLESSNESS = "breathlessness"  # disproportionate
    FAINTING = "fainting"  # or near-fainting
    BLADDER_BOWEL = "bladder_bowel"
    NUMBNESS_TINGLING = "numbness_tingling"
    NEW_WEAKNESS = "new_weakness"
    SNAP_OR_TEAR = "snap_or_tear"  # with acute localised pain
    SUDDEN_SWELLING = "sudden_swelling"
    NEW_FUNCTIONAL_LOSS = "new_functional_loss"
    PAIN_NOT_SETTLING = "pain_not_settling"  # rising, or not better within 48-72 h
    OTHER = "other"  # reported without a kind: never lost, never a number


Region = Literal["neck", "shoulder", "elbow", "wrist", "back", "hip", "knee", "ankle"]


class UserProfile(Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    kind: ProfileKind
    painful_regions: list[str] = []
    conditions: list[str] = []
    # performance: keep progressing in maintenance (default for athletes); health: hold there.
    goal: Literal["health", "performance"] | None = None
    sessions_per_week: Annotated[int, Field(ge=1, le=7)]

    @model_validator(mode="after")
    def _sessions_fit_the_profile(self) -> UserProfile:
        lo, hi = SESSIONS_PER_WEEK[self.kind]
        if not lo <= self.sessions_per_week <= hi:
            raise ValueError(f"sessions_per_week {self.sessions_per_week} is outside "
                             f"{lo}-{hi}, the range for the {self.kind.value} profile")
        return self


SESSIONS_PER_WEEK = {ProfileKind.ATHLETE: (3, 5), ProfileKind.PAIN: (2, 3),
                     ProfileKind.OLDER: (2, 3)}


class Exercise(Strict):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    target_muscles: list[str] = []
    multi_joint: bool
    region: Literal["upper", "lower"]
    first_load_kg: Kg = 5.0  # a load the person knows is comfortable: assessment starts there
    loads: list[Region] = []  # body regions it loads; empty: from its name and kind
    # Mean concentric velocity at 1RM (m/s); None: 0.30 for large lower-body moves, else 0.17.
    min_velocity_m_s: Annotated[float, Field(ge=0.05, le=1.0)] | None = None
    # How its sets are done (controller/core/load_modes.py); changeable between sets on the panel.
    mode: Literal["standard", "eccentric", "chains", "spotter", "just_lift"] = "standard"


class PhaseName(StrEnum):
    ASSESSMENT = "assessment"
    ADAPTATION = "adaptation"
    PROGRESSION = "progression"
    MAINTENANCE = "maintenance"


class PhaseSpan(Strict):
    phase: PhaseName
    first_week: Annotated[int, Field(ge=0)]
    last_week: Annotated[int, Field(ge=0)] | None = None  # None: open-ended

    @model_validator(mode="after")
    def _ordered(self) -> PhaseSpan:
        if self.last_week is not None and self.last_week < self.first_week:
            raise ValueError(f"last_week {self.last_week} is before first_week "
                             f"{self.first_week}")
        return self


DEFAULT_PHASES = (
    PhaseSpan(phase=PhaseName.ASSESSMENT, first_week=0, last_week=0),
    PhaseSpan(phase=PhaseName.ADAPTATION, first_week=1, last_week=4),
    PhaseSpan(phase=PhaseName.PROGRESSION, first_week=5, last_week=12),
    PhaseSpan(phase=PhaseName.MAINTENANCE, first_week=13),
)


class Program(Strict):
    start_date: dt.date
    exercises: Annotated[list[Exercise], Field(min_length=1)]
    phases: list[PhaseSpan] = list(DEFAULT_PHASES)
    unit_max_kg: Kg = 100.0

    @field_validator("exercises")
    @classmethod
    def _unique(cls, v: list[Exercise]) -> list[Exercise]:
        names = [e.name for e in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"exercise names must be unique; repeated: {', '.join(sorted(dup))}")
        return v

    @field_validator("phases")
    @classmethod
    def _contiguous(cls, v: list[PhaseSpan]) -> list[PhaseSpan]:
        if not v:
            raise ValueError("at least one phase is needed")
        expect = 0
        for span in v:
            if span.first_week != expect:
                raise ValueError(f"phase {span.phase.value} starts at week {span.first_week}; "
                                 f"expected week {expect} (phases must follow each other)")
            if span.last_week is None:
                if span is not v[-1]:
                    raise ValueError(f"only the last phase can be open-ended, not "
                                     f"{span.phase.value}")
                return v
            expect = span.last_week + 1
        return v


class SetLog(Strict):
    exercise: str
    load_kg: Kg
    full_reps: Annotated[int, Field(ge=0, le=200)]
    partial_reps: Annotated[int, Field(ge=0, le=200)] = 0
    min_rom_pct: Annotated[float, Field(ge=0, le=200)] | None = None  # worst full rep's range
    rom_consistency: Annotated[float, Field(ge=0, le=1)] | None = None
    velocity_loss: Annotated[float, Field(ge=0, le=1)] | None = None
    rep_velocities_m_s: list[Annotated[float, Field(ge=0, le=5)]] = []  # MCV of each full rep
    mean_concentric_m_s: Annotated[float, Field(ge=0, le=5)] | None = None
    rpe: Annotated[float, Field(ge=1, le=10)] | None = None
    rir: Annotated[int, Field(ge=0, le=20)] | None = None
    assessment: bool = False  # a submaximal test set, not a working set
    mode: str = "standard"  # the load mode it was done in (controller/core/load_modes.py)
    ended_by: str | None = None  # target reached, handles released, stopped from ..., link lost


class CheckIn(Strict):
    confidence: Pain | None = None  # 0-10: how confident moving feels
    more_capable: bool | None = None  # than a few weeks ago


class AfterCheck(Strict):
    """How the painful region was after a session (the 24-48 h rule), as the person said it:
    the next morning (`halfstep checkin`, the panel) or before the next session."""

    date: dt.date
    answer: Literal["settled", "raised", "soreness"]  # soreness: muscles only, expected
    source: Literal["pre-session", "checkin"] = "checkin"


class SessionLog(Strict):
    date: dt.date
    sets: list[SetLog] = []
    pain_during: Pain | None = 0  # None: no pain number was given (a red flag instead)
    pain_after: Pain | None = None  # 24-48 h later
    pain_settled: bool | None = None  # back to baseline within 24-48 h
    red_flags: list[RedFlag] = []
    checkin: CheckIn = CheckIn()
    pain_by_exercise: dict[str, Pain] = {}  # the per-exercise check-ins
    skipped: list[str] = []  # exercises rested today (pain in a region they load)
    after: list[AfterCheck] = []
    status: str | None = None  # finished | stopped | stopped: red flag


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone (a hand-edited file) is taken as UTC, so times always compare."""
    return at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at


class RedFlagReport(Strict):
    """A red flag as reported: which, when, at which check-in (a question id)."""

    date: dt.date
    kind: RedFlag
    checkin: Annotated[str, Field(min_length=1, max_length=100)]
    at: dt.datetime | None = None

    _zone = field_validator("at")(classmethod(lambda cls, v: _utc(v)))


class Clearance(Strict):
    """A clinician's all-clear to resume after a red flag, as recorded by the person."""

    date: dt.date
    by: Annotated[str, Field(min_length=1, max_length=80, pattern=r"\S")]
    at: dt.datetime | None = None

    _zone = field_validator("at")(classmethod(lambda cls, v: _utc(v)))


class PlanFile(Strict):
    """Everything the planner needs, as kept in one JSON file."""

    version: Literal[1] = 1
    profile: UserProfile
    program: Program
    history: list[SessionLog] = []
    medical_clearance: list[dt.date] = []  # older files: all-clear dates without a name
    red_flag_reports: list[RedFlagReport] = []
    clearances: list[Clearance] = []  # a red flag pauses the program until one comes after it

    @model_validator(mode="after")
    def _history_is_consistent(self) -> PlanFile:
        names = {e.name for e in self.program.exercises}
        prev: dt.date | None = None
        for i, s in enumerate(self.history):
            if prev is not None and s.date < prev:
                raise ValueError(f"history[{i}].date {s.date} is before the session before it "
                                 f"({prev}); sessions must be in date order")
            prev = s.date
            for j, st in enumerate(s.sets):
                if st.exercise not in names:
                    raise ValueError(f"history[{i}].sets[{j}].exercise {st.exercise!r} is not "
                                     f"in the program ({', '.join(sorted(names))})")
            for name in [*s.pain_by_exercise, *s.skipped]:
                if name not in names:
                    raise ValueError(f"history[{i}]: exercise {name!r} is not in the program "
                                     f"({', '.join(sorted(names))})")
        return self
