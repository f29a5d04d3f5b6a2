"""What a wire log says happened: link quality, commands and their latency, the unit's events,
the sets (load on to load off) and their reps, recomputed from the recorded telemetry.

Pure: a WireLog (or a WireLogReader, streamed) in, a summary and a timeline out (the support
tools print them). Sets, links, faults and the unit's events are told in the words of
controller/analysis/outcomes.py, the same as a JSON log's summary of the same session. One pass,
record
by record: what is kept does not grow with the recording (details of the first sets and link
losses, a bounded sample of command latencies).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controller.analysis import outcomes
from controller.analysis.reps import CableRepEngine
from controller.analysis.timestamps import iso
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
from firmware_bridge.redact import redact_text, redact_url
from firmware_bridge.wirelog import CLOSE, OPEN, RX, TX

GAP_S = 0.3  # a telemetry gap worth a line in the timeline (the host's "degraded")


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
    records: int = 0
    links: int = 0
    links_lost: list[str] = field(default_factory=list)  # the first MAX_LISTED reasons
    lost: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    frames_rx: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0
    frames_lost: int = 0
    commands: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    unanswered: int = 0
    latency_ms: list[float] = field(default_factory=list)  # all, or a uniform sample of them
    answered: int = 0
    latency_max_ms: float = 0.0
    sets: list[dict[str, Any]] = field(default_factory=list)  # the first MAX_LISTED sets
    set_count: int = 0
    rep_count: int = 0
    gaps: int = 0
    device: dict[str, Any] = field(default_factory=dict)
    unanswered_opens: int = 0  # link openings the unit never answered HELLO on
    story: outcomes.Story = field(default_factory=outcomes.Story)

    def note_latency(self, ms: float) -> None:
        """Kept exactly up to MAX_LATENCIES, then as a uniform sample (reservoir) of that size,
        so memory stays bounded however many commands a recording holds."""
        self.answered += 1
        self.latency_max_ms = ms if self.answered == 1 else max(self.latency_max_ms, ms)
        if len(self.latency_ms) < MAX_LATENCIES:
            self.latency_ms.append(ms)
        else:
            j = _SAMPLER.randrange(self.answered)
            if j < MAX_LATENCIES:
                self.latency_ms[j] = ms


MAX_LISTED = 100  # sets and link losses kept in detail; the rest are counted
MAX_LATENCIES = 100_000
_SAMPLER = random.Random(0)


def analyse(log: Any, emit: Callable[[Row], None] | None = None
            ) -> tuple[WireSummary, list[Row]]:
    """The summary and the timeline of a WireLog or a WireLogReader, in one pass over its
    records. Without `emit` the rows come back in a list; with it they are handed over one at
    a time and the list stays empty, so memory does not grow with the recording."""
    s = WireSummary()
    rows: list[Row] = []
    out = emit or rows.append
    seg: _Segment | None = None
    number = 0  # of the link opening (segment) the records belong to
    for r in log.records:
        if s.records == 0:
            s.start_us = r.at_us
        s.records += 1
        s.end_us = r.at_us
        if seg is None or (r.kind == OPEN and seg.fed):
            if seg is not None:
                seg.finish()
            number += 1
            seg = _Segment(number, s, out)
        seg.feed(r)
    if seg is not None:
        seg.finish()
    if log.problem:
        out(Row(s.end_us, "error", "file", f"reading stopped: {log.problem}", s.links))
    return s, rows


def _msg_name(value: int) -> str:
    try:
        return MsgType(value).name
    except ValueError:  # a type this halfstep does not know (newer firmware, or damage)
        return f"MSG_{value}"


class _Segment:
    """One link opening's records, fed one at a time."""

    def __init__(self, n: int, s: WireSummary, out: Callable[[Row], None]):
        self.n, self.s, self.out = n, s, out
        self.rx, self.tx = FrameDecoder(), FrameDecoder()
        # seq -> (time, command, the loads a SET_LOAD asked for) awaiting an answer
        self.sent: dict[int, tuple[int, str, tuple[int, ...] | None]] = {}
        self.last_dev_seq: int | None = None
        self.last_sample_us: int | None = None
        self.engine: CableRepEngine | None = None
        self.current: dict[str, Any] | None = None
        self.cables = 1
        self.fed = 0
        self.last_us = 0
        self.answered = False  # the unit said who it is (DEVICE_INFO) on this link
        self.rebooted = False  # ... and then booted again: its load and lease are gone
        self.ending: str | None = None  # how the link ended (outcomes), once it has
        self.gap = 0  # frames missing before the last one read (sequence numbers)

    def row(self, at_us: int, level: str, kind: str, text: str) -> None:
        self.out(Row(at_us, level, kind, text, self.n))

    def end_set(self, at_us: int, why: str) -> None:
        current, engine = self.current, self.engine
        if current is None or engine is None:
            return
        s = self.s
        summ = engine.combined.summary()
        current.update(reps=summ.reps, partial_reps=summ.partial_reps, ended=iso(at_us / 1e6),
                       ended_by=why, mean_concentric_m_s=summ.mean_concentric_m_s)
        s.set_count += 1
        s.rep_count += summ.reps
        s.story.add_set(current["load_kg"], summ.reps, summ.partial_reps, why)
        if len(s.sets) < MAX_LISTED:
            s.sets.append(current)
        self.row(at_us, "info", "set", f"set {s.set_count} ended ({why}): "
                 f"{summ.reps} reps at {current['load_kg']:.1f} kg")
        self.engine, self.current = None, None

    def feed(self, r: Any) -> None:
        if not self.fed and r.kind != OPEN:
            self.answered = True  # a later part of a rotated recording: the link was up
        self.fed += 1
        self.last_us = r.at_us
        s = self.s
        if r.kind == OPEN:
            s.links += 1
            url = redact_url(r.data.decode("utf-8", "replace"))  # old files: credentials too
            self.row(r.at_us, "info", "link", f"link opened: {url}")
        elif r.kind == CLOSE:
            self._close(r)
        elif r.kind == TX:
            s.tx_bytes += len(r.data)
            if r.data:
                self._tx(r)
        elif r.kind == RX:
            s.rx_bytes += len(r.data)
            if r.data:
                self._rx(r)

    def _close(self, r: Any) -> None:
        """How the link ended: the unit rebooted; lost (it failed, or the host gave it up with
        a set under way or a command unanswered: the controller's "link lost"); or closed by
        the host."""
        s = self.s
        why = redact_text(r.data.decode("utf-8", "replace"))
        failed = why.startswith("lost")
        waiting = sorted({name for _, name, _ in self.sent.values() if name != "STOP"})
        if self.rebooted:
            ending = outcomes.UNIT_REBOOTED
            text = ("link lost after the unit rebooted: " + why[6:] if failed
                    else "link closed by the host after the unit rebooted")
            level = "info"
        elif failed:
            ending, text, level = outcomes.LINK_LOST, f"link lost: {why[6:]}", "error"
        elif self.current is not None or waiting:
            ending, level = outcomes.LINK_LOST, "error"
            gave_up = ("a set under way" if self.current is not None else "no answer to "
                       + ", ".join(waiting))
            why = f"the host closed it with {gave_up}"
            text = f"link lost: {why}"
        else:
            ending, text, level = outcomes.CLOSED, "link closed by the host", "info"
        if ending == outcomes.LINK_LOST and len(s.links_lost) < MAX_LISTED:
            s.links_lost.append(why[6:] if failed else why)
        self.ending = self.ending or ending
        self.end_set(r.at_us, ending)
        self.row(r.at_us, level, "link", text)

    def _tx(self, r: Any) -> None:
        s = self.s
        for f in self.tx.feed(r.data):
            if isinstance(f.msg, Heartbeat):
                continue
            name = f.msg.TYPE.name
            if f.seq in self.sent:  # the same sequence number, still unanswered: a retry
                s.retries += 1
                s.story.fault(outcomes.RETRIED)
                self.row(r.at_us, "warning", "retry", f"{name} sent again (seq {f.seq})")
                continue
            s.commands[name] = s.commands.get(name, 0) + 1
            asked = f.msg.loads_half_kg if isinstance(f.msg, SetLoad) else None
            self.sent[f.seq] = (r.at_us, name, asked)
            text = name if asked is None else \
                f"SET_LOAD {', '.join(f'{v / 2:.1f}' for v in asked)} kg"
            self.row(r.at_us, "info", "command", text)

    def _rx(self, r: Any) -> None:
        s = self.s
        for f in self.rx.feed(r.data):
            s.frames_rx += 1
            self.gap = 0
            if self.last_dev_seq is not None:
                gap = (f.seq - self.last_dev_seq - 1) & 0xFF
                if gap < 128:
                    s.frames_lost += gap
                    self.gap = gap
            self.last_dev_seq = f.seq
            msg = f.msg
            if isinstance(msg, Ack | Nack):
                self._answer(r.at_us, msg)
            elif isinstance(msg, DeviceInfo):
                self.cables = msg.cable_count
                self.answered = True
                s.device = {"serial": msg.serial, "firmware": msg.firmware_version,
                            "cables": msg.cable_count, "max_kg": msg.max_load_half_kg / 2}
                hello = next((q for q, x in self.sent.items() if x[1] == "HELLO"), None)
                if hello is not None:  # DEVICE_INFO is HELLO's answer
                    self.s.note_latency((r.at_us - self.sent.pop(hello)[0]) / 1000)
            elif isinstance(msg, Event):
                self._event(r.at_us, msg)
            elif isinstance(msg, Telemetry):
                self._telemetry(r.at_us, msg)

    def _answer(self, at_us: int, msg: Ack | Nack) -> None:
        ask = self.sent.pop(msg.ref_seq, None)
        if ask is not None:
            self.s.note_latency((at_us - ask[0]) / 1000)
        if isinstance(msg, Nack):
            self.row(at_us, "warning", "nack", f"{_msg_name(msg.ref_type)} refused by the "
                     f"unit (error {msg.error})")
        elif msg.ref_type == MsgType.SET_LOAD:
            if ask is not None and ask[2] is not None and tuple(msg.values) != ask[2]:
                self.s.story.fault(outcomes.LOAD_DIFFERS)
                self.row(at_us, "warning", "load", "the unit took another load than asked: "
                         f"{', '.join(f'{v / 2:.1f}' for v in msg.values)} kg for "
                         f"{', '.join(f'{v / 2:.1f}' for v in ask[2])} kg")
            kg = max(msg.values, default=0) / 2
            if kg > 0 and self.current is None:
                self.current = {"load_kg": kg, "started": iso(at_us / 1e6)}
                self.engine = CableRepEngine(self.cables)
            self.row(at_us, "info", "load", f"load applied: {kg:.1f} kg")
        elif msg.ref_type == MsgType.STOP:
            self.end_set(at_us, outcomes.STOP)

    def _event(self, at_us: int, msg: Event) -> None:
        try:
            name = EventCode(msg.code).name
        except ValueError:
            name = f"EVENT_{msg.code}"
        # A BOOT on a link the unit had answered on: it restarted under the host (the client
        # closes the link then, as the JSON log's device_rebooted says).
        reboot = name == "BOOT" and self.answered
        level = self.s.story.unit_event(name, reboot=reboot)
        if reboot:
            self.row(at_us, level, "device", "unit rebooted: it booted again on a link it had "
                     "answered on (its load and lease are gone)")
            self.s.frames_lost -= self.gap  # a rebooted unit numbers its frames afresh
            if not self.rebooted:
                self.rebooted = True
                self.end_set(at_us, outcomes.UNIT_REBOOTED)
            return
        what = {"BOOT": " (start-up report)"}.get(name, "")
        self.row(at_us, level, "device",
                 f"unit: {outcomes.event_word(name)}{what} (value {msg.value})")
        if name in outcomes.SET_ENDERS:
            self.end_set(at_us, outcomes.SET_ENDERS[name])

    def _telemetry(self, at_us: int, msg: Telemetry) -> None:
        if self.last_sample_us is not None and (at_us - self.last_sample_us) / 1e6 > GAP_S:
            self.s.gaps += 1
            self.row(at_us, "warning", "gap",
                     f"no telemetry for {(at_us - self.last_sample_us) / 1e6:.2f} s")
        self.last_sample_us = at_us
        engine = self.engine
        if engine is not None:
            new = engine.feed(msg.t_us / 1e6, msg.position_mm, msg.velocity_m_s,
                              msg.tension_n)
            if new:  # reps read again as the set's range formed, as the session said them
                for was, rep in engine.take_corrections():
                    self.row(at_us, "info", "rep", f"rep {rep.index} recounted: {was.kind} -> "
                             f"{rep.kind}")
            for rep in new:
                self.row(at_us, "info", "rep", f"rep {engine.combined.full_reps} ({rep.kind}, "
                         f"{rep.mean_concentric_m_s:.2f} m/s)")

    def finish(self) -> None:
        s = self.s
        s.bad_frames += self.rx.stats.bad_frames
        s.skipped_bytes += self.rx.stats.skipped_bytes
        s.unanswered += len(self.sent)
        self.end_set(self.last_us, outcomes.END_OF_LOG)
        ending = self.ending or (outcomes.UNIT_REBOOTED if self.rebooted else
                                 outcomes.NOT_CLOSED)
        if not self.answered:  # HELLO never answered: no link to the unit to tell of
            s.unanswered_opens += 1
            return
        if ending == outcomes.LINK_LOST:
            s.lost += 1
        s.story.end_link(ending)


def summary_lines(s: WireSummary, problem: str | None) -> list[str]:
    """The story (sets, links, faults, unit events: the same lines a JSON log of the session
    gives), then what only the wire shows: link openings, frames, commands, latency."""
    dur = (s.end_us - s.start_us) / 1e6
    lat = np.array(s.latency_ms) if s.latency_ms else None
    d = s.device
    lines = [
        (f"wire log: {iso(s.start_us / 1e6)} to {iso(s.end_us / 1e6)} ({dur:.1f} s, "
         f"{s.records} records)" if s.records else "wire log: no records")
        + f"; unit {d.get('serial', '?')} firmware {d.get('firmware', '?')}",
        *s.story.lines(),
        f"link: opened {s.links} time(s)"
        + (f" ({s.unanswered_opens} never answered)" if s.unanswered_opens else "")
        + f", lost {s.lost}"
        + (f" ({'; '.join(s.links_lost)}{'; ...' if s.lost > len(s.links_lost) else ''})"
           if s.links_lost else "")
        + f", reconnects {max(0, s.links - 1)}",
        f"frames: {s.frames_rx} received, {s.frames_lost} lost (sequence gaps), "
        f"{s.bad_frames} bad (CRC/header), {s.skipped_bytes} bytes skipped; telemetry gaps "
        f"> {GAP_S:.1f} s: {s.gaps}",
        "commands: " + (", ".join(f"{k} {v}" for k, v in sorted(s.commands.items())) or "none")
        + f"; retries {s.retries}; unanswered {s.unanswered}",
    ]
    if lat is not None:
        lines.append(f"command latency: p50 {np.percentile(lat, 50):.2f} ms, p99 "
                     f"{np.percentile(lat, 99):.2f} ms, max {s.latency_max_ms:.2f} ms "
                     f"({s.answered} answered)")
    if problem:
        lines.append(f"file: reading stopped early: {problem}")
    return lines
