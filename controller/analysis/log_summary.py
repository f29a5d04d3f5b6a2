"""A JSON log summarised as it streams by, and its events as timeline rows: what `halfstep logs
summary` and `timeline` show for a JSON log (and, through flight_summary.py, for the events a
flight record kept). The click commands that print them are in controller/surfaces/cli/logs.py.
"""

from __future__ import annotations

from typing import Any

from controller.analysis import outcomes

FAULT_EVENTS = {"link_closed", "command_timeout", "command_retry", "reconnect_failed",
                "device_rebooted", "load_differs", "mqtt_lost", "subscriber_failed"}
LEVEL_ORDER = {"debug": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}

MAX_KEYS = 200  # distinct kinds counted by name; beyond, "(other)": memory stays bounded
MAX_SESSIONS = 10_000


def _bump(counts: dict[str, int], key: object) -> None:
    k = str(key)[:80]
    if k not in counts and len(counts) >= MAX_KEYS:
        k = "(other)"
    counts[k] = counts.get(k, 0) + 1


class JsonSummary:
    """A JSON log summarised as it streams by: what is kept does not grow with the file.

    Sets, links, faults and the unit's events are told in the words of
    controller/analysis/outcomes.py,
    found as the wire log's summary finds them (a set: a load the unit took, to how it came
    off; a link: a connection the unit answered on, to how it ended), so that the summaries of
    the two logs of one session agree line for line; what only this log knows (the exercise,
    how the controller put a set's end, safety events, the controller's own faults) follows."""

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = None
        self.sessions: set[str] = set()
        self.safety: dict[str, int] = {}
        self.faults: dict[str, int] = {}  # the controller's event names
        self.story = outcomes.Story()
        self._link: str | None = None  # the open link's ending so far ("" while none), or None
        self._load: float | None = None  # the load the set under way took (load_set), if any
        self._set_end: str | None = None  # the first thing that ended the set under way
        self._told = False

    def add(self, e: dict[str, Any]) -> None:
        self.count += 1
        sid, kind = e.get("session_id"), e.get("event")
        if sid and (sid[:80] in self.sessions or len(self.sessions) < MAX_SESSIONS):
            self.sessions.add(sid[:80])
        if e.get("timestamp"):
            self.first = self.first or e["timestamp"][:80]
            self.last = e["timestamp"][:80]
        if kind == "safety_event":
            _bump(self.safety, e.get("kind"))
        if kind in FAULT_EVENTS or e.get("level") in ("error", "critical"):
            _bump(self.faults, kind)
        self._story(kind, e)

    def _story(self, kind: str | None, e: dict[str, Any]) -> None:
        st = self.story
        ended = {"device_rebooted": outcomes.UNIT_REBOOTED, "link_closed": outcomes.LINK_LOST,
                 "stop_sent": outcomes.STOP}.get(kind or "")
        if kind == "safety_event" and e.get("kind") == "link_lost":
            ended = outcomes.LINK_LOST
        if kind == "device_connected":  # a new link the unit answered on: the last one ended
            self._end_link()
            self._link = ""
        elif kind == "device_event":
            name = str(e.get("event_code"))[:40].upper()
            reboot = name == "BOOT" and bool(e.get("device_serial"))  # after it said who it is
            st.unit_event(name, reboot=reboot)
            ended = outcomes.SET_ENDERS.get(name)
        elif kind == "load_set":
            applied = e.get("applied_kg")
            kgs = [v for v in (applied if isinstance(applied, list) else [applied])
                   if isinstance(v, int | float) and not isinstance(v, bool)]
            if kgs and max(kgs) > 0 and self._load is None:
                self._load, self._set_end = float(max(kgs)), None
        elif kind == "command_retry":
            st.fault(outcomes.RETRIED)
        elif kind == "load_differs":
            st.fault(outcomes.LOAD_DIFFERS)
        elif kind == "set_done":
            self._set_done(e)
        if ended is not None:
            if self._link == "" and ended != outcomes.STOP:
                self._link = ended
            if self._load is not None and self._set_end is None:
                self._set_end = ended

    def _set_done(self, e: dict[str, Any]) -> None:
        """A set the controller finished: as the unit saw it when it took the load, else
        among the sets the unit never loaded."""
        said = str(e.get("ended_by"))[:80]
        what = f"{str(e.get('exercise'))[:40]} {str(e.get('set_index'))[:10]}"
        lost = said.startswith("link lost")
        if self._load is None:
            self.story.add_unloaded(what, (self._link or outcomes.LINK_LOST) if lost
                                    else said, f"controller: {said}; no load reached the unit")
            return
        ending = self._set_end or ((self._link or outcomes.LINK_LOST) if lost
                                   else outcomes.STOP)
        reps, partial = e.get("reps"), e.get("partial_reps")
        planned = e.get("load_kg")
        detail = f"{what}: {said}"
        if isinstance(planned, int | float) and abs(planned - self._load) > 0.01:
            detail += f"; {planned} kg planned"
        self.story.add_set(self._load, reps if isinstance(reps, int) else 0,
                           partial if isinstance(partial, int) else 0, ending, detail)
        self._load = self._set_end = None

    def _end_link(self) -> None:
        if self._link is not None:
            self.story.end_link(self._link or outcomes.CLOSED)
        self._link = None

    def lines(self, problem: str | None, what: str = "log", unit: str = "lines") -> list[str]:
        if not self._told:  # the log's last link ends with it (closed, as far as it says)
            self._told = True
            self._end_link()
        sessions = sorted(self.sessions)
        more = "+" if len(sessions) >= MAX_SESSIONS else ""
        faults, safety = self.faults, self.safety
        lines = [f"{what}: {self.count} {unit}"
                 + (f", {self.first} to {self.last}" if self.first else ""),
                 f"sessions: {len(sessions)}{more} ({', '.join(sessions[:5])}"
                 + ("..." if len(sessions) > 5 else "") + ")",
                 *self.story.lines(),
                 "safety events: " + (", ".join(f"{k} {v}" for k, v in sorted(safety.items()))
                                      or "none"),
                 "logged faults: " + (", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
                                      or "none"),
                 f"controller: retries {faults.get('command_retry', 0)}, timeouts "
                 f"{faults.get('command_timeout', 0)}, reconnects {safety.get('reconnected', 0)}"
                 f", failed reconnect attempts {faults.get('reconnect_failed', 0)}"]
        if problem:
            lines.append(f"file: {problem}")
        return lines


def json_row(e: dict[str, Any]) -> dict[str, Any]:
    """One checked event (logs.check_event) as a timeline row."""
    kind = e.get("event") or "?"
    detail = {k: v for k, v in e.items() if k not in ("event", "level", "timestamp",
                                                         "link", "device_serial",
                                                         "firmware", "session_id")}
    text = kind
    if kind == "safety_event":
        text = f"safety: {e.get('kind')}: {e.get('cause')}"
        kind = f"safety:{e.get('kind')}"
    elif detail:
        text += " " + " ".join(f"{k}={v}" for k, v in detail.items())
    level = e.get("level") or "info"
    if kind == "device_event" and str(e.get("event_code")).upper() in outcomes.UNIT_FAULTS \
            and LEVEL_ORDER.get(level, 1) < LEVEL_ORDER["warning"]:
        level = "warning"  # the unit's own deload, lease expiry...: as the wire log's timeline
    return {"time": e.get("timestamp") or "", "level": level,
            "kind": kind, "text": text, "session": e.get("session_id")}
