"""The panel's session controls: STOP, the next load and mode, Ready, answers, the check-in,
a red flag and a clinician's all-clear.

Every handler here changes the session through the runner, with the same rules and messages
as the terminal and MQTT; each body is read strictly (`bodies.read_body`) first.
"""

from __future__ import annotations

from aiohttp import web

from controller.core import load_modes
from controller.core.inputs import load_kg
from controller.core.safety import SafetyRefusal
from controller.core.session import SessionRunner
from controller.planning import questions
from controller.planning.plan_updates import ClearanceError
from controller.surfaces.panel.answers import AnswerError, PersonIO
from controller.surfaces.panel.bodies import (
    Answer,
    CheckinAnswer,
    ClearRequest,
    ModeChoice,
    NextLoad,
    RedFlagBody,
    dumps,
    error,
    parse_date,
    read_body,
)
from firmware_bridge.loads import LoadError

__all__ = ["SessionRoutes"]


class SessionRoutes:
    """The session's action handlers of `Panel` (a mixin: the state is the panel's own)."""

    runner: SessionRunner
    io: PersonIO

    async def _stop(self, request: web.Request) -> web.Response:
        result = await self.runner.stop("panel")
        return web.json_response({"ok": True, **result})

    async def _mode(self, request: web.Request) -> web.Response:
        """The next set's load mode, between sets, through the same gate as a load."""
        body = await read_body(request, ModeChoice)
        if isinstance(body, web.Response):
            return body
        if body.mode not in load_modes.MODES:
            return error(400, f"{body.mode!r} is not a load mode", field="mode",
                         allowed=", ".join(load_modes.MODES))
        try:
            value = self.runner.set_next_mode(body.mode, "panel")
        except SafetyRefusal as e:
            return error(409, e.cause, field="mode", allowed=e.allowed)
        return web.json_response({"ok": True, "mode": value})

    async def _ready(self, request: web.Request) -> web.Response:
        """"Ready" during a rest: the next set now."""
        got = self.runner.end_rest("panel")
        if not got["ok"]:
            return error(409, got["reason"])
        return web.json_response({"ok": True})

    async def _next_load(self, request: web.Request) -> web.Response:
        """The next set's load, judged on the text that was sent (`load_kg`, the rule the CLI
        and MQTT apply, with their message): `true`, `1_0`, `1e1` or 12.4999999999999999 are
        refused here, before the session sees a number; the plan's cap is the session's."""
        body = await read_body(request, NextLoad, numbers_as_text=True)
        if isinstance(body, web.Response):
            return body
        try:
            kg = load_kg(body.kg)
        except LoadError as e:
            return error(400, str(e), field="kg",
                         allowed="a plain decimal number of kg on the 0.5 kg grid, e.g. 12.5")
        try:
            value = self.runner.set_next_load(kg, "panel")
        except SafetyRefusal as e:  # off the grid, above the cap, mid-set, ...
            return error(409, e.cause, field="kg", allowed=e.allowed)
        return web.json_response({"ok": True, "next_kg": value})

    async def _checkin_q(self, request: web.Request) -> web.Response:
        q = questions.since_last(self.runner.plan.profile.painful_regions, checkin=True)
        # Asked about the last session: open once there is one, and no session asks its own.
        return web.json_response({"question": q.as_dict(), "open": self.runner.state.phase ==
                                  "idle" and not self.runner.io_busy()
                                  and bool(self.runner.plan.history)}, dumps=dumps)

    async def _checkin(self, request: web.Request) -> web.Response:
        """The next-morning check-in: the same question and rules as `halfstep checkin`."""
        body = await read_body(request, CheckinAnswer)
        if isinstance(body, web.Response):
            return body
        try:
            result = self.runner.report_since_last(body.value, "panel")
        except AnswerError as e:
            return error(400, e.reason, field="value", allowed=e.allowed)
        return web.json_response({"ok": True, **result}, dumps=dumps)

    async def _red_flag(self, request: web.Request) -> web.Response:
        """A red flag outside any question (its question was gone before Save): it stops the
        set and ends the session all the same."""
        body = await read_body(request, RedFlagBody)
        if isinstance(body, web.Response):
            return body
        try:
            result = await self.runner.red_flag_now(body.value, "panel", body.qid)
        except AnswerError as e:
            return error(400, e.reason, field="value", allowed=e.allowed)
        return web.json_response({"ok": True, **result}, dumps=dumps)

    async def _clear(self, request: web.Request) -> web.Response:
        """A clinician's all-clear after a red flag (behind the PIN off the loopback)."""
        body = await read_body(request, ClearRequest)
        if isinstance(body, web.Response):
            return body
        if not body.confirm:
            return error(400, "confirm that a clinician gave the all-clear", field="confirm",
                         allowed="true")
        try:
            day = None if body.date in (None, "") else parse_date(body.date)
        except ValueError as e:
            return error(400, str(e), field="date", allowed="a date like 2026-11-30")
        try:
            result = self.runner.clear_red_flag(body.by, day, "panel")
        except ClearanceError as e:
            return error(409, str(e), field="by" if "who gave" in str(e) else "date")
        return web.json_response({"ok": True, **result}, dumps=dumps)

    async def _answer(self, request: web.Request) -> web.Response:
        body = await read_body(request, Answer)
        if isinstance(body, web.Response):
            return body
        try:
            value = self.io.answer(body.prompt, body.value)
        except AnswerError as e:
            return error(400, e.reason, field="value", allowed=e.allowed)
        return web.json_response({"ok": True, "value": value}, dumps=dumps)
