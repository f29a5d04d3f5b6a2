"""Every question the product asks a person, by id, and the one parser of their answers.

The terminal, the panel, MQTT and an answers file (`halfstep run --answers FILE.json`) all
answer through `Question.parse`: a value, `None` for a skipped question, or a `Flag`. A red
flag is an answer of its own at every question (`red_flag:<kind>`, `!` at the terminal); it is
never turned into a number. Ids are documented in docs/planner.md ("Check-ins").
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.planning.models import RedFlag
from controller.planning.red_flags import REPORTABLE, info, menu

PRE_PAIN = "pre:pain_since_last"
CHECKIN_PAIN = "checkin:pain_since_last"
SESSION_PAIN = "pain:session"
CONTINUE = "continue_after_stop"
RESUME = "resume_after_link_loss"
CONFIDENCE = "confidence"
CAPABLE = "capable"
TOO_SOON = "too_soon"
SINCE_LAST = (("settled", "Settled: back to my usual by the next morning"),
              ("raised", "Still raised: worse than my usual"),
              ("soreness", "Only muscle soreness (normal 1-3 days after training)"))
_DIGITS = re.compile(r"[0-9]{1,3}")  # ASCII only: '1_0', '١٠' and '+3' are not numbers here
_FLAG_KINDS = ", ".join(k.value for k in REPORTABLE)


@dataclass(frozen=True)
class Flag:
    """A red flag given as the answer to a question."""

    kind: RedFlag

    def __str__(self) -> str:
        return f"red_flag:{self.kind.value}"


class AnswerError(ValueError):
    def __init__(self, reason: str, allowed: str):
        super().__init__(reason)
        self.reason, self.allowed = reason, allowed


@dataclass(frozen=True)
class Question:
    id: str
    kind: str  # pain | number | yes | choice
    text: str
    help: str = ""
    lo: int = 0
    hi: int = 10
    choices: tuple[tuple[str, str], ...] = ()
    skippable: bool = False
    labels: tuple[str, str] = ("", "")  # what the two ends of a scale mean
    open_top: bool = False  # the top of the scale means "that many or more" (5+)

    def as_dict(self) -> dict[str, Any]:
        return {"qid": self.id, "kind": self.kind, "question": self.text, "help": self.help,
                "lo": self.lo, "hi": self.hi, "skippable": self.skippable,
                "choices": [{"value": v, "label": t} for v, t in self.choices],
                "labels": list(self.labels), "open_top": self.open_top,
                "red_flags": menu()}

    def allowed(self) -> str:
        flag = f", or red_flag:<kind> ({_FLAG_KINDS})"
        skip = ", or nothing to skip" if self.skippable else ""
        if self.kind == "yes":
            return f"yes or no{skip}{flag}"
        if self.kind == "choice":
            return " or ".join(v for v, _ in self.choices) + skip + flag
        top = f" ({self.hi} means {self.hi} or more)" if self.open_top else ""
        return f"a whole number from {self.lo} to {self.hi}{top}{skip}{flag}"

    def parse(self, value: Any) -> Any:
        """A terminal line (str), a panel's or a file's JSON value: the answer, None when
        skipped, or a Flag. Anything else is an AnswerError saying what is allowed."""
        if isinstance(value, str):
            value = value.strip()
            flag = as_flag(value)
            if flag is not None:
                return flag
        if value is None or value == "":
            if self.skippable:
                return None
            raise AnswerError("an answer is needed", self.allowed())
        if self.kind == "yes":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("y", "yes", "n", "no"):
                return value.lower().startswith("y")
            raise AnswerError(f"{value!r} is not yes or no", self.allowed())
        if self.kind == "choice":
            if isinstance(value, str) and value.lower() in {v for v, _ in self.choices}:
                return value.lower()
            raise AnswerError(f"{value!r} is not one of the answers", self.allowed())
        if self.open_top and isinstance(value, str) and value.endswith("+"):
            value = value[:-1].strip()
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            value = int(value)
        if self.open_top and isinstance(value, int) and not isinstance(value, bool) and \
                self.hi < value <= 99:
            value = self.hi
        if isinstance(value, bool) or not isinstance(value, int) or \
                not self.lo <= value <= self.hi:
            raise AnswerError(f"{value!r} is not a whole number from {self.lo} to {self.hi}",
                              self.allowed())
        return value


def as_flag(text: str) -> Flag | None:
    """A red flag however it is written ('!', 'red flag', 'RED_FLAG:Chest pain', 'red-flag:');
    None when the text is not one. A kind that is not one raises AnswerError (never a
    number, never dropped: the person is asked again)."""
    low = "_".join(text.strip().lower().replace("-", " ").split())
    if low and set(low) == {"!"}:
        return Flag(RedFlag.OTHER)
    head, _, kind = low.partition(":")
    if head.strip("_") not in ("red_flag", "redflag"):
        return None
    kind = kind.strip("_")
    if not kind:
        return Flag(RedFlag.OTHER)
    if kind not in {k.value for k in REPORTABLE}:
        raise AnswerError(f"{kind!r} is not a kind of red flag", _FLAG_KINDS)
    return Flag(RedFlag(kind))


def show(answer: Any) -> str:
    """An answer as the terminal echoes it."""
    if isinstance(answer, Flag):
        return f"RED FLAG ({info(answer.kind).label})"
    if answer is None:
        return "skipped"
    if isinstance(answer, bool):
        return "yes" if answer else "no"
    return str(answer)


# ---- the questions ------------------------------------------------------------------------


def _where(painful: list[str]) -> str:
    return " and ".join(painful) if painful else "any painful area"


def since_last(painful: list[str], checkin: bool = False) -> Question:
    where = _where(painful)
    return Question(
        CHECKIN_PAIN if checkin else PRE_PAIN, "choice",
        f"Since your last session, how has your {where} been?",
        f"Settled: the pain ({where}) was back to your usual by the next morning. Muscles "
        "that feel sore 1-3 days after training are expected and fine: that is soreness, not "
        "pain, and it does not lower your loads.",
        choices=SINCE_LAST)


def pain(exercise: str) -> Question:
    return Question(f"pain:{exercise}", "pain", f"Pain during {exercise} (0-10)",
                    "0-3 is fine to train; 4-5 hold and tell us; over 5 stop this exercise.")


def session_pain() -> Question:
    return Question(SESSION_PAIN, "pain", "Pain during the session overall (0-10)",
                    "0-3 is fine to train; 4-5 hold and tell us; over 5 the next session "
                    "is lighter.")


def rir(exercise: str, set_index: int) -> Question:
    return Question(f"rir:{exercise}:{set_index}", "number",
                    f"Set {set_index} of {exercise}: how many more reps could you have done?",
                    "Reps in reserve: 0 if none, 5+ if five or more; skip if unsure.", 0, 5,
                    skippable=True, labels=("no more", "5 or more"), open_top=True)


def too_soon(soon: dict[str, Any]) -> Question:
    when = "today" if soon.get("hours") == 0 else "yesterday"
    return Question(TOO_SOON, "yes", f"Your last session was {when}; {soon.get('min_hours', 48)} "
                    "hours between sessions lets muscles and joints recover. Train anyway?",
                    "No: rest today and train tomorrow or later (recommended).")


def continue_after_stop(source: str) -> Question:
    return Question(CONTINUE, "yes", f"Stopped from {source}: the load is off. Continue with "
                    "the next set? The load comes back only when you take up the handles")


def resume_after_link_loss() -> Question:
    return Question(RESUME, "yes", "Resume the session? The load stays off until you take up "
                    "the handles again")


def confidence() -> Question:
    return Question(CONFIDENCE, "number", "How confident does moving feel (0-10)?", "", 0, 10,
                    skippable=True, labels=("not at all", "completely"))


def capable() -> Question:
    return Question(CAPABLE, "yes", "Do you feel more capable than a few weeks ago?",
                    skippable=True)


# ---- answers given in advance (--answers FILE.json) ----------------------------------------


MAX_SETS = 10  # more sets of one exercise than any prescription has


def question_for(qid: str, exercises: list[str]) -> Question | None:
    """The question an id names that `halfstep run` asks (to check an answer before the
    session), or None."""
    fixed = {PRE_PAIN: since_last([]), SESSION_PAIN: session_pain(),
             CONTINUE: continue_after_stop("a surface"), RESUME: resume_after_link_loss(),
             CONFIDENCE: confidence(), CAPABLE: capable(), TOO_SOON: too_soon({})}
    if qid in fixed:
        return fixed[qid]
    if qid.startswith("pain:") and qid.removeprefix("pain:") in exercises:
        return pain(qid.removeprefix("pain:"))
    if qid.startswith("rir:"):
        name, _, k = qid.removeprefix("rir:").rpartition(":")
        if name in exercises and _DIGITS.fullmatch(k) and 1 <= int(k) <= MAX_SETS:
            return rir(name, int(k))
    return None


@dataclass
class AnswerBook:
    """Answers by question id, checked against the plan's exercises when loaded."""

    answers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, exercises: list[str]) -> AnswerBook:
        """Raises AnswerError naming every unknown id and every bad answer."""
        def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in pairs]
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            if repeated:
                raise ValueError("an id is given twice: " + ", ".join(repeated))
            return dict(pairs)

        try:
            raw = json.loads(path.read_bytes(), object_pairs_hook=no_repeats)
        except OSError as e:
            raise AnswerError(f"{path}: {e.strerror or e}", "a readable JSON file") from None
        except (ValueError, RecursionError) as e:
            raise AnswerError(f"{path}: not JSON ({e})",
                              'a JSON object, e.g. {"pain:session": 2}') from None
        if not isinstance(raw, dict):
            raise AnswerError(f"{path}: not a JSON object of question ids to answers",
                              'a JSON object, e.g. {"pain:session": 2}')
        problems = []
        for qid, value in raw.items():
            q = question_for(qid, exercises)
            if q is None:
                problems.append(f"unknown question id {qid!r}")
                continue
            try:
                q.parse(value)
            except AnswerError as e:
                problems.append(f"{qid}: {e.reason} (allowed: {e.allowed})")
        if problems:
            raise AnswerError(f"{path}: " + "; ".join(problems),
                              "ids: " + ", ".join([PRE_PAIN, "pain:<exercise>", SESSION_PAIN,
                                                   "rir:<exercise>:<set>", CONTINUE, RESUME,
                                                   CONFIDENCE, CAPABLE, TOO_SOON]) +
                              " (exercises: " + ", ".join(exercises) + ")")
        return cls(raw)

    def get(self, qid: str) -> tuple[bool, Any]:
        return (qid in self.answers, self.answers.get(qid))

    def first_flag(self) -> tuple[str, Flag] | None:
        """A red flag anywhere in the answers: it is raised before anything is loaded, even
        if its question would never be asked (a red flag is never dropped)."""
        for qid, raw in self.answers.items():
            if isinstance(raw, str):
                with contextlib.suppress(AnswerError):
                    flag = as_flag(raw)
                    if flag is not None:
                        return qid, flag
        return None
