"""Symmetric shapes: each stroke followed by its mirror image, or petals turned about a centre."""

from __future__ import annotations

import math

from nep_krita.collectors.drawings.geometry import cubic, mirror, rotate_about
from nep_krita.collectors.drawings.painter import ACCENT_COLORS, DARK_COLORS, LINE_BRUSHES, Painter
from nep_krita.collectors.drawings.region import Box


def mirrored(p: Painter, box: Box) -> None:
    """Curves on the left of a vertical axis, each followed by its reflection (a vase, wings, a face)."""
    rng = p.rng
    axis = box.center[0]
    half = box.width / 2
    if rng.random() < 0.5:
        p.stroke([(axis, box.y0), (axis, box.y1)], gap=(0.3, 1.0))
    for _ in range(rng.randint(3, 8)):
        y0, y1 = sorted((rng.uniform(box.y0, box.y1), rng.uniform(box.y0, box.y1)))
        if y1 - y0 < 20:
            y1 = min(box.y1, y0 + 40)
        xs = [axis - rng.uniform(0.1, 1.0) * half for _ in range(4)]
        curve = cubic((xs[0], y0), (xs[1], y0 + (y1 - y0) / 3), (xs[2], y0 + 2 * (y1 - y0) / 3), (xs[3], y1), 16)
        p.stroke(curve)
        p.stroke(mirror(curve, axis), gap=(0.2, 0.8))


def radial(p: Painter, box: Box) -> None:
    """A flower or rosette: one petal (one or two strokes) turned ``k`` times about the centre."""
    rng = p.rng
    center = box.center
    radius = min(box.width, box.height) / 2
    k = rng.randint(4, 10)
    inner, outer, width = rng.uniform(0.05, 0.3) * radius, rng.uniform(0.6, 1.0) * radius, rng.uniform(0.2, 0.6)
    cx, cy = center
    right = cubic((cx + inner, cy), (cx + inner + (outer - inner) / 3, cy - width * outer / 2), (cx + outer, cy - width * outer / 3), (cx + outer, cy), 14)
    petal = [right, [(x, 2 * cy - y) for x, y in right]] if rng.random() < 0.6 else [right + [(x, 2 * cy - y) for x, y in reversed(right)][1:]]
    start = rng.uniform(0, 2 * math.pi)
    for index in range(k):
        for path in petal:
            p.stroke(rotate_about(path, center, start + 2 * math.pi * index / k), gap=(0.15, 0.6))


def draw(p: Painter, box: Box) -> None:
    p.use(p.rng.choice(LINE_BRUSHES), p.rng.choice(DARK_COLORS + ACCENT_COLORS))
    p.rng.choice((mirrored, radial))(p, box)
