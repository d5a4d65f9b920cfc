"""Lettering-like curves: cursive words along baselines (one stroke a word), or printed letters (one stroke a letter)."""

from __future__ import annotations

import math

from nep_krita.collectors.drawings.geometry import arc, cubic
from nep_krita.collectors.drawings.painter import DARK_COLORS, INK, PENCIL, Painter
from nep_krita.collectors.drawings.region import Box

Glyph = tuple[list[tuple[float, float]], float]
"""A letter shape in em units (x to the right, y up from the baseline, x-height 1) and its advance."""


def glyph_o() -> Glyph:
    return arc((0.4, 0.5), 0.4, 0.5, math.pi * 0.1, math.pi * 2.1, 20), 0.9


def glyph_n() -> Glyph:
    return [(0, 1), (0, 0)] + cubic((0, 0), (0.05, 1.2), (0.7, 1.2), (0.7, 0), 10)[1:], 0.9


def glyph_u() -> Glyph:
    return cubic((0, 1), (0, -0.3), (0.7, -0.3), (0.7, 1), 10) + [(0.7, 0)], 0.9


def glyph_l() -> Glyph:
    return cubic((0, 0), (0.6, 1.2), (0.5, 2.2), (0.2, 2.0), 10) + cubic((0.2, 2.0), (0.0, 1.8), (0.1, 0.4), (0.4, 0), 10)[1:], 0.6


def glyph_e() -> Glyph:
    return [(0, 0.5), (0.7, 0.55)] + arc((0.38, 0.5), 0.36, 0.5, -0.1, -math.pi * 1.75, 16)[1:], 0.85


def glyph_c() -> Glyph:
    return arc((0.4, 0.5), 0.4, 0.5, -math.pi * 0.25, -math.pi * 1.8, 16), 0.8


def glyph_i() -> Glyph:
    return [(0, 1), (0, 0)], 0.4


def glyph_m() -> Glyph:
    first = cubic((0, 0), (0.05, 1.2), (0.55, 1.2), (0.55, 0), 8)
    second = cubic((0.55, 0), (0.6, 1.2), (1.1, 1.2), (1.1, 0), 8)
    return [(0, 1)] + first + second[1:], 1.3


def glyph_a() -> Glyph:
    return arc((0.35, 0.5), 0.35, 0.5, -math.pi * 0.1, -math.pi * 2.05, 18) + [(0.72, 1.0), (0.72, 0)], 0.95


GLYPHS = (glyph_o, glyph_n, glyph_u, glyph_l, glyph_e, glyph_c, glyph_i, glyph_m, glyph_a)


def place(path: list[tuple[float, float]], x: float, baseline: float, em: float, slant: float) -> list[tuple[float, float]]:
    """Em coordinates to canvas pixels: scaled, slanted (italic), y flipped."""
    return [(x + (gx + gy * slant) * em, baseline - gy * em) for gx, gy in path]


def draw(p: Painter, box: Box) -> None:
    """Lines of words from a handful of letters; cursive joins a word into one stroke."""
    rng = p.rng
    p.use(rng.choice((INK, PENCIL)), rng.choice(DARK_COLORS), rng.uniform(2.0, 6.0))
    em = rng.uniform(14.0, 40.0)
    slant, cursive = rng.uniform(0.0, 0.35), rng.random() < 0.6
    alphabet = rng.sample(GLYPHS, rng.randint(3, len(GLYPHS)))
    line_height = em * rng.uniform(2.6, 3.4)
    baseline = box.y0 + 2.2 * em
    while baseline < box.y1:
        x = box.x0
        while True:
            word = [rng.choice(alphabet)() for _ in range(rng.randint(2, 6))]
            width = sum(advance for _, advance in word) * em + 3 * em
            if x + width > box.x1:
                break
            strokes, pen = [], x
            for path, advance in word:
                placed = place(path, pen, baseline, em, slant)
                if cursive and strokes:
                    strokes[-1] = strokes[-1] + placed
                else:
                    strokes.append(placed)
                pen += advance * em
            for stroke in strokes:
                p.stroke(stroke, gap=(0.08, 0.35))
            x = pen + em * rng.uniform(0.6, 1.0)
            p.wait(0.1, 0.6)
        baseline += line_height
        p.wait(0.4, 1.5)
