"""`halfstep reps FILE`: count and measure the reps in any recorded position trace."""

from __future__ import annotations

import json
from pathlib import Path

import click

from controller.surfaces.cli.common import UsageProblem
from controller.surfaces.cli.params import Number


@click.command()
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
