"""The device panel in a real browser (Playwright driving Debian's headless Chromium) against
`halfstep run` with the simulator: a whole session done on the panel, and its security."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from controller.plan_cli import save_plan
from tests.procs import Background, run
from tests.test_session import DAY, one_exercise_plan

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "panel"
SIZES = {"small": (800, 480), "large": (1280, 800)}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (scripts/test installs the Debian package)")
        pytest.skip("chromium is not installed")
    return path


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    exe = chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def start_run(tmp_path: Path, *extra: str, speed: str = "10") -> tuple[Background, str]:
    plan = tmp_path / "plan.json"
    save_plan(one_exercise_plan(), plan)  # 2 x 12 at 7.0 kg (cap 8.5), one earlier session
    proc = Background("run", "--file", str(plan), "--db", str(tmp_path / "h.sqlite"),
                      "--today", DAY.isoformat(), "--speed", speed,
                      "--panel", "127.0.0.1:0", *extra)  # any free port; the URL says which
    line = proc.first_line()
    assert line.startswith("panel: http://"), line
    return proc, line.removeprefix("panel: ")


def test_a_whole_session_on_the_panel(tmp_path, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # At 5x real time: a browser drawing two pages shares the machine with the simulator.
    proc, url = start_run(tmp_path, "--panel-linger", "60", speed="5")
    requests: list[str] = []
    try:
        pages = {}
        for name, (w, h) in SIZES.items():
            page = browser.new_page(viewport={"width": w, "height": h})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            pages[name] = page
        big = pages["large"]

        # Today: the planned exercise with load, sets x reps, rest and the reasons in words.
        for page in pages.values():
            page.click('.tab[data-screen="today"]')
        big.wait_for_selector("#today-items li")
        text = big.inner_text("#today-items")
        assert "seated row" in text and "2 x 12 at 7.0 kg, rest 75 s" in text
        assert re.search(r"[a-z]{4,} .*[a-z]{4,}", big.inner_text("#today-items .why"))
        shots(pages, "today")

        # The set: reps appear live; the load is shown large.
        for page in pages.values():
            page.click('.tab[data-screen="live"]')
        big.wait_for_function("document.body.dataset.phase === 'set'", timeout=30_000)
        big.wait_for_function("Number(document.getElementById('reps').textContent) >= 3",
                              timeout=30_000)
        assert big.inner_text("#load") == "7.0" and big.inner_text("#target") == "12"
        assert big.is_disabled("#plus") and big.is_disabled("#minus")  # never mid-set
        big.wait_for_function("Number(document.getElementById('curve').dataset.points) > 5")
        shots(pages, "live")

        # Rest: the timer runs; +0.5 kg for the next set.
        big.wait_for_function("document.body.dataset.phase === 'rest'", timeout=60_000)
        assert re.match(r"Rest \d:\d\d", big.inner_text("#phase"))
        big.click("#plus")
        big.wait_for_function("document.getElementById('next').textContent.includes('7.5')")
        shots(pages, "rest")

        # Set 2 at 7.5 kg (the panel comes back to the set by itself); STOP on the panel
        # deloads at once (confirmed), the reps are kept.
        big.click('.tab[data-screen="today"]')
        big.wait_for_function("document.body.dataset.phase === 'set'", timeout=60_000)
        assert big.evaluate("document.body.dataset.screen") == "live"
        assert big.inner_text("#load") == "7.5"
        big.wait_for_function("Number(document.getElementById('reps').textContent) >= 3",
                              timeout=30_000)
        with big.expect_response("**/api/stop") as resp:
            big.click("#stop")
        stopped = resp.value.json()
        assert stopped["confirmed"] is True and stopped["applied_kg"] == 0.0
        big.wait_for_function("document.getElementById('load').textContent === '0.0' && "
                              "document.body.dataset.phase !== 'set'")  # the load is off
        shots(pages, "stopped")

        # Check-in: pain for the exercise with the traffic lights, then the session's, then
        # the confidence check-in; by touch and by keyboard.
        big.wait_for_function("document.getElementById('prompt-q').textContent"
                              ".startsWith('Pain during seated row')")
        big.click('.scale button[data-v="2"]')
        assert "green" in big.inner_text("#lights")
        shots(pages, "checkin")
        big.click("#save")
        big.wait_for_function("document.getElementById('prompt-q').textContent"
                              ".startsWith('Pain during the session')")
        big.keyboard.press("3")
        big.focus("#save")
        big.keyboard.press("Enter")
        big.wait_for_function("document.getElementById('prompt-q').textContent"
                              ".startsWith('How confident')")
        big.click('.scale button[data-v="7"]')
        big.click("#save")
        big.wait_for_function("document.getElementById('prompt-q').textContent"
                              ".includes('more capable')")
        big.click('#prompt-body [data-answer="yes"]')
        big.wait_for_function("document.body.dataset.phase === 'idle'", timeout=20_000)

        # Progress: the charts render, today's session among the points.
        for page in pages.values():
            page.click('.tab[data-screen="progress"]')
            page.wait_for_function("document.querySelectorAll('#charts canvas').length === 3")
        points = big.eval_on_selector_all("#charts canvas", "cs => cs.map(c => "
                                          "Number(c.dataset.points))")
        assert points[0] >= 4 and points[1] >= 2 and points[2] >= 1  # load+1RM, pain, weeks
        shots(pages, "progress")

        # The unit: link, firmware, the STOP among the safety events, how to re-arm.
        for page in pages.values():
            page.click('.tab[data-screen="unit"]')
        big.wait_for_selector("#unit-info dd")
        unit = big.inner_text("#unit")
        assert "HSSIM0000001" in unit and "1.0.0" in unit and "STOP from panel" in unit
        assert "take up the handles" in big.inner_text("#rearm")
        shots(pages, "unit")

        # Touch targets of 48 px and more, at both sizes; everything from the unit itself.
        for name, page in pages.items():
            page.click('.tab[data-screen="live"]')
            small_ones = page.evaluate("""() => [...document.querySelectorAll('button')]
                .filter(b => b.offsetParent !== null)
                .map(b => b.getBoundingClientRect())
                .filter(r => r.width < 48 || r.height < 48).length""")
            assert small_ones == 0, name
        assert requests and all(u.startswith(url.rstrip("/")) for u in requests)
    finally:
        proc.stop()

    # The session as the history keeps it: both sets, the stop, the check-ins.
    shown = json.loads(run("history", "show", "1", "--json", "--db",
                           str(tmp_path / "h.sqlite")).stdout)
    assert [s["load_kg"] for s in shown["sets"]] == [7.0, 7.5]
    assert shown["sets"][1]["ended_by"] == "stopped from panel"
    assert shown["sets"][1]["full_reps"] >= 3
    assert [(c["exercise"], c["pain"]) for c in shown["checkins"]] == [("seated row", 2),
                                                                       (None, 3)]
    assert shown["confidence"] == 7 and shown["status"] == "finished"
    assert any(e["kind"] == "stop" for e in shown["safety_events"])
    for screen in ("today", "live", "rest", "stopped", "checkin", "progress", "unit"):
        for size in SIZES:
            assert (ARTIFACTS / f"{screen}-{size}.png").stat().st_size > 5000


def shots(pages, screen: str) -> None:
    for size, page in pages.items():
        page.screenshot(path=str(ARTIFACTS / f"{screen}-{size}.png"))


def request(url: str, body: object | None = None, headers: dict | None = None,
            method: str | None = None) -> tuple[int, dict, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def test_the_panel_refuses_foreign_pages_and_bad_input(tmp_path):
    proc, url = start_run(tmp_path, "--pain", "2")
    try:
        status, body, _ = request(url + "api/state", headers={"Host": "evil.example:80"})
        assert status == 403 and "refused" in body["error"]
        status, body, _ = request(url + "api/stop", {}, headers={"Origin": "http://evil.example"})
        assert status == 403 and "only the panel's own page" in body["error"]
        status, body, _ = request(url + "api/next-load", {"kg": "heavy"})
        assert status == 400 and body["field"] == "kg"
        status, body, _ = request(url + "api/next-load", {"kg": 12.3})
        assert status == 409 and "nearest valid loads are 12.0 kg and 12.5 kg" in body["error"]
        status, body, _ = request(url + "api/next-load", {"kg": 50})
        assert status == 409 and "8.5 kg" in body["error"] and body["allowed"]
        status, body, _ = request(url + "api/answer", {"prompt": 999, "value": 3})
        assert status == 400 and "no longer asked" in body["error"]
        status, body, _ = request(url + "api/answer", {"prompt": 1, "value": 3, "x": 1})
        assert status == 400 and body["field"] == "x"
        status, body, _ = request(url + "api/state")
        assert status == 200 and body["state"]["phase"] in ("idle", "armed", "set")
    finally:
        proc.stop()


def test_off_the_loopback_a_pin_guards_the_panel_and_the_motor(tmp_path, monkeypatch):
    monkeypatch.setenv("HALFSTEP_PANEL_PIN", "2468")
    plan = tmp_path / "plan.json"
    save_plan(one_exercise_plan(), plan)
    proc = Background("run", "--file", str(plan), "--db", str(tmp_path / "h.sqlite"),
                      "--today", DAY.isoformat(), "--speed", "10", "--pain", "2",
                      "--panel", "0.0.0.0:0")
    try:
        line = proc.first_line()
        assert line.startswith("panel: http://0.0.0.0:")
        port = int(line.rsplit(":", 1)[1].strip("/"))
        assert proc.first_line() == "enter the PIN on the panel to start"
        url = f"http://127.0.0.1:{port}/"
        status, body, _ = request(url + "api/state")
        assert status == 401 and body["field"] == "pin"
        time.sleep(1.0)
        with pytest.raises(queue.Empty):  # the session has not started: nothing else printed
            proc.first_line(timeout=0.5)
        for _ in range(5):
            status, body, _ = request(url + "api/login", {"pin": "1111"})
        assert status == 403
        status, body, _ = request(url + "api/login", {"pin": "2468"})
        assert status == 429 and "too many wrong PINs" in body["error"]
    finally:
        proc.stop()
    stored = json.loads((tmp_path / "h-panel-pin.json").read_text())
    assert "2468" not in json.dumps(stored) and set(stored) == {"salt", "scrypt"}
    assert oct((tmp_path / "h-panel-pin.json").stat().st_mode)[-3:] == "600"

    # The second run reads the stored PIN: the right one unlocks the panel and the session.
    monkeypatch.delenv("HALFSTEP_PANEL_PIN")
    proc = Background("run", "--file", str(plan), "--db", str(tmp_path / "h.sqlite"),
                      "--today", DAY.isoformat(), "--speed", "10", "--pain", "2",
                      "--panel", "0.0.0.0:0")
    try:
        port = int(proc.first_line().rsplit(":", 1)[1].strip("/"))
        assert proc.first_line() == "enter the PIN on the panel to start"
        status, body, headers = request(f"http://127.0.0.1:{port}/api/login", {"pin": "2468"})
        assert status == 200 and "HttpOnly" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";")[0]
        status, body, _ = request(f"http://127.0.0.1:{port}/api/state",
                                  headers={"Cookie": cookie})
        assert status == 200
        assert "seated row" in proc.first_line(timeout=10) + proc.first_line(timeout=10)
    finally:
        proc.stop()


@pytest.mark.parametrize("kind,value,expect", [
    ("pain", 3, 3), ("pain", "7", 7), ("pain", "red_flag", "red_flag"), ("pain", "!", "red_flag"),
    ("number", None, None), ("number", 10, 10), ("yes", True, True), ("yes", "no", False),
])
def test_answers_are_parsed(kind, value, expect):
    import asyncio

    from controller.panel_io import Prompt

    async def parse():
        return Prompt(kind, "?").parse(value)

    assert asyncio.run(parse()) == expect


@pytest.mark.parametrize("kind,value", [("pain", 11), ("pain", -1), ("pain", True),
                                        ("pain", "lots"), ("number", 2.5), ("yes", 1)])
def test_bad_answers_say_what_is_allowed(kind, value):
    import asyncio

    from controller.panel_io import AnswerError, Prompt

    async def parse():
        return Prompt(kind, "?").parse(value)

    with pytest.raises(AnswerError) as e:
        asyncio.run(parse())
    assert e.value.allowed
