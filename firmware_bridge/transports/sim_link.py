"""`sim://?seed=N&cables=1&...`: the simulated unit in this process, over an in-memory pipe."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

from firmware_bridge.transports.base import LinkError
from firmware_bridge.transports.memory import MemoryTransport, memory_pair


def sim_params(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    if parts.netloc or parts.path not in ("", "/"):
        raise LinkError(f"{url}: the simulator takes only query options, e.g. sim://?seed=1")
    return {k: v[-1] for k, v in parse_qs(parts.query).items()}


async def open_link(url: str) -> MemoryTransport:
    from sim.options import SimOptions
    from sim.runner import run_unit

    try:
        options = SimOptions.from_query(sim_params(url))
    except ValueError as e:
        raise LinkError(f"{url}: {e}") from None
    host, device = memory_pair(url)
    unit = options.build_unit()
    task = asyncio.get_running_loop().create_task(run_unit(unit, device), name="sim-unit")
    host.on_close = task.cancel
    host.sim_unit = unit  # type: ignore[attr-defined]  # for in-process demos and tests
    return host
