"""The device panel: a web page on the unit's touchscreen, served by aiohttp on the controller's
own event loop, driving the same session runner as the terminal.

Live data goes out over Server-Sent Events from bounded per-page queues (a slow page loses old
events, never holds up the session). Requests with a foreign Host or Origin are refused; on any
address but the loopback the panel asks for a PIN, which also locks starting the motor.

The server's wiring lives here: the route table, the Host/Origin/PIN middleware, the login and
the event stream. The handlers are grouped by what they serve, each group a mixin of `Panel`:
`routes_pages.py` (what the page reads), `routes_session.py` (the session's controls),
`routes_home.py` (the home screen); the PIN's rules are in `pin.py`, request bodies and error
answers in `bodies.py`. Names other modules import from here are re-exported.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import socket
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from aiohttp import web

from controller.core.control_core import to_loop
from controller.core.events import Event
from controller.core.session import SessionRunner
from controller.surfaces.panel.answers import PersonIO
from controller.surfaces.panel.bodies import Login, dumps, error, parse_date, read_body
from controller.surfaces.panel.home import Home
from controller.surfaces.panel.pin import (
    LOCKOUT_CAP_S,
    LOCKOUT_S,
    MAX_TRIES,
    PIN_RULE,
    SESSION_S,
    WRONG_PER_DAY,
    WRONG_PER_HOUR,
    PinGuard,
    Sessions,
    client_key,
    hash_pin,
    is_loopback,
    pin_matches,
    valid_pin,
)
from controller.surfaces.panel.routes_home import HomeRoutes
from controller.surfaces.panel.routes_pages import (
    REARM,
    STATIC,
    PageRoutes,
    progress_body,
    today_view,
)
from controller.surfaces.panel.routes_session import SessionRoutes

__all__ = ["COOKIE", "LOCKOUT_CAP_S", "LOCKOUT_S", "MAX_TRIES", "PIN_RULE", "QUEUE", "REARM",
           "SESSION_S", "STATIC", "WRONG_PER_DAY", "WRONG_PER_HOUR", "Panel", "PinGuard",
           "Sessions", "client_key", "hash_pin", "is_loopback", "parse_date", "pin_matches",
           "progress_body", "today_view", "valid_pin"]

log = structlog.get_logger("controller.surfaces.panel.app")

COOKIE = "halfstep_panel"
QUEUE = 500  # events waiting per open page


class Panel(PageRoutes, SessionRoutes, HomeRoutes):
    """The panel's server for one runner (a session, or `Home` under `halfstep serve`)."""

    def __init__(self, runner: SessionRunner, io: PersonIO, plan_path: Path | None, host: str,
                 port: int, pin: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic, home: Home | None = None):
        self.runner, self.io, self._plan_path = runner, io, plan_path
        self.home = home  # `halfstep serve`: people, Start and the summary
        self.host, self.port = host, port
        self.pin = pin
        self.sessions = Sessions(clock)
        self.guard = PinGuard(clock)
        self.unlocked = asyncio.Event()
        if pin is None:
            self.unlocked.set()
        self.pages: set[asyncio.Queue[str]] = set()
        self.safety: deque[dict[str, Any]] = deque(maxlen=50)
        self.unit: dict[str, Any] = {}
        self.last_rep: dict[str, Any] | None = None
        self._runner_app: web.AppRunner | None = None
        self._unsub: Any = None
        # Prompts and lines said go to the open pages, on this loop whichever thread says them
        # (the session runs on the control core's).
        io.on_change = to_loop(self._broadcast)
        self._progress_cache: tuple[tuple[str, int, int, str], bytes] | None = None
        self._pool: ProcessPoolExecutor | None = None  # progress charts, off this process

    @property
    def plan_path(self) -> Path | None:
        """The plan on screen: the current person's under `halfstep serve`."""
        return self.home.plan_path if self.home is not None else self._plan_path

    # ---- lifetime ----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._guard], client_max_size=16 * 1024)
        app.add_routes([
            web.get("/", self._index), web.static("/static", STATIC),
            web.get("/favicon.ico", _no_content),
            web.get("/api/state", self._state), web.get("/api/today", self._today),
            web.get("/api/progress", self._progress), web.get("/api/unit", self._unit),
            web.get("/api/events", self._events), web.post("/api/stop", self._stop),
            web.post("/api/next-load", self._next_load), web.post("/api/ready", self._ready),
            web.post("/api/answer", self._answer),
            web.post("/api/login", self._login), web.get("/api/checkin", self._checkin_q),
            web.post("/api/checkin", self._checkin), web.post("/api/clear", self._clear),
            web.post("/api/red-flag", self._red_flag),
            web.get("/api/home", self._home), web.post("/api/person", self._person),
            web.post("/api/start", self._start), web.post("/api/home", self._go_home),
            web.post("/api/people", self._add_person), web.post("/api/mode", self._mode),
        ])
        self._runner_app = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner_app.setup()
        site = web.TCPSite(self._runner_app, self.host, self.port, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._unsub = self.runner.bus.subscribe(self._offer)
        self.io.panel_up = True
        return f"http://{self.host}:{self.port}/"

    async def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._unsub is not None:
            self._unsub()
        for q in list(self.pages):
            _put(q, "event: bye\ndata: {}\n\n")
        if self._runner_app is not None:
            await self._runner_app.cleanup()

    # ---- events to the open pages ---------------------------------------------------------

    def _broadcast(self, kind: str, data: Any) -> None:
        msg = f"event: {kind}\ndata: {dumps(data)}\n\n"
        for q in list(self.pages):
            _put(q, msg)

    def _offer(self, e: Event) -> None:
        if e.kind == "telemetry":
            if not self.pages:
                return
            b = e.data["batch"]
            step = max(1, len(b.t_us) // 10)
            self._broadcast("curve", {
                "t": np.round(b.t_us[::step] / 1e6, 3).tolist(),
                "pos": np.round(b.position_mm[::step].mean(axis=1), 1).tolist(),
                "force": np.round(b.tension_n[::step].sum(axis=1), 1).tolist()})
            return
        if e.kind == "unit":
            self.unit = dict(e.data)
        elif e.kind == "safety":
            self.safety.appendleft({"at": e.at, **e.data})
        elif e.kind == "rep":
            self.last_rep = dict(e.data)
        self._broadcast(e.kind, {"at": e.at, **e.data})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
        await resp.prepare(request)
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE)
        self.pages.add(q)
        try:
            await resp.write(f"event: hello\ndata: {dumps(self._snapshot())}\n\n".encode())
            while True:
                try:
                    msg = await asyncio.wait_for(q.get(), 15)
                except TimeoutError:
                    msg = ": keep-alive\n\n"
                await resp.write(msg.encode())
                if msg.startswith("event: bye"):
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.pages.discard(q)
        return resp

    # ---- security ----------------------------------------------------------------------------

    def _hosts(self) -> set[str]:
        names = {self.host}
        if is_loopback(self.host):
            names |= {"localhost", "127.0.0.1", "[::1]"}
        elif self.host in ("0.0.0.0", "::", ""):
            names |= {socket.gethostname(), socket.gethostname() + ".local"}
        return {f"{n}:{self.port}" for n in names} | ({f"{n}" for n in names}
                                                       if self.port == 80 else set())

    def _host_ok(self, host: str) -> bool:
        if host in self._hosts():
            return True
        if self.host in ("0.0.0.0", "::", ""):  # any of this machine's addresses, by number
            name, _, port = host.rpartition(":")
            with contextlib.suppress(ValueError):
                ipaddress.ip_address(name.strip("[]"))
                return port == str(self.port)
        return False

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if not self._host_ok(host):
            return error(403, f"requests for host {host!r} are refused (the panel answers to "
                              f"http://{self.host}:{self.port} only)")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self._hosts()} and \
                not (self.host in ("0.0.0.0", "::") and origin == f"http://{host}"):
            return error(403, f"requests from {origin!r} are refused: only the panel's own "
                              "page may use it")
        if self.pin is not None and request.path.startswith("/api/") and \
                request.path != "/api/login" and \
                not self.sessions.valid(request.cookies.get(COOKIE)):
            return error(401, "enter the panel's PIN first", field="pin")
        return await handler(request)

    async def _login(self, request: web.Request) -> web.Response:
        """The PIN, against wrong guesses per client (PinGuard); the right one gives a cookie
        that lasts SESSION_S, readable by no script (HttpOnly) and sent by no other site."""
        body = await read_body(request, Login)
        if isinstance(body, web.Response):
            return body
        if self.pin is None:
            return web.json_response({"ok": True})
        client = client_key(request.remote)
        wait = self.guard.wait(client)
        if wait > 0:
            return error(429, f"too many wrong PINs: try again in {math.ceil(wait)} s",
                         field="pin", allowed="a browser already logged in keeps working")
        if not valid_pin(body.pin):
            return error(400, f"a PIN is {PIN_RULE}", field="pin", allowed=PIN_RULE)
        at = self.guard.admit(client)
        # scrypt is slow on purpose: hashed on a worker thread, this loop serves on meanwhile.
        if not await asyncio.to_thread(pin_matches, body.pin, self.pin):
            log.warning("panel_wrong_pin", client=client)
            return error(403, "wrong PIN", field="pin",
                         allowed=f"the PIN set at the first run ({PIN_RULE})")
        self.guard.passed(client, at)
        self.unlocked.set()
        resp = web.json_response({"ok": True})
        resp.set_cookie(COOKIE, self.sessions.new(), max_age=SESSION_S, path="/",
                        httponly=True, samesite="Strict")
        return resp


async def _no_content(request: web.Request) -> web.Response:
    """No icon (a coroutine: aiohttp deprecates plain functions as handlers)."""
    return web.Response(status=204)


def _put(q: asyncio.Queue[str], msg: str) -> None:
    if q.full():
        q.get_nowait()
    q.put_nowait(msg)
