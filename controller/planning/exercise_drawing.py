"""The exercise cards' drawings: a stick figure, the unit and the cable as inline SVG.

Kept apart from the movements (`exercise_patterns.py`) and the lookup (`exercise_guide.py`)
because it is pure geometry and markup: a `Scene` in, an SVG string out (viewBox 0 0 200 160,
`currentColor` strokes, no scripts, no ids, no external references).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

__all__ = ["Pose", "Pt", "Scene", "draw"]

Pt = tuple[float, float]


@dataclass(frozen=True)
class Pose:
    """A stick figure: torso neck-hip, limbs as point chains from the hip and the shoulder."""

    neck: Pt
    hip: Pt
    legs: tuple[tuple[Pt, ...], ...]  # each: knee, ankle, toe (or any chain from the hip)
    arms: tuple[tuple[Pt, ...], ...]  # each: elbow, hand (from the shoulder)
    head: Pt | None = None  # None: along the torso, beyond the neck


@dataclass(frozen=True)
class Scene:
    pose: Pose
    cable: tuple[Pt, Pt]  # from the pulley (or the floor unit) to what it pulls
    unit: str  # "floor": a low unit; "column": a column on the right; "column-left"
    pulley: Pt | None = None  # on the column; None with a floor unit
    floor_unit: tuple[float, float] = (78.0, 128.0)  # its x span, with a floor unit
    arrow: tuple[Pt, Pt] | None = None  # the effort's direction
    props: tuple[str, ...] = ()  # seat, bench, mat: path data


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _path(points: tuple[Pt, ...] | list[Pt], **attrs: str) -> str:
    d = "M" + " L".join(f"{_f(x)} {_f(y)}" for x, y in points)
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<path d="{d}"{extra}/>'


def _arrow(a: Pt, b: Pt) -> str:
    ang = math.atan2(b[1] - a[1], b[0] - a[0])
    head = [(b[0] - 8 * math.cos(ang + s), b[1] - 8 * math.sin(ang + s)) for s in (0.5, -0.5)]
    return (_path([a, b], stroke_width="2", opacity="0.75")
            + _path([head[0], b, head[1]], stroke_width="2", opacity="0.75"))


def draw(title: str, sc: Scene) -> str:
    p = sc.pose
    parts = [_path([(8, 150), (192, 150)], stroke_width="1.5", opacity="0.5")]  # the floor
    if sc.unit == "floor":
        x0, x1 = sc.floor_unit
        parts.append(f'<rect x="{_f(x0)}" y="143" width="{_f(x1 - x0)}" height="7" rx="2" '
                     'stroke-width="2"/>')
    else:
        x = 172.0 if sc.unit == "column" else 14.0
        parts.append(f'<rect x="{_f(x)}" y="12" width="14" height="138" rx="2" '
                     'stroke-width="2"/>')
    if sc.pulley is not None:
        parts.append(f'<circle cx="{_f(sc.pulley[0])}" cy="{_f(sc.pulley[1])}" r="3.5" '
                     'fill="currentColor" stroke="none"/>')
    for d in sc.props:
        parts.append(f'<path d="{d}" stroke-width="2.5" opacity="0.6"/>')
    parts.append(_path(list(sc.cable), stroke_width="1.5", stroke_dasharray="4 3"))
    (nx, ny), (hx, hy) = p.neck, p.hip
    if p.head is None:
        n = math.hypot(nx - hx, ny - hy) or 1.0
        head = (nx + (nx - hx) / n * 11, ny + (ny - hy) / n * 11)
    else:
        head = p.head
    shoulder = (nx + (hx - nx) * 0.12, ny + (hy - ny) * 0.12)
    parts.append(f'<circle cx="{_f(head[0])}" cy="{_f(head[1])}" r="8"/>')
    parts.append(_path([p.neck, p.hip]))
    parts += [_path([p.hip, *leg]) for leg in p.legs]
    parts += [_path([shoulder, *arm]) for arm in p.arms]
    hands = [arm[-1] for arm in p.arms]
    parts += [f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.5" fill="currentColor" stroke="none"/>'
              for x, y in hands[:1]]
    if sc.arrow is not None:
        parts.append(_arrow(*sc.arrow))
    label = escape(title, quote=True)
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 160" role="img" '
            f'aria-label="{label}" fill="none" stroke="currentColor" stroke-width="3" '
            f'stroke-linecap="round" stroke-linejoin="round"><title>{label}</title>'
            + "".join(parts) + "</svg>")
