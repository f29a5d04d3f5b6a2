"""How to do an exercise on the cable unit: setup, cues, what to feel and avoid, a drawing.

`guide(ex)` picks a movement pattern from the exercise's name (keywords: squat, row, chest
press, deadlift, lunge, pulldown, curl, ...) and, for names it does not know, falls back on the
exercise's region and whether it is multi-joint. The breathing cue lives here and nowhere else:
the planner's cues (`controller/planning/planner.py`) take it from `breathing_cue`, so the
terminal, the
panel and `plan next` say the same thing for the same movement (breathe out on the effort,
never hold the breath: shared/domain.md, "Breathing").

The concentric phase, the effort, is always the cable paying out (the motor pulls it in), so
"out on the effort" is "out as the cable goes out"; each pattern says it in the movement's own
words ("as you stand up", "as you press", "as you pull").

Illustrations are small inline SVG line drawings (viewBox 0 0 200 160): a stick figure, the unit
(a low unit on the floor, or a column with its pulley at the cable's height), the cable dashed
and an arrow for the effort. Strokes use `currentColor`, so they follow the page's text colour
on light and dark themes; no scripts, no ids, no external references.

The movements' data is in `exercise_patterns.py`, the drawing in `exercise_drawing.py`; this
module picks one for an exercise and builds its card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from controller.planning.exercise_drawing import Pose, Scene, draw
from controller.planning.exercise_patterns import PATTERNS, SIDE_FEET, STAND_LEGS, Pattern
from controller.planning.models import Exercise

__all__ = ["PATTERNS", "Guide", "breathing_cue", "guide", "pattern_for", "tempo_cue"]


@dataclass(frozen=True)
class Guide:
    pattern: str  # the movement pattern's key ("squat", "row", ...; "upper"/"lower" fallbacks)
    title: str  # plain: the exercise's own name
    movement: str  # what kind of movement it is, in plain words
    setup: tuple[str, ...]  # 3-5 steps: cable height, attachment, where to stand, feet
    cues: tuple[str, ...]  # 2-4, the breathing cue first
    feel: tuple[str, ...]
    avoid: tuple[str, ...]
    svg: str  # inline SVG, currentColor strokes
    breathing: str  # the same as cues[0]
    effort: str  # "stand up": the phase that breathes out (the cable paying out)
    release: str  # "lower down": the phase that breathes in

    def as_dict(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "title": self.title, "movement": self.movement,
                "setup": list(self.setup), "cues": list(self.cues), "feel": list(self.feel),
                "avoid": list(self.avoid), "svg": self.svg, "breathing": self.breathing}


# ---- names no pattern knows: the region's fallback, multi-joint or not ----------------------

_FALLBACKS: dict[tuple[str, bool], Pattern] = {
    ("upper", True): Pattern(
        "upper", (), "upper", "an upper-body movement", "draw the cable out",
        "let it back",
        ("Set the cable to the height that lines it up with the movement: low for lifts, "
         "chest height for pushes and pulls, high for pulls down.",
         "Attach the handle or bar the movement needs.",
         "Stand or sit steady, feet hip-width apart, trunk still.",
         "Start with the cable just taut."),
        ("Move smoothly through a comfortable, full range.",
         "Keep your shoulders down, away from your ears."),
        ("The muscles of your arms, shoulders, chest or back, whichever the movement uses.",),
        ("Jerking the handle.", "Twisting or leaning to move the load.",
         "Pushing into pain above a mild level."),
        Scene(Pose((92, 48), (90, 96), SIDE_FEET, (((108, 70), (128, 66)),)),
              ((172, 66), (128, 66)), "column", (172, 66), arrow=((132, 40), (158, 40)))),
    ("upper", False): Pattern(
        "upper_isolated", (), "upper", "an upper-body movement at one joint",
        "draw the cable out", "let it back",
        ("Set the cable to the height that lines it up with the movement.",
         "Attach a single handle (or a cuff).",
         "Stand steady, feet hip-width apart, trunk still.",
         "Start with the cable just taut."),
        ("Only the working joint moves; the rest of you stays still.",
         "Move slowly through a comfortable range."),
        ("The muscle the exercise is named for.",),
        ("Swinging your body.", "Shrugging.", "Pushing into pain above a mild level."),
        Scene(Pose((98, 46), (98, 92), STAND_LEGS, (((100, 78), (122, 72)),)),
              ((122, 143), (122, 74)), "floor", floor_unit=(84.0, 134.0),
              arrow=((150, 110), (150, 72)))),
    ("lower", True): Pattern(
        "lower", (), "lower", "a lower-body movement through hips and knees",
        "push against the cable", "let it back",
        ("Set the cable to its lowest position.",
         "Attach handles, a bar or an ankle strap, as the movement needs.",
         "Feet hip-width apart, weight over the whole foot.",
         "A steady hand-hold nearby if you need it for balance."),
        ("Move smoothly through a comfortable range.",
         "Knees follow your toes; back long."),
        ("Your thighs and buttocks.",),
        ("Knees falling inwards.", "Rounding your back.", "Bouncing at the bottom."),
        Scene(Pose((92, 60), (72, 104), (((108, 114), (96, 142), (110, 142)),),
                   (((100, 80), (103, 66)),)),
              ((103, 143), (103, 68)), "floor", arrow=((142, 120), (142, 78)))),
    ("lower", False): Pattern(
        "lower_isolated", (), "lower", "a lower-body movement at one joint, with an ankle "
        "strap", "move the leg against the cable", "let it back",
        ("Set the cable to its lowest position.",
         "Attach the ankle strap to the working leg.",
         "Stand facing the unit, holding something steady, standing knee soft."),
        ("Move only the working leg, slowly, through a comfortable range.",
         "Keep your hips level and your trunk upright."),
        ("The muscles around the hip or knee that the movement works.",),
        ("Swinging the leg.", "Leaning or twisting to move it further.",
         "Pushing into pain above a mild level."),
        Scene(Pose((104, 48), (100, 94), (((100, 120), (100, 148), (112, 148)),
                                          ((86, 118), (68, 136))),
                   (((120, 70), (142, 80)),)),
              ((158, 143), (68, 136)), "floor", floor_unit=(146.0, 170.0),
              arrow=((60, 110), (36, 96)))),
}


def _words(name: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", name.lower()).strip() + " "


def pattern_for(ex: Exercise) -> Pattern:
    """The movement pattern: the first whose keyword is in the name (and whose region fits);
    else the region's fallback, multi-joint or not."""
    words = _words(ex.name)
    for p in PATTERNS:
        if (p.region is None or p.region == ex.region) and any(
                f" {k} " in words for k in p.keywords):
            return p
    return _FALLBACKS[(ex.region, ex.multi_joint)]


def breathing_cue(ex: Exercise) -> str:
    """Breathe out on the effort, in the movement's words; never hold the breath."""
    p = pattern_for(ex)
    return f"Breathe out as you {p.effort}, in as you {p.release}; never hold your breath."


def tempo_cue(ex: Exercise) -> str:
    """Technique first (assessment and adaptation): the whole range, a steady tempo."""
    p = pattern_for(ex)
    return (f"Technique first: the whole range, about 2 s as you {p.effort} and 2-3 s as you "
            f"{p.release}.")


def guide(ex: Exercise) -> Guide:
    p = pattern_for(ex)
    name = " ".join(ex.name.split())
    title = name[:1].upper() + name[1:]
    breathing = breathing_cue(ex)
    return Guide(p.key, title, p.movement[:1].upper() + p.movement[1:], p.setup,
                 (breathing, *p.cues), p.feel, p.avoid,
                 draw(f"{title}: {p.movement}", p.scene), breathing, p.effort, p.release)
