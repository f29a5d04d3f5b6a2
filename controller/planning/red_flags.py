"""Red flags: the signs that stop the program and call for medical reassessment, graded, each
with the advice given when it is reported (shared/domain.md "Pain and safety rules", from the
seeds: a snap or tearing sensation, increasing pain that does not improve in 48-72 h, new
functional loss, cardiovascular symptoms during effort; neurological signs added as every
back- and neck-pain guideline lists them).

Pure data and words: the same text goes to the terminal, the panel, MQTT and `plan next`.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.planning.models import RedFlag

URGENT_CARE = ("Stop now and do not train again until a doctor has seen you. If it is "
               "happening now or came with the effort, call your emergency number or go to "
               "urgent care.")
SEE_CLINICIAN = ("Stop training and see a doctor or physiotherapist for a medical "
                 "reassessment before you train again.")


@dataclass(frozen=True)
class FlagInfo:
    kind: RedFlag
    group: str  # cardiovascular | neurological | injury | function | pain | other
    label: str  # plain words, as a person would say it
    advice: str
    urgent: bool


_TABLE = (
    FlagInfo(RedFlag.CHEST_PAIN, "cardiovascular", "chest pain or pressure", URGENT_CARE, True),
    FlagInfo(RedFlag.BREATHLESSNESS, "cardiovascular",
             "breathlessness out of proportion to the effort", URGENT_CARE, True),
    FlagInfo(RedFlag.FAINTING, "cardiovascular", "fainting, or nearly fainting", URGENT_CARE,
             True),
    FlagInfo(RedFlag.BLADDER_BOWEL, "neurological",
             "new trouble controlling the bladder or bowel, or numbness around the groin",
             "Seek urgent care today (emergency department): these can be signs of nerve "
             "compression that needs treatment quickly. Do not train until you are cleared.",
             True),
    FlagInfo(RedFlag.NUMBNESS_TINGLING, "neurological", "new numbness or tingling",
             SEE_CLINICIAN + " See them soon (within a day or two), sooner if it spreads.",
             False),
    FlagInfo(RedFlag.NEW_WEAKNESS, "neurological", "new weakness in an arm or a leg",
             SEE_CLINICIAN + " See them soon (within a day or two), sooner if it gets worse.",
             False),
    FlagInfo(RedFlag.SNAP_OR_TEAR, "injury", "a snap or tearing feeling with sudden pain",
             SEE_CLINICIAN + " Rest the area; if it swells or you cannot use it, be seen "
             "today.", False),
    FlagInfo(RedFlag.SUDDEN_SWELLING, "injury", "sudden swelling of a joint or muscle",
             SEE_CLINICIAN + " Rest the area; if it is hot and red or you feel unwell, be "
             "seen today.", False),
    FlagInfo(RedFlag.NEW_FUNCTIONAL_LOSS, "function",
             "something you could do before you now cannot (walk, climb stairs, lift the arm)",
             SEE_CLINICIAN, False),
    FlagInfo(RedFlag.PAIN_NOT_SETTLING, "pain",
             "pain that keeps rising or has not improved 48-72 hours after training",
             SEE_CLINICIAN + " Pain that does not settle within 48-72 hours needs a "
             "reassessment of the program, not more load.", False),
    FlagInfo(RedFlag.OTHER, "other", "something else that worries you", SEE_CLINICIAN, False),
)
INFO: dict[RedFlag, FlagInfo] = {f.kind: f for f in _TABLE}
# What a person may report at a check-in (the rest are raised by the rules).
REPORTABLE = tuple(f.kind for f in _TABLE)


def info(kind: RedFlag) -> FlagInfo:
    return INFO[kind]


def advice_for(kinds: list[RedFlag]) -> str:
    """The most urgent advice among the flags (urgent care before a clinician's visit)."""
    if not kinds:
        return SEE_CLINICIAN
    return sorted((INFO[k] for k in kinds), key=lambda f: not f.urgent)[0].advice


def describe(kinds: list[RedFlag]) -> str:
    return "; ".join(INFO[k].label for k in kinds) or "a red flag"


def menu() -> list[dict[str, str]]:
    """The choices a surface shows for "which red flag?"."""
    return [{"kind": f.kind.value, "group": f.group, "label": f.label} for f in _TABLE]


def where_asked(checkin: str) -> str:
    """A check-in's question id in plain words ("pain:seated row" -> "the pain check-in after
    seated row")."""
    fixed = {"pre:pain_since_last": "the check-in before the session",
             "checkin:pain_since_last": "the next-morning check-in",
             "pain:session": "the end-of-session check-in",
             "continue_after_stop": "the question after a STOP",
             "resume_after_link_loss": "the question after the link was lost",
             "confidence": "the confidence question", "capable": "the end-of-session question",
             "panel": "the panel", "session": "a session",
             "pain since last session": "the check-ins after training"}
    if checkin in fixed:
        return fixed[checkin]
    if checkin.startswith("pain:"):
        return f"the pain check-in after {checkin.removeprefix('pain:')}"
    if checkin.startswith("rir:"):
        name, _, k = checkin.removeprefix("rir:").rpartition(":")
        return f"the question after set {k} of {name}"
    return checkin


def pause_line(pause: dict) -> str:
    """The one wording of a pause (a Pause.as_dict()), for the terminal, plan next and show."""
    return (f"PAUSED since {pause.get('date')}: red flag ({pause.get('what', 'a red flag')}), "
            f"reported at {pause.get('where', 'a check-in')}.")
