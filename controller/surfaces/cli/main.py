"""The `halfstep` command: the one module that wires links, units and the controller together.

User mistakes (bad arguments, loads off the grid, malformed URLs) exit with status 2 and one
clear line; a unit or link that fails exits with status 1; neither prints a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from controller.core.inputs import InputError, Load, Number, host_port
from controller.core.logs import bind_session, configure_logging, new_session_id
from firmware_bridge.client import DeviceError
from firmware_bridge.devices import device_client
from firmware_bridge.links import scheme_of, warpable
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


def _run(coro_fn: Callable[[], Awaitable[Any]], speed: float = 1.0) -> Any:
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
    except (DeviceError, LinkClosed) as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


def _check_url(url: str) -> str:
    try:
        scheme_of(url)
    except LinkError as e:
        raise click.BadParameter(str(e), param_hint="--device") from None
    return url


def _device_option(default: str | None = None, *, optional: bool = False):
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
    return _check_url(value)


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
                structlog.get_logger("controller.surfaces.cli.main").info("unexpected_failure",
                                                            exc_info=True)
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


# ---- demo ----------------------------------------------------------------------------------


@cli.command()
@_device_option(optional=True)
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

    _run(main, speed if in_process else 1.0)


# ---- reps ----------------------------------------------------------------------------------


@cli.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--time", "time_col", metavar="COLUMN", help="Time column (default: found by name).")
@click.option("--rate", type=Number(1, 100000), default=None, metavar="HZ",
              help="Samples per second, for a file with no time column.")
@click.option("--position", "position_col", metavar="COLUMN",
              help="Position column (default: found by name). Nothing else is needed: the "
                   "unit and the axis are worked out and printed.")
@click.option("--tension", "tension_col", metavar="COLUMN", help="Optional tension column, N.")
@click.option("--velocity", "velocity_col", metavar="COLUMN",
              help="Optional velocity column, m/s (default: derived from position).")
@click.option("--time-unit", type=click.Choice(["auto", "s", "ms", "us"]), default="auto",
              show_default=True, help="Unit of the time column (auto: from its steps).")
@click.option("--unit", type=click.Choice(["auto", "m", "cm", "mm"]), default="auto",
              show_default=True,
              help="Unit of the position column (auto: from the movement's range and speed).")
@click.option("--scale", type=Number(-1e6, 1e6), default=None,
              help="Multiply positions by this to get mm, for any other unit (overrides "
                   "--unit).")
@click.option("--axis", type=click.Choice(["auto", "up", "down"]), default="auto",
              show_default=True,
              help="Which way the position axis points: up if the numbers grow as the load is "
                   "lifted (a cable paying out), down if they grow as it is lowered (a tracker "
                   "or camera whose axis points at the floor). auto: from the movement.")
@click.option("--invert", is_flag=True,
              help="Same as --axis down: the numbers grow as the load goes down.")
@click.option("--reference-mm", type=Number(1, 10000), default=None,
              help="Full range of motion known from earlier sets (default: the range most of "
                   "this set's reps share).")
@click.option("--idle-s", type=Number(1, 3600), default=20.0, show_default=True,
              help="No movement for this long ends the set.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reps(file: Path, time_col: str | None, rate: float | None, position_col: str | None,
         tension_col: str | None, velocity_col: str | None, time_unit: str, unit: str,
         scale: float | None, axis: str, invert: bool, reference_mm: float | None,
         idle_s: float, as_json: bool) -> None:
    """Count and measure the reps in a recorded position trace (CSV).

    Movements around the set (the bar lifted from the floor, unracked, walked out, racked or
    put down) are left out; what was assumed about the file is printed first."""
    import numpy as np

    from controller.analysis import rep_file
    from controller.analysis.rep_report import rep_table
    from controller.analysis.trace_file import TraceError, load_trace

    if scale == 0:
        raise click.BadParameter("must not be 0", param_hint="--scale")
    if invert:
        if axis == "up":
            raise UsageProblem("--invert says the axis points down, --axis up says up: give "
                               "one of them")
        axis = "down"
    try:
        trace = load_trace(file, time=time_col, position=position_col, tension=tension_col,
                           velocity=velocity_col, time_unit=time_unit, rate=rate)
    except TraceError as e:
        raise UsageProblem(str(e)) from None
    got = rep_file.count(trace.t_s, trace.position_mm, trace.velocity_m_s, trace.tension_n,
                         unit=None if unit == "auto" else unit, scale=scale,
                         axis=None if axis == "auto" else axis, reference_mm=reference_mm,
                         idle_s=idle_s)
    if time_unit == "auto" and trace.time_unit not in (None, "s"):
        got.assumed.insert(0, f"time unit: {trace.time_unit} (steps of "
                              f"{np.median(np.diff(trace.t_s)) * 1000:.1f} ms if so)")
    if trace.lost:
        got.warnings.append(f"{trace.lost} row(s) had no value (lost samples): left out")
    span = got.span_s
    if as_json:
        click.echo(json.dumps({"file": str(file), "columns": trace.columns,
                               "samples": len(trace.t_s), "unit": got.unit, "axis": got.axis,
                               "assumed": got.assumed, "warnings": got.warnings,
                               "set_span_s": list(span) if span else None,
                               "reps": [dict(r.as_dict(), note=got.notes.get(r.index))
                                        for r in got.reps],
                               "summary": got.summary.as_dict()}, indent=2))
        return
    for line in got.assumed:
        click.echo(f"assumed {line}")
    for line in got.warnings:
        click.echo(f"warning: {line}", err=True)
    if span is not None:
        before, after = span[0] - float(trace.t_s[0]), float(trace.t_s[-1]) - span[1]
        click.echo(f"the set: {span[0]:.2f} s to {span[1]:.2f} s ({before:.1f} s before it "
                   f"and {after:.1f} s after it left out)")
    click.echo(rep_table(got.reps, got.summary))
    for r in got.reps:
        if got.notes.get(r.index):
            click.echo(f"rep {r.index}: {got.notes[r.index]}")


# ---- device --------------------------------------------------------------------------------


@cli.group()
def device() -> None:
    """Talk to one unit directly. --device URL is one of: sim://?seed=1 (the simulated unit in
    this process), serial:/dev/ttyUSB0?baud=921600, tcp://HOST:PORT, ble://ADDRESS or
    ble://NAME (scan lists them), ble://sim?seed=1, vitruvian://ADDRESS (a Vitruvian trainer),
    vitruvian://sim?seed=1, replay:FILE.hswl (a recorded wire log played back)."""


@device.command("info")
@_device_option()
def device_info(device: str) -> None:
    """Print the unit's device info as JSON."""

    async def main() -> None:
        async with device_client(device) as dev:
            assert dev.info is not None
            click.echo(json.dumps(dev.info.as_dict(), indent=2))

    _run(main)


@device.command("set-load")
@click.argument("kg", type=Load())
@_device_option()
@click.option("--hold", type=Number(0, 3600), default=0.0, show_default=True,
              help="Seconds to keep the load, up to 3600 (the unit deloads when this program "
                   "lets go).")
def device_set_load(kg: float, device: str, hold: float) -> None:
    """Set an absolute load KG on every cable (a multiple of 0.5 kg)."""

    async def main() -> None:
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

    _run(main)


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

    rows = _run(main)
    if not rows:
        click.echo("no units found")
    for address, name, rssi in sorted(rows, key=lambda r: -(r[2] or -999)):
        scheme = "vitruvian" if name.startswith(("Vee", "VIT")) else "ble"
        click.echo(f"{scheme}://{address}  {name}  rssi {rssi}")


@device.command("stop")
@_device_option()
def device_stop(device: str) -> None:
    """Ramp the unit's load to zero and wait until telemetry confirms it."""

    async def main() -> None:
        async with device_client(device) as dev:
            await dev.stop()
            click.echo(json.dumps({"stopped": True}))

    _run(main)


# ---- sim -----------------------------------------------------------------------------------


@cli.group()
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
    _run(lambda: serve(options, pty=pty, tcp=tcp))


def _register() -> None:
    from controller.surfaces.cli import logs as logs_cli
    from controller.surfaces.cli import mqtt_options as mqtt_cli
    from controller.surfaces.cli import run as run_cli
    from controller.surfaces.cli import serve as serve_cli
    from controller.surfaces.cli.checkin import checkin
    from controller.surfaces.cli.plan import plan

    cli.add_command(plan)
    cli.add_command(checkin)
    run_cli.register(cli, _run, _device_option)
    serve_cli.register(cli, _run, _device_option)
    mqtt_cli.register(cli, _run)
    logs_cli.register(cli)


_register()


def main() -> None:
    cli(prog_name="halfstep")


if __name__ == "__main__":
    main()
