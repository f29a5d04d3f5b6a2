"""Live-session figures: host reaction to a fault sample, and a long session at full speed.

1. From a telemetry frame with an implausible sample arriving on the host's link to the STOP
   frame written back: the real client, codec and safety supervisor over an in-memory link to a
   unit stand-in that answers the handshake and records when each frame arrives.
2. A simulated ~45-minute session (100 Hz telemetry) with `--speed 0`: wall time and memory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from controller.core.logs import configure_logging
from controller.core.safety import Supervisor
from firmware_bridge.client import DeviceClient
from firmware_bridge.codec import FrameDecoder, encode
from firmware_bridge.messages import (
    Ack,
    ConfigureTelemetry,
    Hello,
    Stop,
    Telemetry,
    sample_dtype,
)
from firmware_bridge.transports.memory import memory_pair
from sim.firmware import UnitConfig


async def fault_to_stop(n: int = 2000) -> list[float]:
    host, unit = memory_pair("memory://bench")
    stops: asyncio.Queue[float] = asyncio.Queue()

    async def unit_side() -> None:  # answers like a unit, notes when STOP arrives
        dec = FrameDecoder()
        seq = 0
        while True:
            for f in dec.feed(await unit.read()):
                seq = (seq + 1) & 0xFF
                if isinstance(f.msg, Hello):
                    await unit.send(encode(UnitConfig().info(), seq))
                elif isinstance(f.msg, ConfigureTelemetry | Stop):
                    if isinstance(f.msg, Stop):
                        stops.put_nowait(time.perf_counter())
                    await unit.send(encode(Ack(f.seq, f.msg.TYPE), seq))

    task = asyncio.create_task(unit_side())
    sup = Supervisor(100.0)
    ok = np.zeros(10, sample_dtype(1))
    ok["cable"]["position_dmm"] = 4000
    bad = ok.copy()
    bad["cable"]["velocity_mm_s"][-1] = 5000  # 5 m/s: implausible
    frames = [encode(Telemetry(i * 100_000, 1, bad), 1) for i in range(n)]
    out = []
    async with DeviceClient(host, heartbeat_hz=1) as dev:
        async def guard() -> None:  # the runner's check, as it runs per batch
            async for b in dev.telemetry():
                if sup.implausible(float(np.abs(b.velocity_m_s).max()),
                                   float(b.position_mm.max()), float(b.tension_n.max()), 20.0):
                    await dev._send(Stop(), dev._next_seq())

        g = asyncio.create_task(guard())
        await asyncio.sleep(0.05)
        for frame in frames:
            t0 = time.perf_counter()
            await unit.send(frame)
            t1 = await stops.get()
            out.append(t1 - t0)
        g.cancel()
    task.cancel()
    return out


class Answers:
    """A person who answers every check-in at once: pain 2, confident, yes."""

    def say(self, line: str) -> None:
        pass

    async def ask(self, q):
        """Through the same parser as the terminal and the panel."""
        return q.parse({"pain": 2, "yes": "yes", "choice": "settled"}.get(q.kind, ""))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def long_session() -> tuple[float, float, int, list[float]]:
    from controller.core.history import History
    from controller.core.session import SessionRunner
    from controller.planning.models import Exercise, ProfileKind, SessionLog, SetLog
    from controller.simulated.demo import sim_person
    from controller.simulated.trial import default_plan
    from firmware_bridge.clock import loop_factory

    day = dt.date(2026, 11, 16)
    # An athlete in the progression phase: 5 exercises x 4 sets, 2 min rests: ~45 minutes.
    base = default_plan(ProfileKind.ATHLETE, day - dt.timedelta(days=42))
    exercises = [Exercise(name=n, multi_joint=True, region="upper", first_load_kg=20.0)
                 for n in ("seated row", "chest press", "lat pull", "cable fly", "face pull")]
    tests = [SetLog(exercise=e.name, load_kg=w, full_reps=r, rir=2, assessment=True)
             for e in exercises for w, r in ((20.0, 8), (25.0, 6), (30.0, 4))]
    plan = base.model_copy(update={
        "program": base.program.model_copy(update={"exercises": exercises}),
        "history": [SessionLog(date=day - dt.timedelta(days=3), sets=tests)]})
    samples: list[float] = []
    with TemporaryDirectory() as d:
        async def main() -> tuple[float, int]:
            with History(Path(d) / "h.sqlite") as history:
                runner = SessionRunner(lambda: DeviceClient("sim://?seed=2&rest=120"), plan,
                                       history, Answers(), day,
                                       brief=sim_person(plan, 2))

                async def sample() -> None:
                    while True:
                        await asyncio.sleep(30)
                        samples.append(rss_mb())

                t = asyncio.create_task(sample())
                loop = asyncio.get_running_loop()
                start = loop.time()
                result = await runner.run()
                t.cancel()
                return loop.time() - start, len(result.sets)

        wall = time.perf_counter()
        with asyncio.Runner(loop_factory=loop_factory(0)) as r:
            virtual, n_sets = r.run(main())
        wall = time.perf_counter() - wall
    return wall, virtual, n_sets, samples


def main() -> None:
    configure_logging("text", "error")
    lat = sorted(x * 1000 for x in asyncio.run(fault_to_stop()))
    p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
    print(f"fault sample -> STOP frame written, host path ({len(lat)} faults): "
          f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {lat[-1]:.3f} ms (target p99 <= 2 ms)")
    uart_ms = (31 + 7) * 10 / 921_600 * 1000
    print(f"  for scale: a fault frame plus the STOP frame take {uart_ms:.2f} ms on a "
          f"921,600-baud UART")
    wall, virtual, n_sets, mem = long_session()
    print(f"simulated session of {virtual / 60:.1f} min ({n_sets} sets, 100 Hz telemetry) at "
          f"--speed 0: {wall:.1f} s wall ({virtual / wall:.0f}x real time; target <= 20 s for "
          "45 min)")
    if mem:
        print(f"  resident memory every 30 virtual s: first {mem[0]:.1f} MB, max "
              f"{max(mem):.1f} MB, last {mem[-1]:.1f} MB")


if __name__ == "__main__":
    main()
