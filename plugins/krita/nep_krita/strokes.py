"""Brush strokes: the payload every part of the krita domain shares, and stroke geometry.

- a **stroke** action: ``{"kind": "stroke", "args": {"points": [[x, y, pressure, t], ...],
  "brush": "b) Basic-5 Size", "color": "#1a2b3c", "size": 12.0, "opacity": 1.0}}``. ``x``, ``y``
  are document pixels (floats, origin top left), ``pressure`` 0..1, ``t`` milliseconds since the
  stroke began. ``brush`` is the preset name, ``color`` ``#rrggbb``, ``size`` the brush diameter in
  pixels, ``opacity`` 0..1. A stroke has at least two points.
- other actions (layers, brush or colour changes, undo, erasing) are defined by the action space
  (``nep_krita/action_space.py``) and listed in docs/domains/krita.md.
- a **state** event: ``{"canvas": {"width": W, "height": H}, "layer": "Paint Layer 1",
  "brush": ..., "color": ..., "size": ..., "opacity": ...}``, each key optional: what the painter
  has set up. A session's first state event gives the canvas size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

STROKE_KIND = "stroke"
MAX_BRUSH_SIZE = 10000.0
"""The largest brush diameter in pixels Krita can be set to (its *Maximum brush size* setting)."""


def is_brush_size(value: Any) -> bool:
    """Whether ``value`` is a brush diameter Krita can paint with: a number above 0, at most ``MAX_BRUSH_SIZE``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= MAX_BRUSH_SIZE


@dataclass(frozen=True)
class Stroke:
    """A painted stroke: points ``(x, y, pressure, t)`` and the brush it was painted with."""

    points: tuple[tuple[float, float, float, float], ...]
    brush: str = ""
    color: str = "#000000"
    size: float = 10.0
    opacity: float = 1.0

    @classmethod
    def from_action(cls, action) -> Stroke:
        """The stroke a ``stroke`` action describes; ``ValueError`` names the bad field."""
        args = action.args
        raw = args.get("points")
        if not isinstance(raw, (list, tuple)) or len(raw) < 2:
            raise ValueError("action.args.points must be a list of at least two points")
        points = []
        for index, point in enumerate(raw):
            if not isinstance(point, (list, tuple)) or not 2 <= len(point) <= 4:
                raise ValueError(f"action.args.points[{index}] must be [x, y, pressure, t]")
            x, y = point[0], point[1]
            pressure = point[2] if len(point) > 2 else 1.0
            t = point[3] if len(point) > 3 else 0.0
            values = (x, y, pressure, t)
            if not all(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) for value in values):
                raise ValueError(f"action.args.points[{index}] must hold finite numbers")
            if not 0.0 <= pressure <= 1.0:
                raise ValueError(f"action.args.points[{index}]: pressure must be between 0 and 1")
            points.append((float(x), float(y), float(pressure), float(t)))
        color = args.get("color", "#000000")
        if not isinstance(color, str) or len(color) != 7 or color[0] != "#" or any(c not in "0123456789abcdefABCDEF" for c in color[1:]):
            raise ValueError("action.args.color must be #rrggbb")
        size, opacity = args.get("size", 10.0), args.get("opacity", 1.0)
        if not is_brush_size(size):
            raise ValueError(f"action.args.size must be a number above 0 and at most {MAX_BRUSH_SIZE:g} pixels")
        if not isinstance(opacity, (int, float)) or isinstance(opacity, bool) or not 0.0 <= opacity <= 1.0:
            raise ValueError("action.args.opacity must be between 0 and 1")
        brush = args.get("brush", "")
        if not isinstance(brush, str):
            raise ValueError("action.args.brush must be a string")
        return cls(tuple(points), brush, color.lower(), float(size), float(opacity))

    def to_action(self, context: Mapping[str, Any] | None = None):
        from nep_core.actions import Action

        return Action(
            kind=STROKE_KIND,
            args={"points": [[round(x, 2), round(y, 2), round(p, 3), round(t, 1)] for x, y, p, t in self.points],
                  "brush": self.brush, "color": self.color, "size": self.size, "opacity": self.opacity},
            context=dict(context or {}),
        )

    @property
    def xy(self) -> list[tuple[float, float]]:
        return [(x, y) for x, y, _, _ in self.points]

    def length(self) -> float:
        return sum(math.dist(a, b) for a, b in zip(self.xy, self.xy[1:]))

    def bounds(self) -> tuple[float, float, float, float]:
        xs, ys = [x for x, _ in self.xy], [y for _, y in self.xy]
        return min(xs), min(ys), max(xs), max(ys)

    def on_canvas(self, width: float, height: float) -> bool:
        """Every point lies within the canvas."""
        return all(0.0 <= x <= width and 0.0 <= y <= height for x, y in self.xy)


def to_stroke3(strokes: Sequence[Sequence[Sequence[float]]]) -> list[tuple[float, float, int]]:
    """sketch-rnn stroke-3: ``(dx, dy, pen_lifted)`` from absolute strokes; the first move is from (0, 0)."""
    out: list[tuple[float, float, int]] = []
    last_x, last_y = 0.0, 0.0
    for stroke in strokes:
        for index, point in enumerate(stroke):
            x, y = point[0], point[1]
            out.append((x - last_x, y - last_y, int(index == len(stroke) - 1)))
            last_x, last_y = x, y
    return out


def from_stroke3(moves: Sequence[Sequence[float]], origin: tuple[float, float] = (0.0, 0.0)) -> list[list[tuple[float, float]]]:
    """Absolute strokes from stroke-3 moves; a stroke ends where ``pen_lifted`` is 1."""
    strokes: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    x, y = origin
    for dx, dy, lifted in moves:
        x, y = x + float(dx), y + float(dy)
        current.append((x, y))
        if lifted:
            strokes.append(current)
            current = []
    if current:
        strokes.append(current)
    return strokes


def _segment_distance(point: Sequence[float], start: Sequence[float], end: Sequence[float]) -> float:
    (px, py), (x1, y1), (x2, y2) = point[:2], start[:2], end[:2]
    dx, dy = x2 - x1, y2 - y1
    length_sq = dx * dx + dy * dy
    along = 0.0 if not length_sq else min(1.0, max(0.0, ((px - x1) * dx + (py - y1) * dy) / length_sq))
    return math.hypot(px - (x1 + along * dx), py - (y1 + along * dy))


def simplify(points: Sequence[Sequence[float]], epsilon: float) -> list[Sequence[float]]:
    """Ramer–Douglas–Peucker on the first two coordinates, measuring the distance to the *segment* (not
    its infinite line), so a path that turns back on itself keeps its turning point; ends always kept."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        start, end = stack.pop()
        worst, worst_distance = -1, -1.0
        for index in range(start + 1, end):
            distance = _segment_distance(points[index], points[start], points[end])
            if distance > worst_distance:
                worst, worst_distance = index, distance
        if worst_distance > epsilon:
            keep[worst] = True
            stack.extend([(start, worst), (worst, end)])
    return [point for point, kept in zip(points, keep) if kept]
