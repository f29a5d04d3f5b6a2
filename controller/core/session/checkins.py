"""Check-ins: every question the session asks goes through `ask` (the answer recorded by id, a
red flag at any question raised as RedFlagRaised), the 24-48 h check before a session, and the
check-ins, red flags and all-clears a surface may give outside a question."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import structlog

from controller.core.session.state import Interrupted, RedFlagRaised
from controller.planning import questions
from controller.planning.plan_updates import (
    apply_since_last,
    record_after,
    record_clearance,
    record_red_flag,
)
from controller.planning.planner import pause_state

if TYPE_CHECKING:
    from controller.core.session.runner import SessionRunner

log = structlog.get_logger("controller.core.session")


class CheckIns:
    """The questions of one session, and what a surface may record meanwhile."""

    def __init__(self, runner: SessionRunner):
        self.r = runner
        self.early_answers: list[tuple[str, Any, str | None]] = []  # before the session row

    async def ask(self, q: questions.Question) -> Any:
        """Every question goes through here: the answer is recorded by id; a red flag, at any
        question, raises RedFlagRaised."""
        r, signals = self.r, self.r.signals
        if signals.pending_flag is not None:
            raise signals.pending_flag
        if signals.interrupted is not None:
            raise Interrupted(signals.interrupted)
        r.bus.emit("state", session=r.session_id or None,
                   **{**asdict(r.state), "question": q.id})
        try:
            answer = await r.io.ask(q)
        except asyncio.CancelledError:
            if signals.pending_flag is not None and not _cancelling():
                raise signals.pending_flag from None
            if signals.interrupted is not None and not _cancelling():
                raise Interrupted(signals.interrupted) from None
            raise
        flag = answer.kind.value if isinstance(answer, questions.Flag) else None
        if r.session_id:
            r.history.record_answer(r.session_id, q.id, answer, flag)
        else:
            self.early_answers = [*self.early_answers, (q.id, answer, flag)]
        log.info("answer", question=q.id, answer=str(answer) if flag else answer)
        if isinstance(answer, questions.Flag):
            raise RedFlagRaised(answer.kind, q.id)
        return answer

    def record_early(self) -> None:
        """The answers given before the session had its row, recorded on it."""
        for qid, answer, flag in self.early_answers:
            self.r.history.record_answer(self.r.session_id, qid, answer, flag)
        self.early_answers.clear()

    async def pre_session(self) -> None:
        """The 24-48 h rule: how the painful region was since the last session, stored on that
        session; the prescription is made again from it (reduced, or paused)."""
        r = self.r
        if not r.plan.history:
            return
        r.set_state(phase="paused", reason="check-in before the session")
        answer = await self.ask(questions.since_last(r.plan.profile.painful_regions))
        r.replace_plan(record_after(r.plan, answer, r.today, "pre-session"))
        pause = pause_state(r.plan, r.today)
        if pause is not None:  # raised again 48 h or more after: the 48-72 h red flag
            raise RedFlagRaised(pause.kinds[-1], questions.PRE_PAIN)
        if answer == "raised":
            r.io.say("Pain not settled since the last session: today is lighter where it "
                     "hurts (24-48 h rule).")
        elif answer == "soreness":
            r.io.say("Muscle soreness 1-3 days after training is expected: loads as "
                     "planned.")

    # ---- what surfaces may record between sessions -------------------------------------------

    def report_since_last(self, raw: object, source: str) -> dict[str, Any]:
        """The next-morning check-in from a surface (the panel): same question, same rules as
        `halfstep checkin`. Refused while a session is under way (it asks its own)."""
        r = self.r
        if r.state.phase not in ("idle",) or r.io_busy():
            raise questions.AnswerError("a session is under way: it asks this itself",
                                        "after the session")
        q = questions.since_last(r.plan.profile.painful_regions, checkin=True)
        answer = q.parse(raw)
        if answer is None:
            raise questions.AnswerError("an answer is needed", q.allowed())
        r.replace_plan(apply_since_last(r.plan, answer, r.today, "checkin", q.id))
        flag = answer.kind.value if isinstance(answer, questions.Flag) else None
        r.history.record_answer(r.session_id or None, q.id, answer, flag)
        if r.state.program == "paused":
            r.supervisor.event("red_flag", f"red flag at {q.id} from {source}",
                               red_flag=(r.state.pause or {}).get("red_flags"),
                               checkin=q.id)
        return {"answer": str(answer) if flag else answer, "program": r.state.program,
                "pause": r.state.pause}

    async def red_flag_now(self, raw: object, source: str,
                           qid: str | None = None) -> dict[str, Any]:
        """A red flag from a surface outside any question (the panel's card after its question
        was gone, mid-set, in a rest): the load comes off now and the session ends at its next
        step, asking nothing more; between sessions it is recorded and pauses the program."""
        r = self.r
        flag = questions.as_flag(raw) if isinstance(raw, str) else None
        if flag is None:
            raise questions.AnswerError(f"{raw!r} is not a red flag",
                                        "red_flag:<kind> (see /api/state's prompt red_flags)")
        where = qid[:100] if qid else source  # the question it answered, when there was one
        if r.state.phase == "idle" and not r.io_busy():
            r.replace_plan(record_red_flag(r.plan, flag.kind, where, r.today))
            r.history.record_answer(r.session_id or None, where, None, flag.kind.value)
            r.supervisor.event("red_flag", f"red flag from {source}",
                               red_flag=flag.kind.value, checkin=where)
            return {"program": r.state.program, "pause": r.state.pause}
        r.signals.pending_flag = RedFlagRaised(flag.kind, where)
        r.signals.wake.set()
        if getattr(r.io, "prompt", None) is not None:
            r.io.close()  # the question on screen ends: the flag answers it
        result = await r.stop(f"red flag from {source}")
        return {"program": "paused", "stop": result}

    def clear_red_flag(self, by: str, day: dt.date | None, source: str) -> dict[str, Any]:
        """A clinician's all-clear (ClearanceError when it cannot be recorded)."""
        r = self.r
        r.replace_plan(record_clearance(r.plan, by, day or r.today, r.today))
        r.supervisor.event("red_flag_cleared", f"all-clear by {by.strip()} recorded from "
                           f"{source}", by=by.strip())
        return {"program": r.state.program, "today": r.rx.as_dict()}


def _cancelling() -> bool:
    """Whether this task itself is being cancelled (not just the future it awaited)."""
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())
