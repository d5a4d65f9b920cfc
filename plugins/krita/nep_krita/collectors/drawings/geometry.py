"""Paths as lists of ``(x, y)``: lines, curves, arcs, resampling and a hand's wobble."""

from __future__ import annotations

import math
import random
from typing import Sequence

Point = tuple[float, float]


def line(start: Point, end: Point) -> list[Point]:
    return [start, end]


def cubic(p0: Point, p1: Point, p2: Point, p3: Point, samples: int = 24) -> list[Point]:
    """A cubic Bézier curve through ``samples + 1`` points."""
    out = []
    for index in range(samples + 1):
        s = index / samples
        a, b, c, d = (1 - s) ** 3, 3 * s * (1 - s) ** 2, 3 * s * s * (1 - s), s ** 3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def arc(center: Point, rx: float, ry: float, start: float, end: float, samples: int = 32, rotation: float = 0.0) -> list[Point]:
    """An elliptic arc from angle ``start`` to ``end`` (radians), the ellipse turned by ``rotation``."""
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    out = []
    for index in range(samples + 1):
        angle = start + (end - start) * index / samples
        x, y = rx * math.cos(angle), ry * math.sin(angle)
        out.append((center[0] + x * cos_r - y * sin_r, center[1] + x * sin_r + y * cos_r))
    return out


def transform(path: Sequence[Point], scale: float = 1.0, rotation: float = 0.0, offset: Point = (0.0, 0.0), mirror_x: bool = False) -> list[Point]:
    """``path`` mirrored (x -> -x), scaled, turned about the origin, then moved by ``offset``."""
    cos_r, sin_r = math.cos(rotation), math.sin(rotation)
    out = []
    for x, y in path:
        x = -x if mirror_x else x
        x, y = x * scale, y * scale
        out.append((offset[0] + x * cos_r - y * sin_r, offset[1] + x * sin_r + y * cos_r))
    return out


def mirror(path: Sequence[Point], axis_x: float) -> list[Point]:
    """``path`` reflected in the vertical line ``x = axis_x``."""
    return [(2 * axis_x - x, y) for x, y in path]


def rotate_about(path: Sequence[Point], center: Point, angle: float) -> list[Point]:
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    cx, cy = center
    return [(cx + (x - cx) * cos_a - (y - cy) * sin_a, cy + (x - cx) * sin_a + (y - cy) * cos_a) for x, y in path]


def length(path: Sequence[Point]) -> float:
    return sum(math.dist(a, b) for a, b in zip(path, path[1:]))


def resample(path: Sequence[Point], step: float) -> list[Point]:
    """Points every ``step`` pixels along ``path`` (ends kept): what a tablet reports at even speed."""
    total = length(path)
    if total == 0 or len(path) < 2:
        return [path[0], path[-1]] if path else []
    count = max(2, int(math.ceil(total / step)) + 1)
    targets = [total * index / (count - 1) for index in range(count)]
    out, walked, segment = [], 0.0, 0
    seg_lengths = [math.dist(a, b) for a, b in zip(path, path[1:])]
    for target in targets:
        while segment < len(seg_lengths) - 1 and walked + seg_lengths[segment] < target:
            walked += seg_lengths[segment]
            segment += 1
        a, b = path[segment], path[segment + 1]
        s = 0.0 if seg_lengths[segment] == 0 else min(1.0, max(0.0, (target - walked) / seg_lengths[segment]))
        out.append((a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s))
    return out


def wobble(path: Sequence[Point], rng: random.Random, amplitude: float) -> list[Point]:
    """``path`` with a smooth sideways tremor of about ``amplitude`` pixels (two slow sines), ends nearly kept."""
    if amplitude <= 0 or len(path) < 3:
        return list(path)
    waves = [(rng.uniform(0.5, 2.5), rng.uniform(0, 2 * math.pi), rng.uniform(0.3, 1.0)) for _ in range(2)]
    out = []
    last = len(path) - 1
    for index, (x, y) in enumerate(path):
        ahead, behind = path[min(index + 1, last)], path[max(index - 1, 0)]
        dx, dy = ahead[0] - behind[0], ahead[1] - behind[1]
        norm = math.hypot(dx, dy) or 1.0
        s = index / last
        offset = amplitude * math.sin(math.pi * s) * sum(w * math.sin(2 * math.pi * f * s + phase) for f, phase, w in waves) / 1.3
        out.append((x - dy / norm * offset, y + dx / norm * offset))
    return out


def clip_to_box(path: Sequence[Point], width: float, height: float, margin: float = 1.0) -> list[Point]:
    """``path`` with every point pulled inside the canvas (``margin`` pixels from the edge)."""
    return [(min(max(x, margin), width - margin), min(max(y, margin), height - margin)) for x, y in path]
