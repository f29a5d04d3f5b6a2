"""Which body regions an exercise loads, and which regions a person's words name.

Pain at an exercise points at the regions it loads; the person's own painful regions (free
text in the profile: "knee OA", "lower back") narrow it down. A shared vocabulary lets the
session rest the exercises that load a region that hurt today and lets the planner reduce only
those next time.
"""

from __future__ import annotations

import re

from controller.planning.models import Exercise

REGIONS = ("neck", "shoulder", "elbow", "wrist", "back", "hip", "knee", "ankle")
_WORDS = {
    "neck": "neck", "cervical": "neck",
    "shoulder": "shoulder", "shoulders": "shoulder", "rotator": "shoulder",
    "elbow": "elbow", "elbows": "elbow", "epicondyl": "elbow",
    "wrist": "wrist", "wrists": "wrist", "hand": "wrist", "hands": "wrist",
    "back": "back", "lumbar": "back", "spine": "back", "sciatica": "back", "lbp": "back",
    "lumbago": "back", "sacroiliac": "back", "si": "back", "whiplash": "neck",
    "plantar": "ankle",
    "hip": "hip", "hips": "hip", "groin": "hip",
    "knee": "knee", "knees": "knee", "patellar": "knee", "patella": "knee",
    "ankle": "ankle", "ankles": "ankle", "achilles": "ankle", "foot": "ankle", "feet": "ankle",
}
# What an exercise loads when the plan does not say (design choice, from the movement).
_BY_KIND = {
    ("lower", True): ("knee", "hip", "back", "ankle"),
    ("lower", False): ("knee", "hip"),
    ("upper", True): ("shoulder", "elbow", "wrist"),
    ("upper", False): ("elbow", "shoulder"),
}
# By name, within the exercise's half of the body (design choice, from the movement): a
# lower-body "extension" is a back or knee extension, never an elbow one.
_BY_NAME = {
    "lower": {
        "back extension": ("back", "hip"), "hyperextension": ("back", "hip"),
        "hip extension": ("hip", "back"), "hip thrust": ("hip", "back"),
        "bridge": ("hip", "back"), "glute": ("hip", "back"), "pull through": ("hip", "back"),
        "deadlift": ("back", "hip", "knee"), "good morning": ("back", "hip"),
        "split squat": ("knee", "hip", "ankle"), "squat": ("knee", "hip", "back", "ankle"),
        "lunge": ("knee", "hip", "ankle"), "step up": ("knee", "hip", "ankle"),
        "leg press": ("knee", "hip"), "knee extension": ("knee",),
        "leg extension": ("knee",), "leg curl": ("knee",), "hamstring curl": ("knee",),
        "calf": ("ankle",), "leg raise": ("hip", "back"), "abduction": ("hip",),
        "adduction": ("hip",), "kickback": ("hip",),
    },
    "upper": {
        "pallof": ("back",), "woodchop": ("back", "shoulder"), "rotation": ("back",),
        "face pull": ("shoulder",), "row": ("shoulder", "elbow", "back"),
        "pulldown": ("shoulder", "elbow"), "pull": ("shoulder", "elbow"),
        "press": ("shoulder", "elbow", "wrist"), "fly": ("shoulder",), "raise": ("shoulder",),
        "curl": ("elbow", "wrist"), "pushdown": ("elbow",), "extension": ("elbow",),
        "shrug": ("neck", "shoulder"),
    },
}


def regions_in(text: str) -> set[str]:
    """Regions named in free text ("knee OA", "low back pain" -> {"knee"}, {"back"})."""
    words = re.findall(r"[a-z]+", text.lower())
    return {_WORDS[w] for w in words if w in _WORDS} | {
        r for w in words for stem, r in _WORDS.items() if len(stem) > 6 and w.startswith(stem)}


def named_regions(texts: list[str]) -> set[str]:
    """Every region a person's list of painful areas names."""
    return set().union(*(regions_in(t) for t in texts)) if texts else set()


def loaded_regions(ex: Exercise) -> set[str]:
    """The regions an exercise loads: the plan's own list, else from its name, else its kind."""
    if ex.loads:
        return {r for r in ex.loads}
    name = " ".join(ex.name.lower().replace("-", " ").split())
    table = _BY_NAME[ex.region]
    for key in sorted(table, key=len, reverse=True):  # "leg press" before "press"
        if key in name:
            return set(table[key])
    return set(_BY_KIND[(ex.region, ex.multi_joint)])


def hurt_regions(ex: Exercise, painful: list[str]) -> set[str]:
    """The regions to protect after pain at this exercise: those it loads that the person
    lists as painful, or every region it loads when none of theirs is among them."""
    loads = loaded_regions(ex)
    return (loads & named_regions(painful)) or loads
