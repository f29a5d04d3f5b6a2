"""What a wire log says happened: link quality, commands and their latency, the unit's events,
the sets (load on to load off) and their reps, recomputed from the recorded telemetry.

Pure: a WireLog in, a summary and a timeline out (the support tools print them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controller.events import iso
from controller.reps import CableRepEngine
from firmware_bridge.codec import FrameDecoder
from firmware_bridge.messages import (
    Ack,
    DeviceInfo,
    Event,
    EventCode,
    Heartbeat,
    MsgType,
    Nack,
    SetLoad,
    Telemetry,
)
from firmware_bridge.wirelog import CLOSE, OPEN, RX, TX, WireLog, segments

GAP_S = 0.3  # a telemetry gap worth a line in the timeline (the host's "degraded")
_WARN = {EventCode.LEASE_EXPIRED, EventCode.HANDLE_RELEASED, EventCode.EMERGENCY_STOP_LATCHED,
         EventCode.DELOADED, EventCode.TENSION_LIMIT, EventCode.BOOT}


@dataclass
class Row:
    at_us: int
    level: str  # info | warning | error
    kind: str
    text: str
    segment: int

    def as_dict(self) -> dict[str, Any]:
        return {"time": iso(self.at_us / 1e6), "level": self.level, "kind": self.kind,
                "text": self.text, "link": self.segment}


@dataclass
class WireSummary:
    start_us: int = 0
    end_us: int = 0
    links: int = 0
    links_lost: list[str] = field(default_factory=list)
    rx_bytes: int = 0
    tx_bytes: int = 0
    frames_rx: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0
    frames_lost: int = 0
    commands: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    unanswered: int = 0
    latency_ms: list[float] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    sets: list[dict[str, Any]] = field(default_factory=list)
    gaps: int = 0
    device: dict[str, Any] = field(default_factory=dict)


def analyse(log: WireLog) -> tuple[WireSummary, list[Row]]:
    s = WireSummary()
    rows: list[Row] = []
    if log.records:
        s.start_us, s.end_us = log.records[0].at_us, log.records[-1].at_us
    for n, seg in enumerate(segments(log), 1):
        _segment(n, seg, s, rows)
    if log.problem:
        rows.append(Row(s.end_us, "error", "file", f"reading stopped: {log.problem}", s.links))
    return s, rows


def _segment(n: int, seg: list, s: WireSummary, rows: list[Row]) -> None:
    rx, tx = FrameDecoder(), FrameDecoder()
    sent: dict[int, tuple[int, str]] = {}  # seq -> (time, command) awaiting an answer
    last_dev_seq: int | None = None
    last_sample_us: int | None = None
    engine: CableRepEngine | None = None
    current: dict[str, Any] | None = None
    cables = 1

    def end_set(at_us: int, why: str) -> None:
        nonlocal engine, current
        if current is None or engine is None:
            return
        summ = engine.combined.summary()
        current.update(reps=summ.reps, partial_reps=summ.partial_reps, ended=iso(at_us / 1e6),
                       ended_by=why, mean_concentric_m_s=summ.mean_concentric_m_s)
        s.sets.append(current)
        rows.append(Row(at_us, "info", "set", f"set {len(s.sets)} ended ({why}): "
                        f"{summ.reps} reps at {current['load_kg']:.1f} kg", n))
        engine, current = None, None

    for r in seg:
        if r.kind == OPEN:
            s.links += 1
            rows.append(Row(r.at_us, "info", "link", f"link opened: {r.data.decode()}", n))
            continue
        if r.kind == CLOSE:
            why = r.data.decode(errors="replace")
            lost = why.startswith("lost")
            if lost:
                s.links_lost.append(why[6:])
            end_set(r.at_us, "link lost" if lost else "link closed")
            rows.append(Row(r.at_us, "error" if lost else "info", "link",
                            f"link {'lost' if lost else 'closed by the host'}"
                            + (f": {why[6:]}" if lost else ""), n))
            continue
        if r.kind == TX:
            s.tx_bytes += len(r.data)
            for f in tx.feed(r.data):
                if isinstance(f.msg, Heartbeat):
                    continue
                name = f.msg.TYPE.name
                if f.seq in sent:  # the same sequence number, still unanswered: a retry
                    s.retries += 1
                    rows.append(Row(r.at_us, "warning", "retry", f"{name} sent again "
                                    f"(seq {f.seq})", n))
                    continue
                s.commands[name] = s.commands.get(name, 0) + 1
                sent[f.seq] = (r.at_us, name)
                text = name if not isinstance(f.msg, SetLoad) else \
                    f"SET_LOAD {', '.join(f'{v / 2:.1f}' for v in f.msg.loads_half_kg)} kg"
                rows.append(Row(r.at_us, "info", "command", text, n))
            continue
        assert r.kind == RX
        s.rx_bytes += len(r.data)
        for f in rx.feed(r.data):
            s.frames_rx += 1
            if last_dev_seq is not None:
                gap = (f.seq - last_dev_seq - 1) & 0xFF
                if gap < 128:
                    s.frames_lost += gap
            last_dev_seq = f.seq
            msg = f.msg
            if isinstance(msg, Ack | Nack):
                ask = sent.pop(msg.ref_seq, None)
                if ask is not None:
                    s.latency_ms.append((r.at_us - ask[0]) / 1000)
                if isinstance(msg, Nack):
                    rows.append(Row(r.at_us, "warning", "nack", f"{MsgType(msg.ref_type).name} "
                                    f"refused by the unit (error {msg.error})", n))
                elif msg.ref_type == MsgType.SET_LOAD:
                    kg = max(msg.values, default=0) / 2
                    if kg > 0 and current is None:
                        current = {"load_kg": kg, "started": iso(r.at_us / 1e6)}
                        engine = CableRepEngine(cables)
                    rows.append(Row(r.at_us, "info", "load", f"load applied: {kg:.1f} kg", n))
                elif msg.ref_type == MsgType.STOP:
                    end_set(r.at_us, "stop")
            elif isinstance(msg, DeviceInfo):
                cables = msg.cable_count
                s.device = {"serial": msg.serial, "firmware": msg.firmware_version,
                            "cables": msg.cable_count, "max_kg": msg.max_load_half_kg / 2}
            elif isinstance(msg, Event):
                try:
                    code = EventCode(msg.code)
                    name = code.name
                except ValueError:
                    code, name = None, f"EVENT_{msg.code}"
                s.events[name] = s.events.get(name, 0) + 1
                rows.append(Row(r.at_us, "warning" if code in _WARN else "info", "device",
                                f"unit: {name.lower().replace('_', ' ')} (value {msg.value})", n))
                if code in (EventCode.LEASE_EXPIRED, EventCode.EMERGENCY_STOP_LATCHED):
                    end_set(r.at_us, name.lower().replace("_", " "))
            elif isinstance(msg, Telemetry):
                if last_sample_us is not None and (r.at_us - last_sample_us) / 1e6 > GAP_S:
                    s.gaps += 1
                    rows.append(Row(r.at_us, "warning", "gap", f"no telemetry for "
                                    f"{(r.at_us - last_sample_us) / 1e6:.2f} s", n))
                last_sample_us = r.at_us
                if engine is not None:
                    for rep in engine.feed(msg.t_us / 1e6, msg.position_mm, msg.velocity_m_s,
                                           msg.tension_n):
                        rows.append(Row(r.at_us, "info", "rep",
                                        f"rep {engine.combined.full_reps} ({rep.kind}, "
                                        f"{rep.mean_concentric_m_s:.2f} m/s)", n))
    s.bad_frames += rx.stats.bad_frames
    s.skipped_bytes += rx.stats.skipped_bytes
    s.unanswered += len(sent)
    end_set(seg[-1].at_us, "end of the recording")


def summary_lines(s: WireSummary, problem: str | None) -> list[str]:
    dur = (s.end_us - s.start_us) / 1e6
    lat = np.array(s.latency_ms) if s.latency_ms else None
    reps = sum(x["reps"] for x in s.sets)
    d = s.device
    lines = [
        f"wire log: {iso(s.start_us / 1e6)} to {iso(s.end_us / 1e6)} ({dur:.1f} s); unit "
        f"{d.get('serial', '?')} firmware {d.get('firmware', '?')}",
        f"sets: {len(s.sets)}, reps: {reps}"
        + ("".join(f"\n  set {i}: {x['load_kg']:.1f} kg, {x['reps']} reps"
                   + (f" (+{x['partial_reps']} partial)" if x["partial_reps"] else "")
                   + f", ended by {x['ended_by']}" for i, x in enumerate(s.sets, 1))),
        f"link: opened {s.links} time(s), lost {len(s.links_lost)}"
        + (f" ({'; '.join(s.links_lost)})" if s.links_lost else "")
        + f", reconnects {max(0, s.links - 1)}",
        f"frames: {s.frames_rx} received, {s.frames_lost} lost (sequence gaps), "
        f"{s.bad_frames} bad (CRC/header), {s.skipped_bytes} bytes skipped; telemetry gaps "
        f"> {GAP_S:.1f} s: {s.gaps}",
        "commands: " + (", ".join(f"{k} {v}" for k, v in sorted(s.commands.items())) or "none")
        + f"; retries {s.retries}; unanswered {s.unanswered}",
    ]
    if lat is not None:
        lines.append(f"command latency: p50 {np.percentile(lat, 50):.2f} ms, p99 "
                     f"{np.percentile(lat, 99):.2f} ms, max {lat.max():.2f} ms "
                     f"({len(lat)} answered)")
    warn = {k: v for k, v in s.events.items() if k in {c.name for c in _WARN}}
    lines.append("unit events: " + (", ".join(f"{k.lower()} {v}" for k, v in
                                              sorted(s.events.items())) or "none")
                 + (f"  <- worth a look: {', '.join(k.lower() for k in warn)}" if warn else ""))
    if problem:
        lines.append(f"file: reading stopped early: {problem}")
    return lines
