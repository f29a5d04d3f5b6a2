"""Simulated units, registered by whoever provides them, as python-can registers its interfaces.

The bridge speaks to a unit; it does not build one. A package that emulates units declares its
factories under the entry-point group `halfstep.simulators` (ours: `sim/links.py` and
`sim/ble_unit.py`, declared in pyproject.toml), and a test or a plug-in may `register` one
in-process. A URL that names a simulator (`sim://`, `ble://sim`, `vitruvian://sim`) reaches
it only through `simulator(kind)`, so `firmware_bridge` never imports `sim`, and a build
without the simulator says so in one line.

Kinds and what their factory is:
- `sim`: `async (url) -> Transport`, our protocol over an in-memory pipe;
- `ble`: `async (url, params) -> (address, bleak backend)`, our GATT unit over a bumble link;
- `vitruvian`: `async (url, seed) -> (trainer, bleak backend)`, a Vitruvian trainer the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, overload

from firmware_bridge.transports.base import LinkError, Transport

GROUP = "halfstep.simulators"
_registered: dict[str, Callable[..., Any]] = {}


class LinkFactory(Protocol):
    """`sim`: our protocol to a simulated unit over an in-memory pipe."""

    async def __call__(self, url: str) -> Transport: ...


class GattFactory(Protocol):
    """`ble`: the address of a simulated unit's GATT server and the bleak backend reaching it."""

    async def __call__(self, url: str, params: dict[str, str]) -> tuple[str, type]: ...


class TrainerFactory(Protocol):
    """`vitruvian`: a simulated trainer (its `.address`, `.unit`) and the bleak backend."""

    async def __call__(self, url: str, seed: int) -> tuple[Any, type]: ...


def register(kind: str, factory: Callable[..., Any]) -> None:
    """Make `factory` the simulator for `kind` in this process (before any declared one)."""
    _registered[kind] = factory


@overload
def simulator(kind: Literal["sim"], url: str) -> LinkFactory: ...
@overload
def simulator(kind: Literal["ble"], url: str) -> GattFactory: ...
@overload
def simulator(kind: Literal["vitruvian"], url: str) -> TrainerFactory: ...
@overload
def simulator(kind: str, url: str) -> Callable[..., Any]: ...


def simulator(kind: str, url: str) -> Any:
    """The factory for `kind`, loaded on first use; `url` only names what asked for it."""
    if kind not in _registered:
        found = [ep for ep in entry_points(group=GROUP) if ep.name == kind]
        if not found:
            raise LinkError(f"{url}: no simulated unit of kind {kind!r} is installed here "
                            f"(entry-point group {GROUP}); install halfstep with its simulator "
                            "(pip install -e .) or use a real unit's URL")
        _registered[kind] = found[0].load()
    return _registered[kind]
