"""Reps and set summaries as text tables, for people reading a terminal."""

from __future__ import annotations

from controller.analysis.reps import Rep, SetSummary


def figure(value: float | None, spec: str) -> str:
    """A figure that may be missing (a rep too short to measure): "-" then."""
    return "-" if value is None else format(value, spec)


def rep_line(rep: Rep, count: int, target: int | None) -> str:
    """One rep as it ends, for a live display: kind, count toward the target, the figures."""
    kind = {"full": "rep", "partial": "partial", "ignored": "ignored"}[rep.kind]
    pct = f" ({rep.rom_pct:3.0f}%)" if rep.rom_pct is not None else ""
    return (f"  {kind:7s} {count:2d}/{target or '-'}  range {rep.rom_mm:4.0f} mm{pct}  "
            f"concentric {rep.mean_concentric_m_s:.2f} m/s in {rep.concentric_s:.1f} s, "
            f"eccentric {rep.eccentric_s:.1f} s")


def rep_table(reps: list[Rep], summary: SetSummary) -> str:
    head = (f"{'#':>3} {'kind':<8}{'start s':>8}{'conc s':>7}{'ecc s':>7}{'ROM mm':>8}"
            f"{'ROM %':>7}{'MCV m/s':>9}{'peak m/s':>9}{'peak N':>8}{'power W':>9}{'TUT s':>7}")
    lines = [head, "-" * len(head)]
    for r in reps:
        lines.append(
            f"{r.index:>3} {r.kind:<8}{r.start_s:>8.2f}{r.concentric_s:>7.2f}"
            f"{r.eccentric_s:>7.2f}{r.rom_mm:>8.0f}{figure(r.rom_pct, '.0f'):>7}"
            f"{r.mean_concentric_m_s:>9.2f}{r.peak_concentric_m_s:>9.2f}"
            f"{figure(r.peak_tension_n, '.0f'):>8}{figure(r.mean_concentric_power_w, '.0f'):>9}"
            f"{r.time_under_tension_s:>7.2f}")
    s = summary
    lines += [
        "",
        f"reps: {s.reps}   partial: {s.partial_reps}   ignored: {s.ignored}   "
        f"reference range: {figure(s.reference_rom_mm, '.0f')} mm",
        f"mean concentric velocity: {figure(s.mean_concentric_m_s, '.2f')} m/s   "
        f"velocity loss: {figure(s.velocity_loss, '.0%')}   "
        f"range consistency: {figure(s.rom_consistency, '.0%')}   "
        f"time under tension: {s.time_under_tension_s:.1f} s",
        f"set ended by: {s.ended_by or '-'}",
    ]
    return "\n".join(lines)
