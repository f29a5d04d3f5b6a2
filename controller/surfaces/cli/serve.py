"""`halfstep serve`: the always-on controller on the unit's own computer. The panel is the home
screen (who trains, today's session, Start, the summary), MQTT publishes when asked, and the
unit's link opens for each session. `halfstep run` stays for one session at a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from controller.surfaces.cli.common import check_url, run_async
from controller.surfaces.cli.mqtt import mqtt_url
from controller.surfaces.cli.panel_options import Refused, panel_address, panel_pin
from controller.surfaces.cli.params import Number

if TYPE_CHECKING:
    from controller.surfaces.mqtt.config import MqttSettings

HOME_DEFAULT = Path("halfstep-home")


@click.command()
@click.option("--home", "home_dir", type=click.Path(path_type=Path, file_okay=False),
              default=HOME_DEFAULT, show_default=True,
              help="The unit's folder: people/ holds a plan file per person (and their "
                   "history beside it); created when missing.")
@click.option("--device", "device", default=None, metavar="URL",
              callback=lambda ctx, p, v: None if v is None else check_url(v),
              help="The unit: sim://?seed=1 (the default, in this process), "
                   "serial:/dev/ttyUSB0, tcp://HOST:PORT, ble://ADDRESS, vitruvian://...")
@click.option("--seed", type=Number(0, 2**31, integer=True), default=1, show_default=True,
              help="The simulated people (when the device is the simulator).")
@click.option("--speed", type=Number(0.1, 1000), default=1.0, show_default=True,
              help="Time factor for the in-process simulator (1: real time).")
@click.option("--panel", "panel", default="127.0.0.1:8080", show_default=True,
              callback=panel_address, metavar="HOST:PORT",
              help="Serve the panel here (port 0: any free port). Any address but the "
                   "loopback asks for a PIN, set at the first run.")
@click.option("--mqtt", "mqtt", callback=mqtt_url, metavar="URL",
              help="Also publish to this broker and take its commands (docs/mqtt.md).")
@click.option("--warmups/--no-warmups", default=True, show_default=True,
              help="A light warm-up set before each exercise's first working set.")
def serve(home_dir: Path, device: str | None, seed: int, speed: float,
          panel: tuple[str, int], mqtt: MqttSettings | None, warmups: bool) -> None:
    """The always-on controller: the panel as the unit's home screen (default: the
    simulator). Stop with Ctrl-C or SIGTERM; a session under way is stopped first."""
    from controller.core.logs import bind_session, new_session_id
    from controller.surfaces.panel.app import is_loopback
    from firmware_bridge.links import warpable

    people = home_dir / "people"
    try:
        people.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise Refused(f"--home {home_dir}: cannot be created ({e.strerror or e})") from None
    url = device or f"sim://?seed={seed}&rest=60"
    in_process = warpable(url)
    if mqtt is not None and in_process and speed > 20:
        raise click.UsageError("--speed above 20 cannot be used with --mqtt: the broker "
                               "answers in real time")
    pin = None if is_loopback(panel[0]) else panel_pin(home_dir / "halfstep.sqlite")
    bind_session(new_session_id())
    simulated = "sim" in url.split("?")[0]

    async def main() -> None:
        from controller.core.control_core import ControlCore
        from controller.core.events import EventBus
        from controller.core.plan_file import save_plan
        from controller.core.session import SessionRunner
        from controller.simulated.demo import sim_person
        from controller.surfaces.panel.answers import PersonIO
        from controller.surfaces.panel.app import Panel
        from controller.surfaces.panel.home import Home
        from firmware_bridge.devices import device_client

        bus = EventBus()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stopping.set)

        def runner_for(person: Any, plan: Any, history: Any, day: dt.date) -> Any:
            return SessionRunner(
                lambda: device_client(url), plan, history, io, day,
                brief=sim_person(plan, seed) if simulated else None, bus=bus,
                save=lambda p, path=person.plan_path: save_plan(p, path),
                warmups=warmups)

        with ControlCore(speed if in_process else 1.0) as core:
            io = PersonIO(click.echo)  # questions are answered on the panel
            home = Home(core, people, url, bus, io, runner_for=runner_for)
            board = Panel(home, io, None, panel[0], panel[1], pin, home=home)
            async with contextlib.AsyncExitStack() as stack:
                try:
                    panel_url = await board.start()
                except OSError as e:
                    raise Refused(f"the panel cannot listen on {panel[0]}:{panel[1]} "
                                  f"({e.strerror or e})") from None
                stack.push_async_callback(board.stop)
                stack.push_async_callback(home.close)
                await home.open()
                if mqtt is not None:
                    from controller.surfaces.mqtt.sink import MqttSink

                    await stack.enter_async_context(
                        MqttSink(mqtt, bus, home, configuration_url=panel_url))
                gc.collect()
                gc.freeze()
                click.echo(f"panel: {panel_url}")
                click.echo(f"people: {people} ({len(home.people())}); device: {url}")
                await stopping.wait()
                click.echo("stopping: a session under way is stopped and kept")

    run_async(main, 1.0)
