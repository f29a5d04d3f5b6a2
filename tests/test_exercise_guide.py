"""Exercise guides: setup, cues, what to avoid and a drawing for every exercise, breathing in the
movement's own words (one source for the planner's cues and the panel)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from controller.planning.exercise_guide import PATTERNS, breathing_cue, guide, pattern_for
from controller.planning.models import Exercise, ProfileKind
from controller.planning.planner import next_session
from controller.planning.starter import default_exercises, default_plan

SVG = "{http://www.w3.org/2000/svg}"


def ex(name: str, region: str = "upper", multi: bool = True) -> Exercise:
    return Exercise(name=name, region=region, multi_joint=multi)


def check_svg(svg: str) -> ET.Element:
    """Well-formed, drawn in currentColor, accessible, nothing active or external."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 200 160"
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.get("stroke") == "currentColor"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}title").text
    for el in root.iter():
        tag = el.tag.removeprefix(SVG)
        assert tag in {"svg", "title", "path", "rect", "circle"}, tag
        assert not any(k.startswith("on") for k in el.attrib), el.attrib  # no handlers
        assert "id" not in el.attrib  # several drawings share one page
        for k, v in el.attrib.items():
            if k in ("stroke", "fill"):
                assert v in ("currentColor", "none"), (k, v)
            assert "url(" not in v and "http" not in v.replace(
                "http://www.w3.org/2000/svg", ""), (k, v)
    assert "<script" not in svg.lower() and "href" not in svg
    return root


@pytest.mark.parametrize("kind", list(ProfileKind))
def test_every_default_exercise_has_setup_cues_avoid_and_a_drawing(kind):
    for e in default_exercises(kind):
        g = guide(e)
        assert g.title and g.title[0].isupper() and e.name.lower() in g.title.lower()
        assert 3 <= len(g.setup) <= 5 and all(s.strip() for s in g.setup)
        assert 2 <= len(g.cues) <= 4 and g.cues[0] == g.breathing == breathing_cue(e)
        assert g.avoid and g.feel
        check_svg(g.svg)
        d = g.as_dict()
        assert {"title", "setup", "cues", "avoid", "svg"} <= set(d)
        assert isinstance(d["setup"], list) and isinstance(d["cues"], list)
        assert isinstance(d["avoid"], list) and isinstance(d["svg"], str)


@pytest.mark.parametrize("name,region,says,never", [
    ("cable squat", "lower", "stand up", "pull"),
    ("sit to stand", "lower", "stand up", "pull"),
    ("chest press", "upper", "press", "pull"),
    ("seated row", "upper", "pull", "press"),
    ("row", "upper", "pull", "press"),
    ("lat pulldown", "upper", "pull the bar down", "press"),
    ("shoulder press", "upper", "press up", "pull"),
    ("romanian deadlift", "lower", "stand tall", "press"),
    ("biceps curl", "upper", "curl up", "press"),
    ("triceps pushdown", "upper", "push down", "pull"),
    ("calf raise", "lower", "rise onto your toes", "pull"),
    ("glute bridge", "lower", "lift your hips", "pull"),
    ("split squat", "lower", "push back up", "pull"),
])
def test_breathing_matches_the_movement(name, region, says, never):
    cue = breathing_cue(ex(name, region))
    out = cue.split(",")[0]  # "Breathe out as you ..."
    assert out.startswith("Breathe out as you ") and says in out and never not in out
    assert "never hold your breath" in cue


@pytest.mark.parametrize("name,region,multi,pattern", [
    ("cable squat", "lower", True, "squat"), ("goblet squat", "lower", True, "squat"),
    ("Bulgarian split squat", "lower", True, "lunge"), ("reverse lunge", "lower", True, "lunge"),
    ("RDL", "lower", True, "hinge"), ("cable deadlift", "lower", True, "hinge"),
    ("lat pull-down", "upper", True, "pulldown"), ("seated row", "upper", True, "row"),
    ("single-arm row", "upper", True, "row"), ("chest press", "upper", True, "chest_press"),
    ("overhead press", "upper", True, "overhead_press"),
    ("shoulder press", "upper", True, "overhead_press"),
    ("biceps curl", "upper", False, "curl"), ("hammer curl", "upper", False, "curl"),
    ("triceps pushdown", "upper", False, "triceps"),
    ("overhead triceps extension", "upper", False, "triceps_overhead"),
    ("lateral raise", "upper", False, "lateral_raise"), ("face pull", "upper", True, "face_pull"),
    ("calf raise", "lower", False, "calf_raise"), ("hip thrust", "lower", True, "hip_thrust"),
    ("glute bridge", "lower", True, "hip_thrust"), ("Pallof press", "upper", True, "pallof"),
    ("woodchop", "upper", True, "woodchop"), ("cable wood-chop", "upper", True, "woodchop"),
    # Names it does not know, and keywords of the other half of the body: by region.
    ("frobnicate", "upper", True, "upper"), ("frobnicate", "upper", False, "upper_isolated"),
    ("frobnicate", "lower", True, "lower"), ("hip abduction", "lower", False, "lower_isolated"),
    ("leg curl", "lower", False, "lower_isolated"), ("narrow stance thing", "lower", True,
                                                     "lower"),
])
def test_patterns_by_name_then_by_region(name, region, multi, pattern):
    g = guide(ex(name, region, multi))
    assert pattern_for(ex(name, region, multi)).key == g.pattern == pattern
    assert 3 <= len(g.setup) <= 5 and 2 <= len(g.cues) <= 4 and g.avoid
    check_svg(g.svg)


def test_every_pattern_draws_and_reads():
    for p in PATTERNS:
        region = p.region or "upper"
        g = guide(ex(p.keywords[0], region))
        assert g.pattern == p.key
        root = check_svg(g.svg)
        assert root.find(f"{SVG}circle") is not None  # a head
        assert any("stroke-dasharray" in el.attrib for el in root.iter())  # the cable
        for text in (*g.setup, *g.cues, *g.feel, *g.avoid):
            assert text[0].isupper() and text.endswith("."), text


def test_a_name_with_markup_is_escaped_in_the_drawing():
    g = guide(ex('press <script>alert("x")</script> & co', "upper"))
    root = check_svg(g.svg)
    assert "<script>" in root.find(f"{SVG}title").text  # as text, not as an element


def test_the_planner_takes_its_breathing_cue_and_guide_from_here():
    plan = default_plan(ProfileKind.PAIN, dt.date(2026, 1, 5))
    rx = next_session(plan, dt.date(2026, 1, 5))
    for item, e in zip(rx.items, plan.program.exercises, strict=True):
        assert item.cues[0] == breathing_cue(e)
        d = item.as_dict()["guide"]
        assert d == guide(e).as_dict()
        assert d["cues"][0] == item.cues[0]
    breath = {i.exercise: i.cues[0] for i in rx.items}
    assert "stand up" in breath["cable squat"] and "pull" not in breath["cable squat"]
    assert "press" in breath["chest press"] and "pull" not in breath["chest press"]
    assert "pull" in breath["seated row"]
