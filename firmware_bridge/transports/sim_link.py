"""`sim://?seed=N&cables=1&...`: the simulated unit in this process, over an in-memory pipe.

One unit per URL and event loop: connecting again to the same URL (after a dropped link, say)
reaches the same unit, as it would with hardware.
"""

from __future__ import annotations

import asyncio
import weakref
from urllib.parse import parse_qs, urlsplit

from firmware_bridge.transports.base import LinkError
from firmware_bridge.transports.memory import MemoryTransport, memory_pair

_UNITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {url: server}


def sim_params(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.netloc or parts.path not in ("", "/"):
        raise LinkError(f"{url}: the simulator takes only query options, e.g. sim://?seed=1")
    return {k: v[-1] for k, v in parse_qs(parts.query).items()}


async def open_link(url: str) -> MemoryTransport:
    from sim.options import SimOptions
    from sim.runner import UnitServer, tick_forever

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
