"""`halfstep sim serve`: the simulated unit as its own process, on a pty or a TCP port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import structlog

from firmware_bridge.transports.base import LinkError, StreamTransport
from sim.firmware import LogFn, SimUnit
from sim.options import SimOptions
from sim.pty_link import PtyTransport
from sim.runner import UnitServer, tick_forever

log = structlog.get_logger("sim")


def unit_logger(unit_ref: list[SimUnit]) -> LogFn:
    """Every state change of the unit as one log line, stamped with the unit's own clock."""

    def emit(event: str, **kw: object) -> None:
        t = unit_ref[0].now_us / 1000 if unit_ref else 0
        log.info(event, device_t_ms=t, **kw)

    return emit


async def serve(options: SimOptions, *, pty: bool, tcp: tuple[str, int] | None) -> None:
    # A unit's firmware answers from a microcontroller of its own; its stand-in takes the
    # priority the machine allows it, so a busy host CPU delays its answers less.
    with contextlib.suppress(OSError):
        os.nice(-10)
    ref: list[SimUnit] = []
    servers: list[UnitServer] = []
    srv = None
    if tcp is not None:
        async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            peer = w.get_extra_info("peername")
            await servers[0].serve_link(StreamTransport(f"tcp://{peer[0]}:{peer[1]}", r, w))

        try:  # before the unit boots: an address in use or not this machine's is one line
            srv = await asyncio.start_server(on_client, tcp[0], tcp[1])
        except OSError as e:
            raise LinkError(f"cannot serve on {tcp[0]}:{tcp[1]} ({e.strerror or e})") from None
    unit = options.build_unit(log=unit_logger(ref))
    ref.append(unit)
    server = UnitServer(unit)
    servers.append(server)
    structlog.contextvars.bind_contextvars(device_serial=unit.config.serial,
                                           firmware=".".join(map(str, unit.config.firmware)))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(tick_forever(unit, server.flush))
        if pty:
            link = PtyTransport()
            print(link.url, flush=True)
            log.info("serving", link=link.url)
            tg.create_task(server.serve_link(link))
        if srv is not None:
            host, port = srv.sockets[0].getsockname()[:2]
            host = f"[{host}]" if ":" in host else host
            print(f"tcp://{host}:{port}", flush=True)
            log.info("serving", link=f"tcp://{host}:{port}")
            tg.create_task(srv.serve_forever())
    sys.stdout.flush()
