"""What a live assessment ladder costs the control loop: one exercise's ladder on the simulated
unit in real time (100 Hz telemetry; rests cut 15x), with the loop's lag sampled every 10 ms and
the gap between heartbeats sent (period 100 ms; the unit's lease is 500 ms).

    python bench/ladder_loop_bench.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.core.history import History
from controller.core.logs import configure_logging
from controller.core.session import SessionRunner
from controller.planning.models import Exercise, ProfileKind
from controller.simulated.person import PersonIO, SimPerson
from controller.simulated.trial import default_plan
from firmware_bridge.client import DeviceClient
from firmware_bridge.messages import Heartbeat

REST_CUT = 15.0


async def ladder(lags: list[float], beats: list[float]) -> int:
    base = default_plan(ProfileKind.PAIN, dt.date(2026, 11, 16))
    ex = Exercise(name="seated row", multi_joint=True, region="upper", first_load_kg=8.0)
    plan = base.model_copy(update={"program": base.program.model_copy(
        update={"exercises": [ex]})})
    person = SimPerson(plan, 4, rest_scale=REST_CUT, brisk=True)
    send = DeviceClient._send

    async def noting(self: DeviceClient, msg: object, seq: int) -> None:
        if isinstance(msg, Heartbeat):
            beats.append(time.monotonic())
        await send(self, msg, seq)  # type: ignore[arg-type]

    DeviceClient._send = noting  # type: ignore[method-assign]

    async def lag() -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - t - 0.01)

    probe = asyncio.create_task(lag())
    with tempfile.TemporaryDirectory() as d, History(Path(d) / "h.db") as h:
        runner = SessionRunner(lambda: DeviceClient("sim://?seed=4&pickup=0.5"), plan, h,
                               PersonIO(person), dt.date(2026, 11, 16), brief=person.brief,
                               sleep=lambda s: asyncio.sleep(s / REST_CUT))
        result = await runner.run()
    probe.cancel()
    return len(result.sets)


def main() -> None:
    configure_logging("text", "error")
    lags: list[float] = []
    beats: list[float] = []
    started = time.monotonic()
    sets = asyncio.run(ladder(lags, beats))
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    print(f"{sets} test sets in {time.monotonic() - started:.0f} s (real time)")
    print(f"loop lag: p50 {statistics.median(lags) * 1000:.2f} ms, max {max(lags) * 1000:.1f} ms")
    print(f"heartbeat gap: p50 {statistics.median(gaps) * 1000:.0f} ms, max "
          f"{max(gaps) * 1000:.0f} ms over {len(gaps)} gaps (period 100 ms, lease 500 ms)")


if __name__ == "__main__":
    main()
