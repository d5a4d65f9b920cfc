"""Rectangles of the canvas that a drawing pass works in."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)


def random_box(rng: random.Random, width: int, height: int, low: float = 0.3, high: float = 0.7, margin: float = 24.0) -> Box:
    """A box covering ``low``..``high`` of each side of the canvas, ``margin`` pixels inside it."""
    w = rng.uniform(low, high) * (width - 2 * margin)
    h = rng.uniform(low, high) * (height - 2 * margin)
    x0 = rng.uniform(margin, width - margin - w)
    y0 = rng.uniform(margin, height - margin - h)
    return Box(x0, y0, x0 + w, y0 + h)
