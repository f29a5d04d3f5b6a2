"""Reconnecting: the link to the unit opened and closed; a link lost during a set (the set so
far kept, reconnected with backoff, the person asked whether to go on); and a unit that refused
a load as not ready or went quiet before it (a fresh HELLO, the person arms again from the
dock)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import structlog

from controller.core.history import SetRecord
from controller.core.session.state import LinkLost
from controller.planning import questions
from controller.planning.planner import ExercisePlan
from firmware_bridge.client import CommandRejected, CommandTimeout
from firmware_bridge.transports.base import LinkClosed, LinkError

if TYPE_CHECKING:
    from controller.core.session.runner import SessionRunner

log = structlog.get_logger("controller.core.session")

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


class Connection:
    """The runner's link to the unit (`runner.dev`), kept or brought back."""

    def __init__(self, runner: SessionRunner):
        self.r = runner

    async def open(self) -> None:
        r = self.r
        dev = r.connect()
        await dev.__aenter__()
        r.dev = dev
        info = dev.info
        assert info is not None
        r.bus.emit("unit", url=dev.url, serial=info.serial,
                   firmware=info.firmware_version, cable_count=info.cable_count,
                   modes=info.modes,
                   max_kg=min(r.plan.program.unit_max_kg, info.max_load_half_kg / 2))
        r.set_state(link="ok", reason=None)

    async def close(self) -> None:
        if self.r.dev is not None:
            with contextlib.suppress(Exception):
                await self.r.dev.__aexit__(None, None, None)
            self.r.dev = None

    async def reconnect(self) -> None:
        await self.close()
        for attempt, delay in enumerate(BACKOFF_S * 3, 1):
            self.r.io.say(f"  link lost: reconnecting (attempt {attempt})")
            await self.r.sleep(delay)
            try:
                await self.open()
                self.r.supervisor.event("reconnected", f"link back after {attempt} attempt(s)")
                return
            except (LinkError, LinkClosed, CommandTimeout, OSError) as e:
                log.warning("reconnect_failed", attempt=attempt, error=str(e))
        raise LinkLost("the unit could not be reached again")

    async def set_with_reconnect(self, item: ExercisePlan, k: int, load: float) -> SetRecord:
        r = self.r
        try:
            return await r.set_loop.run(item, k, load)
        except (LinkClosed, LinkLost, CommandTimeout) as e:
            assert r.set_loop.partial is not None
            record = r.set_loop.partial("link lost")
            r.supervisor.applied_kg = 0.0
            r.supervisor.disarm(f"link lost during the set: {e}")
            r.supervisor.event("link_lost", str(e), exercise=item.exercise, set_index=k)
            r.history.record_set(r.session_id, record)
            r.set_loop.emit_set(record)
            r.set_state(phase="fault", link="lost", applied_kg=0.0,
                        reason=f"link lost: {e}")
            n = record.full_reps
            kept = "no reps were done yet" if n == 0 else (
                "the 1 rep done is kept" if n == 1 else f"the {n} reps done are kept")
            r.io.say(f"  the link was lost: {kept}; "
                     "let the handles down slowly (some units keep the weight on until "
                     "they are reached again and stopped)")
            await self.reconnect()
            if not await r.checkins.ask(questions.resume_after_link_loss()):
                raise
            return record

    async def rearm(self, why: Exception, item: ExercisePlan, k: int) -> None:
        """Before any load, the unit refused it as not ready, or went quiet (its lease ran out
        while this controller was held up): a safety event, a fresh HELLO, and the person
        arms again from the dock. A unit that cannot be reached is a lost link."""
        r = self.r
        refused = isinstance(why, CommandRejected)
        r.supervisor.applied_kg = 0.0
        r.supervisor.disarm(f"arming again: {why}", report=False)
        r.supervisor.event("load_refused" if refused else "rearm",
                           f"{why}: connecting again (HELLO); the person arms again from "
                           "the dock", exercise=item.exercise, set_index=k)
        r.io.say(f"  the unit was not ready for the load ({why}): connecting again; put "
                 "the handles back, then take them up again")
        await self.close()
        try:
            await self.open()
        except (LinkError, CommandTimeout, OSError) as e:
            raise LinkLost(f"the unit could not be reached again: {e}") from e
        # A dock seen on the new link.
        r.signals.need_dock, r.signals.dock_after_us = True, None
