"""The panel's home-screen routes under `halfstep serve`: who is training, Start, Home and
adding a person.

They call `Home` (home.py); under `halfstep run` there is no home and they say so (409).
"""

from __future__ import annotations

import inspect
from typing import Any

from aiohttp import web

from controller.surfaces.panel.bodies import NewPerson, PersonChoice, dumps, error, read_body
from controller.surfaces.panel.home import Home

__all__ = ["HomeRoutes"]


class HomeRoutes:
    """The home screen's handlers of `Panel` (a mixin: the state is the panel's own)."""

    home: Home | None

    def _no_home(self) -> web.Response:
        return error(409, "this panel belongs to one session (halfstep run): people, Start "
                          "and the summary come with halfstep serve")

    async def _home(self, request: web.Request) -> web.Response:
        if self.home is None:
            return web.json_response({"serve": False})
        return web.json_response(self.home.snapshot(), dumps=dumps)

    async def _home_call(self, call: Any) -> web.Response:
        from controller.surfaces.panel.home import HomeError

        if self.home is None:
            return self._no_home()
        try:
            result = call()
            if inspect.isawaitable(result):
                result = await result
        except HomeError as e:
            return error(e.status, e.reason, field=e.field)
        return web.json_response(result, dumps=dumps)

    async def _person(self, request: web.Request) -> web.Response:
        body = await read_body(request, PersonChoice)
        if isinstance(body, web.Response):
            return body
        return await self._home_call(lambda: self.home.select(body.id))  # type: ignore[union-attr]

    async def _start(self, request: web.Request) -> web.Response:
        """Start today's session for the person on screen (behind the PIN off the loopback,
        like every load: the motor is started from the unit, by its people)."""
        return await self._home_call(lambda: self.home.start())  # type: ignore[union-attr]

    async def _go_home(self, request: web.Request) -> web.Response:
        return await self._home_call(lambda: self.home.go_home())  # type: ignore[union-attr]

    async def _add_person(self, request: web.Request) -> web.Response:
        body = await read_body(request, NewPerson)
        if isinstance(body, web.Response):
            return body
        return await self._home_call(lambda: self.home.add_person(  # type: ignore[union-attr]
            body.name, body.kind, body.painful, body.sessions_per_week))
