"""The panel's read-only routes: the page itself, the live state, today, progress, the unit.

What the page shows, apart from what it changes (`routes_session.py`, `routes_home.py`):
these handlers only read the session runner and the plan. Progress is charted in a worker
process (`progress_body`), so a long history never holds up the control core.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from controller.core import load_modes
from controller.core.plan_file import load_plan
from controller.core.session import LiveState, SessionRunner
from controller.planning.progress import progress
from controller.surfaces.panel.answers import PersonIO
from controller.surfaces.panel.bodies import dumps, error

__all__ = ["REARM", "STATIC", "PageRoutes", "progress_body", "today_view"]

STATIC = Path(__file__).with_name("static")
REARM = ("After a STOP, a lost link or a restart of the unit, the load stays off. To re-arm: "
         "answer Yes when the panel asks whether to continue, then take up the handles at the "
         "unit when the next set is ready; the load comes on only then.")


class PageRoutes:
    """The read-only handlers of `Panel` (a mixin: the state is the panel's own)."""

    runner: SessionRunner
    io: PersonIO
    pin: dict[str, str] | None
    unit: dict[str, Any]
    last_rep: dict[str, Any] | None
    safety: deque[dict[str, Any]]
    plan_path: Path | None
    _progress_cache: tuple[tuple[str, int, int, str], bytes] | None
    _pool: ProcessPoolExecutor | None

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
        return web.json_response(self._snapshot(), dumps=dumps)

    async def _today(self, request: web.Request) -> web.Response:
        rx = getattr(self.runner, "rx", None)
        if rx is None:
            return error(409, "no one is chosen yet: pick who is training on the home screen")
        return web.json_response(today_view(self.runner.plan, rx, self.runner.state,
                                            self._unit_modes()), dumps=dumps)

    def _unit_modes(self) -> int | None:
        dev = getattr(self.runner, "dev", None)
        if dev is not None and dev.info is not None:
            return dev.info.modes
        modes = self.unit.get("modes")
        return modes if isinstance(modes, int) else None

    async def _progress(self, request: web.Request) -> web.Response:
        if self.plan_path is None:
            return error(409, "no one is chosen yet: pick who is training on the home screen")
        try:
            body = await self._progress_body()
        except Exception as e:  # a plan being rewritten at the end of a session
            return error(503, f"the plan file cannot be read just now: {e}")
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
                                  "safety": list(self.safety), "rearm": REARM}, dumps=dumps)


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
    return dumps(progress(load_plan(Path(plan_path)), today)).encode()
