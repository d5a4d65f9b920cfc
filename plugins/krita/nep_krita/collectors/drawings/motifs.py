"""Repeated motifs: one small shape (a loop, star, leaf, bird...) drawn again and again along rows."""

from __future__ import annotations

import math

from nep_krita.collectors.drawings.geometry import arc, cubic, transform
from nep_krita.collectors.drawings.painter import ACCENT_COLORS, DARK_COLORS, LINE_BRUSHES, Painter
from nep_krita.collectors.drawings.region import Box

Shape = list[list[tuple[float, float]]]
"""A motif: its strokes in unit coordinates around (0, 0), about 1 across."""


def circle() -> Shape:
    return [arc((0, 0), 0.5, 0.5, -math.pi / 2, 3 * math.pi / 2, 28)]


def loop() -> Shape:
    return [arc((0, 0), 0.45, 0.3, math.pi, 3 * math.pi, 28)[:-6] + [(0.5, 0.35)]]


def star() -> Shape:
    tips = [(0.5 * math.cos(-math.pi / 2 + k * 4 * math.pi / 5), 0.5 * math.sin(-math.pi / 2 + k * 4 * math.pi / 5)) for k in range(6)]
    return [tips]


def leaf() -> Shape:
    return [cubic((0, 0.5), (0.45, 0.2), (0.3, -0.3), (0, -0.5), 14), cubic((0, 0.5), (-0.45, 0.2), (-0.3, -0.3), (0, -0.5), 14)]


def bird() -> Shape:
    return [cubic((-0.5, 0), (-0.3, -0.3), (-0.1, -0.2), (0, 0.05), 10) + cubic((0, 0.05), (0.1, -0.2), (0.3, -0.3), (0.5, 0), 10)[1:]]


def cross() -> Shape:
    return [[(-0.4, -0.4), (0.4, 0.4)], [(0.4, -0.4), (-0.4, 0.4)]]


def zigzag() -> Shape:
    return [[(-0.5, 0.2), (-0.25, -0.2), (0.0, 0.2), (0.25, -0.2), (0.5, 0.2)]]


def spiral() -> Shape:
    return [[(0.5 * (s / 40) * math.cos(s / 40 * 4 * math.pi), 0.5 * (s / 40) * math.sin(s / 40 * 4 * math.pi)) for s in range(41)]]


def heart() -> Shape:
    return [cubic((0, -0.2), (0.1, -0.6), (0.6, -0.4), (0, 0.45), 14), cubic((0, -0.2), (-0.1, -0.6), (-0.6, -0.4), (0, 0.45), 14)]


def house() -> Shape:
    return [[(-0.4, 0.5), (-0.4, -0.05), (0.4, -0.05), (0.4, 0.5), (-0.4, 0.5)], [(-0.5, 0.0), (0.0, -0.5), (0.5, 0.0)]]


MOTIFS = {"circle": circle, "loop": loop, "star": star, "leaf": leaf, "bird": bird, "cross": cross,
          "zigzag": zigzag, "spiral": spiral, "heart": heart, "house": house}


def draw(p: Painter, box: Box) -> None:
    """A motif repeated along rows (left to right, top to bottom), with a little variation each time."""
    rng = p.rng
    p.use(rng.choice(LINE_BRUSHES), rng.choice(DARK_COLORS + ACCENT_COLORS))
    shape = MOTIFS[rng.choice(sorted(MOTIFS))]()
    size = rng.uniform(18.0, 70.0)
    step_x, step_y = size * rng.uniform(1.2, 2.0), size * rng.uniform(1.2, 2.0)
    cols = max(2, min(9, int(box.width // step_x)))
    rows = max(1, min(4, int(box.height // step_y)))
    rotation = rng.choice([0.0, 0.0, rng.uniform(-0.5, 0.5)])
    drift = rng.choice([0.0, 0.0, rng.uniform(-0.2, 0.2)])
    for row in range(rows):
        for col in range(cols):
            if rng.random() < 0.03:
                continue
            center = (box.x0 + size / 2 + col * step_x + row * drift * step_x + rng.uniform(-2, 2), box.y0 + size / 2 + row * step_y + rng.uniform(-2, 2))
            scale = size * rng.uniform(0.94, 1.06)
            turn = rotation + rng.uniform(-0.06, 0.06)
            for path in shape:
                p.stroke(transform(path, scale, turn, center), gap=(0.1, 0.5))
        if row < rows - 1:
            p.wait(0.3, 1.2)
