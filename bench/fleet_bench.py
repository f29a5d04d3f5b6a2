"""A fleet on one broker: N simulated units, each with its own controller (session runner and
MQTT sink, the same code as `halfstep run --mqtt`), publishing to one Mosquitto at once, in real
time; one subscriber takes everything, as a clinic dashboard would.

Printed: messages/s delivered (by kind), rep-to-subscriber latency (from the moment the rep is
counted on the controller to its arrival at the subscriber) p50/p99/max, and drops (samples let
go by the sinks, messages not delivered, reps counted but never received).

    python bench/fleet_bench.py [--units 50] [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def worker(port: int, first: int, count: int, seconds: float, folder: Path) -> dict:
    """`count` units with their controllers in one event loop, for `seconds`."""
    from controller.core.events import EventBus
    from controller.core.history import History
    from controller.core.logs import configure_logging
    from controller.core.session import SessionRunner
    from controller.simulated.demo import sim_person
    from controller.surfaces.mqtt.config import parse_mqtt_url
    from controller.surfaces.mqtt.sink import MqttSink
    from firmware_bridge.devices import device_client
    from tests.test_session import DAY, ScriptedIO, one_exercise_plan

    configure_logging("text", "error")
    plan = one_exercise_plan()
    reps: dict[str, int] = {}
    sinks: list[MqttSink] = []

    async def one(i: int) -> None:
        unit = f"fleet-{i:03d}"
        bus = EventBus()
        bus.subscribe(lambda e: reps.__setitem__(unit, reps.get(unit, 0) + 1), kinds=("rep",))
        brief = sim_person(plan, i)

        def quick(dev, item, load):  # a short rest, so the fleet lifts for most of the run
            brief(dev, item, load)
            dev.transport.sim_unit.lifter.rest_s = 10.0

        async def rest(s: float) -> None:
            await asyncio.sleep(min(s, 10.0))

        with History(folder / f"{unit}.sqlite") as history:
            runner = SessionRunner(lambda: device_client(f"sim://?seed={i}&rest=60"), plan,
                                   history, ScriptedIO(), DAY, brief=quick, sleep=rest, bus=bus)
            url = f"mqtt://127.0.0.1:{port}?unit={unit}&telemetry=5"
            async with MqttSink(parse_mqtt_url(url), bus, runner) as sink:
                sinks.append(sink)
                while True:  # one session after another until the time is up
                    await runner.run()
                    runner = SessionRunner(lambda: device_client(f"sim://?seed={i}&rest=60"),
                                           plan, history, ScriptedIO(), DAY, brief=quick,
                                           sleep=rest, bus=bus)

    tasks = [asyncio.ensure_future(one(i)) for i in range(first, first + count)]
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:  # the event loop's lateness: what every controller feels
        t = loop.time()
        await asyncio.sleep(0.05)
        lags.append(loop.time() - t - 0.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"reps": reps, "dropped_samples": sum(s.stats.dropped_samples for s in sinks),
            "dropped_messages": sum(s.stats.dropped_messages for s in sinks),
            "published": sum(s.stats.published for s in sinks),
            "lag_p99_ms": float(np.percentile(lags, 99) * 1000) if lags else 0.0,
            "lag_max_ms": float(max(lags, default=0) * 1000)}


async def subscribe(port: int, seconds: float, ready: asyncio.Event) -> dict:
    import aiomqtt

    counts: dict[str, int] = {}
    latency: list[float] = []
    got_reps: dict[str, int] = {}
    nbytes = 0
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5,
                              max_queued_incoming_messages=0) as c:
        await c.subscribe("halfstep/#", qos=1)
        ready.set()
        try:
            async with asyncio.timeout(seconds):
                async for m in c.messages:
                    now = time.time()
                    kind = m.topic.value.rsplit("/", 1)[-1]
                    counts[kind] = counts.get(kind, 0) + 1
                    payload = m.payload if isinstance(m.payload, bytes) else b""
                    nbytes += len(payload)
                    if kind == "rep":
                        body = json.loads(payload)
                        ts = dt.datetime.fromisoformat(body["ts"]).timestamp()
                        latency.append(now - ts)
                        got_reps[body["unit"]] = got_reps.get(body["unit"], 0) + 1
        except TimeoutError:
            pass
    return {"counts": counts, "latency": latency, "got_reps": got_reps, "bytes": nbytes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker", nargs=4, type=int, metavar=("PORT", "FIRST", "COUNT", "SECS"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        port, first, count, secs = a.worker
        with tempfile.TemporaryDirectory() as d:
            print(json.dumps(asyncio.run(worker(port, first, count, secs, Path(d)))))
        return

    from tests.mosquitto import Broker

    with tempfile.TemporaryDirectory() as d, Broker(Path(d) / "broker") as broker:
        async def run() -> tuple[dict, list[dict], float]:
            ready = asyncio.Event()
            sub = asyncio.ensure_future(subscribe(broker.port, a.seconds + 8, ready))
            await ready.wait()
            per = -(-a.units // a.workers)
            procs = []
            t0 = time.monotonic()
            for w in range(a.workers):
                first, count = w * per, min(per, a.units - w * per)
                if count > 0:
                    procs.append(await asyncio.create_subprocess_exec(
                        sys.executable, __file__, "--worker", str(broker.port), str(first),
                        str(count), str(int(a.seconds)), stdout=subprocess.PIPE,
                        env={**os.environ, "PYTHONPATH": str(ROOT)}))
            results = [json.loads((await p.communicate())[0].decode().strip().splitlines()[-1])
                       for p in procs]
            wall = time.monotonic() - t0
            return await sub, results, wall

        sub, results, wall = asyncio.run(run())

    emitted: dict[str, int] = {}
    for r in results:
        emitted.update(r["reps"])
    total = sum(sub["counts"].values())
    lat = np.array(sub["latency"]) * 1000
    missing = sum(max(0, n - sub["got_reps"].get(u, 0)) for u, n in emitted.items())
    print(f"fleet: {a.units} units with their controllers, {a.workers} processes, one Mosquitto, "
          f"{a.seconds:.0f} s in real time (wall {wall:.1f} s)")
    print(f"  delivered to one subscriber: {total} messages, {total / a.seconds:.0f} msg/s, "
          f"{sub['bytes'] / a.seconds / 1e3:.0f} kB/s")
    print("  by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(sub["counts"].items())))
    if len(lat):
        print(f"  rep -> subscriber latency: p50 {np.percentile(lat, 50):.2f} ms, "
              f"p99 {np.percentile(lat, 99):.2f} ms, max {lat.max():.2f} ms over {len(lat)} reps")
    print(f"  drops: {sum(r['dropped_samples'] for r in results)} samples, "
          f"{sum(r['dropped_messages'] for r in results)} messages let go by the sinks; "
          f"{missing} of {sum(emitted.values())} reps counted but not received")
    print("  controllers' event loop lateness: p99 "
          + ", ".join(f"{r['lag_p99_ms']:.1f}" for r in results) + " ms, max "
          + ", ".join(f"{r['lag_max_ms']:.1f}" for r in results) + " ms (per process)")


if __name__ == "__main__":
    main()
