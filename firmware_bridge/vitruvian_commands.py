"""The vitruvian:// driver's commands: one GATT operation at a time, writes with their
timeouts, and stop, which never waits behind a read (the read in flight is abandoned; if the
link's one request slot is stuck behind it, the stop goes out first on a new link).

Mixed into VitruvianClient (firmware_bridge/vitruvian_client.py), whose link and state these
use; apart so that the path a stop takes to the trainer reads in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from firmware_bridge import vitruvian as v
from firmware_bridge.client import CommandTimeout, kg_to_half_kg
from firmware_bridge.messages import Telemetry
from firmware_bridge.transports.base import LinkClosed
from firmware_bridge.vitruvian_policy import (
    RECOVER_BUDGET_S,
    STOP_BEHIND_READ_S,
    STUCK_S,
    WRITE_TIMEOUT_S,
)


class VitruvianCommands:
    """VitruvianClient's GATT calls, writes and stops (mixed into VitruvianClient)."""

    async def _gatt_op(self, call: Callable[[Any], Any], what: str, timeout_s: float,
                       lock_timeout_s: float | None) -> asyncio.Task | None:
        """One GATT operation at a time (overlapping ones lost rep notifications): wait for the
        slot (up to `lock_timeout_s`), then for the answer (up to `timeout_s`). The settled
        task (it may have failed, or been abandoned), or None on a timeout."""
        lock, client = self._gatt, self.client
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(lock_timeout_s):
                await lock.acquire()
        except TimeoutError:
            return None
        task = None
        try:
            if client is None or client is not self.client:
                raise LinkClosed(f"{self.url}: the link changed while waiting")
            task = _start(call(client))
            self._inflight = (task, what, loop.time())
            done = await _settled(task, timeout_s)
        finally:
            if self._inflight is not None and self._inflight[0] is task:
                self._inflight = None
            lock.release()
        return task if done else None

    async def _write(self, data: bytes, *, timeout_s: float = WRITE_TIMEOUT_S) -> None:
        """A command, written with response; `timeout_s` bounds the wait for the GATT slot and
        for the answer."""
        if self._closed is not None or self.client is None:
            raise LinkClosed(str(self._closed or f"{self.url}: not connected"))
        self._seq += 1
        what = "heartbeat" if data == v.HEARTBEAT else "command"
        task = await self._gatt_op(
            lambda c: c.write_gatt_char(v.COMMAND_UUID, data, response=True), what,
            timeout_s, timeout_s)
        if task is None:
            self._health.timeouts += 1
            raise CommandTimeout(f"{self.url}: no write response in {timeout_s:g} s")
        if task.cancelled():  # the stack dropped it: the link went away under it
            raise LinkClosed(f"{self.url}: write dropped with the link")
        if task.exception() is not None:
            raise LinkClosed(f"{self.url}: write failed ({task.exception()})")

    async def set_load(self, kg: float | Sequence[float], reps: int | None = None) -> tuple[
            float, ...]:
        """Start (or change) a set at `kg` per cable; `reps` (or `target_reps`) is the
        working-rep target, which the trainer itself ends the set at."""
        value = kg if isinstance(kg, int | float) else max(kg)
        kg_to_half_kg(value)  # the same 0.5 kg grid as every unit
        if value == 0:
            await self.stop(confirm=False)
            return (0.0, 0.0)
        self._require_link()
        frame = v.program_frame(float(value), reps or self.target_reps, self.program_mode)
        await self._write(frame)
        self._load_on = True
        self._deloaded = False
        self.deload_reason = None
        self._health.commands += 1
        return (float(value), float(value))

    async def stop(self, *, confirm: bool = True) -> None:
        """Stop, never behind a read; with `confirm`, return once a sample shows no load."""
        await self._await_recovery()  # a recovery writes stop first itself
        self._urgent += 1
        try:
            await self._first_stop()
            for _ in range(2):  # stops were observed to be lost mid-set: three in all
                await self._write(v.STOP)
        finally:
            self._urgent -= 1
        self._load_on = False
        if confirm:
            await self.wait_for_sample(unloaded, timeout_s=5.0)

    async def _first_stop(self) -> None:
        """The first stop, never queued behind a read: the read in flight is abandoned; if the
        stop then gets no answer at once, the link's request slot is stuck behind that read,
        and the stop goes out first on a new link instead."""
        pending_s = self._abandon_inflight()
        suspect = pending_s is not None or self._timeouts_in_row > 0
        self._stop_without_response(suspect)
        try:
            if pending_s is not None and pending_s >= STUCK_S:
                raise CommandTimeout("the abandoned call had been pending too long")
            await self._write(v.STOP,
                              timeout_s=STOP_BEHIND_READ_S if suspect else WRITE_TIMEOUT_S)
        except CommandTimeout:
            if not suspect:
                raise
            self._link_trouble("a stop could not get past a sample read that never answered")
            await self._await_recovery()
            if self._closed is not None or not self._ready:
                raise LinkClosed(f"{self.url}: the trainer could not be reached to stop "
                                 "it") from None

    async def _await_recovery(self) -> None:
        """Wait (bounded) for a recovery in progress: it brings the link back, stopped."""
        if self._recovering():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._recovery), RECOVER_BUDGET_S)

    def _stop_without_response(self, suspect: bool) -> None:
        """With a read in flight, a write *request* would queue behind it in the stack (BlueZ
        and bumble keep one ATT request outstanding); a write *command* does not. Sent only if
        the trainer declares write-without-response on the command characteristic."""
        if not suspect or self.client is None:
            return
        with contextlib.suppress(Exception):
            char = self.client.services.get_characteristic(v.COMMAND_UUID)
            if char is not None and "write-without-response" in char.properties:
                _start(self.client.write_gatt_char(char, v.STOP, response=False))

    def _abandon_inflight(self) -> float | None:
        """Give up the read (or heartbeat) in flight, if any: how long it had been pending (a
        command pending past STUCK_S is reported too: the link is stuck behind it).
        We stop waiting for it; the stack may still hold its request (BlueZ does; bumble frees
        its slot on cancel), which is why the stop after it is given so little time."""
        if self._inflight is None:
            return None
        task, what, since = self._inflight
        pending_s = asyncio.get_running_loop().time() - since
        if task.done() or (what == "command" and pending_s < STUCK_S):
            return None
        if what != "command":  # a command (a program, a stop) is waited for, not abandoned
            task.cancel()
        return pending_s

    def _require_link(self) -> None:
        if self._closed is not None:
            raise LinkClosed(str(self._closed))
        if self._recovering():
            raise CommandTimeout(f"{self.url}: reconnecting to the trainer; no new load")

    async def set_mode(self, *args: Any, **kwargs: Any) -> None:
        raise CommandTimeout("modes are chosen in the program frame on this trainer")


def unloaded(batch: Telemetry) -> bool:
    """No load on any cable in the batch's newest sample."""
    return not batch.samples["cable"]["load_half_kg"][-1].any()


def _start(coro: Any) -> asyncio.Task:
    """A GATT call as a task of its own: abandoning it (or the stack cancelling it when the
    link drops) never cancels the loop that made it."""
    task = asyncio.get_running_loop().create_task(coro)
    task.add_done_callback(retrieve)
    return task


async def _settled(task: asyncio.Task, timeout_s: float) -> bool:
    """Wait up to `timeout_s` for `task` (done, failed or cancelled: True); on timeout it is
    cancelled (False). If our caller is cancelled, so is the call."""
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
    return bool(done)


def retrieve(task: asyncio.Task) -> None:
    """An abandoned GATT call's outcome is of no interest, but is taken (no asyncio noise)."""
    if not task.cancelled():
        task.exception()
