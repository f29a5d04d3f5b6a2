"""The `halfstep` command: the group, its options, and the one error path every command shares.

Each command lives in its own module beside this one and is imported only when it is the one
being run (or when `--help` lists them all); its heavy imports (the panel, MQTT, Bluetooth, the
simulator, numpy) wait until it runs.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any

import click

from controller.core.logs import configure_logging
from controller.surfaces.cli.common import failure_line, log_file

# Each command's module and name there: imported when the command is used or listed.
COMMANDS = {
    "checkin": "checkin", "demo": "demo", "device": "device", "history": "history",
    "logs": "logs", "mqtt": "mqtt", "plan": "plan", "reps": "reps", "run": "run",
    "serve": "serve", "sim": "sim", "support": "support",
}


class _LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands: each module is imported the first time its command is looked up
    (click reads `group.commands` for running, listing and completing alike)."""

    def __init__(self, added: dict[str, click.Command]) -> None:
        self._loaded = dict(added)

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            module = importlib.import_module(f"controller.surfaces.cli.{COMMANDS[name]}")
            self._loaded[name] = getattr(module, name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(COMMANDS) | set(self._loaded)))

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))


class _Group(click.Group):
    """Every subcommand's unexpected failure ends as one line and exit 1 (usage errors are
    click's, exit 2): the CLI's single error path. Commands are loaded when asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands)

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


def main() -> None:
    cli(prog_name="halfstep")


if __name__ == "__main__":
    main()
