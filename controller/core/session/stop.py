"""The STOP sequence: what happens on STOP from any surface, on Ctrl-C, at the end of every set
and at a red flag. The load comes off (sent, retried, confirmed from telemetry), the sets done
are kept, the session is recorded as it ended; after a STOP the person is asked whether to go
on, and the load comes back only from the dock."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from controller.core.session.state import (
    Interrupted,
    LinkLost,
    RedFlagRaised,
    SessionResult,
)
from controller.core.session.telemetry import STOP_MARK, put_latest
from controller.planning import questions, red_flags
from firmware_bridge.client import CommandTimeout, DeviceError
from firmware_bridge.transports.base import LinkClosed, LinkError

if TYPE_CHECKING:
    from controller.core.session.runner import SessionRunner

INTERRUPT_STOP_S = 1.0  # Ctrl-C: how long STOP has to be confirmed


class Stops:
    """STOP, one sequence at a time, and how a stopped session ends."""

    def __init__(self, runner: SessionRunner):
        self.r = runner
        self._stopping: asyncio.Future | None = None

    async def stop(self, source: str) -> dict[str, Any]:
        """STOP from any surface: the load comes off now (sent, retried, confirmed from
        telemetry), the set in progress ends with its reps kept, and the session waits for the
        person at the unit before the next set."""
        r, signals = self.r, self.r.signals
        r.supervisor.event("stop", f"STOP from {source}", source=source)
        signals.stop_from = source
        signals.need_dock = True  # the load returns only from the dock, taken up again
        signals.dock_after_us = r.dev.last_unit_us if r.dev is not None else None
        r.supervisor.disarm(f"STOP from {source}", report=False)
        if signals.q is not None:
            put_latest(signals.q, STOP_MARK)
        if r.dev is None:
            return {"confirmed": False, "applied_kg": 0.0,
                    "detail": "no link to the unit: it unloads by itself when its lease runs out"}
        try:
            await self.confirmed()
        except LinkLost:  # before LinkClosed: it is one
            return {"confirmed": False, "applied_kg": 0.0,
                    "detail": "STOP not confirmed after 3 attempts: the unit unloads by itself "
                              "when its lease runs out"}
        except (LinkError, LinkClosed, DeviceError, OSError) as e:
            return {"confirmed": False, "applied_kg": 0.0,
                    "detail": f"the link is down ({e}): the unit unloads by itself when its "
                              "lease runs out"}
        return {"confirmed": True, "applied_kg": 0.0}

    async def interrupt(self, source: str) -> None:
        """Ctrl-C: STOP now (confirmed within about a second), the set in progress ends with
        its reps kept, and the session ends as interrupted at its next step (saved, the plan
        updated)."""
        r = self.r
        r.signals.interrupted = source
        r.signals.wake.set()
        if getattr(r.io, "prompt", None) is not None:
            r.io.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(r.stop(source), INTERRUPT_STOP_S)

    async def confirmed(self) -> None:
        """STOP, retried until telemetry confirms the load is off (the end of every set, and
        STOP from any surface); LinkLost when it cannot be confirmed. One at a time: a STOP
        from the panel mid-set and the set's own end share the same sequence."""
        if self._stopping is None or self._stopping.done():
            self._stopping = asyncio.ensure_future(self._sequence())
        await asyncio.shield(self._stopping)

    async def _sequence(self) -> None:
        r = self.r
        assert r.dev is not None
        for attempt in range(3):
            try:
                await r.dev.stop(confirm=True)
                break
            except CommandTimeout as e:
                r.supervisor.event("stop_retry", str(e), attempt=attempt + 1)
        else:
            raise LinkLost("STOP could not be confirmed")
        r.supervisor.applied_kg = 0.0
        r.supervisor.disarm("set finished", report=False)
        if r.state.applied_kg:
            r.set_state(applied_kg=0.0)

    async def go_on_after_stop(self) -> bool:
        """Before a set: a red flag or Ctrl-C given meanwhile ends the session; after a STOP,
        the person is asked whether to go on."""
        r, signals = self.r, self.r.signals
        if signals.pending_flag is not None:
            raise signals.pending_flag
        if signals.interrupted is not None:
            raise Interrupted(signals.interrupted)
        if signals.stop_from is None:
            return True
        source, signals.stop_from = signals.stop_from, None
        signals.wake.clear()
        r.set_state(phase="paused", reason=f"stopped from {source}", applied_kg=0.0)
        return bool(await r.checkins.ask(questions.continue_after_stop(source)))

    async def on_red_flag(self, flag: RedFlagRaised, result: SessionResult) -> None:
        """Unload at once, end the session as stopped: red flag, record which flag, pause the
        program; nothing more is asked."""
        r = self.r
        r.supervisor.disarm(f"red flag: {flag.kind.value}", report=False)
        if r.dev is not None:
            with contextlib.suppress(Exception):
                await self.confirmed()
        await r.connection.close()
        r.start_history()
        what = red_flags.info(flag.kind)
        r.supervisor.event("red_flag", f"red flag at {flag.checkin}: {what.label}",
                           red_flag=flag.kind.value, checkin=flag.checkin,
                           advice=what.advice)
        result.status = "stopped: red flag"
        result.red_flag = flag.kind
        pain = None  # a red-flagged session has no pain number (pain_by_exercise keeps theirs)
        r.history.finish_session(r.session_id, status=result.status, pain_during=pain,
                                 red_flags=[flag.kind.value],
                                 notes=f"red flag at {flag.checkin}")
        result.log = r.session_log(result.status, pain, flags=[flag.kind])
        r.commit_plan(result.log, flag)
        r.io.say(f"RED FLAG: {what.label}. The session is stopped and the load is off; "
                 f"the program is paused. {what.advice}")
        r.emit_session(result, result.status, pain=pain)

    def record_interrupted(self, result: SessionResult) -> None:
        """A session that ended early (Ctrl-C, a lost link, an error): recorded as stopped,
        with the sets done, which are the planner's too."""
        r = self.r
        pain = max(r.pains.values(), default=None)
        r.history.finish_session(r.session_id, status="stopped",
                                 pain_during=pain, red_flags=[], notes="interrupted")
        with contextlib.suppress(Exception):  # the sets done are the planner's too
            r.commit_plan(r.session_log("stopped", pain))
        r.emit_session(result, "stopped")
