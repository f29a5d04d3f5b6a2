"""The terminal during `halfstep run`: the rest's countdown and the wait for the handles are
shown (in place on a terminal, as lines elsewhere), never 52 s of silence; a status never
garbles what is being typed."""

from __future__ import annotations

import io
from types import SimpleNamespace

from controller.core.plan_file import save_plan
from controller.surfaces.cli.terminal import Terminal, status_text
from tests.procs import run
from tests.test_session import DAY, one_exercise_plan


def state(**kw):
    return SimpleNamespace(**{"phase": "idle", "rest_until": None, "next_kg": None, **kw})


def test_the_status_says_what_is_waited_for():
    assert status_text(state(phase="rest", rest_until=142.4, next_kg=8.5), None, 100.0) == \
        "  rest: 0:42 left, next set 8.5 kg"
    assert status_text(state(phase="armed"), 90.0, 100.0) == \
        "  waiting for the handles: take them up to start (0:10)"
    assert status_text(state(phase="set"), None, 100.0) is None


def test_on_a_terminal_the_status_is_rewritten_in_place_around_the_lines():
    out = io.StringIO()
    term = Terminal(out, tty=True)
    term.show("  rest: 0:42 left", 0.0)
    term.show("  rest: 0:41 left", 1.0)
    term.echo("  set 2: 8.5 kg x 12 - take up the handles")
    assert out.getvalue() == ("\r\x1b[K  rest: 0:42 left" "\r\x1b[K  rest: 0:41 left"
                              "\r\x1b[K  set 2: 8.5 kg x 12 - take up the handles\n"
                              "  rest: 0:41 left")
    # A question waits for typing: the status steps aside, and comes back after.
    term.show("  rest: 0:40 left", 2.0, typing=True)
    assert out.getvalue().endswith("\r\x1b[K")
    term.echo("Set 1: how many more reps could you have done? (Enter to skip)")
    assert out.getvalue().endswith("(Enter to skip)\n")


def test_off_a_terminal_the_status_is_a_line_now_and_then():
    out = io.StringIO()
    term = Terminal(out, tty=False, every_s=15)
    for t in range(0, 40):
        term.show(f"  rest: {60 - t} s left", float(t))
    term.show(None, 40.0)
    term.show("  waiting for the handles: (0:00)", 41.0)
    assert out.getvalue().splitlines() == ["  rest: 60 s left", "  rest: 45 s left",
                                           "  rest: 30 s left",
                                           "  waiting for the handles: (0:00)"]


def test_a_session_at_the_terminal_shows_the_rest_and_the_wait_for_the_handles(tmp_path):
    plan = tmp_path / "plan.json"
    save_plan(one_exercise_plan(), plan)  # 2 x 12 with a 75 s rest between
    res = run("run", "--file", str(plan), "--db", str(tmp_path / "h.sqlite"), "--today",
              DAY.isoformat(), "--speed", "20", "--pain", "2", "--yes", "--no-panel",
              timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(x.startswith("  rest: ") and " left, next set 8.0 kg" in x for x in lines)


async def test_while_a_set_waits_for_the_handles_the_wait_is_shown(monkeypatch):
    import asyncio
    import contextlib

    from controller.surfaces.cli import terminal
    monkeypatch.setattr(terminal, "TICK_S", 0.01)
    out = io.StringIO()
    now = state(phase="armed")
    task = asyncio.create_task(terminal.keep_status(Terminal(out, tty=True), lambda: now,
                                                    lambda: False))
    await asyncio.sleep(0.05)
    assert "waiting for the handles: take them up to start (0:00)" in out.getvalue()
    now.phase = "set"  # taken up: the status goes
    await asyncio.sleep(0.05)
    assert out.getvalue().endswith("\r\x1b[K")
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_a_warning_on_the_terminal_is_one_short_line(monkeypatch):
    from controller.core.console import ConsoleLine

    monkeypatch.setenv("COLUMNS", "100")

    class Tty(io.StringIO):
        def isatty(self):
            return True

    event = {"level": "warning", "event": "safety_event", "kind": "telemetry_degraded",
             "cause": "no telemetry for 0.42 s\nsecond line", "session_id": "9f" * 16,
             "device": "sim://?seed=1", "firmware": "1.0.0", "link": "ok",
             "timestamp": "2026-12-01T10:00:00Z", "load_kg": 8.0}
    line = ConsoleLine(io.StringIO())(None, "warning", event)
    assert line == "warning: safety_event: no telemetry for 0.42 s second line"
    long = ConsoleLine(Tty())(None, "warning", {**event, "cause": "x" * 500})
    assert "\n" not in long and len(long) <= 100 and long.endswith("…")
    # Asked for (--log-level info), info lines keep every field.
    info = ConsoleLine(io.StringIO())(None, "info", {**event, "level": "info"})
    assert "session_id=" in info and "load_kg=8.0" in info
