"""`halfstep run`: today's session on a unit, in the terminal (and the panel, MQTT)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from controller.surfaces.cli.common import device_option, run_async
from controller.surfaces.cli.mqtt import mqtt_url
from controller.surfaces.cli.panel_options import DB_OPTION, Refused, panel_address, panel_pin
from controller.surfaces.cli.params import Number
from controller.surfaces.cli.plan import FILE_OPTION, PlanProblem, load_plan, plan_date, save_plan

if TYPE_CHECKING:
    from controller.surfaces.mqtt.config import MqttSettings

INTERRUPT_WAIT_S = 5.0  # Ctrl-C: STOP confirmed (about 1 s), the set and the plan saved


@click.command()
@FILE_OPTION
@DB_OPTION
@device_option(optional=True)
@click.option("--seed", type=Number(0, 2**31, integer=True), default=1, show_default=True,
              help="The simulated person (when the device is the simulator).")
@click.option("--speed", type=Number(0, 1000), default=10.0,
              show_default=True,
              help="Time factor for the in-process simulator; 0 = as fast as possible.")
@click.option("--today", callback=plan_date,
              help="The session's date (default: today; not before the last session).")
@click.option("--answers", "answers_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Answers given in advance: a JSON object of question ids to answers, "
                   'e.g. {"pre:pain_since_last": "settled", "pain:session": 2}; '
                   "red_flag:<kind> at any id raises that red flag (docs/planner.md).")
@click.option("--pain", "auto_pain", type=Number(0, 10, integer=True), default=None,
              help="Shorthand: answer every pain check-in with this (and 'since the last "
                   "session' with settled up to 3, raised above).")
@click.option("--yes", "auto_yes", is_flag=True,
              help="Shorthand: answer yes to continue and resume questions.")
@click.option("--mqtt", "mqtt", callback=mqtt_url, metavar="URL",
              help="Publish to this broker and take its commands: mqtt://user:pass@host:port"
                   "[?unit=ID&telemetry=HZ], or mqtts:// (docs/mqtt.md).")
@click.option("--panel", "panel", default="127.0.0.1:8080", show_default=True,
              callback=panel_address, metavar="HOST:PORT",
              help="Serve the device panel here (port 0: any free port). Any address but "
                   "the loopback asks for a PIN, set at the first run.")
@click.option("--no-panel", is_flag=True, help="Terminal only.")
@click.option("--panel-linger", type=Number(0, 86400), default=0.0,
              help="Keep the panel up this many seconds after the session (to see "
                   "progress).")
def run(path: Path, db_path: Path, device: str | None, seed: int, speed: float,
        today: dt.date | None, answers_path: Path | None, auto_pain: int | None,
        auto_yes: bool,
        mqtt: MqttSettings | None, panel: tuple[str, int], no_panel: bool,
        panel_linger: float) -> None:
    """Run today's session from the plan on a unit (default: the simulator)."""
    from controller.core.events import EventBus
    from controller.core.history import History, NotAHistory, check_history_file
    from controller.core.logs import bind_session, new_session_id
    from controller.core.session import ProgramPaused, RestToday, SessionRunner, paused_text
    from controller.planning.planner import next_session
    from controller.planning.questions import AnswerBook, AnswerError
    from controller.surfaces.panel.app import (
        is_loopback,  # aiohttp: imported only here, not for --help
    )
    from firmware_bridge.devices import device_client
    from firmware_bridge.links import warpable

    plan = load_plan(path)
    day = today or dt.date.today()
    rx = next_session(plan, day)
    if rx.status == "paused" and (no_panel or not panel_linger):
        raise Refused(paused_text(rx))  # nothing is connected, nothing is loaded
    if plan.history and day < plan.history[-1].date:
        raise PlanProblem(f"--today {day} is before the last session in {path} "
                          f"({plan.history[-1].date}): sessions are kept in date order")
    answers = None
    if answers_path is not None:
        try:
            answers = AnswerBook.load(answers_path,
                                      [e.name for e in plan.program.exercises])
        except AnswerError as e:
            raise PlanProblem(f"--answers {e.reason}; allowed {e.allowed}") from None
    url = device or f"sim://?seed={seed}&rest=60"
    in_process = warpable(url)
    if mqtt is not None and in_process and speed == 0:
        raise click.UsageError("--speed 0 cannot be used with --mqtt: the broker answers in "
                               "real time; use a speed from 1 to 20 (default 10)")
    from controller.simulated.demo import sim_person

    brief = sim_person(plan, seed) if "sim" in url.split("?")[0] else None
    if rx.status != "paused" and rx.too_soon is not None and answers is not None and \
            not answers.get("too_soon")[0]:
        raise Refused(f"the last session was on {rx.too_soon['last']}, under "
                      f"{rx.too_soon['min_hours']} h ago: rest today, or answer "
                      '"too_soon": "yes" in --answers to train anyway')
    try:  # before anything starts: a wrong file is named, and never written into
        check_history_file(db_path)
    except NotAHistory as e:
        raise PlanProblem(str(e)) from None
    pin = None if no_panel or is_loopback(panel[0]) else panel_pin(db_path)
    bind_session(new_session_id())

    async def main() -> None:
        from controller.core.control_core import ControlCore, CoreRunner
        from controller.surfaces.cli.terminal import Terminal
        from controller.surfaces.panel.answers import PersonIO, StdinLines

        bus = EventBus()
        term = Terminal()
        # The session, the link and its heartbeats run on the control core's own thread
        # and loop (warped with --speed for the in-process simulator); the panel, MQTT
        # and the terminal stay here and reach it through `core` (design contract 12).
        with ControlCore(speed if in_process else 1.0) as core:
            history = await core.call(History, db_path)
            try:
                # Questions are answered at the terminal or on the panel, whichever first;
                # typed lines are delivered to the core's loop, where questions wait.
                lines = (await core.call(StdinLines)) if sys.stdin is not None else None
                io = PersonIO(term.echo, lines, auto_pain, auto_yes, answers)
                runner = await core.call(lambda: SessionRunner(
                    lambda: device_client(url), plan, history, io, day, brief=brief,
                    bus=bus, save=lambda p: save_plan(p, path)))
                # Everything loaded so far (modules, the plan, the history) lives for the
                # whole run: out of the collector's sight, a full collection (which holds
                # every thread, the core's too) takes milliseconds, not a few hundred.
                gc.collect()
                gc.freeze()
                await _session(CoreRunner(runner, core), io, bus, term)
            finally:
                await core.call(history.close)
                if history.pending:  # the disk was full: kept beside the database
                    click.echo(f"{history.pending} history record(s) not yet in {db_path}: "
                               f"kept in {history.journal_path}, written at the next start"
                               + (f"; {history.unsaved} could not be kept at all (disk "
                                  "full)" if history.unsaved else ""), err=True)

    async def _session(runner: Any, io: Any, bus: Any, term: Any) -> None:
        from controller.surfaces.cli.terminal import keep_status
        from controller.surfaces.mqtt.sink import MqttSink
        from controller.surfaces.panel.app import Panel

        async with contextlib.AsyncExitStack() as stack:
            board = None
            panel_url = None
            if not no_panel:
                board = Panel(runner, io, path, panel[0], panel[1], pin)
                try:
                    panel_url = await board.start()
                    click.echo(f"panel: {panel_url}")
                except OSError as e:
                    click.echo(f"panel not started ({e}); answer here instead", err=True)
                    board = None
                else:
                    stack.push_async_callback(board.stop)
            if mqtt is not None:  # after the panel, so Home Assistant can link to it
                sink = await stack.enter_async_context(
                    MqttSink(mqtt, bus, runner, configuration_url=panel_url))
            if board is not None and not board.unlocked.is_set():
                click.echo("enter the PIN on the panel to start")
                await board.unlocked.wait()
            runner.publish_state()  # PAUSED, when it is, on MQTT and the panel
            if runner.rx.status == "paused":
                # Paused: the panel shows why and takes a clinician's all-clear for
                # --panel-linger seconds; without one nothing is loaded (exit 2).
                click.echo(paused_text(runner.rx) + " Waiting for the all-clear on "
                           "the panel.", err=True)
                await _until(lambda: runner.rx.status != "paused", panel_linger)
                if runner.rx.status == "paused":
                    raise Refused(paused_text(runner.rx))
            running = runner.start()  # on the core; saves the plan as it goes
            # The rest's countdown and the wait for the handles, on the terminal.
            status = asyncio.get_running_loop().create_task(keep_status(
                term, lambda: runner.state,
                lambda: io.prompt is not None and io.lines is not None))
            stack.push_async_callback(_cancelled, status)
            try:
                result = await asyncio.shield(asyncio.wrap_future(running))
            except ProgramPaused as e:
                raise Refused(str(e)) from None
            except RestToday:
                click.echo("Resting today: nothing was loaded. The next session is "
                           "ready tomorrow or later.")
                return
            except asyncio.CancelledError:
                # Ctrl-C: STOP (confirmed within about a second), the set's reps kept,
                # the session recorded as interrupted and the plan updated; exit 130.
                runner.interrupt_soon("Ctrl-C")
                with contextlib.suppress(Exception):
                    running.result(timeout=INTERRUPT_WAIT_S)
                click.echo("interrupted: the load is off; the sets done are saved",
                           err=True)
                raise
            if board is not None and panel_linger:
                await asyncio.sleep(panel_linger)
        if mqtt is not None and (sink.stats.dropped_samples or
                                 sink.stats.dropped_messages or sink.pending):
            click.echo(f"MQTT: {sink.stats.dropped_samples} samples dropped, "
                       f"{sink.stats.dropped_messages + sink.pending} messages not "
                       f"delivered ({mqtt.redacted()})", err=True)
        click.echo(f"\nsession {result.session_id}: {result.status}, "
                   f"{len(result.sets)} sets, "
                   f"{sum(s.full_reps for s in result.sets)} reps; saved to {db_path} "
                   f"and {path}")

    run_async(main, 1.0)


async def _cancelled(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _until(done: Any, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not done() and loop.time() < end:
        await asyncio.sleep(0.2)
