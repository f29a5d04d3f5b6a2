"""The simulator's link factories, registered with the bridge (`firmware_bridge/simulators.py`,
entry-point group `halfstep.simulators` in pyproject.toml).

`sim://?seed=N&cables=1&...` is the simulated unit in this process over an in-memory pipe. One
unit per URL and event loop: connecting again to the same URL (after a dropped link, say)
reaches the same unit, as it would with hardware. `ble://sim` and `vitruvian://sim` reach their
units through the real BleakClient over a bumble link (sim/ble_unit.py, sim/vitruvian_unit.py).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any
from urllib.parse import parse_qs, urlsplit

from firmware_bridge.transports.base import LinkError
from firmware_bridge.transports.memory import MemoryTransport, memory_pair
from sim.options import SimOptions
from sim.runner import UnitServer, tick_forever

_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {url: server}

def sim_params(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.netloc or parts.path not in ("", "/"):
        raise LinkError(f"{url}: the simulator takes only query options, e.g. sim://?seed=1")
    return {k: v[-1] for k, v in parse_qs(parts.query).items()}


async def open_sim_link(url: str) -> MemoryTransport:
    loop = asyncio.get_running_loop()
    servers = _UNITS.setdefault(loop, {})
    server = servers.get(url)
    if server is None:
        try:
            options = SimOptions.from_query(sim_params(url))
        except ValueError as e:
            raise LinkError(f"{url}: {e}") from None
        server = UnitServer(options.build_unit())
        server.ticker = loop.create_task(tick_forever(server.unit, server.flush),
                                         name="sim-unit")
        servers[url] = server
    host, device = memory_pair(url)
    server.link_task = loop.create_task(server.serve_link(device), name="sim-link")
    host.sim_unit = server.unit  # type: ignore[attr-defined]  # for in-process demos and tests
    await asyncio.sleep(0)  # let the unit take the link
    return host


async def start_vitruvian(url: str, seed: int) -> tuple[Any, type]:
    """The simulated trainer for this URL (one per URL and loop) and the bleak backend that
    reaches it."""
    from sim.ble_unit import BumbleBackend
    from sim.vitruvian_unit import start_vitruvian_sim

    return await start_vitruvian_sim(url, seed), BumbleBackend
