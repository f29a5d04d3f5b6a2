"""The named movement patterns behind the exercise cards: the data table.

One `Pattern` per movement the unit knows by name (squat, row, chest press, ...): the keywords
that pick it from an exercise's name, the setup, cues, what to feel and avoid, the phases that
breathe out and in, and the scene to draw. The lookup is in `exercise_guide.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.planning.exercise_drawing import Pose, Scene

__all__ = ["PATTERNS", "SIDE_FEET", "STAND_LEGS", "Pattern"]


@dataclass(frozen=True)
class Pattern:
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
    scene: Scene


STAND_LEGS = (((100, 118), (99, 142), (110, 142)),)
SIDE_FEET = (((96, 118), (94, 148), (106, 148)),)

PATTERNS: tuple[Pattern, ...] = (
    Pattern(
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
        Scene(Pose((100, 44), (100, 92), (((90, 120), (86, 148)), ((110, 120), (114, 148))),
                   (((86, 62), (100, 68)), ((114, 62), (101, 68)))),
              (((30, 68), (100, 68))), "column-left", (28, 68))),
    Pattern(
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
        Scene(Pose((100, 44), (100, 92), (((88, 120), (82, 148)), ((112, 120), (118, 148))),
                   (((116, 42), (130, 30)), ((118, 48), (131, 31)))),
              ((172, 20), (131, 30)), "column", (172, 20), arrow=((138, 52), (78, 104)))),
    Pattern(
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
        Scene(Pose((84, 50), (82, 96), SIDE_FEET, (((68, 42), (100, 36)),)),
              ((172, 32), (100, 36)), "column", (172, 32), arrow=((150, 20), (112, 20)))),
    Pattern(
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
        Scene(Pose((82, 70), (80, 114), (((112, 116), (112, 148), (122, 148)),),
                   (((98, 56), (104, 38)),)),
              ((172, 16), (104, 38)), "column", (172, 16), arrow=((128, 46), (128, 84)),
              props=("M58 121H102M62 121V150M98 121V150",))),
    Pattern(
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
        Scene(Pose((44, 138), (96, 112), (((126, 108), (130, 146), (140, 146)),),
                   (((70, 124), (94, 108)),), head=(32, 138)),
              ((96, 143), (96, 110)), "floor", floor_unit=(84.0, 108.0),
              arrow=((156, 132), (156, 98)), props=("M14 148H150",))),
    Pattern(
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
        Scene(Pose((122, 72), (82, 92), (((96, 120), (92, 142), (104, 142)),),
                   (((120, 98), (118, 120)),)),
              ((118, 143), (118, 122)), "floor", arrow=((152, 124), (152, 84)))),
    Pattern(
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
        Scene(Pose((98, 66), (96, 112), (((124, 118), (122, 142), (134, 142)),
                                         ((80, 136), (62, 140), (56, 142))),
                   (((96, 90), (98, 112)),)),
              ((98, 143), (98, 114)), "floor", floor_unit=(48.0, 142.0),
              arrow=((158, 122), (158, 84)))),
    Pattern(
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
        Scene(Pose((98, 44), (98, 90), (((99, 116), (96, 134), (108, 142)),),
                   (((105, 68), (108, 90)),)),
              ((108, 143), (108, 92)), "floor", arrow=((140, 120), (140, 90)))),
    Pattern(
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
        Scene(Pose((92, 60), (72, 104), (((108, 114), (96, 142), (110, 142)),),
                   (((100, 80), (103, 66)),)),
              ((103, 143), (103, 68)), "floor", arrow=((142, 120), (142, 78)))),
    Pattern(
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
        Scene(Pose((98, 48), (96, 96), (((110, 122), (112, 148), (124, 148)),
                                        ((84, 122), (74, 148), (84, 148))),
                   (((104, 22), (92, 32)),)),
              ((28, 140), (92, 32)), "column-left", (28, 140),
              arrow=((124, 40), (124, 12)))),
    Pattern(
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
        Scene(Pose((92, 50), (86, 96), SIDE_FEET, (((96, 76), (120, 88)),)),
              ((172, 16), (120, 88)), "column", (172, 16), arrow=((142, 64), (142, 104)))),
    Pattern(
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
        Scene(Pose((98, 46), (98, 92), STAND_LEGS, (((112, 34), (110, 12)),)),
              ((112, 143), (110, 14)), "floor", arrow=((146, 64), (146, 24)))),
    Pattern(
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
        Scene(Pose((100, 44), (100, 92), (((90, 120), (86, 148)), ((110, 120), (114, 148))),
                   (((126, 52), (148, 52)), ((88, 70), (84, 92)))),
              ((74, 143), (148, 54)), "floor", floor_unit=(60.0, 88.0),
              arrow=((158, 90), (164, 56)))),
    Pattern(
        "curl", ("curl", "biceps", "bicep"), "upper",
        "bending the elbows to bring the handles up", "curl up", "lower",
        ("Set the cable to its lowest position, in front of you (stand on a floor unit).",
         "Hold a handle in each hand or a short bar, palms facing forward.",
         "Stand tall, feet hip-width apart, elbows at your sides."),
        ("Bend only at the elbows; your upper arms stay still.",
         "Lower all the way until your arms are straight."),
        ("The fronts of your upper arms.",),
        ("Swinging your body.", "Elbows drifting forward.", "Bending your wrists."),
        Scene(Pose((98, 46), (98, 92), STAND_LEGS, (((100, 78), (122, 72)),)),
              ((122, 143), (122, 74)), "floor", floor_unit=(84.0, 134.0),
              arrow=((150, 110), (150, 72)))),
    Pattern(
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
        Scene(Pose((66, 70), (64, 114), (((104, 106), (132, 122), (134, 110)),),
                   (((48, 90), (76, 90)),)),
              ((172, 100), (76, 90)), "column", (172, 100), arrow=((124, 72), (88, 72)),
              props=("M36 120H92M44 120V150M86 120V150", "M138 104V130"))),
    Pattern(
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
        Scene(Pose((96, 50), (90, 96), (((106, 122), (112, 142), (124, 142)),
                                        ((78, 122), (66, 142), (76, 142))),
                   (((116, 64), (136, 60)),)),
              ((28, 62), (136, 60)), "column-left", (28, 62), arrow=((116, 34), (156, 34)))),
)
