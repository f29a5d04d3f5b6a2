"""The control core: the session runner, the device client (link I/O, heartbeats), the safety
supervisor and the set state machine on a thread and event loop of their own (design contract
12).

The panel, MQTT and the terminal stay on the program's main loop. A browser loading, a PIN
being hashed, a progress chart over years of history or a slow broker can keep that loop busy
for as long as they like: the core's loop is not waiting behind them, so the unit's lease is
renewed and every decision during a set is taken on time. The surfaces reach the core only
through `ControlCore.run`/`call` (their answer comes back as a future, never by blocking the
core) and receive its events through `to_loop`, which drops (and counts) rather than queue
without bound when a surface falls behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger("controller.core.control_core")

T = TypeVar("T")
CORE_NICE = -10  # the core thread's priority when permitted (Linux: per thread)
SWITCH_S = 0.002  # the longest another thread keeps the interpreter from the core
PENDING_LIMIT = 2_000  # events waiting for one surface's loop; beyond this they are dropped


class ControlCore:
    """`with ControlCore(speed) as core:` a thread running its own event loop until the block
    ends. `speed` warps its clock like `--speed` (the in-process simulator runs on it)."""

    def __init__(self, speed: float = 1.0, name: str = "halfstep-control"):
        self.speed = speed
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.priority = "as is"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None, "the control core is not running"
        return self._loop

    def __enter__(self) -> ControlCore:
        # The core gets the interpreter back within SWITCH_S of asking, however busy the
        # surfaces' threads are (the default hand-over is every 5 ms).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_S))
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _main(self) -> None:
        from firmware_bridge.clock import loop_factory

        self.priority = _raise_priority()
        loop = loop_factory(self.speed)()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in tasks:
                t.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def close(self, timeout: float = 5.0) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def on_core(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start a coroutine on the core's loop; its result as a thread-safe future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await, from another loop, a coroutine run on the core's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def call_sync(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """A plain function run on the core's loop, waited for here (a surface's quick command:
        the core answers within a loop iteration, and never waits for the caller)."""
        if self.on_core:
            return fn(*args)
        return self._schedule(fn, args).result(timeout)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """A plain function run on the core's loop, awaited from another loop."""
        if self.on_core:
            return fn(*args)
        return await asyncio.wrap_future(self._schedule(fn, args))

    def _schedule(self, fn: Callable[..., T], args: tuple) -> concurrent.futures.Future[T]:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def go() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # handed to the caller as it is
                fut.set_exception(e)

        self.loop.call_soon_threadsafe(go)
        return fut


def _raise_priority() -> str:
    """This thread (only) ahead of the machine's other work, where the deployment permits it
    (root, CAP_SYS_NICE, or a systemd unit's Nice=): a busy CPU then delays a heartbeat or an
    ACK less. Without permission it runs as it is."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CORE_NICE)
    except (OSError, AttributeError):
        return "as is"
    return f"nice {CORE_NICE}"


class LoopSink:
    """A function that runs `fn` on `loop`: directly when called on that loop's thread, else
    handed over without waiting. Over `limit` calls still waiting there, new ones are dropped
    and counted: a surface that falls behind loses events, the core never waits for it."""

    def __init__(self, fn: Callable[..., Any], loop: asyncio.AbstractEventLoop,
                 limit: int = PENDING_LIMIT):
        self.fn = fn
        self.loop = loop
        self.limit = limit
        self.pending = 0
        self.dropped = 0
        self._thread = threading.get_ident() if _running(loop) else None

    def __call__(self, *args: Any) -> None:
        if self._thread is None or threading.get_ident() == self._thread:
            self.fn(*args)
            return
        if self.pending >= self.limit:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("surface_behind", dropped=1, limit=self.limit)
            return
        self.pending += 1
        try:
            self.loop.call_soon_threadsafe(self._deliver, args)
        except RuntimeError:  # that loop is closed: the surface is gone
            self.pending -= 1

    def _deliver(self, args: tuple) -> None:
        self.pending -= 1
        try:
            self.fn(*args)
        except Exception:
            log.exception("subscriber_failed")


def to_loop(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, callable from any thread, always run on the loop running now (the caller's)."""
    return LoopSink(fn, asyncio.get_running_loop())


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class CoreRunner:
    """The session runner as the surfaces (panel, MQTT) hold it when it runs on a control core:
    what they read passes straight through (values the core replaces whole); what they ask
    runs on the core's loop."""

    def __init__(self, runner: Any, core: ControlCore):
        self._runner = runner
        self._core = core

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    async def stop(self, source: str) -> dict[str, Any]:
        return await self._core.run(self._runner.stop(source))

    async def red_flag_now(self, raw: object, source: str,
                           qid: str | None = None) -> dict[str, Any]:
        return await self._core.run(self._runner.red_flag_now(raw, source, qid))

    def set_next_load(self, kg: float, source: str) -> float:
        return self._core.call_sync(self._runner.set_next_load, kg, source)

    def set_next_mode(self, name: str, source: str) -> str:
        return self._core.call_sync(self._runner.set_next_mode, name, source)

    def end_rest(self, source: str) -> dict[str, Any]:
        return self._core.call_sync(self._runner.end_rest, source)

    def report_since_last(self, raw: object, source: str) -> dict[str, Any]:
        return self._core.call_sync(self._runner.report_since_last, raw, source)

    def clear_red_flag(self, by: str, day: Any, source: str) -> dict[str, Any]:
        return self._core.call_sync(self._runner.clear_red_flag, by, day, source)

    def publish_state(self) -> None:
        self._core.call_sync(self._runner.publish_state)

    def start(self) -> concurrent.futures.Future[Any]:
        """The session, run on the core; its result (or exception) as a thread-safe future."""
        return self._core.submit(self._runner.run())

    def interrupt_soon(self, source: str) -> concurrent.futures.Future[Any]:
        """Ctrl-C: the runner's interrupt, on the core, without waiting here."""
        return self._core.submit(self._runner.interrupt(source))
