"""An event loop whose clock runs faster than real time, or as fast as possible.

The whole stack (device client timeouts, heartbeats, the simulator's ticks) uses the loop's
clock, so warping it warps everything consistently. With `speed=0` the clock jumps straight
to the next timer whenever nothing is ready: only for in-process links, where no real I/O is
waited on. Works through the public selector and `time()` hooks of asyncio's selector loop.
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

    def select(self, timeout: float | None = None) -> list:
        clock = self._loop
        if clock.speed == 0:
            events = super().select(0)
            if not events and timeout:
                clock.virtual += timeout
            return events
        real = None if timeout is None else timeout / clock.speed
        return super().select(real)


class WarpedLoop(asyncio.SelectorEventLoop):
    def __init__(self, speed: float):
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self.virtual = 0.0
        self._t0 = time.monotonic()
        super().__init__(_WarpSelector(self))

    def time(self) -> float:
        if self.speed == 0:
            return self.virtual
        return (time.monotonic() - self._t0) * self.speed


def loop_factory(speed: float) -> Callable[[], asyncio.AbstractEventLoop]:
    """For `asyncio.Runner(loop_factory=...)`; speed 1 is the ordinary loop."""
    if speed == 1:
        return asyncio.new_event_loop
    return lambda: WarpedLoop(speed)
