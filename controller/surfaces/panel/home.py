"""`halfstep serve`'s people and sessions: who trains on this unit (a plan file each in one
folder, its history beside it), whose day is on the panel, and that person's session once
Start is pressed, through to the summary that stays until Home.

The panel and MQTT hold a `Home` where `halfstep run` gives them a session runner: what they
read or ask goes to the current person's runner (on the control core), so a STOP, a load or an
answer takes the same path whichever program serves the panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from controller.core.control_core import ControlCore, CoreRunner
from controller.core.events import EventBus
from controller.planning.models import PlanFile, ProfileKind

log = structlog.get_logger("controller.surfaces.panel.home")

ID_RULE = "1 to 40 of a-z, 0-9, - and _, starting with a letter or digit"
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


class HomeError(Exception):
    """A request the home screen cannot do now: says why (a 409 or 400 on the panel)."""

    def __init__(self, reason: str, status: int = 409, field: str | None = None):
        super().__init__(reason)
        self.reason, self.status, self.field = reason, status, field


@dataclass(frozen=True)
class Person:
    id: str  # the plan file's name without .json
    plan_path: Path

    @property
    def db_path(self) -> Path:
        return self.plan_path.with_suffix(".sqlite")


def find_people(folder: Path) -> list[Person]:
    """Every plan file in the folder whose name can be an id (others are left alone)."""
    found = [Person(p.stem, p) for p in sorted(folder.glob("*.json"))
             if _ID.fullmatch(p.stem) and p.is_file()]
    return found


def person_id(name: str, taken: set[str]) -> str:
    """A file name from a person's name: lower case letters and digits, unique here."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:32] or "person"
    pid, n = base, 2
    while pid in taken:
        pid, n = f"{base}-{n}", n + 1
    return pid


class Home:
    def __init__(self, core: ControlCore, folder: Path, url: str, bus: EventBus, io: Any, *,
                 runner_for: Callable[[Person, PlanFile, Any, dt.date], Any],
                 today: Callable[[], dt.date] = dt.date.today):
        self.core, self.folder, self.url, self.bus, self.io = core, folder, url, bus, io
        self.runner_for = runner_for  # builds a SessionRunner (called on the core)
        self.day = today  # the calendar (a session keeps its own `today`)
        self.current: Person | None = None
        self.runner: Any = None  # the current person's CoreRunner
        self.history: Any = None
        self.running: asyncio.Task | None = None
        self.summary: dict[str, Any] | None = None
        self._cards: dict[Path, tuple[tuple[int, int, str], dict[str, Any]]] = {}
        self._lock = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        runner = self.__dict__.get("runner")
        if runner is None:
            raise AttributeError(name)
        return getattr(runner, name)

    async def stop(self, source: str) -> dict[str, Any]:
        """STOP from any surface, with or without someone chosen: nothing is loaded between
        sessions (the link is closed), so there is nothing to confirm then."""
        if self.runner is None:
            return {"confirmed": False, "applied_kg": 0.0,
                    "detail": "no session: the unit is not loaded"}
        return await self.runner.stop(source)

    def set_next_load(self, kg: float, source: str) -> float:
        if self.runner is None:
            from controller.core.safety import SafetyRefusal

            raise SafetyRefusal("no set is coming up: no one is training", requested_kg=kg)
        return self.runner.set_next_load(kg, source)

    @property
    def plan_path(self) -> Path | None:
        return None if self.current is None else self.current.plan_path

    # ---- who trains -----------------------------------------------------------------------

    def people(self) -> list[dict[str, Any]]:
        """A card per person: name, today's state in words, the last session (cached per plan
        file version: reading and prescribing grows with the history)."""
        from controller.core.plan_file import PlanFileError, load_plan

        today = self.day()
        cards = []
        for p in find_people(self.folder):
            try:
                st = p.plan_path.stat()
            except OSError:
                continue
            key = (st.st_mtime_ns, st.st_size, today.isoformat())
            cached = self._cards.get(p.plan_path)
            if cached is not None and cached[0] == key:
                cards.append(cached[1])
                continue
            try:
                card = person_card(p, load_plan(p.plan_path), today)
            except PlanFileError as e:
                card = {"id": p.id, "name": p.id, "status": "unreadable", "plain": str(e),
                        "can_start": False}
            self._cards[p.plan_path] = (key, card)
            cards.append(card)
        return cards

    def snapshot(self) -> dict[str, Any]:
        return {"serve": True, "people": self.people(),
                "current": None if self.current is None else self.current.id,
                "running": self.running is not None and not self.running.done(),
                "summary": self.summary}

    async def open(self) -> None:
        """At start: the person who trained last is on screen (or the first one)."""
        cards = [c for c in self.people() if c.get("status") != "unreadable"]
        if cards:
            await self.select(max(cards, key=lambda c: (c.get("last") or "", c["id"]))["id"])

    async def select(self, pid: str) -> dict[str, Any]:
        """Whose day is on screen; refused while a session is under way."""
        async with self._lock:
            if self.running is not None and not self.running.done():
                raise HomeError(f"{self._name()}'s session is under way: finish it or press "
                                "STOP first")
            person = next((p for p in find_people(self.folder) if p.id == pid), None)
            if person is None:
                raise HomeError(f"no person {pid!r} on this unit", 404, "id")
            await self._load(person)
            self.summary = None
        self._changed("selected")
        return {"ok": True, "current": person.id}

    async def _load(self, person: Person) -> None:
        from controller.core.history import History, NotAHistory, check_history_file
        from controller.core.plan_file import PlanFileError, load_plan

        try:
            plan = load_plan(person.plan_path)
            check_history_file(person.db_path)
        except (PlanFileError, NotAHistory) as e:
            raise HomeError(str(e)) from None
        if self.history is not None:
            await self.core.call(self.history.close)
            self.history = None
        self.history = await self.core.call(History, person.db_path)
        day = self.day()
        history = self.history
        runner = await self.core.call(lambda: self.runner_for(person, plan, history, day))
        self.current, self.runner = person, CoreRunner(runner, self.core)
        self.runner.publish_state()

    async def start(self) -> dict[str, Any]:
        """Start today's session for the person on screen."""
        from controller.core.session import paused_text

        async with self._lock:
            if self.current is None:
                raise HomeError("choose who is training first", 409, "id")
            if self.running is not None and not self.running.done():
                raise HomeError(f"{self._name()}'s session is already under way")
            if self.runner.today != self.day() or self.summary is not None:
                await self._load(self.current)  # a new day, or after a session: afresh
            self.summary = None
            if self.runner.rx.status == "paused":
                raise HomeError(paused_text(self.runner.rx))
            before = self.runner.plan
            future = self.runner.start()
            self.running = asyncio.get_running_loop().create_task(
                self._watch(asyncio.wrap_future(future), before))
        log.info("session_started", person=self.current.id, source="panel")
        self._changed("started")
        return {"ok": True, "current": self.current.id}

    async def _watch(self, running: asyncio.Future, before: PlanFile) -> None:
        """The session's end: its summary stays on the panel until Home."""
        from controller.core.session import ProgramPaused, RestToday
        from controller.surfaces.panel.summary import session_summary

        status, sets, result = "finished", [], None
        try:
            result = await running
            status, sets = result.status, result.sets
        except RestToday:
            status = "rest"
        except ProgramPaused:
            status = "paused"
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the unit could not be reached, ...
            log.warning("session_failed", error=str(e))
            status = f"ended: {e}"
        runner = self.runner
        try:
            self.summary = session_summary(
                before, runner.plan, sets, status, runner.today,
                None if result is None else result.log,
                None if result is None or result.red_flag is None else result.red_flag.value)
        except Exception:
            log.exception("summary_failed")
            self.summary = {"status": status, "plain": f"Session {status}.", "exercises": [],
                            "records": [], "next_plain": ""}
        self._cards.clear()
        self._changed("summary")

    async def go_home(self) -> dict[str, Any]:
        """The summary is closed: the home screen, with everyone's day as it now stands."""
        if self.running is not None and not self.running.done():
            raise HomeError(f"{self._name()}'s session is under way: finish it or press STOP "
                            "first")
        self.summary = None
        if self.current is not None:
            async with self._lock:
                await self._load(self.current)
        self._changed("home")
        return {"ok": True}

    def add_person(self, name: str, kind: str, painful: list[str],
                   sessions_per_week: int | None) -> dict[str, Any]:
        """A new person's plan (the default exercises for their profile), as `halfstep plan
        init` writes it; their first session finds their starting loads."""
        from pydantic import ValidationError

        from controller.core.plan_file import save_plan
        from controller.planning.models import Program, UserProfile
        from controller.planning.starter import default_exercises
        from firmware_bridge.validation import describe

        if not name.strip():
            raise HomeError("a name is needed", 400, "name")
        try:
            profile_kind = ProfileKind(kind)
        except ValueError:
            raise HomeError(f"{kind!r} is not a profile: athlete, pain or older", 400,
                            "kind") from None
        spw = sessions_per_week or (3 if profile_kind == ProfileKind.ATHLETE else 2)
        try:
            plan = PlanFile(
                profile=UserProfile(name=name.strip(), kind=profile_kind,
                                    sessions_per_week=spw, painful_regions=painful),
                program=Program(start_date=self.day(),
                                exercises=default_exercises(profile_kind)))
        except ValidationError as e:
            raise HomeError(describe(e), 400) from None
        pid = person_id(name, {p.id for p in find_people(self.folder)})
        save_plan(plan, self.folder / f"{pid}.json")
        log.info("person_added", person=pid, profile=kind)
        self._changed("added")
        return {"ok": True, "id": pid}

    async def close(self) -> None:
        """At shutdown: a session under way is stopped (the load off, its sets kept)."""
        if self.running is not None and not self.running.done() and self.runner is not None:
            fut = self.runner.interrupt_soon("shutdown")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.wrap_future(fut), 5)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.running, 5)
        if self.history is not None:
            with contextlib.suppress(Exception):
                await self.core.call(self.history.close)

    def _name(self) -> str:
        return self.runner.plan.profile.name if self.runner is not None else "this person"

    def _changed(self, what: str) -> None:
        self.bus.emit("home", what=what, current=None if self.current is None
                      else self.current.id)


def person_card(person: Person, plan: PlanFile, today: dt.date) -> dict[str, Any]:
    """One person on the home screen: today's day in plain words, and whether Start can go."""
    from controller.core.session import paused_text
    from controller.planning.planner import next_session
    from controller.surfaces.panel.summary import day_words, next_day

    rx = next_session(plan, today)
    done = [s for s in plan.history if s.sets]
    card: dict[str, Any] = {
        "id": person.id, "name": plan.profile.name, "kind": plan.profile.kind.value,
        "last": done[-1].date.isoformat() if done else None, "sessions": len(done),
        "exercises": [i.exercise for i in rx.items],
        "headline": rx.as_dict().get("headline") or "",
    }
    if rx.status == "paused":
        card.update(status="paused", can_start=False, plain=paused_text(rx))
    elif any(s.date == today for s in done):
        nxt = next_day(plan, today)
        card.update(status="done", can_start=True, plain="Trained today." + (
            f" Next session: {day_words(nxt, today)}." if nxt is not None else ""))
    elif rx.too_soon is not None:
        card.update(status="rest", can_start=True,
                    plain=next((r.plain for r in rx.reasons if r.rule == "SPACE-1"), ""))
    else:
        card.update(status="ready", can_start=True,
                    plain="First session: finding your starting loads." if not done
                    else f"Ready: {len(rx.items)} exercises today.")
    return card
