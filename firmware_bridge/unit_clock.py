"""The host's mapping of the unit's clock, so "fresh" means fresh by the unit's own time.

A sample is never received before it is taken, so host time minus unit time is smallest for
the samples that arrived quickest: that smallest offset over the last WINDOW_S maps a unit
timestamp onto the host clock. After the host stalls, the samples queued meanwhile keep their
old unit times and so show their true age, however recently they were read (contract 13).
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 10.0  # long enough to span a stall; short enough to follow a restarted clock


class UnitClock:
    def __init__(self, window_s: float = WINDOW_S):
        self.window_s = window_s
        self._mins: deque[tuple[float, float]] = deque()  # (host s, offset s), rising offsets

    def note(self, host_s: float, unit_us: int) -> None:
        """A sample taken at `unit_us` (unit clock) was received at `host_s` (host clock)."""
        offset = host_s - unit_us / 1e6
        mins = self._mins
        while mins and mins[-1][1] >= offset:
            mins.pop()
        mins.append((host_s, offset))
        while mins[0][0] < host_s - self.window_s:
            mins.popleft()

    def age_s(self, unit_us: int, host_now_s: float) -> float | None:
        """How long ago, on the host's clock, the unit took a sample stamped `unit_us`."""
        if not self._mins:
            return None
        return host_now_s - (unit_us / 1e6 + self._mins[0][1])

    def reset(self) -> None:
        """The unit restarted: its clock did too."""
        self._mins.clear()
