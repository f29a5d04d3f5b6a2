"""The simulator is reached through its registration, never imported by the bridge."""

from __future__ import annotations

import pytest

from firmware_bridge import simulators
from firmware_bridge.client import DeviceClient
from firmware_bridge.links import open_link
from firmware_bridge.transports.base import LinkError


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    registry: dict = {}
    monkeypatch.setattr(simulators, "_registered", registry)
    return registry


async def test_sim_urls_reach_the_units_declared_in_the_entry_point_group(
        clean_registry: dict) -> None:
    async with DeviceClient("sim://?seed=4") as dev:
        assert dev.info is not None and dev.info.serial
    import sim.links

    assert clean_registry["sim"] is sim.links.open_sim_link  # loaded from pyproject's group


async def test_a_registered_simulator_is_the_one_a_url_reaches(clean_registry: dict) -> None:
    opened = []

    async def fake(url: str) -> object:
        opened.append(url)
        raise LinkError(f"{url}: from the registered factory")

    simulators.register("sim", fake)
    with pytest.raises(LinkError, match="from the registered factory"):
        await open_link("sim://?seed=9")
    assert opened == ["sim://?seed=9"]


async def test_without_a_simulator_installed_a_sim_url_says_so(
        clean_registry: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulators, "entry_points", lambda group: [])
    for url in ("sim://?seed=1", "ble://sim?seed=1"):
        with pytest.raises(LinkError, match=r"no simulated unit of kind .* is installed"):
            await open_link(url)


async def test_without_a_simulator_installed_a_simulated_trainer_says_so(
        clean_registry: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from firmware_bridge.devices import device_client

    monkeypatch.setattr(simulators, "entry_points", lambda group: [])
    with pytest.raises(LinkError, match=r"no simulated unit of kind 'vitruvian'"):
        async with device_client("vitruvian://sim?seed=1"):
            pass
