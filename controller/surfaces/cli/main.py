"""The `halfstep` command: the one module that wires links, units and the controller together.

Each command lives in its own module beside this one and imports what it needs when it runs,
so `halfstep --help` (and any one command) loads no panel, MQTT, Bluetooth or simulator.
"""

from __future__ import annotations

import contextlib
from typing import Any

import click

from controller.core.logs import configure_logging
from controller.surfaces.cli.common import device_option, failure_line, log_file, run_async


class _Group(click.Group):
    """Every subcommand's unexpected failure ends as one line and exit 1 (usage errors are
    click's, exit 2): the CLI's single error path."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt,
                SystemExit):
            raise
        except Exception as e:
            import structlog

            with contextlib.suppress(Exception):  # at info: to the log file, not the screen
                structlog.get_logger("controller.surfaces.cli.main").info(
                    "unexpected_failure", exc_info=True)
            raise click.ClickException(failure_line(e)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
              help="Log lines on stderr: text (default) or JSON lines (default for sim serve).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default=None, help="Least severe log level shown (default: warning; sim: info).")
@click.option("--wire-log/--no-wire-log", default=True, show_default=True,
              help="Record every byte to and from the unit (docs/support.md).")
@click.pass_context
def cli(ctx: click.Context, log_format: str | None, log_level: str | None,
        wire_log: bool) -> None:
    """Halfstep: controller for a motorised cable-resistance home gym."""
    from firmware_bridge import flight, wirelog

    ctx.obj = {"log_format": log_format, "log_level": log_level}
    state = wirelog.state_dir()
    configure_logging(log_format or "text", log_level or "warning", file=log_file())
    wirelog.enable(state / "wire" if wire_log else None)
    flight.enable(state / "flight")


def _register() -> None:
    from controller.surfaces.cli import demo as demo_cli
    from controller.surfaces.cli import device, logs, mqtt_options, reps, run, serve, sim
    from controller.surfaces.cli.checkin import checkin
    from controller.surfaces.cli.plan import plan

    cli.add_command(demo_cli.demo)
    cli.add_command(reps.reps)
    cli.add_command(device.device)
    cli.add_command(sim.sim)
    cli.add_command(plan)
    cli.add_command(checkin)
    run.register(cli, run_async, device_option)
    serve.register(cli, run_async, device_option)
    mqtt_options.register(cli, run_async)
    logs.register(cli)


_register()


def main() -> None:
    cli(prog_name="halfstep")


if __name__ == "__main__":
    main()
