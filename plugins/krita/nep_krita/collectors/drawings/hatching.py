"""Hatching and cross-hatching: parallel lines across a shape, evenly spaced, at one angle then another."""

from __future__ import annotations

import math

from nep_krita.collectors.drawings.geometry import cubic
from nep_krita.collectors.drawings.painter import DARK_COLORS, LINE_BRUSHES, SHADE_COLORS, Painter
from nep_krita.collectors.drawings.region import Box


def chord(box: Box, oval: bool, origin: tuple[float, float], direction: tuple[float, float]) -> tuple[float, float] | None:
    """The parameters (s0, s1) where the line ``origin + s * direction`` enters and leaves the box or its inscribed oval."""
    (ox, oy), (dx, dy) = origin, direction
    if oval:
        (cx, cy), rx, ry = box.center, box.width / 2, box.height / 2
        a = (dx / rx) ** 2 + (dy / ry) ** 2
        b = 2 * ((ox - cx) * dx / rx ** 2 + (oy - cy) * dy / ry ** 2)
        c = ((ox - cx) / rx) ** 2 + ((oy - cy) / ry) ** 2 - 1
        disc = b * b - 4 * a * c
        if disc <= 0:
            return None
        root = math.sqrt(disc)
        return (-b - root) / (2 * a), (-b + root) / (2 * a)
    low, high = -math.inf, math.inf
    for o, d, lo, hi in ((ox, dx, box.x0, box.x1), (oy, dy, box.y0, box.y1)):
        if abs(d) < 1e-9:
            if not lo <= o <= hi:
                return None
            continue
        s0, s1 = sorted(((lo - o) / d, (hi - o) / d))
        low, high = max(low, s0), min(high, s1)
    return (low, high) if high > low else None


def hatch_pass(p: Painter, box: Box, angle: float, spacing: float, oval: bool, zigzag: bool, bend: float, max_lines: int) -> int:
    """One set of parallel lines at ``angle`` ``spacing`` pixels apart; returns how many were drawn."""
    direction = (math.cos(angle), math.sin(angle))
    normal = (-direction[1], direction[0])
    cx, cy = box.center
    reach = math.hypot(box.width, box.height) / 2
    offsets = [k * spacing for k in range(-int(reach / spacing), int(reach / spacing) + 1)]
    if len(offsets) > max_lines:
        first = p.rng.randrange(0, len(offsets) - max_lines + 1)
        offsets = offsets[first:first + max_lines]
    drawn = 0
    for index, offset in enumerate(offsets):
        origin = (cx + normal[0] * offset, cy + normal[1] * offset)
        span = chord(box, oval, origin, direction)
        if span is None or span[1] - span[0] < 8:
            continue
        inset = p.rng.uniform(0.0, 0.06) * (span[1] - span[0])
        s0, s1 = span[0] + inset, span[1] - inset
        if zigzag and index % 2:
            s0, s1 = s1, s0
        a = (origin[0] + direction[0] * s0, origin[1] + direction[1] * s0)
        b = (origin[0] + direction[0] * s1, origin[1] + direction[1] * s1)
        sag = bend * (s1 - s0)
        mid1 = (a[0] + (b[0] - a[0]) / 3 + normal[0] * sag, a[1] + (b[1] - a[1]) / 3 + normal[1] * sag)
        mid2 = (a[0] + 2 * (b[0] - a[0]) / 3 + normal[0] * sag, a[1] + 2 * (b[1] - a[1]) / 3 + normal[1] * sag)
        p.stroke(cubic(a, mid1, mid2, b, 12) if bend else [a, b], gap=(0.12, 0.5))
        drawn += 1
    return drawn


def draw(p: Painter, box: Box) -> None:
    """Hatching, and in most sessions a cross-hatching pass over it."""
    rng = p.rng
    p.use(rng.choice(LINE_BRUSHES), rng.choice(DARK_COLORS))
    angle = rng.choice([math.pi / 4, -math.pi / 4, math.pi / 3, math.pi / 6, 0.0, math.pi / 2]) + rng.uniform(-0.15, 0.15)
    spacing = rng.uniform(6.0, 20.0)
    oval, zigzag = rng.random() < 0.4, rng.random() < 0.2
    bend = rng.choice([0.0, 0.0, 0.0, rng.uniform(-0.08, 0.08)])
    hatch_pass(p, box, angle, spacing, oval, zigzag, bend, rng.randint(6, 18))
    if rng.random() < 0.65:
        p.think()
        if rng.random() < 0.5:
            p.use(p.brush, rng.choice(SHADE_COLORS + DARK_COLORS))
        hatch_pass(p, box, angle + rng.choice([1, -1]) * rng.uniform(1.0, 1.75), spacing * rng.uniform(0.8, 1.25), oval, zigzag, bend, rng.randint(6, 16))
