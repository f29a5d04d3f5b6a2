"""What the planner hands out: today's prescription, one plan per exercise, and the reasons.

These are plain value types, kept apart from the rules that fill them so that the session
runner, the panel and the reports can read a prescription without the decision logic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from controller.planning.exercise_guide import Guide
from controller.planning.models import PhaseName

__all__ = ["ExercisePlan", "Prescription", "Reason"]


@dataclass(frozen=True)
class Reason:
    rule: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    plain: str = ""  # the same, for the person: no rule ids, no percentages of 1RM

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "text": self.text, "plain": self.plain, "data": self.data}


@dataclass(frozen=True)
class ExercisePlan:
    exercise: str
    kind: str  # "work" | "assessment"
    sets: int  # an assessment: the most test sets the ladder may take
    reps: tuple[int, int]  # range
    target_reps: int
    load_kg: float  # an assessment: the first test set's load
    rest_s: int
    cues: tuple[str, ...]
    reasons: tuple[Reason, ...]
    change: str  # "start" | "up" | "hold" | "down" | "assess"
    one_rm_kg: float | None
    assessment_loads_kg: tuple[float, ...] = ()  # the ladder's first load (the rest follow)
    cap_kg: float | None = None  # the most a set may carry today, whoever asks
    test_fraction: float | None = None  # a ladder: no test set above this of the estimate
    mvt_m_s: float | None = None  # a ladder: the exercise's minimum velocity threshold
    warmup_kg: float | None = None  # WARMUP-1: one light set before the working sets
    warmup_reps: int = 0
    guide: Guide | None = None  # setup, cues, what to avoid, a drawing (exercise_guide.py)

    @property
    def dose_plain(self) -> str:
        """Today's dose for this exercise in one plain sentence (loads in kg, 1 decimal)."""
        if self.kind == "assessment":
            return (f"A few test sets, each a little heavier, starting at {self.load_kg:.1f} "
                    "kg; stop each when you have 2-3 reps left")
        if self.kind == "warmup":  # the session runner's warm-up set, made from a work item
            kg = self.warmup_kg if self.warmup_kg is not None else self.load_kg
            return f"One light warm-up set of {self.target_reps} at {kg:.1f} kg"
        text = (f"{self.sets} set{'s' if self.sets != 1 else ''} of {self.target_reps} at "
                f"{self.load_kg:.1f} kg"
                + (f", {self.rest_s} s rest between sets" if self.sets > 1 else ""))
        if self.warmup_kg is not None:
            text += (f", after one light warm-up set of {self.warmup_reps} at "
                     f"{self.warmup_kg:.1f} kg")
        return text

    def as_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "kind": self.kind, "sets": self.sets,
                "reps": list(self.reps), "target_reps": self.target_reps,
                "load_kg": self.load_kg, "rest_s": self.rest_s, "cues": list(self.cues),
                "change": self.change, "one_rm_kg": self.one_rm_kg,
                "assessment_loads_kg": list(self.assessment_loads_kg), "cap_kg": self.cap_kg,
                "test_fraction": self.test_fraction, "mvt_m_s": self.mvt_m_s,
                "warmup_kg": self.warmup_kg, "warmup_reps": self.warmup_reps,
                "dose_plain": self.dose_plain,
                "guide": None if self.guide is None else self.guide.as_dict(),
                "reasons": [r.as_dict() for r in self.reasons]}


@dataclass(frozen=True)
class Prescription:
    date: dt.date
    week: int  # weeks of training done (not calendar weeks)
    phase: PhaseName
    status: str  # "train" | "paused"
    items: tuple[ExercisePlan, ...]
    reasons: tuple[Reason, ...]
    advice: str = ""
    too_soon: dict[str, Any] | None = None  # SPACE-1: the last session was too recent

    @property
    def headline(self) -> str:
        """Today in one plain line for the person (the panel's header)."""
        if self.status == "paused":
            return "Paused until a clinician's all-clear"
        if self.too_soon is not None:
            when = "today" if self.too_soon.get("hours") == 0 else "yesterday"
            return f"Rest day recommended: last session was {when}"
        checks = {r.rule for i in self.items for r in i.reasons}
        tests_only = bool(self.items) and all(i.kind == "assessment" for i in self.items)
        if self.phase == PhaseName.ASSESSMENT or (tests_only and "ASSESS-1" in checks):
            return "First sessions: finding your starting loads"
        if tests_only:
            if "RECAL-1" in checks:
                return "Welcome back: a short check of where you are"
            return f"Week {self.week}: a check of your level"
        return {PhaseName.ADAPTATION: f"Week {self.week}: getting used to the movements",
                PhaseName.PROGRESSION: f"Week {self.week}: building strength step by step",
                PhaseName.MAINTENANCE: "Keeping what you have built"}[self.phase]

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "week": self.week, "phase": self.phase.value,
                "headline": self.headline,
                "status": self.status, "advice": self.advice, "too_soon": self.too_soon,
                "reasons": [r.as_dict() for r in self.reasons],
                "items": [i.as_dict() for i in self.items]}
