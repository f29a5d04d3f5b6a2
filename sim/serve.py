"""`halfstep sim serve`: the simulated unit as its own process, on a pty or a TCP port.

The unit keeps running between hosts (its lease simply expires when one goes away); one host
at a time, like a real unit's single serial port or BLE central.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import structlog

from firmware_bridge.transports.base import LinkClosed, Transport
from sim.firmware import SimUnit
from sim.options import SimOptions
from sim.pty_link import PtyTransport
from sim.runner import pump_input, tick_forever

log = structlog.get_logger("sim")


class UnitServer:
    def __init__(self, unit: SimUnit):
        self.unit = unit
        self.link: Transport | None = None

    async def flush(self) -> None:
        out = self.unit.take_output()
        if out and self.link is not None:
            with contextlib.suppress(LinkClosed, OSError):
                await self.link.send(out)

    async def serve_link(self, link: Transport) -> None:
        if self.link is not None:
            log.warning("host_refused", link=link.url, reason="another host is connected")
            await link.close()
            return
        self.link = link
        self.unit.log("link_open", link=link.url)
        try:
            await pump_input(self.unit, link, self.flush)
        except (LinkClosed, OSError) as e:
            self.unit.log("link_closed", link=link.url, reason=str(e))
        finally:
            self.link = None
            await link.close()


def unit_logger(unit_ref: list[SimUnit]):  # noqa: ANN201
    """Every state change of the unit as one log line, stamped with the unit's own clock."""

    def emit(event: str, **kw: object) -> None:
        t = unit_ref[0].now_us / 1000 if unit_ref else 0
        log.info(event, device_t_ms=t, **kw)

    return emit


async def serve(options: SimOptions, *, pty: bool, tcp: tuple[str, int] | None) -> None:
    ref: list[SimUnit] = []
    unit = options.build_unit(log=unit_logger(ref))
    ref.append(unit)
    server = UnitServer(unit)
    structlog.contextvars.bind_contextvars(device_serial=unit.config.serial,
                                           firmware=".".join(map(str, unit.config.firmware)))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(tick_forever(unit, server.flush))
        if pty:
            link = PtyTransport()
            print(link.url, flush=True)
            log.info("serving", link=link.url)
            tg.create_task(server.serve_link(link))
        if tcp is not None:
            async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                from firmware_bridge.transports.base import StreamTransport

                peer = w.get_extra_info("peername")
                await server.serve_link(StreamTransport(f"tcp://{peer[0]}:{peer[1]}", r, w))

            srv = await asyncio.start_server(on_client, tcp[0], tcp[1])
            host, port = srv.sockets[0].getsockname()[:2]
            print(f"tcp://{host}:{port}", flush=True)
            log.info("serving", link=f"tcp://{host}:{port}")
            tg.create_task(srv.serve_forever())
    sys.stdout.flush()
