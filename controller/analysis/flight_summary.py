"""A flight record summarised: what led up to it (its window, the event that triggered it, the
load, the last samples of each cable, the last events), for `halfstep logs summary` on a
flight record; its events, checked as log events, for the timeline."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from controller.analysis.log_reader import check_event
from controller.analysis.log_summary import JsonSummary, json_row


def flight_events(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A flight record's events that are log events, and where the first that is not was."""
    events, problem = [], None
    for i, e in enumerate(body["events"], 1):
        why = check_event(e)
        if why:
            problem = problem or f"event {i} of the record {why} (skipped)"
        else:
            events.append(e)
    return events, problem


def _numbers(v: Any) -> list[float] | None:
    """A list of plain numbers (a record's column), else None."""
    if not isinstance(v, list) or not all(isinstance(x, int | float) and not isinstance(x, bool)
                                          and math.isfinite(x) for x in v):
        return None
    return [float(x) for x in v]


def _cables(v: Any) -> list[list[float]]:
    """A per-cable column (a list of lists of numbers); what is not one is left out."""
    if not isinstance(v, list):
        return []
    return [c for c in (_numbers(x) for x in v[:8]) if c]


def _epoch(text: Any) -> float | None:
    try:
        t = dt.datetime.fromisoformat(str(text)[:40].replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def _hms(at: float | None) -> str:
    from controller.analysis.timestamps import iso

    return "?" if at is None else iso(at)[11:23]


def flight_summary(body: dict[str, Any]) -> list[str]:
    """What led up to the record: its window, the event that triggered it, the load and the
    last samples (position, speed, tension, and status bits and link age where the record has
    them), the last events, then the events kept summarised as a JSON log is."""
    events, problem = flight_events(body)
    agg = JsonSummary()
    for e in events:
        agg.add(e)
    reason, at = body["reason"][:80], body["at"][:40]
    at_s = _epoch(at)
    tel = body.get("telemetry") or {}
    t_s = _numbers(tel.get("t_s")) or []
    host = _numbers(tel.get("host_time")) or []
    pos, vel, ten = (_cables(tel.get(k)) for k in ("position_mm", "velocity_m_s", "tension_n"))
    lines = [f"flight record: {reason} at {at}; the {str(body.get('window_s', '?'))[:20]} s "
             "before it"]
    times = [t for t in [*(_epoch(e.get("timestamp")) for e in events[:1] + events[-1:]),
                         *host[:1], *host[-1:]] if t is not None]
    if times:
        lines.append(f"window: {_hms(min(times))} to {_hms(max(times))} UTC "
                     f"({max(times) - min(times):.1f} s by the host's clock: the events and "
                     "telemetry kept)")
    span = f" over {t_s[-1] - t_s[0]:.1f} s" if len(t_s) > 1 else ""
    lines.append(f"telemetry: {len(t_s)} samples{span}, {len(pos)} cable(s)"
                 + (f"; the unit's clock {t_s[0]:.2f} to {t_s[-1]:.2f} s" if t_s else ""))
    trigger = next((e for e in reversed(events)
                    if reason in (e.get("kind"), e.get("event"))), None)
    lines.append(f"cause: {json_row(trigger)['text'][:200]} at {trigger.get('timestamp')}"
                 if trigger is not None else
                 f"cause: {reason} (the event itself is not among those kept)")
    lines += _flight_load(events)
    lines += _flight_samples(t_s, host, at_s, pos, vel, ten, tel)
    shown = [e for e in events if e.get("event") not in ("rep", "answer")][-5:]
    if shown:
        lines.append("last events:" + "".join(
            f"\n  {_hms(_epoch(e.get('timestamp')))}  {json_row(e)['text'][:120]}"
            for e in shown))
    return lines + agg.lines(problem, what="events", unit="kept")


def _flight_load(events: list[dict[str, Any]]) -> list[str]:
    """The load at the end of the record, from the log events it kept."""
    load: str | None = None
    set_: str | None = None
    reps = 0
    for e in events:
        kind, when = e.get("event"), _hms(_epoch(e.get("timestamp")))
        if kind == "load_set":
            kgs = _numbers(e.get("applied_kg")) or []
            on = max(kgs, default=0.0)
            load = f"{on:.1f} kg since {when}" if on > 0 else f"off since {when} (0 kg set)"
        elif kind == "stop_sent":
            load = f"off: STOP acknowledged at {when}"
        elif kind == "rep" and e.get("rep_kind") == "full":
            set_, reps = f"{str(e.get('exercise'))[:40]} set {str(e.get('set_index'))[:10]}", \
                reps + 1
        elif kind == "set_done":
            set_, reps = None, 0
    if load is None and set_ is None:
        return []
    return [f"load: {load or 'not set within the record'}"
            + (f"; {set_} under way, {reps} rep(s) in the record" if set_ else "")]


def _flight_samples(t_s: list[float], host: list[float], at_s: float | None,
                    pos: list[list[float]], vel: list[list[float]], ten: list[list[float]],
                    tel: dict[str, Any]) -> list[str]:
    """The last sample of each cable, the last second of movement, and how old the link's
    news was when the record was written."""
    if not t_s:
        return ["last samples: none in the record"]
    out = []
    age = f"; the last telemetry reached the host {at_s - host[-1]:.2f} s before the record" \
        if host and at_s is not None else ""
    out.append(f"last sample: the unit's clock {t_s[-1]:.2f} s{age}")
    recent = [i for i in range(len(t_s)) if t_s[i] >= t_s[-1] - 1.0]
    status = _cables(tel.get("status"))
    for c in range(max(len(pos), len(vel), len(ten))):
        p_c, v_c, t_c = (col[c] if c < len(col) else [] for col in (pos, vel, ten))
        moving = any(abs(v_c[i]) > 0.05 for i in recent if i < len(v_c))
        bits = ""
        if c < len(status):
            from firmware_bridge.messages import SampleStatus

            v = int(status[c][-1])
            bits = "; status " + ("|".join(b.name.lower() for b in SampleStatus
                                           if b and b.name and v & b) or "none")
        out.append(f"  cable {c + 1}: position {_last(p_c, '.1f', 'mm')}, velocity "
                   f"{_last(v_c, '.2f', 'm/s')}, tension {_last(t_c, '.1f', 'N')}{bits}; the "
                   f"last second: position {_spread(p_c, recent, '.0f')} mm, tension "
                   f"{_spread(t_c, recent, '.0f')}"
                   f" N, {'moving' if moving else 'still'}")
    return out


def _last(col: list[float], fmt: str, unit: str) -> str:
    return f"{col[-1]:{fmt}} {unit}" if col else "?"


def _spread(col: list[float], at: list[int], fmt: str) -> str:
    xs = [col[i] for i in at if i < len(col)]
    return f"{min(xs):{fmt}} to {max(xs):{fmt}}" if xs else "?"
