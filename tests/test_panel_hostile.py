"""The panel under hostile input, over real HTTP: loads judged by the strict layer (400, the
CLI's and MQTT's message, nothing loaded), bodies nested too deep or of the wrong shape (400,
never a traceback), PIN guesses counted per client (a logged-in browser and other clients keep
working), and logins that expire on the server, not only in the browser."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from controller.core.inputs import load_kg, loads_json
from controller.core.plan_file import save_plan
from controller.surfaces.mqtt.payloads import CommandError, parse_command
from controller.surfaces.panel.answers import PersonIO
from controller.surfaces.panel.app import (
    LOCKOUT_CAP_S,
    LOCKOUT_S,
    MAX_TRIES,
    SESSION_S,
    WRONG_PER_DAY,
    WRONG_PER_HOUR,
    Panel,
    PinGuard,
    Sessions,
    client_key,
    hash_pin,
    valid_pin,
)
from firmware_bridge.loads import LoadError
from tests.procs import Background
from tests.test_session import DAY, one_exercise_plan

# `{"kg": <this>}`, each refused with 400 before the session sees a number.
HOSTILE = [b"true", b'"1_0"', '"١٠"'.encode(), b"1e1", b'"1e1"', b"12.4999999999999999",
           b"NaN", b"Infinity", b"-Infinity", b"-1", b"1E1", b'"12.5kg"', b"[12.5]",
           b'{"kg": 12.5}', b'"0x19"', b"false"]
NOT_JSON = {b"NaN", b"Infinity", b"-Infinity"}  # refused by the JSON parser itself
ACCEPTED = [(b"12.5", 12.5), (b'"12.5"', 12.5), (b"12", 12.0), (b'"12.0"', 12.0)]
PIN = "2468013579"  # ten digits: longer than the old 8-digit limit


def call(url: str, path: str, body: bytes | None = None, headers: dict | None = None,
         source: str = "127.0.0.1") -> tuple[int, dict, http.client.HTTPMessage]:
    """One request from the client address `source` (any 127.x.y.z is this machine)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET" if body is None else "POST", path, body=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else {}, r.headers
    finally:
        conn.close()


async def acall(*args, **kw):
    """`call` from a test that shares its event loop with the panel."""
    return await asyncio.to_thread(call, *args, **kw)


def expected(raw: bytes) -> str:
    """The strict layer's own message for `{"kg": raw}`, and MQTT's for the same payload."""
    try:
        parse_command("next_load", b'{"kg": ' + raw + b"}")
    except CommandError as e:
        mqtt = e.reason
    else:
        raise AssertionError(f"MQTT accepted {raw!r}")
    try:
        load_kg(loads_json(b'{"kg": ' + raw + b"}")["kg"])
    except LoadError as e:
        assert str(e) == mqtt
        return str(e)
    raise AssertionError(f"the strict layer accepted {raw!r}")


class StubRunner:
    """What the panel reads of a session runner, and a record of every load it was given."""

    def __init__(self):
        self.loads: list[float] = []
        self.bus = SimpleNamespace(subscribe=lambda fn: (lambda: None))
        self.dev = None
        self.state = SimpleNamespace(link="ok")

    def set_next_load(self, kg: float, source: str) -> float:
        self.loads.append(kg)
        return kg


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@contextlib.asynccontextmanager
async def panel_up(tmp_path: Path, host: str = "127.0.0.1", pin: str | None = None,
                   clock=time.monotonic):
    """The real panel (aiohttp, its routes and guard) in this loop, on a stub session."""
    runner = StubRunner()
    panel = Panel(runner, PersonIO(), tmp_path / "plan.json", host, 0,
                  None if pin is None else hash_pin(pin), clock=clock)
    await panel.start()
    try:
        yield panel, runner, f"http://127.0.0.1:{panel.port}/"
    finally:
        await panel.stop()


# ---- loads --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", HOSTILE, ids=[r.decode() for r in HOSTILE])
async def test_a_hostile_load_is_400_with_the_strict_message_and_loads_nothing(tmp_path, raw):
    async with panel_up(tmp_path) as (_, runner, url):
        status, body, _ = await acall(url, "/api/next-load", b'{"kg": ' + raw + b"}")
        assert status == 400, body
        if raw in NOT_JSON:
            assert "not valid JSON" in body["error"] and "not a number JSON allows" in body["error"]
        else:
            assert body["error"] == expected(raw) and body["field"] == "kg"
        assert runner.loads == []


async def test_plain_decimals_on_the_grid_are_loaded(tmp_path):
    async with panel_up(tmp_path) as (_, runner, url):
        for raw, kg in ACCEPTED:
            status, body, _ = await acall(url, "/api/next-load", b'{"kg": ' + raw + b"}")
            assert status == 200 and body["next_kg"] == kg, (raw, body)
        assert runner.loads == [kg for _, kg in ACCEPTED]
        status, body, _ = await acall(url, "/api/next-load", b"{}")
        assert status == 400 and "kg: missing" in body["error"]
        status, body, _ = await acall(url, "/api/next-load", b'{"kg": null}')
        assert status == 400 and body["field"] == "kg"
        assert runner.loads == [kg for _, kg in ACCEPTED]


def test_the_session_keeps_its_next_load_through_hostile_bodies(tmp_path):
    """The real controller process and session: in the rest before set 2, every hostile body
    is a 400, the next set's load stays as planned and no load is chosen; a valid one is."""
    plan = tmp_path / "plan.json"
    save_plan(one_exercise_plan(), plan)  # 2 x 12 at 8.0 kg, cap 9.5 kg
    proc = Background("--log-format", "json", "--log-level", "info", "run", "--file", str(plan),
                      "--db", str(tmp_path / "h.sqlite"), "--today", DAY.isoformat(),
                      "--speed", "5", "--pain", "2", "--panel", "127.0.0.1:0")
    try:
        line = proc.first_line()
        assert line.startswith("panel: http://"), line
        url = line.removeprefix("panel: ")
        deadline = time.monotonic() + 90
        while (state := call(url, "/api/state")[1]["state"])["phase"] != "rest":
            assert time.monotonic() < deadline, "no rest came up"
            time.sleep(0.05)
        before = state["next_kg"]
        proc.drain(0.1)
        for raw in HOSTILE:
            status, body, _ = call(url, "/api/next-load", b'{"kg": ' + raw + b"}")
            assert status == 400, (raw, body)
        state = call(url, "/api/state")[1]["state"]
        assert state["phase"] == "rest" and state["next_kg"] == before
        assert not [r for r in proc.drain(0.3) if r.get("event") == "next_load_chosen"]
        # The same forms pass the parser: above the plan's cap, the session says so (409) ...
        status, body, _ = call(url, "/api/next-load", b'{"kg": "12.5"}')
        assert status == 409 and "9.5 kg" in body["error"]
        # ... and within it, a plain decimal as text or number is the next set's load.
        for raw, kg in ((b'"9.0"', 9.0), (b"9.5", 9.5)):
            status, body, _ = call(url, "/api/next-load", b'{"kg": ' + raw + b"}")
            assert status == 200 and body["next_kg"] == kg, body
        assert proc.wait_log("next_load_chosen", load_kg=9.5, source="panel")
    finally:
        proc.stop()


# ---- other bodies ---------------------------------------------------------------------------

PATHS = ["/api/answer", "/api/checkin", "/api/clear", "/api/red-flag", "/api/login",
         "/api/next-load"]
BAD_BODIES = [
    (b"[" * 8000 + b"]" * 8000, "nested"),  # past the JSON parser's recursion limit
    (b'{"value": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper than"),
    (b"[]", "send a JSON object"),
    (b'"value"', "send a JSON object"),
    (b"", "not valid JSON"),
    (b"\xff\xfe{", "not valid JSON"),
    (b'{"value": "\\ud800"}', "lone surrogate"),
    (b'{"prompt": 1e999, "value": 1}', "not a finite number"),
    (b'{"prompt": ' + b"9" * 40 + b', "value": 1}', "more than 18 characters"),
]


async def test_deep_or_malformed_bodies_are_400_everywhere(tmp_path):
    async with panel_up(tmp_path) as (_, runner, url):
        for path in PATHS:
            for body, words in BAD_BODIES:
                if path == "/api/next-load" and b"prompt" in body:
                    words = "prompt"  # a load's numbers stay text: `load_kg` judges them
                status, answer, _ = await acall(url, path, body)
                assert status == 400 and words in answer["error"], (path, body[:30], answer)
        assert runner.loads == []


@pytest.mark.parametrize("path,body,field", [
    ("/api/clear", {"by": 1, "confirm": True}, "by"),
    ("/api/clear", {"by": "Dr A", "confirm": "yes"}, "confirm"),
    ("/api/clear", {"by": "Dr A", "date": 20261130, "confirm": True}, "date"),
    ("/api/answer", {"prompt": "one", "value": 3}, "prompt"),
    ("/api/answer", {"prompt": 1, "value": {"a": 1}}, "value"),
    ("/api/checkin", {"value": [1, 2]}, "value"),
    ("/api/red-flag", {"value": 7}, "value"),
    ("/api/login", {"pin": 2468}, "pin"),
    ("/api/login", {"pin": "2468", "extra": 1}, "extra"),
])
async def test_wrong_types_are_400_naming_the_field(tmp_path, path, body, field):
    async with panel_up(tmp_path) as (_, _runner, url):
        status, answer, _ = await acall(url, path, json.dumps(body).encode())
        assert status == 400 and answer["field"].split(".")[0] == field, answer


# ---- the PIN --------------------------------------------------------------------------------


def test_a_pin_is_4_to_12_ascii_digits():
    assert all(valid_pin(p) for p in ("0000", "123456", PIN, "123456789012"))
    assert not any(valid_pin(p) for p in ("123", "1234567890123", "١٢٣٤", "12a4", "1234\n",
                                           "²³⁴⁵", " 1234", "", None, 1234))


async def test_wrong_pins_lock_out_only_their_client(tmp_path):
    clock = Clock()
    async with panel_up(tmp_path, "0.0.0.0", PIN, clock) as (_, _runner, url):
        login = json.dumps({"pin": PIN}).encode()
        wrong = json.dumps({"pin": "1111"}).encode()
        status, _, headers = await acall(url, "/api/login", login)
        assert status == 200
        cookie = headers["Set-Cookie"]
        parts = {p.strip().split("=")[0].lower() for p in cookie.split(";")}
        assert {"max-age", "httponly", "samesite", "path"} <= parts, cookie
        assert f"Max-Age={SESSION_S}" in cookie and "SameSite=Strict" in cookie
        browser = {"Cookie": cookie.split(";")[0]}

        for _ in range(MAX_TRIES):
            status, body, _ = await acall(url, "/api/login", wrong, source="127.0.0.2")
            assert status == 403 and body["error"] == "wrong PIN"
        status, body, _ = await acall(url, "/api/login", login, source="127.0.0.2")
        assert status == 429 and f"try again in {LOCKOUT_S:.0f} s" in body["error"]
        # The locked-out address still serves a browser that logged in before ...
        status, _, _ = await acall(url, "/api/unit", headers=browser, source="127.0.0.2")
        assert status == 200
        status, _, _ = await acall(url, "/api/unit", source="127.0.0.2")
        assert status == 401
        # ... and every other client logs in as usual, the loopback's 127.0.0.1 included.
        for source in ("127.0.0.3", "127.0.0.1"):
            status, _, _ = await acall(url, "/api/login", login, source=source)
            assert status == 200
        # A PIN in another script's digits is not a PIN (and not a guess that counts).
        arabic = json.dumps({"pin": "٢٤٦٨٠١٣٥٧٩"}).encode()
        status, body, _ = await acall(url, "/api/login", arabic, source="127.0.0.4")
        assert status == 400 and "digits 0-9" in body["error"]

        # Back-off: after LOCKOUT_S one more guess, then twice as long.
        clock.t += LOCKOUT_S
        status, _, _ = await acall(url, "/api/login", wrong, source="127.0.0.2")
        assert status == 403
        status, body, _ = await acall(url, "/api/login", login, source="127.0.0.2")
        assert status == 429 and f"try again in {2 * LOCKOUT_S:.0f} s" in body["error"]
        clock.t += 2 * LOCKOUT_S
        status, _, _ = await acall(url, "/api/login", login, source="127.0.0.2")
        assert status == 200  # the right PIN clears its count


async def test_an_expired_login_is_refused_by_the_server(tmp_path):
    clock = Clock()
    async with panel_up(tmp_path, "0.0.0.0", PIN, clock) as (_, _runner, url):
        status, _, headers = await acall(url, "/api/login", json.dumps({"pin": PIN}).encode())
        assert status == 200
        browser = {"Cookie": headers["Set-Cookie"].split(";")[0]}
        clock.t += SESSION_S - 1
        assert (await acall(url, "/api/unit", headers=browser))[0] == 200
        clock.t += 2  # the browser may still send it: the server no longer takes it
        status, body, _ = await acall(url, "/api/unit", headers=browser)
        assert status == 401 and body["field"] == "pin"


def test_back_off_per_client_doubles_up_to_the_cap():
    """On the loopback (which the shared budget leaves alone) a client's own back-off alone:
    the unit's screen, or a proxy in front of the panel, is no way around it."""
    clock = Clock()
    guard = PinGuard(clock)
    waits = []
    for _ in range(MAX_TRIES + 10):
        assert guard.wait("127.0.0.2") == 0
        guard.admit("127.0.0.2")
        waits.append(guard.wait("127.0.0.2"))
        clock.t += waits[-1]
    assert waits[:MAX_TRIES - 1] == [0] * (MAX_TRIES - 1)
    assert waits[MAX_TRIES - 1:MAX_TRIES + 3] == [LOCKOUT_S, 2 * LOCKOUT_S, 4 * LOCKOUT_S,
                                                 8 * LOCKOUT_S]
    assert waits[-1] == LOCKOUT_CAP_S
    assert guard.wait("192.0.2.8") == 0 and guard.wait("127.0.0.1") == 0


def test_the_right_pin_and_a_quiet_day_clear_a_clients_count():
    clock = Clock()
    guard = PinGuard(clock)
    for _ in range(MAX_TRIES - 1):
        guard.admit("192.0.2.7")
    guard.passed("192.0.2.7", guard.admit("192.0.2.7"))  # the 5th guess was right
    assert guard.wait("192.0.2.7") == 0 and "192.0.2.7" not in guard.clients
    for _ in range(MAX_TRIES):
        guard.admit("192.0.2.9")
    clock.t += 86400 + LOCKOUT_S + 1
    guard.admit("192.0.2.9")  # counted afresh: the first of a new five
    assert guard.wait("192.0.2.9") == 0


def guesses(guard: PinGuard, clock: Clock, clients: list[str], seconds: float) -> list[float]:
    """An attacker who guesses (wrong) whenever any of its clients may: when it guessed."""
    end, at = clock.t + seconds, []
    while True:
        wait, client = min((guard.wait(c), c) for c in clients)
        if clock.t + wait > end:
            return at
        clock.t += wait
        guard.admit(client)
        at.append(clock.t)


def test_attempts_an_attacker_gets():
    """One address: 10 in the first hour (5 free, then 30 s, 60 s, ... and the shared hour's
    budget), 34 in the first day, then one an hour: a 4-digit PIN takes over a year. Many
    addresses: 10 an hour and 50 a day in all, 200 days for 10^4 PINs."""
    for client, first_hour in (("192.0.2.7", WRONG_PER_HOUR), ("127.0.0.2", 11)):
        clock = Clock()
        one = guesses(PinGuard(clock), clock, [client], 3 * 86400 - 1)
        start = one[0]
        assert len([t for t in one if t < start + 3600]) == first_hour
        assert len([t for t in one if t < start + 86400]) == 34
        assert len(one) == 34 + 2 * 24
    clock = Clock()
    many = guesses(PinGuard(clock), clock, [f"10.0.{i // 250}.{i % 250}" for i in range(300)],
                   2 * 86400 - 1)
    start = many[0]
    assert len([t for t in many if t < start + 3600]) == WRONG_PER_HOUR
    assert len([t for t in many if t < start + 86400]) == WRONG_PER_DAY
    assert len(many) == 2 * WRONG_PER_DAY  # 10^4 PINs: 200 days, whatever the addresses


def test_the_shared_budget_never_blocks_the_loopback():
    clock = Clock()
    guard = PinGuard(clock)
    for i in range(WRONG_PER_HOUR):
        guard.admit(f"192.0.2.{i}")
        clock.t += 1
    assert guard.wait("198.51.100.1") > 3000  # a new address off the loopback waits
    assert guard.wait("127.0.0.1") == 0 and guard.wait("::1") == 0


def test_clients_are_told_apart_by_the_socket_address():
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") != client_key("2001:db8::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("::1") == "::1" and client_key("127.0.0.2") == "127.0.0.2"
    assert client_key(None) == "unknown"


def test_sessions_expire():
    clock = Clock()
    sessions = Sessions(clock)
    token = sessions.new()
    assert sessions.valid(token) and not sessions.valid("forged") and not sessions.valid(None)
    clock.t += SESSION_S
    assert not sessions.valid(token) and token not in sessions.expires
