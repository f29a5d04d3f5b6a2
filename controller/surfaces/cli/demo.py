"""`halfstep demo`: a short session end to end, against the in-process simulator by default."""

from __future__ import annotations

import click

from controller.core.logs import bind_session, new_session_id
from controller.surfaces.cli.common import device_option, run_async
from controller.surfaces.cli.params import Number
from firmware_bridge.links import warpable


@click.command()
@device_option(optional=True)
@click.option("--seed", type=Number(0, 2**31, integer=True), default=7,
              show_default=True,
              help="Seed of the simulated lifter: the same seed gives the same workout.")
@click.option("--speed", type=Number(0, 1000), default=10.0, show_default=True,
              help="Time factor for the in-process simulator; 0 = as fast as possible.")
def demo(device: str | None, seed: int, speed: float) -> None:
    """Run a short session end to end against a unit (the in-process simulator by default)."""
    from controller.simulated.demo import UnitLost, run_demo, summary_table

    url = device or f"sim://?seed={seed}"
    in_process = warpable(url)
    bind_session(new_session_id())

    async def main() -> None:
        try:
            run = await run_demo(url, seed, click.echo)
        except UnitLost as e:
            raise click.ClickException(str(e)) from None
        click.echo("")
        click.echo(summary_table(run.sets))
        if run.status != "finished":  # stopped for safety: the lines above say why
            raise click.ClickException(f"the session on {url} was {run.status}")

    run_async(main, speed if in_process else 1.0)
