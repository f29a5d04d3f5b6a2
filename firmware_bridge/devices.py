"""One call for any unit: our protocol on any link, or a Vitruvian trainer over BLE."""

from __future__ import annotations

from typing import Any

from firmware_bridge.client import DeviceClient


def device_client(url: str, **kwargs: Any) -> Any:
    """A client to use as `async with device_client(url) as dev` (DeviceClient's surface)."""
    if url.startswith("vitruvian:"):
        from firmware_bridge.vitruvian_client import VitruvianClient

        return VitruvianClient(url)
    return DeviceClient(url, **kwargs)
