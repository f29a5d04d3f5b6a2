"""Session events to an MQTT broker, and commands back, without ever holding up the session.

The session's events land in bounded queues here (a plain function call, no waiting); one task
publishes them. While the broker is down or slow, samples are dropped (and counted), per-rep,
per-set and session messages are kept (up to a bound) and sent after reconnecting with backoff,
and only the latest state is kept (it is retained anyway). See docs/mqtt.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import aiomqtt
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from controller.core.events import SESSION_KINDS, Event, EventBus
from controller.core.safety import SafetyRefusal
from controller.surfaces.mqtt.config import MqttSettings, unit_id
from controller.surfaces.mqtt.payloads import (
    DELIVERY,
    CommandError,
    Topics,
    discovery,
    encode,
    parse_command,
    response,
    telemetry_payload,
)
from firmware_bridge import version

log = structlog.get_logger("controller.mqtt")

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
KEPT_LIMIT = 10_000  # rep/set/session/safety messages kept while the broker is away
SAMPLE_LIMIT = 20_000  # telemetry samples waiting; beyond this the oldest are dropped
PHASE_BACKLOG = 64  # phase changes kept while the broker is slower than the session
BIRTH_DELAY_S = (0.5, 3.0)  # a random pause before answering Home Assistant's birth
SAMPLES_PER_MESSAGE = 2_000


class Commands(Protocol):
    """What a remote may ask of the session (the session runner provides it)."""

    async def stop(self, source: str) -> dict[str, Any]: ...

    def set_next_load(self, kg: float, source: str) -> float: ...


@dataclass
class SinkStats:
    connects: int = 0
    connect_failures: int = 0
    published: int = 0
    dropped_samples: int = 0
    dropped_messages: int = 0
    commands: int = 0
    refused: int = 0


class MqttSink:
    """`async with MqttSink(settings, bus, runner):` publishes for as long as the block runs;
    leaving it flushes what is queued (for up to `flush_s`) and says `offline`."""

    def __init__(self, settings: MqttSettings, bus: EventBus, commands: Commands | None = None,
                 *, kept_limit: int = KEPT_LIMIT, sample_limit: int = SAMPLE_LIMIT,
                 flush_s: float = 5.0, configuration_url: str | None = None,
                 birth_delay_s: tuple[float, float] = BIRTH_DELAY_S):
        self.settings = settings
        self.configuration_url = configuration_url  # the panel, linked from Home Assistant
        self.birth_delay_s = birth_delay_s
        self.bus = bus
        self.commands = commands
        self.stats = SinkStats()
        self.connected = False
        self.topics: Topics | None = None
        self.flush_s = flush_s
        self._unit: dict[str, Any] = {}
        self._kept: deque[tuple[str, Event]] = deque()
        self._kept_limit = kept_limit
        self._samples: deque[Any] = deque()
        self._sample_count = 0
        self._sample_limit = sample_limit
        self._state: Event | None = None
        self._state_version = 0
        # States whose phase a later one changed before they were sent: each phase is seen.
        self._phases: deque[Event] = deque(maxlen=PHASE_BACKLOG)
        self._seq = 0
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self._unsubscribe: Any = None
        self._handlers: set[asyncio.Task] = set()
        self._last_telemetry = 0.0
        # Both take tens of milliseconds: done now, before the session, never during a set.
        self._version = version()
        self._ssl = settings.ssl_context()
        if settings.unit:
            self._set_unit(settings.unit)

    # ---- the session's side: never waits ------------------------------------------------------

    def offer(self, event: Event) -> None:
        if event.kind == "unit":
            self._unit = dict(event.data)
            if self.topics is None:
                self._set_unit(unit_id(str(event.data.get("serial", "unit"))))
            return
        if event.kind == "state":
            pending = self._state
            if pending is not None and pending.data.get("phase") != event.data.get("phase"):
                self._phases.append(pending)
            self._state = event
            self._state_version += 1
        elif event.kind == "telemetry":
            if not self.settings.telemetry:
                return
            batch = event.data["batch"]
            self._samples.append(batch)
            self._sample_count += len(batch.t_us)
            while self._sample_count > self._sample_limit:
                old = self._samples.popleft()
                self._sample_count -= len(old.t_us)
                self.stats.dropped_samples += len(old.t_us)
        else:
            if len(self._kept) >= self._kept_limit:
                self._kept.popleft()
                self.stats.dropped_messages += 1
            self._kept.append((event.kind, event))
        self._wake.set()

    def _set_unit(self, uid: str) -> None:
        s = self.settings
        self.topics = Topics(s.prefix, uid, s.discovery)
        self._ready.set()

    # ---- lifetime ------------------------------------------------------------------------------

    async def __aenter__(self) -> MqttSink:
        self._unsubscribe = self.bus.subscribe(self.offer, SESSION_KINDS)
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._unsubscribe()
        self._closing = True
        self._wake.set()
        assert self._task is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.flush_s)
        except TimeoutError:
            log.warning("mqtt_not_flushed", kept=len(self._kept), broker=self.settings.redacted())
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            for t in list(self._handlers):
                t.cancel()
        if self.stats.dropped_samples or self.stats.dropped_messages:
            log.warning("mqtt_dropped", samples=self.stats.dropped_samples,
                        messages=self.stats.dropped_messages)

    @property
    def pending(self) -> int:
        return len(self._kept) + (self._state is not None)

    # ---- the publishing task -----------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        assert self.topics is not None
        return aiomqtt.Client(
            s.host, s.port, username=s.username, password=s.password,
            identifier=f"{s.prefix}-{self.topics.unit}", protocol=aiomqtt.ProtocolVersion.V5,
            will=aiomqtt.Will(self.topics.of("availability"), b"offline", qos=1, retain=True),
            tls_context=self._ssl, keepalive=s.keepalive, timeout=5.0)

    async def _run(self) -> None:
        await self._ready.wait()
        attempt = 0
        while True:
            try:
                async with self._client() as client:
                    self.connected = True
                    self.stats.connects += 1
                    attempt = 0
                    log.info("mqtt_connected", broker=self.settings.redacted(),
                             unit=self.topics.unit if self.topics else None)
                    if await self._session(client):
                        return
            except (aiomqtt.MqttError, OSError) as e:
                if self.connected:
                    log.warning("mqtt_lost", error=str(e), kept=len(self._kept))
                else:
                    self.stats.connect_failures += 1
                    log.warning("mqtt_connect_failed", error=str(e),
                                broker=self.settings.redacted(), attempt=attempt + 1)
                if self._closing:
                    return  # nothing can be flushed: the broker is away
            finally:
                self.connected = False
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    async def _session(self, client: aiomqtt.Client) -> bool:
        """One connection: announce, then publish and listen until it fails (False) or the
        sink closes with everything sent (True)."""
        t = self.topics
        assert t is not None
        await client.publish(t.of("availability"), b"online", qos=1, retain=True)
        await self._publish_discovery(client)
        # Retain-as-published: a retained command is recognised (and refused) even live.
        await client.subscribe(t.commands, options=SubscribeOptions(qos=1, retainAsPublished=True))
        await client.subscribe(t.ha_status, qos=1)
        drain = asyncio.ensure_future(self._drain(client))
        listen = asyncio.ensure_future(self._listen(client))
        try:
            done, _ = await asyncio.wait({drain, listen}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises what ended the connection
        finally:
            for task in (drain, listen):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError, OSError):
                    await task
        await client.publish(t.of("availability"), b"offline", qos=1, retain=True)
        return True

    async def _publish_discovery(self, client: aiomqtt.Client) -> None:
        assert self.topics is not None
        await client.publish(self.topics.discovery, discovery(
            self.topics, self._unit, self._version, self.configuration_url,
            self.settings.support_url), qos=1, retain=True)

    async def _rediscover(self, client: aiomqtt.Client) -> None:
        """Home Assistant came (back) online: announce again after a random pause, as its
        docs ask, so that many units on one broker do not all answer at once."""
        await asyncio.sleep(random.uniform(*self.birth_delay_s))
        await self._publish_discovery(client)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _drain(self, client: aiomqtt.Client) -> None:
        t = self.topics
        assert t is not None
        while True:
            self._wake.clear()
            while self._phases:
                await client.publish(t.of("state"), encode(t.unit, self._next_seq(),
                                                           self._phases[0]),
                                     qos=1, retain=True)
                self._phases.popleft()
                self.stats.published += 1
            if self._state is not None:
                version, state = self._state_version, self._state
                await client.publish(t.of("state"), encode(t.unit, self._next_seq(), state),
                                     qos=1, retain=True)
                self.stats.published += 1
                if version == self._state_version:
                    self._state = None
            while self._kept:
                kind, event = self._kept[0]
                qos, retain = DELIVERY[kind]
                await client.publish(t.of(kind), encode(t.unit, self._next_seq(), event),
                                     qos=qos, retain=retain)
                self._kept.popleft()  # only once the broker has it
                self.stats.published += 1
            wait = await self._publish_samples(client)
            if self._closing and not self._kept and self._state is None:
                if self._handlers:  # commands still being answered
                    await asyncio.wait(set(self._handlers), timeout=self.flush_s)
                    continue
                return
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def _publish_samples(self, client: aiomqtt.Client) -> float | None:
        """Samples at most `telemetry` messages a second; returns how long until the next."""
        if not self._samples:
            return None
        loop = asyncio.get_running_loop()
        due = self._last_telemetry + 1.0 / self.settings.telemetry - loop.time()
        if due > 0:
            return due
        batches, n = [], 0
        while self._samples and n < SAMPLES_PER_MESSAGE:
            b = self._samples.popleft()
            batches.append(b)
            n += len(b.t_us)
        self._sample_count -= n
        assert self.topics is not None
        await client.publish(self.topics.of("telemetry"), telemetry_payload(
            self.topics.unit, self._next_seq(), time.time(), batches, self.stats.dropped_samples),
            qos=0)
        self.stats.published += 1
        self._last_telemetry = loop.time()
        return 1.0 / self.settings.telemetry if self._samples else None

    # ---- commands ----------------------------------------------------------------------------

    async def _listen(self, client: aiomqtt.Client) -> None:
        t = self.topics
        assert t is not None
        async for message in client.messages:
            topic = message.topic.value
            if topic == t.ha_status:
                if message.payload == b"online":  # Home Assistant restarted: announce again
                    task = asyncio.ensure_future(self._rediscover(client))
                    self._handlers.add(task)
                    task.add_done_callback(self._handlers.discard)
                continue
            task = asyncio.ensure_future(self._command(client, message))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _command(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        t = self.topics
        assert t is not None
        name = message.topic.value.rsplit("/", 1)[-1]
        payload = message.payload if isinstance(message.payload, bytes) else \
            str(message.payload or "").encode()
        if message.retain and not payload:
            return  # our own clearing of a retained command, echoed back
        self.stats.commands += 1
        cid = None
        try:
            if message.retain:
                if payload:  # clear it, so that it cannot act on the next connection either
                    await client.publish(message.topic.value, b"", qos=1, retain=True)
                raise CommandError("retained commands are ignored (a stale command must never "
                                   "act later): publish commands with retain off", "retain")
            cmd = parse_command(name, payload)
            cid = cmd.id
            if self.commands is None:
                raise CommandError("no session is running on this unit", "command")
            if cmd.name == "stop":
                result = await self.commands.stop("mqtt")
                reply = dict(ok=True, result=result)
            else:
                assert cmd.kg is not None
                value = self.commands.set_next_load(cmd.kg, "mqtt")
                reply = dict(ok=True, result={"next_kg": value})
        except CommandError as e:
            reply = dict(ok=False, reason=e.reason, field=e.field, allowed=e.allowed)
        except SafetyRefusal as e:  # off the grid, above the cap, mid-set, ...
            reply = dict(ok=False, reason=e.cause, field="kg", allowed=e.allowed)
        if not reply["ok"]:
            self.stats.refused += 1
            log.warning("mqtt_command_refused", command=name, reason=reply["reason"])
        else:
            log.info("mqtt_command", command=name, result=reply.get("result"))
        body = response(t.unit, self._next_seq(), time.time(), name, cid, **reply)
        props = getattr(message, "properties", None)
        reply_to = getattr(props, "ResponseTopic", None)
        if reply_to:
            out = Properties(PacketTypes.PUBLISH)
            corr = getattr(props, "CorrelationData", None)
            if corr:
                out.CorrelationData = corr
            await client.publish(reply_to, body, qos=1, properties=out)
        await client.publish(t.of("response"), body, qos=1)
