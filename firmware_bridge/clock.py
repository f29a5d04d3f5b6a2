"""An event loop whose clock runs faster than real time, or as fast as possible.

The whole stack (device client timeouts, heartbeats, the simulator's ticks) uses the loop's
clock, so warping it warps everything consistently. With `speed=0` the clock jumps straight
to the next timer whenever nothing is ready: only for in-process links, where no real I/O is
waited on. Works through the public selector and `time()` hooks of asyncio's selector loop.

Simulated time never outruns the simulation (design contract 16): the clock moves only in
the selector, by the time spent waiting there (at most the wait asked for) and by at most one
unit tick for the work done since the last wait. A process stalled by the machine (a browser
starting, CI on two busy cores) slows simulated time instead of jumping it, so the simulated
unit's lease never expires because the host process was not scheduled.

At speed 1 the loop keeps the wall clock (a real unit's time passes while the host is stalled,
and the host must see that) until an in-process link is opened on it: a replayed recording
calls `follow_simulation`, and from then on the clock never outruns it either.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable


class _WarpSelector(selectors.DefaultSelector):
    def __init__(self, loop: WarpedLoop):
        super().__init__()
        self._loop = loop
        # Bound once: select() runs every loop iteration, and super() there costs a lookup.
        self._poll = super().select
        self._busy = 0  # iterations with work ready since the fds were last polled

    def select(self, timeout: float | None = None) -> list:
        clock = self._loop
        if clock.wall:  # speed 1 with no in-process link (yet): the ordinary loop
            return self._poll(timeout)
        if clock.speed == 0:
            if timeout == 0:  # work is ready: the fds can wait a few iterations (in-process
                self._busy += 1  # links only at speed 0; the self-pipe is all there is)
                if self._busy < BUSY_POLL_EVERY:
                    return []
            self._busy = 0
            events = self._poll(0)
            if not events and timeout:
                clock.virtual += timeout
            return events
        started = time.monotonic()
        clock.virtual += min((started - clock.real_mark) * clock.speed, MAX_STEP_S)
        real = None if timeout is None else timeout / clock.speed
        events = self._poll(real)
        clock.real_mark = time.monotonic()
        waited = (clock.real_mark - started) * clock.speed
        clock.virtual += waited if timeout is None else min(waited, timeout)
        return events


BUSY_POLL_EVERY = 32  # at speed 0, while work is ready, the fds are polled this often
MAX_STEP_S = 0.01  # one tick of the simulated unit (100 Hz): the most a busy iteration moves


class WarpedLoop(asyncio.SelectorEventLoop):
    def __init__(self, speed: float, *, wall: bool = False):
        if speed < 0 or speed != speed or speed == float("inf"):
            raise ValueError("speed must be a finite number >= 0")
        if wall and speed != 1:
            raise ValueError("only speed 1 can follow the wall clock")
        self.speed = speed
        self.wall = wall  # the wall clock, as the ordinary loop, until follow_simulation
        self.real_mark = time.monotonic()
        self.virtual = self.real_mark if wall else 0.0
        super().__init__(_WarpSelector(self))

    def time(self) -> float:
        return time.monotonic() if self.wall else self.virtual


def follow_simulation(loop: asyncio.AbstractEventLoop) -> None:
    """An in-process link that plays the unit (a replayed recording) is on `loop`: from now
    its clock never outruns the simulation (contract 16) at speed 1 too, going on from the
    wall clock's reading so that no timer moves. Other loops are left as they are."""
    if isinstance(loop, WarpedLoop) and loop.wall:
        loop.virtual = loop.real_mark = time.monotonic()
        loop.wall = False


def loop_factory(speed: float) -> Callable[[], asyncio.AbstractEventLoop]:
    """For `asyncio.Runner(loop_factory=...)`; speed 1 keeps the wall clock (as the ordinary
    loop) unless `follow_simulation` is called on it."""
    if speed == 1:
        return lambda: WarpedLoop(1.0, wall=True)
    return lambda: WarpedLoop(speed)
