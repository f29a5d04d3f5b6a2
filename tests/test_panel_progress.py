"""The panel's Progress screen in a real browser (headless Chromium) against `halfstep run`,
for a plan with eight weeks of history: the test sets apart from the working line, the
estimated strength, records and the streak in words, readable axes, pain with its red flags,
confidence, sessions against the plan and volume; loads in pounds when chosen."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import urllib.request

from controller.core.plan_file import save_plan
from controller.planning.models import (
    CheckIn,
    Clearance,
    PlanFile,
    ProfileKind,
    RedFlag,
    RedFlagReport,
    SessionLog,
    SetLog,
)
from controller.simulated.trial import default_plan
from tests.procs import Background
from tests.test_panel import ARTIFACTS, SIZES, browser  # noqa: F401  (the fixture)

SQUAT, ROW, PRESS = "cable squat", "seated row", "chest press"
TODAY = dt.date.today()
MONDAY = TODAY - dt.timedelta(days=TODAY.weekday()) - dt.timedelta(weeks=8)
# Working loads by exercise; the ladders go well above them (the old chart's spike).
BASE = {SQUAT: 25.0, ROW: 12.0, PRESS: 10.0}
LADDER = {name: [round(w * f * 2) / 2 for f in (1.1, 1.26, 1.4)] for name, w in BASE.items()}


def history_plan() -> PlanFile:
    """Eight weeks, two sessions a week (Monday, Thursday), none in week 3: the first ladder
    (test sets only), working sets rising 0.5 kg a week, a reassessment in week 5 (the squat
    tested only, the others tested then worked), a red flag in week 6 cleared two days later,
    confidence asked some days, and a red flag reported today (the program is paused: the run
    waits for the all-clear, nothing is loaded and nothing is asked)."""
    plan = default_plan(ProfileKind.PAIN, MONDAY)
    hist = []
    k = 0
    for week in range(8):
        if week == 3:
            continue
        for wd in (0, 3):
            d = MONDAY + dt.timedelta(weeks=week, days=wd)
            sets = []
            for name, base in BASE.items():
                if (week, wd) in ((0, 0), (5, 0)):
                    sets += [SetLog(exercise=name, load_kg=w, full_reps=r, rir=3,
                                    assessment=True) for w, r in zip(LADDER[name], (8, 5, 3),
                                                                     strict=True)]
                    if week == 0 or name == SQUAT:
                        continue
                w = base + 0.5 * (k // 2)
                sets += [SetLog(exercise=name, load_kg=w, full_reps=12 - j, rir=2,
                                min_rom_pct=95.0, velocity_loss=0.1, ended_by="target reached")
                         for j in range(3)]
            flagged = (week, wd) == (6, 3)
            hist.append(SessionLog(
                date=d, sets=sets, pain_during=None if flagged else (k * 3) % 8,
                pain_settled=True, red_flags=[RedFlag.NEW_WEAKNESS] if flagged else [],
                checkin=CheckIn(confidence=min(10, 4 + k // 2)) if wd == 3 else CheckIn(),
                status="stopped: red flag" if flagged else "finished"))
            k += 1
    cleared = Clearance(date=MONDAY + dt.timedelta(weeks=6, days=5), by="Dr Lee")
    report = RedFlagReport(date=TODAY, kind=RedFlag.FAINTING, checkin="checkin:pain_since_last")
    return PlanFile.model_validate(plan.model_copy(update={
        "history": hist, "clearances": [cleared], "red_flag_reports": [report]}).model_dump())


def expected(plan: PlanFile, name: str) -> tuple[list[float], list[float]]:
    """The working line (heaviest working set per session holding working sets) and the test
    sets, in the order done."""
    work, tests = [], []
    for s in plan.history:
        mine = [x for x in s.sets if x.exercise == name]
        loads = [x.load_kg for x in mine if not x.assessment]
        if loads:
            work.append(max(loads))
        tests += [x.load_kg for x in mine if x.assessment]
    return work, tests


def luminance(rgb: str) -> float:
    parts = [int(v) for v in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    lin = [(c / 255 / 12.92) if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
           for c in parts]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


CANVASES = """() => [...document.querySelectorAll('#charts canvas')].map(c => ({
    chart: c.dataset.chart, exercise: c.dataset.exercise || null,
    points: Number(c.dataset.points), ylabel: c.dataset.ylabel,
    yticks: JSON.parse(c.dataset.yticks || '[]'), xlabels: JSON.parse(c.dataset.xlabels || '[]'),
    working: JSON.parse(c.dataset.working || 'null'), tests: JSON.parse(c.dataset.tests || 'null'),
    strength: JSON.parse(c.dataset.strength || 'null'), redflags: c.dataset.redflags,
    width: c.clientWidth}))"""

TEXTS = """() => [...document.querySelectorAll(
    '#charts .legend .key, #charts .summary p, #charts .summary li, #charts .summary .when,'
    + ' #charts .chart h2')].map(e => {
      const s = getComputedStyle(e);
      return {text: e.textContent.slice(0, 40), size: parseFloat(s.fontSize), color: s.color,
              bg: getComputedStyle(e.closest('.chart')).backgroundColor}; })"""


def test_the_progress_screen(tmp_path, browser):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    plan = history_plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    proc = Background("run", "--file", str(path), "--db", str(tmp_path / "h.sqlite"),
                      "--today", TODAY.isoformat(), "--speed", "10",
                      "--panel", "127.0.0.1:0", "--panel-linger", "60")
    try:
        line = proc.first_line()
        assert line.startswith("panel: http://"), line
        url = line.removeprefix("panel: ")
        with urllib.request.urlopen(url + "api/progress", timeout=10) as r:
            data = json.loads(r.read())
        pages = {}
        for name, (w, h) in SIZES.items():
            page = browser.new_page(viewport={"width": w, "height": h})
            page.goto(url)
            page.click('.tab[data-screen="progress"]')
            page.wait_for_function("document.querySelectorAll('#charts canvas[data-points]')"
                                   ".length === 7")
            pages[name] = page
        big = pages["large"]
        charts = big.evaluate(CANVASES)
        assert [c["chart"] for c in charts] == ["exercise"] * 3 + [
            "pain", "confidence", "weeks", "volume"]

        # Per exercise: the working line holds working sets only, the test sets are their
        # own (hollow) series, the estimated strength its own line.
        for c in charts[:3]:
            work, tests = expected(plan, c["exercise"])
            assert c["working"] == work and c["tests"] == tests, c["exercise"]
            assert max(tests) > max(work)  # drawn on the line, these were the spikes
            assert len(c["strength"]) == sum(
                1 for s in plan.history if any(x.exercise == c["exercise"] for x in s.sets))
            assert c["points"] == len(work) + len(tests) + len(c["strength"])
        squat = next(e for e in data["exercises"] if e["name"] == SQUAT)
        assert charts[0]["strength"] == [p["one_rm_kg"] for p in squat["points"]]

        # Readable axes: a label with its unit, a few y ticks, dates that do not collide.
        assert [c["ylabel"] for c in charts] == ["load (kg)"] * 3 + [
            "pain (0-10)", "confidence (0-10)", "sessions", "kg lifted"]
        for page in pages.values():
            for c in page.evaluate(CANVASES):
                assert len(c["yticks"]) >= 3, c
                xl = c["xlabels"]
                assert len(xl) >= 2, c
                assert all(a[1] + 10 <= b[0] for a, b in itertools.pairwise(xl)), xl
                assert all(0 <= a[0] and a[1] <= c["width"] for a in xl), (xl, c["width"])
        assert charts[4]["yticks"][-1] == "10" and charts[3]["yticks"][-1] == "10"

        # Pain: two red flags (a session's, and today's report) drawn as flags.
        assert charts[3]["redflags"] == "2"
        assert charts[3]["points"] == len([p for p in data["pain"]
                                           if p["red_flag"] or p["pain"] is not None])
        assert charts[4]["points"] == len(data["confidence"]) == 7
        assert charts[5]["points"] == len(data["weeks"]) == 9  # the empty week 3 among them
        assert charts[6]["points"] == 7  # weeks with working sets: not week 3 nor this one

        # Records and the streak in words.
        summary = big.inner_text("#charts .summary")
        assert "This week: 0 of 2 sessions" in summary and "Streak:" in summary, summary
        top = max(expected(plan, SQUAT)[0])
        squat_rec = big.inner_text('#charts .summary li[data-exercise="cable squat"]')
        assert f"heaviest {top:.1f} kg x 12" in squat_rec, squat_rec
        assert f"{max(LADDER[SQUAT]):.1f}" not in squat_rec  # a test set is no working record
        assert "estimated strength" in squat_rec and "most in a session" in squat_rec
        assert big.inner_text("#progress-paused").startswith(
            f"Paused since {TODAY.isoformat()}")

        # Text of 18 px and more on the cards, at 4.5:1 or more against them.
        for name, page in pages.items():
            texts = page.evaluate(TEXTS)
            assert len(texts) > 15
            for t in texts:
                assert t["size"] >= 18, (name, t)
                assert contrast(t["color"], t["bg"]) >= 4.5, (name, t)
        for size, page in pages.items():  # the top of the screen, then its end
            page.screenshot(path=str(ARTIFACTS / f"progress-rework-{size}.png"))
            page.evaluate("document.querySelector('main').scrollTop = 1e6")
            page.screenshot(path=str(ARTIFACTS / f"progress-rework-{size}-end.png"))

        # In pounds, when the person chose pounds.
        # (the panel's own setting where it has one, else the global the charts read)
        big.evaluate("window.setSetting ? setSetting('units', 'lb') : (window.units = 'lb');"
                     "loadProgress()")
        big.wait_for_function("document.querySelector('#charts canvas').dataset.ylabel"
                              " === 'load (lb)'")
        lb = big.evaluate(CANVASES)
        assert lb[0]["working"] == [round(w * 2.20462, 1) for w in expected(plan, SQUAT)[0]]
        assert lb[6]["ylabel"] == "lb lifted"
        assert f"heaviest {top * 2.20462:.1f} lb x 12" in big.inner_text(
            '#charts .summary li[data-exercise="cable squat"]')
    finally:
        proc.stop()
    for size in SIZES:
        assert (ARTIFACTS / f"progress-rework-{size}.png").stat().st_size > 5000

