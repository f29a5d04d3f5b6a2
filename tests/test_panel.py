"""The device panel in a real browser (Playwright driving Debian's headless Chromium) against
`halfstep run` with the simulator: a whole session done on the panel, and its security."""

from __future__ import annotations

import datetime as dt
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

from controller.core.plan_file import save_plan
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
    save_plan(one_exercise_plan(), plan)  # 2 x 12 at 8.0 kg (cap 9.5), one earlier session
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

        # Before the session: how the knee has been since the last one, a choice in words.
        wait_prompt(big, "pre:pain_since_last")
        assert "soreness" in big.inner_text("#prompt-help")
        assert big.eval_on_selector_all("#prompt-body .choice", "bs => bs.length") == 3

        # Today: the planned exercise with load, sets x reps, rest and the reasons in words.
        for page in pages.values():
            page.click('.tab[data-screen="today"]')
        big.wait_for_selector("#today-items li")
        text = big.inner_text("#today-items")
        assert "seated row" in text and "2 sets of 12 at 8.0 kg, 75 s rest" in text
        assert re.search(r"[a-z]{4,} .*[a-z]{4,}", big.inner_text("#today-items .why"))
        shots(pages, "choice")
        big.click('#prompt-body [data-choice="settled"]')
        big.wait_for_selector("#prompt", state="hidden")
        shots(pages, "today")

        # The set: reps appear live; the load is shown large.
        for page in pages.values():
            page.click('.tab[data-screen="live"]')
        big.wait_for_function("document.body.dataset.phase === 'set'", timeout=30_000)
        big.wait_for_function("Number(document.getElementById('reps').textContent) >= 3",
                              timeout=30_000)
        assert big.inner_text("#load") == "8.0" and big.inner_text("#target") == "12"
        assert big.is_disabled("#plus") and big.is_disabled("#minus")  # never mid-set
        big.wait_for_function("Number(document.getElementById('curve').dataset.points) > 5")
        shots(pages, "live")

        # Rest: the timer runs and asks the reps in reserve (0 to 5+, the ends in words, may
        # be skipped); then +0.5 kg for the next set.
        big.wait_for_function("document.body.dataset.phase === 'rest'", timeout=60_000)
        wait_prompt(big, "rir:seated row:1")
        assert big.inner_text("#label-lo") == "no more" and big.is_visible("#skip")
        assert big.inner_text('#prompt-body .scale button[data-v="5"]') == "5+"
        assert big.inner_text("#label-hi") == "5 or more"
        assert re.match(r"Rest \d:\d\d", big.inner_text("#phase"))
        shots(pages, "rir")
        big.click('#prompt-body .scale button[data-v="2"]')
        big.click("#save")
        big.wait_for_selector("#prompt", state="hidden")
        big.click("#plus")
        big.wait_for_function("document.getElementById('next').textContent.includes('8.5')")
        shots(pages, "rest")

        # Set 2 at 8.5 kg (the panel comes back to the set by itself); STOP on the panel
        # deloads at once (confirmed), the reps are kept.
        big.click('.tab[data-screen="today"]')
        big.wait_for_function("document.body.dataset.phase === 'set'", timeout=60_000)
        assert big.evaluate("document.body.dataset.screen") == "live"
        assert big.inner_text("#load") == "8.5"
        big.wait_for_function("Number(document.getElementById('reps').textContent) >= 3",
                              timeout=30_000)
        with big.expect_response("**/api/stop") as resp:
            big.click("#stop")
        stopped = resp.value.json()
        assert stopped["confirmed"] is True and stopped["applied_kg"] == 0.0
        big.wait_for_function("document.getElementById('load').textContent === '0.0' && "
                              "document.body.dataset.phase !== 'set'")  # the load is off
        shots(pages, "stopped")
        wait_prompt(big, "rir:seated row:2")
        big.click("#skip")

        # Check-in: pain for the exercise with the traffic lights, then the session's, then
        # the confidence check-in; by touch and by keyboard.
        wait_prompt(big, "pain:seated row")
        assert big.inner_text("#prompt-q").startswith("Pain during seated row")
        big.click('.scale button[data-v="2"]')
        assert "green" in big.inner_text("#lights")
        shots(pages, "checkin")
        big.click("#save")
        wait_prompt(big, "pain:session")
        big.keyboard.press("3")
        big.focus("#save")
        big.keyboard.press("Enter")
        wait_prompt(big, "confidence")
        assert big.inner_text("#label-hi") == "completely"
        big.click('.scale button[data-v="7"]')
        big.click("#save")
        big.wait_for_function("document.body.dataset.phase === 'idle'", timeout=20_000)

        # The next-morning check-in, from Today once the session asks nothing more: the same
        # card, answered at /api/checkin.
        big.click('.tab[data-screen="today"]')
        big.wait_for_selector("#checkin-open", state="visible", timeout=10_000)
        big.click("#checkin-open")
        wait_prompt(big, "checkin:pain_since_last")
        assert big.is_visible("#redflag") and big.is_hidden("#save")
        with big.expect_response("**/api/checkin") as resp:
            big.click('#prompt-body [data-choice="soreness"]')
        assert resp.value.json()["ok"] is True and resp.value.json()["program"] == "active"
        big.wait_for_selector("#prompt", state="hidden")
        assert "Only muscle soreness" in big.inner_text("#checkin-msg")

        # Progress: the charts render, today's session among the points.
        for page in pages.values():
            page.click('.tab[data-screen="progress"]')
            page.wait_for_function("document.querySelectorAll('#charts canvas[data-points]')"
                                   ".length === 5")  # 1 exercise; pain, confidence, weeks, volume
        points = big.evaluate("() => Object.fromEntries([...document.querySelectorAll("
                              "'#charts canvas')].map(c => [c.dataset.chart, "
                              "Number(c.dataset.points)]))")
        assert points["exercise"] >= 4 and points["pain"] >= 2 and points["weeks"] >= 1
        assert points["confidence"] >= 1 and points["volume"] >= 1
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
    assert [s["load_kg"] for s in shown["sets"]] == [8.0, 8.5]
    assert shown["sets"][1]["ended_by"] == "stopped from panel"
    assert shown["sets"][1]["full_reps"] >= 3
    assert [(c["exercise"], c["pain"]) for c in shown["checkins"]] == [("seated row", 2),
                                                                       (None, 3)]
    assert shown["confidence"] == 7 and shown["status"] == "finished"
    assert any(e["kind"] == "stop" for e in shown["safety_events"])
    answers = {a["question"]: a["answer"] for a in shown["answers"]}
    assert answers["rir:seated row:1"] == 2 and answers["rir:seated row:2"] is None, answers
    for screen in ("choice", "today", "live", "rir", "rest", "stopped", "checkin", "progress",
                   "unit"):
        for size in SIZES:
            assert (ARTIFACTS / f"{screen}-{size}.png").stat().st_size > 5000


def test_a_red_flag_on_the_panel_pauses_the_program_until_an_all_clear(tmp_path, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The panel stays up after the session (the page gets "bye" when it goes): the all-clear
    # is given on it within the linger.
    proc, url = start_run(tmp_path, "--panel-linger", "120", speed="5")
    plan, db = tmp_path / "plan.json", tmp_path / "h.sqlite"
    try:
        pages = open_pages(browser, url)
        big = pages["large"]

        # The session, answered on the panel, up to its final check-in.
        wait_prompt(big, "pre:pain_since_last")
        big.click('#prompt-body [data-choice="settled"]')
        for k in (1, 2):
            wait_prompt(big, f"rir:seated row:{k}", timeout=90_000, resume=True)
            big.click("#skip")
            if k == 1:  # Ready: the next set now, not after the rest
                big.wait_for_selector("#prompt", state="hidden")
                assert request(url + "api/ready", {})[0] in (200, 409)
        wait_prompt(big, "pain:seated row", resume=True)
        big.click('.scale button[data-v="2"]')
        big.click("#save")
        wait_prompt(big, "pain:session")

        # A red flag at the session's pain check-in: the kinds in plain words, big targets.
        assert big.evaluate("getComputedStyle(document.getElementById('redflag'))"
                            ".backgroundColor") == "rgb(200, 0, 30)"  # clearly red
        for page in pages.values():
            wait_prompt(page, "pain:session")
            page.click("#redflag")
            page.wait_for_selector("#flags .flagkind")
            sizes = page.eval_on_selector_all(
                "#flags .flagkind", "bs => bs.map(b => b.getBoundingClientRect())"
                ".map(r => Math.min(r.width, r.height))")
            assert len(sizes) >= 10 and min(sizes) >= 48
            page.click('#flags .flagkind[data-kind="chest_pain"]')
            assert page.inner_text("#save") == "Stop everything: red flag"
        assert "chest pain" in big.inner_text("#flags")
        shots(pages, "redflag")
        with big.expect_response("**/api/answer") as resp:
            big.click("#save")
        flagged = resp.value  # checked at the end (see below)

        # Everything stops: nothing more is asked, the program is paused.
        big.wait_for_function("document.body.dataset.program === 'paused'", timeout=20_000)
        assert big.is_visible("#paused-badge") and big.inner_text("#paused-badge") == "PAUSED"
        time.sleep(2.0)
        assert big.is_hidden("#prompt")  # no confidence question, no other
        _, body, _ = request(url + "api/state")
        assert body["prompt"] is None and body["state"]["program"] == "paused"
        assert body["state"]["pause"]["red_flags"] == ["chest_pain"]

        # Today: the flag in words, its date, the advice and the all-clear form.
        for page in pages.values():
            page.click('.tab[data-screen="today"]')
            page.wait_for_selector("#paused", state="visible")
        banner = big.inner_text("#paused")
        assert "chest pain" in banner and DAY.isoformat() in banner
        assert "emergency" in big.inner_text("#paused-advice")
        assert big.input_value("#clear-date") == DAY.isoformat()
        assert big.is_disabled("#clear-submit")  # until the all-clear is confirmed
        shots(pages, "paused")

        # Progress: the session as a full-height red bar, and the pause in words.
        for page in pages.values():
            page.click('.tab[data-screen="progress"]')
            page.wait_for_function("document.querySelectorAll('#charts canvas[data-points]')"
                                   ".length === 5")
        assert big.eval_on_selector('#charts canvas[data-chart="pain"]',
                                    "c => Number(c.dataset.redflags)") >= 1
        assert big.inner_text("#progress-paused").startswith(f"Paused since {DAY.isoformat()}")
        shots(pages, "progress-paused")

        # The history, the planner and the next run all say so.
        shown = json.loads(run("history", "show", "1", "--json", "--db", str(db)).stdout)
        assert shown["status"] == "stopped: red flag" and shown["red_flags"] == ["chest_pain"]
        nxt = run("plan", "next", "--file", str(plan), "--today", DAY.isoformat())
        assert "PAUSED" in nxt.stdout and "emergency" in nxt.stdout, nxt.stdout
        again = run("run", "--file", str(plan), "--db", str(db), "--today", DAY.isoformat(),
                    "--speed", "10", "--no-panel", "--pain", "2")
        assert again.returncode == 2 and "PAUSED" in again.stdout + again.stderr

        # The all-clear on the panel: who gave it, confirmed; training restarts lower.
        big.click('.tab[data-screen="today"]')
        big.fill("#clear-by", "Dr Test")
        big.check("#clear-confirm")
        with big.expect_response("**/api/clear") as resp:
            big.click("#clear-submit")
        assert resp.value.json()["ok"] is True and resp.value.json()["program"] == "active"
        big.wait_for_selector("#paused", state="hidden")
        big.wait_for_function("document.body.dataset.program === 'active'")
        assert big.is_hidden("#paused-badge")
        big.wait_for_selector("#today-items li")
        assert "seated row" in big.inner_text("#today-items")
        assert "Dr Test" in big.inner_text("#checkin-msg")
        shots(pages, "cleared")
    finally:
        proc.stop()
    nxt = run("plan", "next", "--file", str(plan), "--today", DAY.isoformat())
    assert nxt.returncode == 0 and "PAUSED" not in nxt.stdout, nxt.stdout
    # From the next day (a day's plan leaves out that day's own sessions): 30% lower.
    nxt = run("plan", "next", "--file", str(plan), "--today", str(DAY + dt.timedelta(days=1)),
              "--explain")
    assert "PAUSED" not in nxt.stdout and "[FLAG-1]" in nxt.stdout, nxt.stdout
    assert "restart 30% lower" in nxt.stdout
    # The panel's answer was taken as the red flag it is, and said so.
    assert (flagged.status, flagged.text()) == (200, json.dumps({"ok": True, "value": FLAG}))


def live_page(browser, url: str):
    """The small panel, the check-in before the session answered, on the live screen."""
    page = browser.new_page(viewport={"width": 800, "height": 480})
    page.goto(url)
    wait_prompt(page, "pre:pain_since_last")
    page.click('#prompt-body [data-choice="settled"]')
    page.click('.tab[data-screen="live"]')
    return page


def test_a_rep_recounted_in_a_set_shows_on_the_panel(tmp_path, browser):
    # The simulated person settles with a short pull before the set: shown at first as rep 1,
    # recounted as not a rep once the set's range is clear, and the count follows.
    proc, url = start_run(tmp_path, "--device", "sim://?seed=1&setup_pull=150", speed="5")
    try:
        page = live_page(browser, url)
        page.wait_for_selector("#recount[data-index='1']:not([hidden])", timeout=60_000)
        assert page.inner_text("#recount") == "Rep 1 recounted: not a rep"
        assert page.evaluate("parseFloat(getComputedStyle(document.getElementById('recount'))"
                             ".fontSize)") >= 18
        page.wait_for_function("Number(document.getElementById('reps').textContent) >= 2",
                               timeout=30_000)
    finally:
        proc.stop()


def test_load_buttons_say_why_they_are_off_and_step_bigger_when_heavy(tmp_path, browser):
    proc, url = start_run(tmp_path, speed="5")
    try:
        page = browser.new_page(viewport={"width": 800, "height": 480})
        page.goto(url)
        page.wait_for_selector("#plus", state="attached")

        def shown(**state) -> dict:  # the state set and drawn in one go (no event between)
            return page.evaluate(
                "(s) => { state = s; render(); const $ = (i) => document.getElementById(i);"
                " return {plus: $('plus').textContent, minus: $('minus').textContent,"
                " plus_off: $('plus').disabled, minus_off: $('minus').disabled,"
                " why: $('adjust-why').textContent}; }", state)

        light = shown(phase="rest", next_kg=8.0, next_max_kg=9.5, applied_kg=0.0)
        assert light == {"plus": "+0.5 kg", "minus": "-0.5 kg", "plus_off": False,
                         "minus_off": False, "why": ""}
        heavy = shown(phase="rest", next_kg=77.0, next_max_kg=90.0, applied_kg=0.0)
        assert (heavy["plus"], heavy["minus"]) == ("+2.5 kg", "-2.5 kg")
        edge = shown(phase="rest", next_kg=20.0, next_max_kg=90.0, applied_kg=0.0)
        assert (edge["plus"], edge["minus"]) == ("+2.5 kg", "-0.5 kg")  # 20 up, 19.5 down
        capped = shown(phase="rest", next_kg=9.5, next_max_kg=9.5, applied_kg=0.0)
        assert capped["plus_off"] and "9.5 kg is the most today's plan allows" in capped["why"]
        lifting = shown(phase="set", next_kg=8.0, next_max_kg=9.5, applied_kg=8.0)
        assert lifting["plus_off"] and lifting["minus_off"]
        assert lifting["why"] == "The load changes between sets, not during one."
        lightest = shown(phase="rest", next_kg=0.5, next_max_kg=9.5, applied_kg=0.0)
        assert lightest["minus_off"] and "0.5 kg is the lightest" in lightest["why"]
    finally:
        proc.stop()


def open_pages(browser, url: str) -> dict:
    """The panel at both of the unit's screen sizes."""
    pages = {}
    for name, (w, h) in SIZES.items():
        pages[name] = browser.new_page(viewport={"width": w, "height": h})
        pages[name].goto(url)
    return pages


def wait_prompt(page, qid: str, timeout: float = 60_000, resume: bool = False) -> None:
    """Until the panel shows the question with this id. With `resume`, a lost link on the way
    (the simulator's known false alarm on a busy machine) is answered Yes on the panel."""
    from playwright.sync_api import TimeoutError as Timeout

    wanted = [qid, "resume_after_link_loss"] if resume else [qid]
    try:
        while True:
            page.wait_for_function("(ids) => { const p = document.getElementById('prompt'); "
                                   "return !p.hidden && ids.includes(p.dataset.qid); }",
                                   arg=wanted, timeout=timeout)
            if page.evaluate("document.getElementById('prompt').dataset.qid") == qid:
                return
            page.click('#prompt-body [data-answer="yes"]')
            page.wait_for_function("document.getElementById('prompt').dataset.qid !== "
                                   "'resume_after_link_loss'", timeout=timeout)
    except Timeout:
        seen = page.evaluate("() => [document.getElementById('prompt').dataset.qid, "
                             "document.body.dataset.phase, document.getElementById('phase')"
                             ".textContent, document.getElementById('link').textContent]")
        raise AssertionError(f"no question {qid!r} on the panel; it shows "
                             f"(question, phase, phase text, link): {seen}") from None


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
        # The session runs on its own thread: in the rest before set 2, a load is checked.
        deadline = time.monotonic() + 60
        while request(url + "api/state")[1]["state"]["phase"] != "rest":
            assert time.monotonic() < deadline, "no set came up"
            time.sleep(0.05)
        status, body, _ = request(url + "api/next-load", {"kg": 12.3})
        assert status == 400 and "nearest valid loads are 12.0 kg and 12.5 kg" in body["error"]
        status, body, _ = request(url + "api/next-load", {"kg": 50})
        assert status == 409 and "9.5 kg" in body["error"] and body["allowed"]
        status, body, _ = request(url + "api/answer", {"prompt": 999, "value": 3})
        assert status == 400 and "no longer asked" in body["error"]
        status, body, _ = request(url + "api/answer", {"prompt": 1, "value": 3, "x": 1})
        assert status == 400 and body["field"] == "x"
        status, body, _ = request(url + "api/state")
        assert status == 200 and body["state"]["phase"] in ("idle", "armed", "set", "rest")
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
        lines = [proc.first_line(timeout=10)]  # the check-in before the session, then the set
        while "seated row" not in lines[-1] and len(lines) < 6:
            lines.append(proc.first_line(timeout=10))
        assert "seated row" in lines[-1], lines
    finally:
        proc.stop()


FLAG = "red_flag:chest_pain"
SINCE_LAST = (("settled", "Settled"), ("raised", "Still raised"))


@pytest.mark.parametrize("kind,value,expect", [
    ("pain", 3, 3), ("pain", "7", 7), ("pain", "red_flag", "red_flag:other"),
    ("pain", "!", "red_flag:other"), ("pain", FLAG, FLAG), ("number", None, None),
    ("number", 10, 10), ("number", FLAG, FLAG), ("yes", True, True), ("yes", "no", False),
    ("yes", FLAG, FLAG), ("choice", "settled", "settled"), ("choice", FLAG, FLAG),
])
def test_answers_are_parsed(kind, value, expect):
    from controller.planning.questions import Flag, Question

    q = Question("q", kind, "?", skippable=kind == "number", choices=SINCE_LAST)
    got = q.parse(value)
    assert (str(got) if isinstance(got, Flag) else got) == expect


@pytest.mark.parametrize("kind,value", [("pain", 11), ("pain", -1), ("pain", True),
                                        ("pain", "lots"), ("pain", None), ("number", 2.5),
                                        ("yes", 1), ("choice", "fine"),
                                        ("choice", "red_flag:bruise")])
def test_bad_answers_say_what_is_allowed(kind, value):
    from controller.planning.questions import AnswerError, Question

    with pytest.raises(AnswerError) as e:
        Question("q", kind, "?", choices=SINCE_LAST).parse(value)
    assert e.value.allowed
