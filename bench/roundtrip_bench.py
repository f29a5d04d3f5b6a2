"""set_load round trip over a pty serial link to the simulator running in another process.

Measures the real path: DeviceClient -> codec -> pyserial-asyncio-fast -> pty -> `halfstep sim
serve --pty` (its own process and event loop) -> codec -> ACK back. Prints p50/p99 and the
ratio to the time the bytes alone need on a 921,600-baud UART.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

from controller.core.logs import configure_logging
from firmware_bridge.client import DeviceClient
from firmware_bridge.codec import encode
from firmware_bridge.messages import Ack, MsgType, SetLoad

N = 2000
UART_BYTES_S = 921_600 / 10


async def measure(url: str, n: int = N) -> list[float]:
    """set_load round trips (seconds) over an open link to a simulated unit."""
    async with DeviceClient(url) as dev:
        await asyncio.sleep(2.0)  # the simulated lifter takes up the handles
        for i in range(50):  # warm up
            await dev.set_load(10.0 + 0.5 * (i % 2))
        times = []
        for i in range(n):
            t = time.perf_counter()
            await dev.set_load(10.0 + 0.5 * (i % 2))
            times.append(time.perf_counter() - t)
        assert dev.health.retries == 0 and dev.health.bad_frames == 0
        return times


def main() -> None:
    configure_logging("text", "warning")
    exe = str(Path(sys.executable).parent / "halfstep")
    sim = subprocess.Popen([exe, "--log-level", "warning", "sim", "serve", "--pty",
                            "--reps", "100"], stdout=subprocess.PIPE, text=True)
    try:
        url = sim.stdout.readline().strip()
        times = asyncio.run(measure(url))
    finally:
        sim.terminate()
        sim.wait(5)
    ms = sorted(t * 1000 for t in times)
    p50 = statistics.median(ms)
    p99 = ms[int(len(ms) * 0.99) - 1]
    wire = len(encode(SetLoad((20,)), 1)) + len(encode(Ack(1, MsgType.SET_LOAD, (20,)), 1))
    wire_ms = wire / UART_BYTES_S * 1000
    print(f"set_load round trip over a pty to the simulator in another process ({N} commands)")
    print(f"  p50 {p50:.3f} ms   p99 {p99:.3f} ms   max {ms[-1]:.3f} ms   "
          f"({1000 / statistics.mean(ms):,.0f} commands/s one at a time)")
    print(f"  bytes on the wire per round trip: {wire}; at 921,600 baud that alone takes "
          f"{wire_ms:.3f} ms: p50 is {p50 / wire_ms:.1f}x, p99 {p99 / wire_ms:.1f}x the wire time")
    print("  target: p99 <= 5 ms")


if __name__ == "__main__":
    main()
