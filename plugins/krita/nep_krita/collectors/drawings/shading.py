"""Shading passes: short tonal strokes across an area, scribbles, or arcs that follow a round form."""

from __future__ import annotations

import math

from nep_krita.collectors.drawings.geometry import arc
from nep_krita.collectors.drawings.painter import SHADE_COLORS, SHADING_BRUSHES, Painter
from nep_krita.collectors.drawings.region import Box


def tonal(p: Painter, box: Box) -> None:
    """Short strokes side by side in rows, all at one angle: laying down a tone."""
    rng = p.rng
    angle = rng.uniform(-1.2, 1.2)
    run, step = rng.uniform(15.0, 50.0), rng.uniform(6.0, 16.0)
    dx, dy = math.cos(angle) * run / 2, math.sin(angle) * run / 2
    rows = max(1, min(4, int(box.height // (run * 1.1))))
    per_row = max(3, min(16, int(box.width // step)))
    for row in range(rows):
        cy = box.y0 + run / 2 + row * run * 1.1
        for k in range(per_row):
            cx = box.x0 + k * step + rng.uniform(-1.5, 1.5)
            p.stroke([(cx - dx, cy - dy), (cx + dx, cy + dy)], gap=(0.06, 0.3))


def scribble(p: Painter, box: Box) -> None:
    """Back-and-forth zigzags filling bands of the area, one stroke a band."""
    rng = p.rng
    band, turns = rng.uniform(20.0, 60.0), rng.randint(4, 12)
    y = box.y0
    while y + band <= box.y1 and y < box.y0 + 5 * band:
        path = []
        for k in range(turns + 1):
            path.append((box.x0 + (box.x1 - box.x0) * k / turns, y + (band if k % 2 else 0.0) + rng.uniform(-2, 2)))
        p.stroke(path, gap=(0.2, 0.7))
        y += band * rng.uniform(0.7, 1.0)


def contour(p: Painter, box: Box) -> None:
    """Arcs around a round form, each a little further out: shading that follows the surface."""
    rng = p.rng
    center = box.center
    radius = min(box.width, box.height) / 2
    start = rng.uniform(0, 2 * math.pi)
    sweep = rng.uniform(0.6, 1.6)
    for k in range(rng.randint(5, 14)):
        r = radius * (0.35 + 0.6 * k / 14)
        p.stroke(arc(center, r, r * rng.uniform(0.95, 1.05), start, start + sweep, 16), gap=(0.1, 0.5))


def draw(p: Painter, box: Box) -> None:
    """A softer brush, a lighter colour, often a new layer, then one kind of shading."""
    rng = p.rng
    if rng.random() < 0.4:
        p.new_layer()
    p.use(rng.choice(SHADING_BRUSHES), rng.choice(SHADE_COLORS))
    rng.choice((tonal, scribble, contour))(p, box)
