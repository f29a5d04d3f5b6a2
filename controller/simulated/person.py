"""A simulated person for the simulated unit: lifts as the panel tells them, answers every
question the way a person would, through the same parser as the terminal and the panel.

The body (sim/body.py) holds the truth: strength per exercise, how much the painful tissue
tolerates, pain. The lifter (sim/lifter.py) does the reps against the unit's motor. What the
person *says* is rougher than the truth: reps in reserve are guessed with an error of 1-2 reps,
test sets are stopped where they feel 2-3 reps are left, pain is a whole number.
"""

from __future__ import annotations

import random
from typing import Any

from controller.planning import questions
from controller.planning.assessment import mvt_for
from controller.planning.models import PlanFile
from sim.body import Body
from sim.lifter import RECOVERY_TAU_S

RIR_ERROR_SD = 1.3  # reps: people misjudge reps in reserve by 1-2 (more when far from failure)


class SimPerson:
    """One person: `brief` before each set (what the panel shows), `answer` for questions."""

    def __init__(self, plan: PlanFile, seed: int, rir_error_sd: float = RIR_ERROR_SD,
                 rest_scale: float = 1.0, brisk: bool = False):
        self.exercises = {e.name: e for e in plan.program.exercises}
        self.body = Body.create(plan.profile.kind.value,
                                [(e.name, e.region == "lower" and e.multi_joint)
                                 for e in plan.program.exercises], seed)
        self.rng = random.Random(f"person-{seed}")
        self.rir_error_sd = rir_error_sd
        self.rest_scale = rest_scale  # rests (and recovery in them) compressed this many times
        self.brisk = brisk
        self.lifter: Any = None
        self.loads: dict[str, float] = {}  # heaviest load per exercise today
        self.tested: set[str] = set()  # exercises done as test sets today
        self.sets: dict[str, int] = {}
        self.pains: dict[str, int] = {}
        self.settled: bool | None = None  # after the last session
        self.max_fraction = 0.0  # the heaviest set of all, as a fraction of true 1RM

    # ---- at the unit ------------------------------------------------------------------------

    def brief(self, dev: Any, item: Any, load: float) -> None:
        """Before a set: the person reads the load and the reps, and lifts with their body's
        strength today; on a test set they plan to stop with about 2-3 reps left."""
        unit = getattr(dev.transport, "sim_unit", None)
        if unit is None:
            return
        lifter = self.lifter = unit.lifter
        name = item.exercise
        lifter.profile.one_rm_kg = self.body.one_rm[name]
        lifter.profile.mvt_m_s = item.mvt_m_s or mvt_for(self.exercises[name])
        lifter.rest_s = float(item.rest_s) / self.rest_scale
        lifter.profile.recovery_tau_s = RECOVERY_TAU_S / self.rest_scale
        lifter.profile.partial_prob = 0.01  # coached, practised movements
        if self.brisk:  # trials: lowering and pauses take less time (velocities unchanged)
            lifter.profile.eccentric_m_s = max(lifter.profile.eccentric_m_s, 1.6)
            lifter.profile.pause_prob = 0.02
        self.loads[name] = max(load, self.loads.get(name, 0.0))
        self.sets[name] = self.sets.get(name, 0) + 1
        self.max_fraction = max(self.max_fraction, load / self.body.one_rm[name])
        if item.kind == "assessment":
            self.tested.add(name)
            feel = lifter.reps_possible(load) - self.rng.choice((2, 3)) \
                + self.rng.gauss(0, self.rir_error_sd)
            lifter.set_reps = (max(1, min(10, round(feel))),)
        else:
            lifter.set_reps = (item.target_reps,)

    # ---- the questions ----------------------------------------------------------------------

    def answer(self, q: questions.Question) -> Any:
        """What this person would type or tap (a raw answer, parsed like anyone's)."""
        qid = q.id
        if qid.startswith("rir:"):
            truth = None if self.lifter is None else self.lifter.reps_in_reserve()
            if truth is None:
                return ""
            guess = round(truth + self.rng.gauss(0, self.rir_error_sd))
            return "5+" if guess >= 5 else str(max(0, guess))
        if qid == questions.SESSION_PAIN:
            return str(max(self.pains.values(), default=round(self.body.baseline_pain)))
        if qid.startswith("pain:"):
            name = qid.removeprefix("pain:")
            pain = self.body.pain_during(name, self.loads.get(name, 0.0),
                                         brief=name in self.tested)
            self.pains[name] = pain
            return str(pain)
        if qid in (questions.PRE_PAIN, questions.CHECKIN_PAIN):
            return "settled" if self.settled in (None, True) else "raised"
        if qid in (questions.CONTINUE, questions.RESUME, questions.CAPABLE):
            return "yes"
        if qid == questions.TOO_SOON:
            return "no"  # a sensible person rests when told the last session was too recent
        if qid == questions.CONFIDENCE:
            return str(min(10, 5 + self.body.sessions // 6))
        return ""

    # ---- between sessions -------------------------------------------------------------------

    def session_over(self) -> None:
        """After a session: the body adapts to what was lifted; pain settles or not."""
        worst = max(self.pains.values(), default=0)
        self.settled = self.body.settled(worst)
        self.body.trained(dict(self.loads), dict(self.sets))
        self.loads, self.sets, self.pains, self.tested = {}, {}, {}, set()


class PersonIO:
    """The runner's person: every question answered by the simulated person, parsed by
    `Question.parse` exactly as a terminal line or a panel tap is."""

    def __init__(self, person: SimPerson):
        self.person = person
        self.lines: list[str] = []
        self.asked: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    async def ask(self, q: questions.Question) -> Any:
        self.asked.append(q.id)
        return q.parse(self.person.answer(q))
