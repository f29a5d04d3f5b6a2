"""One way to open any link: a URL (the pymavlink habit), each scheme in its own module.

Transports are imported only when used, so a missing optional dependency only matters to the
people who use that link. Simulated units (`sim://`, `ble://sim`, `vitruvian://sim`) are not ours
to build: they come from the registered simulator (firmware_bridge/simulators.py).
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from firmware_bridge.simulators import simulator
from firmware_bridge.transports.base import LinkError, Transport

SIMULATED = "simulated"  # a scheme whose units come from a registered simulator
SCHEMES = {
    "sim": SIMULATED,
    "serial": "firmware_bridge.transports.serial_link",
    "tcp": "firmware_bridge.transports.tcp_link",
    "ble": "firmware_bridge.transports.ble_link",
    "replay": "firmware_bridge.transports.replay_link",
}

EXAMPLES = ("sim://?seed=1, serial:/dev/ttyUSB0?baud=921600, tcp://127.0.0.1:7878, "
            "ble://AA:BB:CC:DD:EE:FF, ble://sim?seed=1, vitruvian://AA:BB:CC:DD:EE:FF, "
            "vitruvian://sim?seed=1, replay:WIRE_LOG.hswl")


def scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition(":")
    if scheme == "vitruvian" and sep:
        return scheme  # a device driver of its own (firmware_bridge/devices.py), not a link
    if not sep or scheme not in SCHEMES:
        raise LinkError(f"unsupported device URL {url!r}; expected one of: {EXAMPLES}")
    try:  # an unclosed IPv6 bracket or a TCP port that is not one: refused before any I/O
        parts = urlsplit(url)
        if scheme == "tcp":
            parts.port  # noqa: B018
    except ValueError as e:
        raise LinkError(f"device URL {url!r} cannot be read ({e}); expected one of: "
                        f"{EXAMPLES}") from None
    return scheme


def warpable(url: str) -> bool:
    """Links that live in this process (simulators, replays): `--speed` can warp their time."""
    return url.startswith(("sim:", "ble://sim", "vitruvian://sim", "replay:"))


async def open_link(url: str) -> Transport:
    scheme = scheme_of(url)
    if SCHEMES[scheme] == SIMULATED:
        return await simulator(scheme, url)(url)
    module = importlib.import_module(SCHEMES[scheme])
    return await module.open_link(url)
