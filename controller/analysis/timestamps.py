"""Times as every payload, report and log summary shows them."""

from __future__ import annotations

import datetime as dt


def iso(at: float) -> str:
    """Seconds since the epoch as the UTC time every payload and report shows. A time no date
    can hold (a damaged record: past year 9999, NaN) is shown as the number it is, never
    raised: a report of a damaged file must still print."""
    try:
        return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")
    except (ValueError, OverflowError, OSError):
        return f"{at!r} s since 1970 (out of range)"
