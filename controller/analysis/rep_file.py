"""Counting a recorded set: what `halfstep reps FILE` does after reading the file.

The unit and axis are worked out when not given (controller.analysis.trace_detect), the samples are
streamed through the same rep engine as a live set, and the set's reps are final at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from controller.analysis.reps import Rep, RepConfig, RepEngine, SetSummary
from controller.analysis.trace_detect import UNITS, guess_axis, guess_unit, typical_range_mm

BLOCK = 256  # streamed in blocks, as the engine is fed live


@dataclass
class Counted:
    reps: list[Rep]
    summary: SetSummary
    unit: str  # m, cm, mm, or "x<scale>" when a scale was given
    axis: str  # up | down
    assumed: list[str] = field(default_factory=list)  # what was worked out, and why
    warnings: list[str] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)  # rep index -> what the set said of it

    @property
    def span_s(self) -> tuple[float, float] | None:
        """From the first counted rep's start to the last one's end: the set itself."""
        kept = [r for r in self.reps if r.kind != "ignored"]
        return (kept[0].start_s, kept[-1].end_s) if kept else None


SPIKE_MM = 25.0  # a lone sample this far (and 6 local MADs) from its neighbours is a glitch


def despike(p_mm: np.ndarray) -> tuple[np.ndarray, int]:
    """Lone samples far from the median of the two before and two after them are replaced by
    it (a Hampel filter): a tracker's glitch is not a rep. In a rise or a fall the middle of
    five samples is their median, so real movement at any speed is left alone."""
    if len(p_mm) < 5:
        return p_mm, 0
    win = np.lib.stride_tricks.sliding_window_view(p_mm, 5)
    med = np.median(win, axis=1)
    mad = np.median(np.abs(win - med[:, None]), axis=1)
    mid = p_mm[2:-2]
    bad = np.abs(mid - med) > np.maximum(SPIKE_MM, 6 * 1.4826 * mad)
    if not bad.any():
        return p_mm, 0
    out = p_mm.copy()
    out[2:-2][bad] = med[bad]
    return out, int(bad.sum())


def count(t_s: np.ndarray, position: np.ndarray, velocity_m_s: np.ndarray | None = None,
          tension_n: np.ndarray | None = None, *, unit: str | None = None,
          scale: float | None = None, axis: str | None = None,
          reference_mm: float | None = None, idle_s: float = 20.0) -> Counted:
    """The reps of one recorded set. `unit`/`axis` None: worked out from the movement;
    `scale` (position units to mm) overrides `unit`."""
    assumed: list[str] = []
    warnings: list[str] = []
    if scale is not None:
        unit_name, factor = f"x{scale:g}", scale
    elif unit is not None:
        unit_name, factor = unit, UNITS[unit]
    else:
        g = guess_unit(t_s, position)
        unit_name, factor = g.value, UNITS[g.value]
        assumed.append(f"position unit: {g.value} ({g.why})")
        if not g.sure:
            warnings.append(f"unsure of the position unit, assumed {g.value}: give --unit "
                            "if that is wrong")
    p_mm = np.asarray(position, dtype=float) * factor
    if axis is None:
        g = guess_axis(t_s, p_mm, tension_n)
        axis = g.value
        assumed.append(f"axis: {'up' if axis == 'up' else 'down'} - the numbers "
                       f"{'grow' if axis == 'up' else 'fall'} as the load goes up ({g.why})")
        if not g.sure:
            warnings.append(f"unsure which way the axis points, assumed {axis}: give "
                            "--axis up or --axis down if the concentric figures look like "
                            "the lowering")
    sign = 1.0 if axis == "up" else -1.0
    p_mm, spikes = despike(p_mm)
    if spikes:
        warnings.append(f"{spikes} sample(s) jumped away from both neighbours and back (tracker "
                        "glitches): replaced by their neighbours' median")
    p_mm = sign * p_mm
    v = None if velocity_m_s is None else sign * np.asarray(velocity_m_s, dtype=float)
    # Reps shorter than 10 cm are noise for a squat but the whole range of a calf raise: the
    # smallest rep worth counting follows the recording's own movements.
    typical = typical_range_mm(t_s, p_mm)
    min_rom = RepConfig.min_rom_mm if typical is None else min(RepConfig.min_rom_mm,
                                                               max(20.0, 0.5 * typical))
    engine = RepEngine(RepConfig(idle_end_s=idle_s, min_rom_mm=min_rom), reference_mm)
    for i in range(0, len(t_s), BLOCK):
        sl = slice(i, i + BLOCK)
        engine.feed(t_s[sl], p_mm[sl], None if v is None else v[sl],
                    None if tension_n is None else tension_n[sl])
    engine.finish()
    if engine.ended_by == "idle" and engine.reps:
        after = float(t_s[-1]) - engine.reps[-1].end_s - idle_s
        if after > 1.0:
            warnings.append(f"nothing moved for {idle_s:g} s after {engine.reps[-1].end_s:.1f} s, "
                            f"so the set ended there; the last {after:.0f} s were not counted "
                            "(another set? give --idle-s to count through a pause)")
    notes = {r.index: n for r in engine.reps if (n := engine.note(r))}
    return Counted(list(engine.reps), engine.summary(), unit_name, axis, assumed, warnings,
                   notes)
