"""The device panel: a web page on the unit's touchscreen, served by aiohttp on the controller's
own event loop, driving the same session runner as the terminal.

Live data goes out over Server-Sent Events from bounded per-page queues (a slow page loses old
events, never holds up the session). Requests with a foreign Host or Origin are refused; on any
address but the loopback the panel asks for a PIN, which also locks starting the motor.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import inspect
import ipaddress
import json
import math
import multiprocessing
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from controller.core import load_modes
from controller.core.control_core import to_loop
from controller.core.events import Event, jsonable
from controller.core.inputs import JsonNumber, load_kg, loads_json
from controller.core.safety import SafetyRefusal
from controller.core.session import LiveState, SessionRunner
from controller.planning import questions
from controller.planning.plan_file import load_plan
from controller.planning.plan_updates import ClearanceError
from controller.planning.progress import progress
from controller.surfaces.panel.answers import AnswerError, PersonIO
from controller.surfaces.panel.home import Home
from firmware_bridge.loads import LoadError
from firmware_bridge.validation import describe

log = structlog.get_logger("controller.surfaces.panel.app")

STATIC = Path(__file__).with_name("static")
COOKIE = "halfstep_panel"
QUEUE = 500  # events waiting per open page
PIN_RULE = "4 to 12 digits 0-9"  # ASCII digits; 6 or more recommended
# Wrong PINs (see PinGuard): a client (one address; one /64 for IPv6) has MAX_TRIES free, then
# waits LOCKOUT_S, doubled at every further wrong PIN up to LOCKOUT_CAP_S. Clients off the
# loopback share a budget of wrong PINs an hour and a day, so that many addresses buy nothing.
MAX_TRIES = 5
LOCKOUT_S = 30.0
LOCKOUT_CAP_S = 3600.0
FORGET_S = 86400.0  # a client's wrong PINs are forgotten a day after its last one
WRONG_PER_HOUR = 10
WRONG_PER_DAY = 50
MAX_CLIENTS = 4096  # clients whose wrong PINs are remembered
SESSION_S = 30 * 86400  # a login lasts 30 days: the cookie's Max-Age, enforced here too
MAX_DEPTH = 8  # JSON nesting a panel body may have (they are flat)
MAX_DIGITS = 18  # a JSON number longer than this is not one a person or the page sent
REARM = ("After a STOP, a lost link or a restart of the unit, the load stays off. To re-arm: "
         "answer Yes when the panel asks whether to continue, then take up the handles at the "
         "unit when the next set is ready; the load comes on only then.")


class NextLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kg: Any  # as sent (a JsonNumber keeps its text): judged by `load_kg`, never a lax float


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: int
    value: int | bool | str | None


class CheckinAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int | bool | str | None


class RedFlagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str
    qid: str | None = None  # the question it was meant for, if any


class ClearRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    by: str
    date: str | None = None  # YYYY-MM-DD; default: today
    confirm: bool


class PersonChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str


class NewPerson(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    kind: str
    painful: list[str] = []
    sessions_per_week: int | None = None


class ModeChoice(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mode: str


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pin: str


# ---- the PIN --------------------------------------------------------------------------------


def hash_pin(pin: str, salt: bytes | None = None) -> dict[str, str]:
    """Salted scrypt: slow on purpose (tens of ms), so a stolen PIN file is no quick lookup
    table; the caller runs it off the event loop."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)
    return {"salt": salt.hex(), "scrypt": digest.hex()}


def pin_matches(pin: str, stored: dict[str, str]) -> bool:
    """Compared in constant time, so the answer's timing says nothing about the digest."""
    return hmac.compare_digest(hash_pin(pin, bytes.fromhex(stored["salt"]))["scrypt"],
                               stored["scrypt"])


_PIN = re.compile(r"[0-9]{4,12}")  # PIN_RULE


def valid_pin(pin: object) -> bool:
    """4 to 12 ASCII digits: `str.isdigit` would also take other scripts' digits (and
    superscripts), which a keypad cannot type back."""
    return isinstance(pin, str) and _PIN.fullmatch(pin) is not None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_key(remote: str | None) -> str:
    """Who a request comes from, for counting wrong PINs: the peer's address as the socket
    says (never a header a client writes, such as X-Forwarded-For), an IPv4-mapped address as
    IPv4, and an IPv6 address as its /64, which one machine can fill with addresses at will."""
    try:
        ip = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if not ip.is_loopback:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass
class _Client:
    failures: int = 0
    until: float = 0.0  # no PIN is checked for this client before this time
    last: float = 0.0  # its last wrong PIN


class PinGuard:
    """Wrong PINs, counted per client: one client guessing locks out only itself, so a browser
    already logged in, the unit's own screen (the loopback) and every other address keep
    working. A client gets MAX_TRIES, then waits LOCKOUT_S, doubled per wrong PIN up to
    LOCKOUT_CAP_S. Clients off the loopback also share WRONG_PER_HOUR and WRONG_PER_DAY, so
    that an attacker with many addresses gets no more guesses than one with a few; that
    budget never applies to the loopback, and a logged-in browser does not need to log in.

    A guess counts as wrong from the moment it is admitted (`admit`) until `passed` takes it
    back: concurrent guesses cannot slip past the count while scrypt runs."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.clients: dict[str, _Client] = {}
        self.wrong: deque[float] = deque(maxlen=WRONG_PER_DAY)  # off the loopback

    def wait(self, client: str) -> float:
        """Seconds before this client's next PIN is checked (0: now)."""
        now = self.clock()
        c = self._client(client, now)
        mine = c.until - now if c is not None else 0.0
        return max(0.0, mine, 0.0 if is_loopback(client) else self._shared_wait(now))

    def admit(self, client: str) -> float:
        """Count a guess as wrong before it is checked; returns its time for `passed`."""
        now = self.clock()
        c = self._client(client, now) or self.clients.setdefault(client, _Client())
        c.failures += 1
        c.last = now
        if c.failures >= MAX_TRIES:
            doublings = min(c.failures - MAX_TRIES, 20)
            c.until = now + min(LOCKOUT_S * 2 ** doublings, LOCKOUT_CAP_S)
        if not is_loopback(client):
            self.wrong.append(now)
        self._prune(now)
        return now

    def passed(self, client: str, at: float) -> None:
        """The right PIN: the client starts afresh and its guess leaves the shared budget."""
        self.clients.pop(client, None)
        if not is_loopback(client):
            with contextlib.suppress(ValueError):
                self.wrong.remove(at)

    def _client(self, client: str, now: float) -> _Client | None:
        c = self.clients.get(client)
        if c is not None and c.until <= now and now - c.last > FORGET_S:
            del self.clients[client]
            return None
        return c

    def _shared_wait(self, now: float) -> float:
        """Until the hour's and the day's budgets of wrong PINs off the loopback have room."""
        wait = 0.0
        hour = [t for t in self.wrong if t > now - 3600]
        if len(hour) >= WRONG_PER_HOUR:
            wait = hour[-WRONG_PER_HOUR] + 3600 - now
        if len(self.wrong) >= WRONG_PER_DAY and self.wrong[0] > now - 86400:
            wait = max(wait, self.wrong[0] + 86400 - now)
        return wait

    def _prune(self, now: float) -> None:
        """Bounded memory: forgotten clients go first, then those whose last guess is oldest
        (the shared budget still holds for them)."""
        if len(self.clients) <= MAX_CLIENTS:
            return
        for key in [k for k, c in self.clients.items()
                    if c.until <= now and now - c.last > FORGET_S]:
            del self.clients[key]
        while len(self.clients) > MAX_CLIENTS:
            del self.clients[min(self.clients, key=lambda k: self.clients[k].last)]


class Sessions:
    """Login tokens that expire SESSION_S after login. The cookie's Max-Age asks the browser
    to forget it; a copied cookie is refused here all the same once its time is up."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = SESSION_S):
        self.clock, self.ttl = clock, ttl
        self.expires: dict[str, float] = {}

    def new(self) -> str:
        now = self.clock()
        for token in [t for t, end in self.expires.items() if end <= now]:
            del self.expires[token]
        token = secrets.token_urlsafe(24)
        self.expires[token] = now + self.ttl
        return token

    def valid(self, token: str | None) -> bool:
        end = self.expires.get(token) if token else None
        if end is None:
            return False
        if end <= self.clock():
            del self.expires[token]  # type: ignore[arg-type]
            return False
        return True


class Panel:
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
        msg = f"event: {kind}\ndata: {_dumps(data)}\n\n"
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
            return _error(403, f"requests for host {host!r} are refused (the panel answers to "
                               f"http://{self.host}:{self.port} only)")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self._hosts()} and \
                not (self.host in ("0.0.0.0", "::") and origin == f"http://{host}"):
            return _error(403, f"requests from {origin!r} are refused: only the panel's own "
                               "page may use it")
        if self.pin is not None and request.path.startswith("/api/") and \
                request.path != "/api/login" and \
                not self.sessions.valid(request.cookies.get(COOKIE)):
            return _error(401, "enter the panel's PIN first", field="pin")
        return await handler(request)

    async def _login(self, request: web.Request) -> web.Response:
        """The PIN, against wrong guesses per client (PinGuard); the right one gives a cookie
        that lasts SESSION_S, readable by no script (HttpOnly) and sent by no other site."""
        body = await _body(request, Login)
        if isinstance(body, web.Response):
            return body
        if self.pin is None:
            return web.json_response({"ok": True})
        client = client_key(request.remote)
        wait = self.guard.wait(client)
        if wait > 0:
            return _error(429, f"too many wrong PINs: try again in {math.ceil(wait)} s",
                          field="pin", allowed="a browser already logged in keeps working")
        if not valid_pin(body.pin):
            return _error(400, f"a PIN is {PIN_RULE}", field="pin", allowed=PIN_RULE)
        at = self.guard.admit(client)
        # scrypt is slow on purpose: hashed on a worker thread, this loop serves on meanwhile.
        if not await asyncio.to_thread(pin_matches, body.pin, self.pin):
            log.warning("panel_wrong_pin", client=client)
            return _error(403, "wrong PIN", field="pin",
                          allowed=f"the PIN set at the first run ({PIN_RULE})")
        self.guard.passed(client, at)
        self.unlocked.set()
        resp = web.json_response({"ok": True})
        resp.set_cookie(COOKIE, self.sessions.new(), max_age=SESSION_S, path="/",
                        httponly=True, samesite="Strict")
        return resp

    # ---- pages and data ----------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    def _snapshot(self) -> dict[str, Any]:
        state = getattr(self.runner, "state", None)
        prompt = self.io.prompt
        return {"state": asdict(state if state is not None else LiveState()),
                "prompt": None if prompt is None else prompt.as_dict(),
                "said": list(self.io.said)[-30:],
                "unit": self.unit, "last_rep": self.last_rep, "pin": self.pin is not None,
                "now": time.time()}

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self._snapshot(), dumps=_dumps)

    async def _today(self, request: web.Request) -> web.Response:
        rx = getattr(self.runner, "rx", None)
        if rx is None:
            return _error(409, "no one is chosen yet: pick who is training on the home screen")
        return web.json_response(today_view(self.runner.plan, rx, self.runner.state,
                                            self._unit_modes()), dumps=_dumps)

    def _unit_modes(self) -> int | None:
        dev = getattr(self.runner, "dev", None)
        if dev is not None and dev.info is not None:
            return dev.info.modes
        modes = self.unit.get("modes")
        return modes if isinstance(modes, int) else None

    async def _progress(self, request: web.Request) -> web.Response:
        if self.plan_path is None:
            return _error(409, "no one is chosen yet: pick who is training on the home screen")
        try:
            body = await self._progress_body()
        except Exception as e:  # a plan being rewritten at the end of a session
            return _error(503, f"the plan file cannot be read just now: {e}")
        return web.Response(body=body, content_type="application/json")

    async def _progress_body(self) -> bytes:
        """Computed again only when the plan file has changed, in a worker process: reading
        and charting a long history holds the interpreter (and makes garbage) for a while,
        which a thread of this process would share with the control core."""
        path = self.plan_path
        assert path is not None
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size, str(getattr(self.runner, "today", "")))
        cached = self._progress_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        day = getattr(self.runner, "today", None)
        body = await asyncio.get_running_loop().run_in_executor(
            self._pool, progress_body, str(path), None if day is None else day.isoformat())
        self._progress_cache = (key, body)
        return body

    async def _unit(self, request: web.Request) -> web.Response:
        dev = self.runner.dev
        health = None
        if dev is not None:
            h = dev.health
            health = {"frames_received": h.frames_received, "bad_frames": h.bad_frames,
                      "commands": h.commands, "retries": h.retries, "timeouts": h.timeouts,
                      "device_frames_lost": h.device_frames_lost,
                      "telemetry_dropped": h.telemetry_dropped,
                      "last_sample_age_s": h.last_sample_age_s}
        return web.json_response({"unit": self.unit, "connected": dev is not None,
                                  "link": self.runner.state.link, "health": health,
                                  "safety": list(self.safety), "rearm": REARM}, dumps=_dumps)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
        await resp.prepare(request)
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE)
        self.pages.add(q)
        try:
            await resp.write(f"event: hello\ndata: {_dumps(self._snapshot())}\n\n".encode())
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

    # ---- actions -------------------------------------------------------------------------------

    async def _stop(self, request: web.Request) -> web.Response:
        result = await self.runner.stop("panel")
        return web.json_response({"ok": True, **result})

    # ---- the home screen (halfstep serve) -----------------------------------------------------

    def _no_home(self) -> web.Response:
        return _error(409, "this panel belongs to one session (halfstep run): people, Start "
                           "and the summary come with halfstep serve")

    async def _home(self, request: web.Request) -> web.Response:
        if self.home is None:
            return web.json_response({"serve": False})
        return web.json_response(self.home.snapshot(), dumps=_dumps)

    async def _home_call(self, call: Any) -> web.Response:
        from controller.surfaces.panel.home import HomeError

        if self.home is None:
            return self._no_home()
        try:
            result = call()
            if inspect.isawaitable(result):
                result = await result
        except HomeError as e:
            return _error(e.status, e.reason, field=e.field)
        return web.json_response(result, dumps=_dumps)

    async def _person(self, request: web.Request) -> web.Response:
        body = await _body(request, PersonChoice)
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
        body = await _body(request, NewPerson)
        if isinstance(body, web.Response):
            return body
        return await self._home_call(lambda: self.home.add_person(  # type: ignore[union-attr]
            body.name, body.kind, body.painful, body.sessions_per_week))

    async def _mode(self, request: web.Request) -> web.Response:
        """The next set's load mode, between sets, through the same gate as a load."""
        body = await _body(request, ModeChoice)
        if isinstance(body, web.Response):
            return body
        if body.mode not in load_modes.MODES:
            return _error(400, f"{body.mode!r} is not a load mode", field="mode",
                          allowed=", ".join(load_modes.MODES))
        try:
            value = self.runner.set_next_mode(body.mode, "panel")
        except SafetyRefusal as e:
            return _error(409, e.cause, field="mode", allowed=e.allowed)
        return web.json_response({"ok": True, "mode": value})

    async def _ready(self, request: web.Request) -> web.Response:
        """"Ready" during a rest: the next set now."""
        got = self.runner.end_rest("panel")
        if not got["ok"]:
            return _error(409, got["reason"])
        return web.json_response({"ok": True})

    async def _next_load(self, request: web.Request) -> web.Response:
        """The next set's load, judged on the text that was sent (`load_kg`, the rule the CLI
        and MQTT apply, with their message): `true`, `1_0`, `1e1` or 12.4999999999999999 are
        refused here, before the session sees a number; the plan's cap is the session's."""
        body = await _body(request, NextLoad, numbers_as_text=True)
        if isinstance(body, web.Response):
            return body
        try:
            kg = load_kg(body.kg)
        except LoadError as e:
            return _error(400, str(e), field="kg",
                          allowed="a plain decimal number of kg on the 0.5 kg grid, e.g. 12.5")
        try:
            value = self.runner.set_next_load(kg, "panel")
        except SafetyRefusal as e:  # off the grid, above the cap, mid-set, ...
            return _error(409, e.cause, field="kg", allowed=e.allowed)
        return web.json_response({"ok": True, "next_kg": value})

    async def _checkin_q(self, request: web.Request) -> web.Response:
        q = questions.since_last(self.runner.plan.profile.painful_regions, checkin=True)
        # Asked about the last session: open once there is one, and no session asks its own.
        return web.json_response({"question": q.as_dict(), "open": self.runner.state.phase ==
                                  "idle" and not self.runner.io_busy()
                                  and bool(self.runner.plan.history)}, dumps=_dumps)

    async def _checkin(self, request: web.Request) -> web.Response:
        """The next-morning check-in: the same question and rules as `halfstep checkin`."""
        body = await _body(request, CheckinAnswer)
        if isinstance(body, web.Response):
            return body
        try:
            result = self.runner.report_since_last(body.value, "panel")
        except AnswerError as e:
            return _error(400, e.reason, field="value", allowed=e.allowed)
        return web.json_response({"ok": True, **result}, dumps=_dumps)

    async def _red_flag(self, request: web.Request) -> web.Response:
        """A red flag outside any question (its question was gone before Save): it stops the
        set and ends the session all the same."""
        body = await _body(request, RedFlagBody)
        if isinstance(body, web.Response):
            return body
        try:
            result = await self.runner.red_flag_now(body.value, "panel", body.qid)
        except AnswerError as e:
            return _error(400, e.reason, field="value", allowed=e.allowed)
        return web.json_response({"ok": True, **result}, dumps=_dumps)

    async def _clear(self, request: web.Request) -> web.Response:
        """A clinician's all-clear after a red flag (behind the PIN off the loopback)."""
        body = await _body(request, ClearRequest)
        if isinstance(body, web.Response):
            return body
        if not body.confirm:
            return _error(400, "confirm that a clinician gave the all-clear", field="confirm",
                          allowed="true")
        try:
            day = None if body.date in (None, "") else parse_date(body.date)
        except ValueError as e:
            return _error(400, str(e), field="date", allowed="a date like 2026-11-30")
        try:
            result = self.runner.clear_red_flag(body.by, day, "panel")
        except ClearanceError as e:
            return _error(409, str(e), field="by" if "who gave" in str(e) else "date")
        return web.json_response({"ok": True, **result}, dumps=_dumps)

    async def _answer(self, request: web.Request) -> web.Response:
        body = await _body(request, Answer)
        if isinstance(body, web.Response):
            return body
        try:
            value = self.io.answer(body.prompt, body.value)
        except AnswerError as e:
            return _error(400, e.reason, field="value", allowed=e.allowed)
        return web.json_response({"ok": True, "value": value}, dumps=_dumps)


async def _body(request: web.Request, model: type[BaseModel],
                numbers_as_text: bool = False) -> Any:
    """A JSON body through the strict layer (`loads_json`): bad JSON, NaN, deep nesting, a
    body that is not an object or a field of the wrong type are a 400 that says so, never a
    traceback. Numbers stay text with `numbers_as_text` (loads); elsewhere they become plain
    ints and finite floats before the model sees them."""
    if request.content_type != "application/json":
        return _error(415, "send JSON (Content-Type: application/json)")
    try:
        data = loads_json(await request.read())
    except ValueError as e:  # UnicodeDecodeError, JSONDecodeError and deep nesting included
        return _error(400, f"not valid JSON: {e}")
    try:
        data = _plain(data, numbers_as_text)
    except ValueError as e:
        return _error(400, f"the body is refused: {e}")
    if not isinstance(data, dict):
        return _error(400, f"send a JSON object, not {type(data).__name__}",
                      allowed=_fields(model))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        return _error(400, describe(e), field=".".join(str(p) for p in first["loc"]) or None)


def _plain(value: Any, numbers_as_text: bool, depth: int = 0) -> Any:
    """Parsed JSON made safe for the models: nesting beyond MAX_DEPTH, numbers too long to be
    typed, infinite floats (`1e999`) and text that is not Unicode (lone surrogates, which
    would fail later when logged or stored) are ValueErrors here."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, JsonNumber):
        if numbers_as_text:  # `load_kg` bounds its length and judges its text
            return value
        if len(value.lstrip("-")) > MAX_DIGITS:
            raise ValueError(f"a number of more than {MAX_DIGITS} characters")
        if value.lstrip("-").isdigit():
            return int(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value} is not a finite number")
        return number
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text with a lone surrogate (\\ud800-\\udfff) is not Unicode") \
                from None
        return value
    if isinstance(value, dict):
        return {_plain(k, numbers_as_text, depth + 1): _plain(v, numbers_as_text, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, numbers_as_text, depth + 1) for v in value]
    return value


def _fields(model: type[BaseModel]) -> str:
    return "{" + ", ".join(f'"{name}": ...' for name in model.model_fields) + "}"


def parse_date(text: str) -> dt.date:
    """A calendar date as people and the panel send it (YYYY-MM-DD), strictly."""
    if not (len(text) == 10 and text.isascii() and text[4] == text[7] == "-"):
        raise ValueError(f"{text!r} is not a date like 2026-11-30")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date on the calendar") from None


def _error(status: int, reason: str, *, field: str | None = None,
           allowed: str | None = None) -> web.Response:
    body = {"ok": False, "error": reason}
    if field:
        body["field"] = field
    if allowed:
        body["allowed"] = allowed
    return web.json_response(body, status=status)


async def _no_content(request: web.Request) -> web.Response:
    """No icon (a coroutine: aiohttp deprecates plain functions as handlers)."""
    return web.Response(status=204)


def _put(q: asyncio.Queue[str], msg: str) -> None:
    if q.full():
        q.get_nowait()
    q.put_nowait(msg)


def today_view(plan: Any, rx: Any, state: Any, unit_modes: int | None) -> dict[str, Any]:
    """Today's prescription for the panel: each exercise with its load mode, the modes this
    unit offers, and last time's sets (what a lifter compares against)."""
    from controller.planning.records import last_time

    view = rx.as_dict()
    exercises = {e.name: e for e in plan.program.exercises}
    for item in view["items"]:
        ex = exercises.get(item["exercise"])
        item["mode"] = ex.mode if ex is not None else "standard"
        item["last"] = last_time(plan, item["exercise"])
    view["modes"] = load_modes.as_list(unit_modes)
    view["name"] = plan.profile.name
    return view


def progress_body(plan_path: str, day: str | None = None) -> bytes:
    """/api/progress's body for the plan file at `plan_path` as of the session's day (run in
    the panel's worker process)."""
    today = None if day is None else dt.date.fromisoformat(day)
    return _dumps(progress(load_plan(Path(plan_path)), today)).encode()


def _dumps(v: Any) -> str:
    return json.dumps(v, default=jsonable)
