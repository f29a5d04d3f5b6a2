"""What the cable telemetry says about the handles: taken up, or back in the dock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from firmware_bridge.messages import SampleStatus, Telemetry

HANDLES_UP_MM = 30.0
HANDLES_UP_S = 0.3  # held out of the dock this long: the person has taken them up
_HELD, _DOCKED = int(SampleStatus.HANDLE_HELD), int(SampleStatus.DOCKED)  # plain ints: fast


def handles_up(batch: Telemetry) -> bool:
    """The last sample: every cable held and out past HANDLES_UP_MM."""
    return (all(s & _HELD for s in batch.status[-1].tolist())
            and min(batch.position_mm[-1].tolist()) > HANDLES_UP_MM)


def docked(batch: Telemetry) -> bool:
    """The last sample: every cable in the dock (read on every batch of a set)."""
    return all(s & _DOCKED for s in batch.status[-1].tolist())


async def wait_handles_up(next_batch: Callable[[], Awaitable[Telemetry]]) -> None:
    """Return once the handles have been held out of the dock for HANDLES_UP_S."""
    up_since: float | None = None
    while True:
        batch = await next_batch()
        t = batch.t_us[-1] / 1e6
        if not handles_up(batch):
            up_since = None
            continue
        up_since = t if up_since is None else up_since
        if t - up_since >= HANDLES_UP_S:
            return


async def wait_docked(next_batch: Callable[[], Awaitable[Telemetry]]) -> None:
    """Return once the handles are back in the dock (after a STOP or a refused load, the
    next set starts only from there: docked, taken up again, confirmed)."""
    while not docked(await next_batch()):
        pass
