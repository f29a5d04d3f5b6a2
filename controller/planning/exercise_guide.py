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
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from html import escape
from typing import Any

from controller.planning.models import Exercise

__all__ = ["PATTERNS", "Guide", "breathing_cue", "guide", "pattern_for", "tempo_cue"]

Pt = tuple[float, float]


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


# ---- drawing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pose:
    """A stick figure: torso neck-hip, limbs as point chains from the hip and the shoulder."""

    neck: Pt
    hip: Pt
    legs: tuple[tuple[Pt, ...], ...]  # each: knee, ankle, toe (or any chain from the hip)
    arms: tuple[tuple[Pt, ...], ...]  # each: elbow, hand (from the shoulder)
    head: Pt | None = None  # None: along the torso, beyond the neck


@dataclass(frozen=True)
class _Scene:
    pose: _Pose
    cable: tuple[Pt, Pt]  # from the pulley (or the floor unit) to what it pulls
    unit: str  # "floor": a low unit; "column": a column on the right; "column-left"
    pulley: Pt | None = None  # on the column; None with a floor unit
    floor_unit: tuple[float, float] = (78.0, 128.0)  # its x span, with a floor unit
    arrow: tuple[Pt, Pt] | None = None  # the effort's direction
    props: tuple[str, ...] = ()  # seat, bench, mat: path data


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _path(points: tuple[Pt, ...] | list[Pt], **attrs: str) -> str:
    d = "M" + " L".join(f"{_f(x)} {_f(y)}" for x, y in points)
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<path d="{d}"{extra}/>'


def _arrow(a: Pt, b: Pt) -> str:
    ang = math.atan2(b[1] - a[1], b[0] - a[0])
    head = [(b[0] - 8 * math.cos(ang + s), b[1] - 8 * math.sin(ang + s)) for s in (0.5, -0.5)]
    return (_path([a, b], stroke_width="2", opacity="0.75")
            + _path([head[0], b, head[1]], stroke_width="2", opacity="0.75"))


def _draw(title: str, sc: _Scene) -> str:
    p = sc.pose
    parts = [_path([(8, 150), (192, 150)], stroke_width="1.5", opacity="0.5")]  # the floor
    if sc.unit == "floor":
        x0, x1 = sc.floor_unit
        parts.append(f'<rect x="{_f(x0)}" y="143" width="{_f(x1 - x0)}" height="7" rx="2" '
                     'stroke-width="2"/>')
    else:
        x = 172.0 if sc.unit == "column" else 14.0
        parts.append(f'<rect x="{_f(x)}" y="12" width="14" height="138" rx="2" '
                     'stroke-width="2"/>')
    if sc.pulley is not None:
        parts.append(f'<circle cx="{_f(sc.pulley[0])}" cy="{_f(sc.pulley[1])}" r="3.5" '
                     'fill="currentColor" stroke="none"/>')
    for d in sc.props:
        parts.append(f'<path d="{d}" stroke-width="2.5" opacity="0.6"/>')
    parts.append(_path(list(sc.cable), stroke_width="1.5", stroke_dasharray="4 3"))
    (nx, ny), (hx, hy) = p.neck, p.hip
    if p.head is None:
        n = math.hypot(nx - hx, ny - hy) or 1.0
        head = (nx + (nx - hx) / n * 11, ny + (ny - hy) / n * 11)
    else:
        head = p.head
    shoulder = (nx + (hx - nx) * 0.12, ny + (hy - ny) * 0.12)
    parts.append(f'<circle cx="{_f(head[0])}" cy="{_f(head[1])}" r="8"/>')
    parts.append(_path([p.neck, p.hip]))
    parts += [_path([p.hip, *leg]) for leg in p.legs]
    parts += [_path([shoulder, *arm]) for arm in p.arms]
    hands = [arm[-1] for arm in p.arms]
    parts += [f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.5" fill="currentColor" stroke="none"/>'
              for x, y in hands[:1]]
    if sc.arrow is not None:
        parts.append(_arrow(*sc.arrow))
    label = escape(title, quote=True)
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 160" role="img" '
            f'aria-label="{label}" fill="none" stroke="currentColor" stroke-width="3" '
            f'stroke-linecap="round" stroke-linejoin="round"><title>{label}</title>'
            + "".join(parts) + "</svg>")


# ---- the movements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    key: str
    keywords: tuple[str, ...]  # whole words or phrases in the exercise's name
    region: str | None  # "upper" / "lower": only for exercises of that region; None: any
    movement: str
    effort: str  # breathe out as you ...
    release: str  # breathe in as you ...
    setup: tuple[str, ...]
    cues: tuple[str, ...]  # after the breathing cue
    feel: tuple[str, ...]
    avoid: tuple[str, ...]
    scene: _Scene


_STAND_LEGS = (((100, 118), (99, 142), (110, 142)),)
_SIDE_FEET = (((96, 118), (94, 148), (106, 148)),)

PATTERNS: tuple[_Pattern, ...] = (
    _Pattern(
        "pallof", ("pallof", "anti rotation", "antirotation"), None,
        "a trunk-strength hold against a sideways pull", "press the handle out", "bring it back",
        ("Set the cable to chest height, beside you.",
         "Attach a single handle and hold it with both hands at the middle of your chest.",
         "Stand side-on to the unit, a step away so the cable is taut.",
         "Feet hip-width apart, knees soft, hips and shoulders facing forward."),
        ("Press straight out in front of your chest, hold a moment, then bring it back.",
         "Do not let the cable turn you: hips and shoulders stay square."),
        ("Your stomach and sides working to keep you still.",),
        ("Twisting towards the unit.", "Holding your breath while you hold the position.",
         "Locking your knees."),
        _Scene(_Pose((100, 44), (100, 92), (((90, 120), (86, 148)), ((110, 120), (114, 148))),
                     (((86, 62), (100, 68)), ((114, 62), (101, 68)))),
               (((30, 68), (100, 68))), "column-left", (28, 68))),
    _Pattern(
        "woodchop", ("woodchop", "wood chop", "chop"), None,
        "a diagonal pull across the body, turning through the trunk",
        "pull across your body", "let the handle return",
        ("Set the cable to its highest position, beside you (lowest for a low-to-high chop).",
         "Attach a single handle and hold it with both hands, arms long.",
         "Stand side-on to the unit, feet wider than your shoulders, knees soft."),
        ("Pull the handle diagonally across and down towards the opposite hip, turning hips "
         "and trunk together.", "Pivot on your back foot, then return slowly."),
        ("Your stomach and sides.",),
        ("Twisting only from your lower back.", "Bending your arms to pull.",
         "Turning further than is comfortable."),
        _Scene(_Pose((100, 44), (100, 92), (((88, 120), (82, 148)), ((112, 120), (118, 148))),
                     (((116, 42), (130, 30)), ((118, 48), (131, 31)))),
               ((172, 20), (131, 30)), "column", (172, 20), arrow=((138, 52), (78, 104)))),
    _Pattern(
        "face_pull", ("face pull", "facepull"), "upper",
        "a high pull towards the face for the backs of the shoulders",
        "pull towards your face", "let the rope return",
        ("Set the cable at about face height or a little higher, in front of you.",
         "Attach a rope and hold an end in each hand, thumbs towards you.",
         "Stand facing the unit and step back until your arms are straight and the cable is "
         "taut.", "Feet hip-width apart, knees soft."),
        ("Pull the rope towards your forehead, hands apart, elbows high.",
         "Squeeze your shoulder blades together at the end, then let the rope return slowly."),
        ("The backs of your shoulders and your upper back.",),
        ("Leaning back to move the load.", "Shrugging your shoulders up.",
         "Elbows dropping below your hands."),
        _Scene(_Pose((84, 50), (82, 96), _SIDE_FEET, (((68, 42), (100, 36)),)),
               ((172, 32), (100, 36)), "column", (172, 32), arrow=((150, 20), (112, 20)))),
    _Pattern(
        "pulldown", ("pulldown", "pull down", "lat pull", "lat pulldown"), "upper",
        "a pull from overhead down to the chest", "pull the bar down", "let it rise",
        ("Set the cable to its highest position, above and just in front of you.",
         "Attach a long bar (or two handles), hands a little wider than your shoulders.",
         "Sit or kneel facing the unit, back upright, feet flat.",
         "Start with your arms reaching up and the cable taut."),
        ("Pull the bar down to your upper chest, elbows down and back.",
         "Keep your chest up; let your arms straighten fully at the top."),
        ("The sides of your back, under the armpits.",),
        ("Pulling behind your neck.", "Swinging your body back.", "Shrugging your shoulders."),
        _Scene(_Pose((82, 70), (80, 114), (((112, 116), (112, 148), (122, 148)),),
                     (((98, 56), (104, 38)),)),
               ((172, 16), (104, 38)), "column", (172, 16), arrow=((128, 46), (128, 84)),
               props=("M58 121H102M62 121V150M98 121V150",))),
    _Pattern(
        "hip_thrust", ("hip thrust", "glute bridge", "bridge"), None,
        "lifting the hips from the floor", "lift your hips", "lower them",
        ("Lie on your back on a mat, knees bent, feet flat and hip-width apart (for a hip "
         "thrust, shoulders against a steady bench).",
         "Set the cable to its lowest position, by your hips.",
         "Attach a bar or strap across your hips, padded with a folded towel.",
         "Hold the bar steady with both hands."),
        ("Push through your heels and squeeze your buttocks to lift.",
         "Stop when shoulders, hips and knees are in a straight line; lower slowly."),
        ("Your buttocks and the backs of your thighs.",),
        ("Arching your lower back at the top.", "Pushing through your toes.",
         "Letting your knees fall in or out."),
        _Scene(_Pose((44, 138), (96, 112), (((126, 108), (130, 146), (140, 146)),),
                     (((70, 124), (94, 108)),), head=(32, 138)),
               ((96, 143), (96, 110)), "floor", floor_unit=(84.0, 108.0),
               arrow=((156, 132), (156, 98)), props=("M14 148H150",))),
    _Pattern(
        "hinge", ("deadlift", "rdl", "romanian", "hinge", "good morning", "pull through",
                  "pullthrough"), "lower",
        "a hip hinge: bending at the hips with a long, flat back", "stand tall",
        "hinge back down",
        ("Set the cable to its lowest position, in front of your feet (stand over a floor "
         "unit).", "Attach a short bar or both handles; hold them with straight arms in front "
         "of your thighs.", "Feet hip-width apart, knees softly bent.",
         "Start standing tall, shoulders back."),
        ("Push your hips back, keeping your back long and flat; the handles slide down close "
         "to your legs.", "Stand up by driving your hips forward; squeeze your buttocks at the "
         "top."),
        ("The backs of your thighs and your buttocks.",),
        ("Rounding your lower back.", "Leaning back at the top.",
         "Going lower than you can keep your back flat."),
        _Scene(_Pose((122, 72), (82, 92), (((96, 120), (92, 142), (104, 142)),),
                     (((120, 98), (118, 120)),)),
               ((118, 143), (118, 122)), "floor", arrow=((152, 124), (152, 84)))),
    _Pattern(
        "lunge", ("lunge", "split squat", "step up", "stepup"), "lower",
        "a split-stance squat, one leg in front of the other", "push back up", "lower",
        ("Set the cable to its lowest position (stand on a floor unit).",
         "Hold a handle in each hand at your sides, arms straight.",
         "Take a long step: front foot flat, back heel lifted, feet hip-width apart as if on "
         "two rails.", "Stand upright; a steady hand-hold nearby if you need it for balance."),
        ("Lower straight down until your back knee is near the floor, or as far as is "
         "comfortable.", "Push up through your front heel."),
        ("The front of your thigh and your buttock, mostly on the front leg.",),
        ("The front knee falling inwards.", "Pushing off with the back foot.",
         "Leaning forward."),
        _Scene(_Pose((98, 66), (96, 112), (((124, 118), (122, 142), (134, 142)),
                                           ((80, 136), (62, 140), (56, 142))),
                     (((96, 90), (98, 112)),)),
               ((98, 143), (98, 114)), "floor", floor_unit=(48.0, 142.0),
               arrow=((158, 122), (158, 84)))),
    _Pattern(
        "calf_raise", ("calf raise", "calf", "heel raise"), "lower",
        "rising onto the toes", "rise onto your toes", "lower your heels",
        ("Set the cable to its lowest position (stand on a floor unit).",
         "Hold a handle in each hand at your sides, arms straight.",
         "Feet hip-width apart, toes forward; a steady hand-hold nearby for balance.",
         "Stand tall, knees straight but not locked."),
        ("Rise as high as you can and pause briefly at the top.",
         "Lower slowly all the way down."),
        ("Your calves, the backs of your lower legs.",),
        ("Bouncing.", "Rolling onto the outer edges of your feet.", "Bending your knees."),
        _Scene(_Pose((98, 44), (98, 90), (((99, 116), (96, 134), (108, 142)),),
                     (((105, 68), (108, 90)),)),
               ((108, 143), (108, 92)), "floor", arrow=((140, 120), (140, 90)))),
    _Pattern(
        "squat", ("squat", "sit to stand", "sit stand", "chair stand", "stand up",
                  "leg press"), "lower",
        "a squat: bending hips and knees to sit down and stand back up", "stand up",
        "lower down",
        ("Set the cable to its lowest position, running straight up in front of you (stand "
         "over a floor unit).",
         "Attach the two handles (or a short bar) and hold them at your shoulders, elbows "
         "pointing down.",
         "Feet shoulder-width apart, toes turned out slightly, weight over the whole foot.",
         "Stand tall with your chest up before the first rep."),
        ("Sit back and down as if onto a chair, only as deep as is comfortable.",
         "Knees follow your toes; heels stay down."),
        ("The fronts of your thighs and your buttocks.",),
        ("Knees falling inwards.", "Rounding your back at the bottom.",
         "Bouncing out of the bottom."),
        _Scene(_Pose((92, 60), (72, 104), (((108, 114), (96, 142), (110, 142)),),
                     (((100, 80), (103, 66)),)),
               ((103, 143), (103, 68)), "floor", arrow=((142, 120), (142, 78)))),
    _Pattern(
        "triceps_overhead", ("overhead triceps", "overhead tricep", "overhead extension",
                             "french press"), "upper",
        "straightening the arms overhead", "straighten your arms", "let them bend",
        ("Set the cable to its lowest position, behind you.",
         "Attach a rope or a single handle; hold it behind your head with both hands, elbows "
         "pointing up.",
         "Stand facing away from the unit, one foot in front of the other, trunk steady."),
        ("Straighten your arms overhead; only your forearms move.",
         "Elbows stay close to your head."),
        ("The backs of your upper arms.",),
        ("Arching your lower back.", "Elbows flaring out.", "Letting the cable pull your "
         "elbows back."),
        _Scene(_Pose((98, 48), (96, 96), (((110, 122), (112, 148), (124, 148)),
                                          ((84, 122), (74, 148), (84, 148))),
                     (((104, 22), (92, 32)),)),
               ((28, 140), (92, 32)), "column-left", (28, 140),
               arrow=((124, 40), (124, 12)))),
    _Pattern(
        "triceps", ("pushdown", "push down", "pressdown", "triceps", "tricep", "kickback"),
        "upper", "straightening the elbows against the cable", "push down",
        "let the handle rise",
        ("Set the cable to its highest position, in front of you.",
         "Attach a rope or a short bar.",
         "Stand facing the unit, feet hip-width apart, leaning forward slightly from the "
         "hips.", "Elbows bent and tucked in at your sides."),
        ("Push down until your arms are straight; only your forearms move.",
         "Elbows stay by your sides; let the handle rise slowly."),
        ("The backs of your upper arms.",),
        ("Elbows flaring out or moving forward.", "Leaning your body weight onto the handle.",
         "Shrugging."),
        _Scene(_Pose((92, 50), (86, 96), _SIDE_FEET, (((96, 76), (120, 88)),)),
               ((172, 16), (120, 88)), "column", (172, 16), arrow=((142, 64), (142, 104)))),
    _Pattern(
        "overhead_press", ("overhead press", "shoulder press", "military press", "ohp",
                           "press overhead"), "upper",
        "pressing up overhead", "press up", "lower the handles",
        ("Set the cable to its lowest position, under or just behind you (stand on a floor "
         "unit).", "Hold a handle in each hand at shoulder height, palms forward.",
         "Feet hip-width apart, knees soft, stomach and buttocks lightly tightened."),
        ("Press straight up until your arms are almost straight beside your ears.",
         "Lower under control back to shoulder height."),
        ("Your shoulders and the backs of your arms.",),
        ("Arching your lower back.", "Shrugging your shoulders up.",
         "Pressing into pain at the top: stop lower."),
        _Scene(_Pose((98, 46), (98, 92), _STAND_LEGS, (((112, 34), (110, 12)),)),
               ((112, 143), (110, 14)), "floor", arrow=((146, 64), (146, 24)))),
    _Pattern(
        "lateral_raise", ("lateral raise", "side raise", "lateral", "front raise"), "upper",
        "raising the arm out to the side", "raise your arm", "lower it",
        ("Set the cable to its lowest position, beside you.",
         "Stand side-on to the unit and hold the handle in the hand further from it, so the "
         "cable crosses in front of you.", "Feet hip-width apart, arm relaxed by your side."),
        ("Lift out to the side up to shoulder height, elbow slightly bent.",
         "Lower slowly."),
        ("The side of your shoulder.",),
        ("Lifting above shoulder height if it pinches.", "Shrugging your shoulders up.",
         "Leaning away to swing the load."),
        _Scene(_Pose((100, 44), (100, 92), (((90, 120), (86, 148)), ((110, 120), (114, 148))),
                     (((126, 52), (148, 52)), ((88, 70), (84, 92)))),
               ((74, 143), (148, 54)), "floor", floor_unit=(60.0, 88.0),
               arrow=((158, 90), (164, 56)))),
    _Pattern(
        "curl", ("curl", "biceps", "bicep"), "upper",
        "bending the elbows to bring the handles up", "curl up", "lower",
        ("Set the cable to its lowest position, in front of you (stand on a floor unit).",
         "Hold a handle in each hand or a short bar, palms facing forward.",
         "Stand tall, feet hip-width apart, elbows at your sides."),
        ("Bend only at the elbows; your upper arms stay still.",
         "Lower all the way until your arms are straight."),
        ("The fronts of your upper arms.",),
        ("Swinging your body.", "Elbows drifting forward.", "Bending your wrists."),
        _Scene(_Pose((98, 46), (98, 92), _STAND_LEGS, (((100, 78), (122, 72)),)),
               ((122, 143), (122, 74)), "floor", floor_unit=(84.0, 134.0),
               arrow=((150, 110), (150, 72)))),
    _Pattern(
        "row", ("row", "rowing"), "upper",
        "a pull towards the body", "pull", "let the handle return",
        ("Set the cable to about the height of your lower chest when seated (low on a floor "
         "unit).", "Attach a single handle or a V-grip.",
         "Sit facing the unit, feet braced, knees softly bent, back upright.",
         "Start with your arms reaching forward and your shoulders relaxed."),
        ("Pull the handle to your lower ribs, elbows close to your sides.",
         "Squeeze your shoulder blades together at the end, then let them slide forward "
         "slowly."),
        ("The middle of your back and the fronts of your upper arms.",),
        ("Leaning far back to move the load.", "Shrugging your shoulders up.",
         "Rounding your back as the handle returns."),
        _Scene(_Pose((66, 70), (64, 114), (((104, 106), (132, 122), (134, 110)),),
                     (((48, 90), (76, 90)),)),
               ((172, 100), (76, 90)), "column", (172, 100), arrow=((124, 72), (88, 72)),
               props=("M36 120H92M44 120V150M86 120V150", "M138 104V130"))),
    _Pattern(
        "chest_press", ("chest press", "bench press", "floor press", "incline press",
                        "press", "push"), "upper",
        "a push away from the chest", "press the handles forward", "let them come back",
        ("Set the cable to chest height, behind you.",
         "Hold a handle in each hand (or one at a time).",
         "Stand facing away from the unit, one foot in front of the other, leaning slightly "
         "forward.", "Start with your hands beside your chest, elbows a little below "
         "shoulder height."),
        ("Press straight forward until your arms are almost straight.",
         "Keep your shoulders down and your trunk still."),
        ("Your chest, the fronts of your shoulders and the backs of your arms.",),
        ("Arching your back.", "Letting the handles pull your elbows far behind you.",
         "Locking your elbows hard."),
        _Scene(_Pose((96, 50), (90, 96), (((106, 122), (112, 142), (124, 142)),
                                          ((78, 122), (66, 142), (76, 142))),
                     (((116, 64), (136, 60)),)),
               ((28, 62), (136, 60)), "column-left", (28, 62), arrow=((116, 34), (156, 34)))),
)

_FALLBACKS: dict[tuple[str, bool], _Pattern] = {
    ("upper", True): _Pattern(
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
        _Scene(_Pose((92, 48), (90, 96), _SIDE_FEET, (((108, 70), (128, 66)),)),
               ((172, 66), (128, 66)), "column", (172, 66), arrow=((132, 40), (158, 40)))),
    ("upper", False): _Pattern(
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
        _Scene(_Pose((98, 46), (98, 92), _STAND_LEGS, (((100, 78), (122, 72)),)),
               ((122, 143), (122, 74)), "floor", floor_unit=(84.0, 134.0),
               arrow=((150, 110), (150, 72)))),
    ("lower", True): _Pattern(
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
        _Scene(_Pose((92, 60), (72, 104), (((108, 114), (96, 142), (110, 142)),),
                     (((100, 80), (103, 66)),)),
               ((103, 143), (103, 68)), "floor", arrow=((142, 120), (142, 78)))),
    ("lower", False): _Pattern(
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
        _Scene(_Pose((104, 48), (100, 94), (((100, 120), (100, 148), (112, 148)),
                                            ((86, 118), (68, 136))),
                     (((120, 70), (142, 80)),)),
               ((158, 143), (68, 136)), "floor", floor_unit=(146.0, 170.0),
               arrow=((60, 110), (36, 96)))),
}


def _words(name: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", name.lower()).strip() + " "


def pattern_for(ex: Exercise) -> _Pattern:
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
                 _draw(f"{title}: {p.movement}", p.scene), breathing, p.effort, p.release)
