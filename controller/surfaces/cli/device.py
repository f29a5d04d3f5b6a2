"""`halfstep device ...`: talk to one unit directly (info, set-load, scan, stop)."""

from __future__ import annotations

import asyncio
import json

import click

from controller.surfaces.cli.common import device_option, run_async
from controller.surfaces.cli.params import Load, Number
from firmware_bridge.loads import LoadError


@click.group()
def device() -> None:
    """Talk to one unit directly. --device URL is one of: sim://?seed=1 (the simulated unit in
    this process), serial:/dev/ttyUSB0?baud=921600, tcp://HOST:PORT, ble://ADDRESS or
    ble://NAME (scan lists them), ble://sim?seed=1, vitruvian://ADDRESS (a Vitruvian trainer),
    vitruvian://sim?seed=1, replay:FILE.hswl (a recorded wire log played back)."""


@device.command("info")
@device_option()
def device_info(device: str) -> None:
    """Print the unit's device info as JSON."""

    async def main() -> None:
        from firmware_bridge.devices import device_client

        async with device_client(device) as dev:
            assert dev.info is not None
            click.echo(json.dumps(dev.info.as_dict(), indent=2))

    run_async(main)


@device.command("set-load")
@click.argument("kg", type=Load())
@device_option()
@click.option("--hold", type=Number(0, 3600), default=0.0, show_default=True,
              help="Seconds to keep the load, up to 3600 (the unit deloads when this program "
                   "lets go).")
def device_set_load(kg: float, device: str, hold: float) -> None:
    """Set an absolute load KG on every cable (a multiple of 0.5 kg)."""

    async def main() -> None:
        from firmware_bridge.devices import device_client

        async with device_client(device) as dev:
            assert dev.info is not None
            # The same gate as every other load: the person at the unit asked for this load.
            from controller.core.safety import SafetyRefusal, Supervisor

            gate = Supervisor(dev.info.max_load_kg)
            gate.arm()
            gate.telemetry_age(dev.health.last_sample_age_s or 0.0)
            try:
                value = gate.check(kg, allowed_kg=dev.info.max_load_kg, source="cli")
            except SafetyRefusal as e:
                raise LoadError(str(e)) from None
            applied = await dev.set_load(value)
            click.echo(json.dumps({"applied_kg_per_cable": list(applied)}))
            if hold:
                await asyncio.sleep(hold)

    run_async(main)


@device.command("scan")
@click.option("--timeout", "seconds", type=Number(1, 120), default=8.0,
              show_default=True)
@click.option("--all", "show_all", is_flag=True, help="List every BLE device, not only units.")
def device_scan(seconds: float, show_all: bool) -> None:
    """List Halfstep units (and Vitruvian trainers) advertising nearby, with their URLs."""

    async def main() -> list[tuple[str, str, int | None]]:
        from bleak import BleakScanner
        from bleak.exc import BleakError

        try:
            found = await BleakScanner.discover(timeout=seconds, return_adv=True)
        except (BleakError, OSError, FileNotFoundError) as e:
            raise click.ClickException(f"Bluetooth is not available here ({e})") from None
        except Exception as e:  # the platform's own errors (D-Bus, adapters) land here
            raise click.ClickException(f"Bluetooth is not available here ({e})") from None
        out = []
        for device, adv in found.values():
            name = adv.local_name or device.name or ""
            if show_all or name.startswith(("Halfstep", "Vee", "VIT")):
                out.append((device.address, name, adv.rssi))
        return out

    rows = run_async(main)
    if not rows:
        click.echo("no units found")
    for address, name, rssi in sorted(rows, key=lambda r: -(r[2] or -999)):
        scheme = "vitruvian" if name.startswith(("Vee", "VIT")) else "ble"
        click.echo(f"{scheme}://{address}  {name}  rssi {rssi}")


@device.command("stop")
@device_option()
def device_stop(device: str) -> None:
    """Ramp the unit's load to zero and wait until telemetry confirms it."""

    async def main() -> None:
        from firmware_bridge.devices import device_client

        async with device_client(device) as dev:
            await dev.stop()
            click.echo(json.dumps({"stopped": True}))

    run_async(main)
