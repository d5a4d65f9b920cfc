"""Grids and perspective lines: ruled straight lines, a square grid, rays to one or two vanishing points."""

from __future__ import annotations

import math

from nep_krita.collectors.drawings.hand import Touch
from nep_krita.collectors.drawings.painter import DARK_COLORS, INK, PENCIL, SHADE_COLORS, Painter
from nep_krita.collectors.drawings.region import Box

RULER = Touch(pressure=0.7, taper_in=0.02, taper_out=0.03, speed=1.1, tremor=0.15)
"""Straight lines drawn along a ruler (Krita's assistants): no taper, almost no wobble."""


def grid(p: Painter, box: Box) -> None:
    """Horizontal lines top to bottom, then vertical lines left to right, evenly spaced."""
    step = p.rng.uniform(20.0, 70.0)
    rows, cols = max(2, min(14, int(box.height // step))), max(2, min(14, int(box.width // step)))
    x1, y1 = box.x0 + cols * step, box.y0 + rows * step
    for row in range(rows + 1):
        y = box.y0 + row * step
        p.stroke([(box.x0, y), (x1, y)], RULER, gap=(0.2, 0.7))
    p.wait(0.5, 2.0)
    for col in range(cols + 1):
        x = box.x0 + col * step
        p.stroke([(x, box.y0), (x, y1)], RULER, gap=(0.2, 0.7))


def rays(p: Painter, vanishing: tuple[float, float], box: Box, count: int, reverse: bool) -> None:
    """Lines from ``vanishing`` towards points spread evenly in angle across the box, drawn in order."""
    vx, vy = vanishing
    corners = [(box.x0, box.y0), (box.x1, box.y0), (box.x1, box.y1), (box.x0, box.y1)]
    angles = [math.atan2(y - vy, x - vx) for x, y in corners]
    low, high = min(angles), max(angles)
    if high - low > math.pi:  # the box wraps around the angle seam
        angles = [a + 2 * math.pi if a < 0 else a for a in angles]
        low, high = min(angles), max(angles)
    reach = max(math.dist(vanishing, corner) for corner in corners)
    order = range(count - 1, -1, -1) if reverse else range(count)
    for k in order:
        angle = low + (high - low) * (k + 0.5) / count
        near = p.rng.uniform(0.05, 0.25) * reach
        start = (vx + math.cos(angle) * near, vy + math.sin(angle) * near)
        end = (vx + math.cos(angle) * reach, vy + math.sin(angle) * reach)
        p.stroke([start, end], RULER, gap=(0.2, 0.8))


def one_point(p: Painter, box: Box) -> None:
    vanishing = (box.center[0] + p.rng.uniform(-0.3, 0.3) * box.width, box.center[1] + p.rng.uniform(-0.3, 0.3) * box.height)
    horizon = vanishing[1]
    p.stroke([(box.x0, horizon), (box.x1, horizon)], RULER)
    rays(p, vanishing, box, p.rng.randint(8, 18), p.rng.random() < 0.3)


def two_point(p: Painter, box: Box) -> None:
    horizon = box.y0 + p.rng.uniform(0.2, 0.5) * box.height
    p.stroke([(box.x0, horizon), (box.x1, horizon)], RULER)
    left, right = (box.x0 + p.rng.uniform(0, 0.1) * box.width, horizon), (box.x1 - p.rng.uniform(0, 0.1) * box.width, horizon)
    lower = Box(box.x0, horizon + 10, box.x1, box.y1)
    rays(p, left, lower, p.rng.randint(5, 10), False)
    p.wait(0.5, 2.0)
    rays(p, right, lower, p.rng.randint(5, 10), False)


def draw(p: Painter, box: Box) -> None:
    """One of: a square grid, one-point perspective, two-point perspective."""
    p.use(p.rng.choice((PENCIL, INK)), p.rng.choice(DARK_COLORS + SHADE_COLORS), p.rng.uniform(2.0, 5.0))
    p.rng.choice((grid, one_point, two_point))(p, box)
