"""Fixtures: a simulated unit reachable over each kind of link, in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from firmware_bridge.transports.base import StreamTransport
from firmware_bridge.transports.memory import memory_pair
from sim.firmware import SimUnit
from sim.options import SimOptions
from sim.pty_link import PtyTransport
from sim.runner import tick_forever
from sim.serve import UnitServer

LINKS = ["memory", "pty", "tcp", "ble"]

def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Home Assistant's test last: its install (started by scripts/test beside the suite) has
    the rest of the suite's time to finish."""
    items.sort(key=lambda item: item.path.name == "test_homeassistant.py")


# Wire logs, flight records and bundles of the halfstep processes the tests start go here, not
# into the state folder of whoever runs the tests.
os.environ.setdefault("HALFSTEP_STATE_DIR", tempfile.mkdtemp(prefix="halfstep-state-"))


@dataclass
class SimHandle:
    unit: SimUnit
    link: object  # a Transport instance (memory) or a URL (pty, tcp) for DeviceClient
    kind: str


@contextlib.asynccontextmanager
async def running_sim(kind: str, **options: object) -> AsyncIterator[SimHandle]:
    if kind == "ble":  # the unit behind a real GATT server; the host through BleakClient
        from urllib.parse import urlencode

        from sim.ble_unit import _UNITS, start_ble_unit

        query = {k: str(v) for k, v in options.items()}
        url = f"ble://sim?{urlencode(query)}"
        await start_ble_unit(url, query)
        ble = _UNITS[asyncio.get_running_loop()][url]
        try:
            yield SimHandle(ble.unit, url, kind)
        finally:
            ble.ticker.cancel()
        return
    unit = SimOptions(**options).build_unit()
    server = UnitServer(unit)
    tasks = [asyncio.create_task(tick_forever(unit, server.flush))]
    closers = []
    if kind == "memory":
        host, dev = memory_pair("memory://test")
        tasks.append(asyncio.create_task(server.serve_link(dev)))
        link: object = host
    elif kind == "pty":
        pty = PtyTransport()
        tasks.append(asyncio.create_task(server.serve_link(pty)))
        link = f"{pty.url}?baud=921600"
    elif kind == "tcp":
        async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await server.serve_link(StreamTransport("tcp://peer", r, w))

        srv = await asyncio.start_server(on_client, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        closers.append(srv)
        link = f"tcp://127.0.0.1:{port}"
    else:
        raise ValueError(kind)
    try:
        yield SimHandle(unit, link, kind)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for s in closers:
            s.close()


@pytest.fixture(params=LINKS)
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[SimHandle]:
    opts = getattr(request, "param_options", {})
    async with running_sim(request.param, **opts) as handle:
        yield handle


HOGS = 2  # busy processes: as many as the cores of a small CI machine


def _die_with_parent() -> None:
    """In a hog, before it starts: SIGKILL it if pytest itself dies (killed, timed out) without
    running the fixture's teardown (Linux; elsewhere the teardown alone)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@pytest.fixture
def cpu_hogs() -> Iterator[list[subprocess.Popen]]:
    """Two processes spinning on the CPU for the length of the test (issue 15 item 8: green on a
    quiet machine is not green). Processes, not threads: they compete with every thread of the
    test, its event loops and the halfstep processes it starts. Killed (and reaped) at teardown
    whatever the outcome; a hog that died during the test is an error: the test did not run
    under load."""
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(HOGS):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None))
        yield procs
        died = [p.returncode for p in procs if p.poll() is not None]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    assert not died, f"a CPU hog exited during the test (codes {died}): not run under load"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the fault matrix when its tests ran."""
    from tests import test_fault_matrix

    rows = getattr(test_fault_matrix, "MATRIX", [])
    if not rows:
        return
    tr = terminalreporter
    tr.section("fault matrix")
    tr.write_line(f"{'fault':<24}{'worst deload s':>15}{'bound s':>9}{'sets lost':>10}"
                  f"{'max load kg':>12}")
    for name, worst, lost, max_kg, bound in rows:
        tr.write_line(f"{name:<24}{worst:>15.3f}{bound:>9.2f}{lost:>10}{max_kg:>12.1f}")
