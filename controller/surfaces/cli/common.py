"""What every `halfstep` command shares: the one way to run a coroutine (and turn a unit's or
a link's failure into one line), the --device option, and the one-line failure text.

User mistakes (bad arguments, loads off the grid, malformed URLs) exit with status 2 and one
clear line; a unit or link that fails exits with status 1; neither prints a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from firmware_bridge.links import scheme_of
from firmware_bridge.loads import LoadError
from firmware_bridge.transports.base import LinkClosed, LinkError

DEVICE_HELP = ("Device URL: sim://?seed=1 (the simulated unit in this process), "
               "serial:/dev/ttyUSB0?baud=921600, tcp://HOST:PORT, ble://ADDRESS or ble://NAME, "
               "ble://sim?seed=1, vitruvian://ADDRESS (a Vitruvian trainer), "
               "vitruvian://sim?seed=1, replay:FILE.hswl (a recorded wire log played back).")


class UsageProblem(click.UsageError):
    """Exit 2 with one line, no traceback."""


def log_file() -> Path:
    """Today's JSON log in the state folder (what `halfstep logs` and bundles read)."""
    import datetime as dt

    from firmware_bridge.wirelog import state_dir

    return state_dir() / "logs" / f"halfstep-{dt.date.today():%Y%m%d}.jsonl"


def run_async(coro_fn: Callable[[], Awaitable[Any]], speed: float = 1.0) -> Any:
    from firmware_bridge.clock import loop_factory

    try:
        with asyncio.Runner(loop_factory=loop_factory(speed)) as runner:
            return runner.run(coro_fn())
    except LoadError as e:
        raise UsageProblem(str(e)) from None
    except click.ClickException:
        raise
    except LinkError as e:
        raise click.ClickException(str(e)) from None
    except (LinkClosed, _device_error()) as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


def check_url(url: str) -> str:
    try:
        scheme_of(url)
    except LinkError as e:
        raise click.BadParameter(str(e), param_hint="--device") from None
    return url


def device_option(default: str | None = None, *,
                  optional: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """--device: required by the commands that talk to one given unit; `optional` for those
    that fall back to the simulator (their help says so, never "[required]")."""
    return click.option("--device", "device", default=default,
                        required=default is None and not optional,
                        show_default=default is not None, metavar="URL",
                        help=DEVICE_HELP + (" Default: the simulator in this process."
                                            if optional else ""),
                        callback=_device_url)


def _device_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Checked here, the missing case too: click 8.5 lets a required option with a callback
    through as None."""
    if value is None:
        if param.required:
            raise click.MissingParameter(ctx=ctx, param=param)
        return None
    return check_url(value)


def failure_line(e: BaseException) -> str:
    """One line for a failure nothing nearer caught: what went wrong and with which file,
    never a traceback (that goes to the log file for support)."""
    import sqlite3

    from controller.core.history import NotAHistory

    if isinstance(e, BaseExceptionGroup):
        return failure_line(e.exceptions[0])
    if isinstance(e, NotAHistory):
        return str(e)
    if isinstance(e, UnicodeDecodeError):
        return f"not UTF-8 text ({e.reason} at byte {e.start})"
    if isinstance(e, RecursionError):
        return "the input is nested too deeply to read"
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror or e}"
    if isinstance(e, sqlite3.DatabaseError):
        return f"the history database cannot be used ({e})"
    return f"{type(e).__name__}: {e} (an unexpected failure: the log file has the details)"




def _device_error() -> type[Exception]:
    from firmware_bridge.client import DeviceError

    return DeviceError

