"""BLE in-process: how many telemetry samples the real BleakClient path takes per second, and the
set_load round trip, over a bumble GATT link to the simulated unit (no radio: this measures the
host and stack cost, printed against what a real BLE link carries: ~400 notifications/s)."""

from __future__ import annotations

import asyncio
import statistics
import time

import numpy as np

from controller.core.logs import configure_logging
from firmware_bridge.client import DeviceClient
from firmware_bridge.codec import encode, max_samples_per_frame
from firmware_bridge.messages import Telemetry, sample_dtype
from sim.ble_unit import _UNITS

BLE_NOTIFICATIONS_S = 400


async def main() -> None:
    url = "ble://sim?seed=1&reps=100"
    async with DeviceClient(url) as dev:
        unit = _UNITS[asyncio.get_running_loop()][url]
        per = max_samples_per_frame(1)
        frame = encode(Telemetry(0, 1, np.zeros(per, sample_dtype(1))), 1)
        got = 0

        async def count() -> None:
            nonlocal got
            async for b in dev.telemetry():
                got += len(b)

        counter = asyncio.create_task(count())
        await asyncio.sleep(0.2)
        got = 0
        n = 3000
        t0 = time.perf_counter()
        for _ in range(n):  # the unit notifies as fast as the stack lets it
            await unit.device.notify_subscribers(unit.tx, frame)
        while got < n * per * 0.99 and time.perf_counter() - t0 < 30:
            await asyncio.sleep(0.01)
        dt = time.perf_counter() - t0
        counter.cancel()
        rate = got / dt
        print(f"telemetry over in-process BLE: {n / dt:,.0f} notifications/s, {rate:,.0f} "
              f"samples/s ({per} per notification); a real link carries about "
              f"{BLE_NOTIFICATIONS_S} notifications/s = {BLE_NOTIFICATIONS_S * per:,} samples/s "
              f"(ratio {rate / (BLE_NOTIFICATIONS_S * per):.1f}x)")
        await asyncio.sleep(2.0)  # the lifter takes the handles
        times = []
        for i in range(300):
            t = time.perf_counter()
            await dev.set_load(10.0 + 0.5 * (i % 2))
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"set_load round trip over in-process BLE (300 commands, write with response + "
              f"ACK notification): p50 {statistics.median(times):.2f} ms, "
              f"p99 {times[int(len(times) * 0.99) - 1]:.2f} ms; a real link adds 2 connection "
              "intervals (15-60 ms)")


if __name__ == "__main__":
    configure_logging("text", "error")
    asyncio.run(main())
