"""Rest and re-arming: the rest between sets (the set's question asked meanwhile; "ready" on a
surface skips the rest of it, a STOP cuts it short, a red flag ends it at once), the shorter
rest after a warm-up, and waiting for the person to take up the handles (from the dock after a
STOP or a refused load) before any load comes back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import structlog

from controller.core.handles import wait_docked, wait_handles_up
from controller.core.session.state import RedFlagRaised
from controller.planning import questions
from controller.planning.planner import ExercisePlan
from firmware_bridge.client import DeviceClient
from firmware_bridge.messages import Telemetry

if TYPE_CHECKING:
    from controller.core.session.runner import SessionRunner

log = structlog.get_logger("controller.core.session")

WARMUP_REST_S = 60  # after the warm-up set, before the first working set (at most)


class Rests:
    """The time between sets, and the person getting ready for the next one."""

    def __init__(self, runner: SessionRunner):
        self.r = runner
        self._ready: asyncio.Event | None = None  # set by end_rest(): the person is ready

    async def rest(self, seconds: float, question: questions.Question | None) -> Any:
        """The rest between sets, with the set's question asked meanwhile (unanswered by the
        end of the rest: skipped); a STOP cuts it short, a red flag ends it at once."""
        r = self.r
        item, _, planned = r._upcoming  # type: ignore[misc]
        r.io.say(f"  rest {seconds} s")
        r.set_state(phase="rest", rest_until=time.time() + seconds / _speed(),
                    next_kg=r.choices.load_for(item, planned),
                    next_max_kg=r.choices.next_range(item, planned)[1], reason=None,
                    step=item.kind, mode=r.choices.mode_for(item))
        self._ready = asyncio.Event()
        rest = asyncio.ensure_future(_first(r.sleep(seconds), self._ready.wait()))
        woke = asyncio.ensure_future(r.signals.wake.wait())
        ask = asyncio.ensure_future(r.checkins.ask(question) if question is not None
                                    else asyncio.Event().wait())
        try:
            await asyncio.wait({rest, woke, ask}, return_when=asyncio.FIRST_COMPLETED)
            if ask.done() and not (rest.done() or woke.done()):
                if isinstance(ask.exception(), RedFlagRaised):
                    raise ask.exception()  # type: ignore[misc]
                await asyncio.wait({rest, woke}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (rest, woke):
                t.cancel()
            if not ask.done() and (question is None or not getattr(r.io, "committed", False)):
                ask.cancel()  # unanswered by the end of the rest: skipped
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ask
        if not ask.done():  # a red flag is being given: it stands, whatever the rest does
            return await ask
        return None if ask.cancelled() else ask.result()

    async def after_warmup(self, item: ExercisePlan) -> None:
        """WARMUP-1's rest: the exercise's rest, at most WARMUP_REST_S, nothing asked."""
        await self.rest(min(item.rest_s, WARMUP_REST_S), None)

    def end_rest(self, source: str) -> dict[str, Any]:
        """"Ready" on a surface: the rest ends now and the next set is armed (its load comes
        only when the handles are taken up, as after any rest)."""
        if self.r.state.phase != "rest" or self._ready is None or self._ready.is_set():
            return {"ok": False, "reason": "no rest is running"}
        self._ready.set()
        log.info("rest_ended", source=source)
        return {"ok": True}

    async def take_up(self, q: asyncio.Queue, dev: DeviceClient) -> None:
        """Wait for the person to take up the handles, on fresh samples only; after a STOP or
        a refused load, from the dock: docked first, then taken up again."""
        r, signals = self.r, self.r.signals

        def fresh() -> Awaitable[Telemetry]:
            return r.feed.fresh_next(q, dev)

        if signals.need_dock:
            since = signals.dock_after_us
            if dev.docked_at_us is None or (since is not None and dev.docked_at_us <= since):
                r.set_state(reason="put the handles back in the dock, then take them up "
                                   "again to go on")
                await wait_docked(fresh)
                r.set_state(reason=None)
            signals.need_dock = False
        await wait_handles_up(fresh)


async def _first(*waits: Any) -> None:
    """Until the first of these is done (the others cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def _speed() -> float:
    """How much faster than the wall clock the loop runs (the warped simulator loop)."""
    speed = getattr(asyncio.get_running_loop(), "speed", 1.0)
    return speed if speed > 0 else float("inf")
