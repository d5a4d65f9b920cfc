"""A painter's hand: a path becomes stroke points with pressure (taper in and out) and timing."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

from nep_krita.collectors.drawings.geometry import Point, length, resample, wobble
from nep_krita.strokes import simplify

SAMPLE_STEP = 4.0
"""Pixels between the points a tablet reports (before simplification)."""

SIMPLIFY_EPSILON = 0.6
"""Ramer–Douglas–Peucker tolerance applied to generated strokes, in pixels: keeps logs small, shape unchanged."""


PRESSURE_SCALE = 100.0
"""Pressure 0..1 as 0..100 "pixels" when thinning: a 0.06 pressure error is as bad as a 0.6 px one."""


@dataclass(frozen=True)
class Touch:
    """How a stroke is laid down: pressure level and tapers, speed, tremor."""

    pressure: float = 0.7
    taper_in: float = 0.15
    taper_out: float = 0.25
    speed: float = 0.8
    """Pixels per millisecond at full speed."""
    tremor: float = 0.6
    """Sideways wobble in pixels."""


def stroke_points(path: Sequence[Point], touch: Touch, rng: random.Random) -> list[tuple[float, float, float, float]]:
    """``(x, y, pressure, t_ms)`` along ``path``: even sampling, wobble, tapered pressure, eased timing, simplified."""
    dense = resample(path, SAMPLE_STEP)
    dense = wobble(dense, rng, touch.tremor)
    total = length(dense) or 1.0
    duration = 40.0 + total / max(touch.speed, 0.05) * rng.uniform(0.85, 1.15)
    drift_phase, drift = rng.uniform(0, 2 * math.pi), rng.uniform(0.0, 0.12)
    points, walked = [], 0.0
    for index, (x, y) in enumerate(dense):
        if index:
            walked += math.dist(dense[index - 1], (x, y))
        s = walked / total
        taper = 1.0
        if touch.taper_in > 0 and s < touch.taper_in:
            taper = min(taper, 0.25 + 0.75 * s / touch.taper_in)
        if touch.taper_out > 0 and s > 1 - touch.taper_out:
            taper = min(taper, 0.2 + 0.8 * (1 - s) / touch.taper_out)
        pressure = touch.pressure * taper * (1 + drift * math.sin(2 * math.pi * s + drift_phase))
        pressure = min(1.0, max(0.02, pressure))
        t = duration * (0.5 - 0.5 * math.cos(math.pi * s)) if index else 0.0
        points.append((x, y, pressure, t))
    return thin(points)


def thin(points: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """The points the shape needs (RDP on x, y) plus those the pressure curve needs (RDP on length, pressure)."""
    shape = simplify([(x, y, index) for index, (x, y, _, _) in enumerate(points)], SIMPLIFY_EPSILON)
    walked, profile = 0.0, []
    for index, point in enumerate(points):
        if index:
            walked += math.dist(points[index - 1][:2], point[:2])
        profile.append((walked, point[2] * PRESSURE_SCALE, index))
    keep = {int(p[2]) for p in shape} | {int(p[2]) for p in simplify(profile, SIMPLIFY_EPSILON * PRESSURE_SCALE / 10)}
    return [points[index] for index in sorted(keep)]
