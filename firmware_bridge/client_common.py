"""What every device client shares (DeviceClient, VitruvianClient): the errors a caller
handles, the link's health figures, the 0.5 kg wire unit and waiting for a telemetry batch.
Kept apart so a client for another unit uses them without the DeviceClient protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from firmware_bridge.messages import ErrorCode, Telemetry
from firmware_bridge.transports.base import LinkClosed


class DeviceError(Exception):
    """Something the unit or the link did that the caller must handle."""


class CommandTimeout(DeviceError):
    pass


class CommandRejected(DeviceError):
    def __init__(self, command: str, error: int, detail: int):
        self.command = command
        self.error = error
        self.detail = detail
        try:
            name = ErrorCode(error).name
        except ValueError:
            name = f"error {error}"
        hint = ""
        if error == ErrorCode.LOAD_ABOVE_MAX:
            hint = f": the unit's maximum is {detail / 2:g} kg per cable"
        elif error == ErrorCode.BAD_ARGUMENT and command == "SET_LOAD":
            hint = f": the unit has {detail} cable(s)"
        elif error == ErrorCode.RATE_UNSUPPORTED:
            hint = f": at most {detail} Hz"
        super().__init__(f"{command} refused by the unit: {name}{hint}")


class LoadNotOnGrid(ValueError):
    pass


@dataclass
class LinkHealth:
    """How the link is doing, for the safety supervisor and for support."""

    last_sample_age_s: float | None = None  # None until the first telemetry sample
    frames_received: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0
    device_frames_lost: int = 0  # gaps in the unit's sequence numbers
    commands: int = 0
    retries: int = 0
    timeouts: int = 0
    telemetry_dropped: int = 0  # batches a slow subscriber never saw



async def first_batch(stream: AsyncIterator[Telemetry], pred: Callable[[Telemetry], bool],
                      timeout_s: float, url: str) -> Telemetry:
    """The first batch of `stream` that satisfies `pred` within `timeout_s`."""
    async def first() -> Telemetry:
        async for batch in stream:
            if pred(batch):
                return batch
        raise LinkClosed(f"{url}: closed while waiting for telemetry")

    try:
        return await asyncio.wait_for(first(), timeout_s)
    except TimeoutError:
        raise CommandTimeout(f"no confirming telemetry within {timeout_s:.1f} s") from None


def kg_to_half_kg(kg: float) -> int:
    """Wire units are 0.5 kg steps; a load that is not a whole number of steps is refused."""
    steps = kg * 2
    if steps != int(steps) or steps < 0:
        raise LoadNotOnGrid(f"{kg} kg is not a non-negative multiple of 0.5 kg")
    return int(steps)
