"""Position traces from CSV files of any source, for `halfstep reps`.

Column names are matched case-insensitively; time and position are found by common names
when not given. Every problem is reported with the row and column it is in.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TIME_NAMES = ("t", "time", "t_s", "time_s", "timestamp", "seconds", "elapsed", "time_ms",
              "timestamp_ms", "t_ms", "ms", "time (s)", "time (ms)", "t (s)", "zeit", "temps")
POSITION_NAMES = ("position", "position_mm", "pos", "displacement", "height", "y", "z")
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
MISSING = ("", "nan", "na", "n/a", "null", "none", "-")  # how trackers write a lost sample


class TraceError(ValueError):
    """A trace file that cannot be read as asked; the message says where and why."""


@dataclass
class Trace:
    t_s: np.ndarray
    position_mm: np.ndarray
    velocity_m_s: np.ndarray | None
    tension_n: np.ndarray | None
    columns: dict[str, str]  # role -> column used
    lost: int = 0  # rows without a value (a tracker's lost samples), left out
    time_unit: str | None = None  # as read (worked out when "auto")


def _pick(header: list[str], wanted: str | None, names: tuple[str, ...], role: str) -> int:
    lower = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.lower() in lower:
            return lower.index(wanted.lower())
        raise TraceError(f"no column {wanted!r} for {role}; the columns are: "
                         f"{', '.join(header)}")
    for n in names:
        if n in lower:
            return lower.index(n)
    raise TraceError(f"no {role} column found (looked for {', '.join(names)}); name it with "
                     f"--{role} COLUMN; the columns are: {', '.join(header)}")


def load_trace(path: Path, *, time: str | None = None, position: str | None = None,
               tension: str | None = None, velocity: str | None = None,
               time_unit: str = "s", scale: float = 1.0, invert: bool = False,
               rate: float | None = None) -> Trace:
    """Read a trace; `scale` turns position units into mm, `invert` flips which way is up;
    `rate` (Hz) times a file that has no time column; time_unit "auto" takes steps of half a
    unit or more as ms (or us), as no tracker samples slower than 2 Hz. Rows with a lost
    sample (an empty or NaN cell) are left out and counted."""
    if time_unit not in TIME_UNITS and time_unit != "auto":
        raise TraceError(f"time unit {time_unit!r}: allowed auto, {', '.join(TIME_UNITS)}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t ")
            except csv.Error:
                dialect = csv.excel
            rows = list(csv.reader(fh, dialect))
    except csv.Error as e:  # a field over the csv module's limit, a NUL byte...
        raise TraceError(f"{path}: not a readable CSV file ({e})") from None
    except OSError as e:
        raise TraceError(f"{path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise TraceError(f"{path}: not a text (CSV) file") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise TraceError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    cols: dict[str, int] = {}
    if time is not None or rate is None:
        try:
            cols["time"] = _pick(header, time, TIME_NAMES, "time")
        except TraceError as e:
            raise TraceError(f"{e}; or give --rate HZ if the file has none") from None
    elif any(h.strip().lower() in TIME_NAMES for h in header):
        found = next(h for h in header if h.strip().lower() in TIME_NAMES)
        raise TraceError(f"the file has a time column ({found!r}); --rate is for files "
                         "without one")
    cols["position"] = _pick(header, position, POSITION_NAMES, "position")
    if tension is not None:
        cols["tension"] = _pick(header, tension, (), "tension")
    if velocity is not None:
        cols["velocity"] = _pick(header, velocity, (), "velocity")
    data = {role: np.empty(len(rows) - 1) for role in cols}
    for i, row in enumerate(rows[1:], start=2):
        for role, c in cols.items():
            cell = row[c].strip() if c < len(row) else ""
            if role != "time" and cell.lower() in MISSING:
                data[role][i - 2] = np.nan  # a sample the tracker lost: left out below
                continue
            try:
                data[role][i - 2] = float(cell)
            except ValueError:
                raise TraceError(f"{path}: row {i}, column {header[c]!r}: {cell!r} is not a "
                                 "number") from None
    lost = np.zeros(len(rows) - 1, dtype=bool)
    for role, c in cols.items():  # inf parses as a float but is no measurement
        bad = np.flatnonzero(np.isinf(data[role]) | (np.isnan(data[role]) & (role == "time")))
        if len(bad):
            raise TraceError(f"{path}: row {int(bad[0]) + 2}, column {header[c]!r}: "
                             f"{data[role][bad[0]]} is not a finite number")
        lost |= np.isnan(data[role])
    if lost.all():
        raise TraceError(f"{path}: no row has a {' and '.join(cols)} value")
    if "time" in data:
        if len(data["time"]) > 1 and np.ptp(data["time"][~np.isnan(data["time"])]) == 0:
            raise TraceError(f"{path}: column {header[cols['time']]!r} never changes: it is "
                             "not a time (name the time column with --time, or give --rate)")
        if time_unit == "auto":
            step = float(np.median(np.diff(np.sort(data["time"])))) if len(data["time"]) > 1 \
                else 0.0
            time_unit = "us" if step >= 500 else "ms" if step >= 0.5 else "s"
        t = data["time"] * TIME_UNITS[time_unit]
    else:
        t = np.arange(len(rows) - 1) / float(rate or 1.0)
    keep = ~lost
    data = {role: x[keep] for role, x in data.items()}
    t = t[keep]
    order = np.argsort(t, kind="stable")  # recorders sometimes write rows out of order
    sign = -1.0 if invert else 1.0
    p = sign * scale * data["position"][order]
    v = sign * data["velocity"][order] if "velocity" in data else None
    f = data["tension"][order] if "tension" in data else None
    return Trace(t[order], p, v, f, {role: header[c] for role, c in cols.items()},
                 int(lost.sum()), time_unit if "time" in data else None)
