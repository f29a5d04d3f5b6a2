"""`halfstep sim serve`: the simulated unit as its own process, on a pty or a TCP port."""

from __future__ import annotations

from typing import Any

import click

from controller.core.inputs import InputError, host_port
from controller.core.logs import configure_logging
from controller.surfaces.cli.common import UsageProblem, run_async
from controller.surfaces.cli.params import Number


@click.group()
def sim() -> None:
    """The simulated unit."""


def _host_port(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return host_port(value, "--tcp", default_host="127.0.0.1")
    except InputError as e:
        raise click.BadParameter(f"{e} (port 0 picks a free one)") from None


@sim.command("serve")
@click.option("--pty", is_flag=True, help="Serve on a new pseudo-terminal; prints its URL.")
@click.option("--tcp", callback=_host_port, metavar="HOST:PORT",
              help="Serve on a TCP port; prints its URL.")
@click.option("--seed", type=Number(0, 2**31, integer=True), default=1, show_default=True)
@click.option("--cables", type=Number(1, 2, integer=True), default=1,
              show_default=True)
@click.option("--max-kg", type=Number(0.5, 200), default=100.0, show_default=True,
              help="Maximum load per cable.")
@click.option("--lease-ms", type=Number(50, 60000, integer=True), default=500, show_default=True)
@click.option("--reps", default="10", show_default=True,
              help="Reps the simulated lifter aims for in each set, e.g. 8,10,10.")
@click.option("--rest", type=Number(0, 3600), default=60.0, show_default=True,
              help="Seconds the simulated lifter rests between sets.")
@click.option("--setup-pull", type=Number(0, 400), default=0.0, show_default=True,
              metavar="MM", help="Before each set the simulated lifter pulls this far and "
                                 "lets it back (taking up the slack): a movement that is not "
                                 "a rep.")
@click.option("--drop-ack", type=Number(0, 1000, integer=True), default=0,
              help="Lose the next N ACKs (fault injection).")
@click.option("--drop", type=Number(0, 1), default=0.0,
              help="Probability of losing any frame.")
@click.option("--corrupt", type=Number(0, 1), default=0.0,
              help="Probability of corrupting a frame.")
@click.option("--duplicate", type=Number(0, 1), default=0.0,
              help="Probability of sending a frame twice.")
@click.option("--jitter-ms", type=Number(0, 10000), default=0.0,
              help="Hold each write back 0..N ms.")
@click.option("--disconnect-at", type=Number(0, 86400), default=None,
              help="Drop the link at this second.")
@click.option("--reboot-at", type=Number(0, 86400), default=None,
              help="Reboot the unit at this second.")
@click.option("--stuck-sensor-at", type=Number(0, 86400), default=None,
              help="Freeze the position sensor at this second.")
@click.pass_context
def sim_serve(ctx: click.Context, pty: bool, tcp: tuple[str, int] | None, **opts: Any) -> None:
    """Run the simulated unit as its own process; logs every state change as JSON lines."""
    from sim.options import SimOptions
    from sim.serve import serve

    if not pty and tcp is None:
        raise click.UsageError("give --pty, --tcp HOST:PORT, or both")
    configure_logging(ctx.obj["log_format"] or "json", ctx.obj["log_level"] or "info")
    try:
        options = SimOptions.from_query(opts)
    except ValueError as e:
        raise UsageProblem(str(e)) from None
    run_async(lambda: serve(options, pty=pty, tcp=tcp))
