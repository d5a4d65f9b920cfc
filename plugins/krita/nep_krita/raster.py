"""Strokes on pixels: Pillow rasterizing, symmetric Chamfer distance and raster IoU.

Big canvases are rasterized at a reduced scale (the long side at most ``MAX_RASTER`` pixels), so a
comparison costs the same whatever the canvas; distances are always reported in document pixels.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from nep_krita.strokes import Stroke

MAX_RASTER = 512
"""Longest raster side used by ``raster_iou`` (pixels)."""
SAMPLE_STEP = 2.0
"""Document pixels between the samples Chamfer distance takes along a stroke (longer for long strokes)."""
MAX_SAMPLES = 2000
"""Most samples Chamfer distance takes along both strokes together."""


def raster_scale(width: float, height: float, limit: int = MAX_RASTER) -> float:
    return min(1.0, limit / max(width, height, 1.0))


def draw_stroke(draw: ImageDraw.ImageDraw, stroke: Stroke, scale: float = 1.0, fill=255, min_width: float = 1.0) -> None:
    """``stroke`` as a polyline with round joins and caps, as wide as its brush (times ``scale``)."""
    width = max(min_width, stroke.size * scale)
    points = [(x * scale, y * scale) for x, y in stroke.xy]
    if len(points) >= 2:
        draw.line(points, fill=fill, width=max(1, round(width)), joint="curve")
    radius = width / 2.0
    if radius >= 1.0:
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


def rasterize(strokes: Sequence[Stroke], width: float, height: float, scale: float = 1.0) -> Image.Image:
    """A greyscale image (0 background, 255 paint) of ``strokes`` on a ``width`` x ``height`` canvas."""
    size = (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale)))
    image = Image.new("L", size, 0)
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        draw_stroke(draw, stroke, scale)
    return image


def raster_iou(a: Stroke, b: Stroke, width: float, height: float) -> float:
    """Intersection over union of the pixels the two strokes paint (each with its own brush size)."""
    scale = raster_scale(width, height)
    first = np.asarray(rasterize([a], width, height, scale)) > 0
    second = np.asarray(rasterize([b], width, height, scale)) > 0
    union = np.logical_or(first, second).sum()
    return float(np.logical_and(first, second).sum() / union) if union else 0.0


def resample(points: Sequence[tuple[float, float]], step: float = SAMPLE_STEP) -> np.ndarray:
    """Points every ``step`` pixels along the polyline (its vertices included)."""
    vertices = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    deltas = vertices[1:] - vertices[:-1]
    parts = np.maximum(1, np.ceil(np.hypot(deltas[:, 0], deltas[:, 1]) / step)).astype(np.int64)
    segment = np.repeat(np.arange(len(parts)), parts)  # each sample's segment, and its index 1..parts in it
    index = np.arange(1, int(parts.sum()) + 1) - np.repeat(np.cumsum(parts) - parts, parts)
    along = vertices[segment] + deltas[segment] * index[:, None] / parts[segment][:, None]
    return np.concatenate([vertices[:1], along])


def chamfer_distance(a: Stroke, b: Stroke) -> float:
    """Symmetric Chamfer distance (pixels): the mean distance from each stroke's samples to the
    nearest sample of the other, averaged over both directions."""
    step = max(SAMPLE_STEP, (a.length() + b.length()) / MAX_SAMPLES)
    first, second = resample(a.xy, step), resample(b.xy, step)
    # The nearest sample found from |p|^2 + |q|^2 - 2 p.q (one matrix product, no (n, m, 2) array), the
    # distance to it then computed directly (the expansion loses precision near 0: a stroke is 0 from itself).
    squared = (first * first).sum(axis=1)[:, None] + (second * second).sum(axis=1)[None, :] - 2.0 * (first @ second.T)
    forward = np.sqrt(((first - second[squared.argmin(axis=1)]) ** 2).sum(axis=1))
    backward = np.sqrt(((second - first[squared.argmin(axis=0)]) ** 2).sum(axis=1))
    return float((forward.mean() + backward.mean()) / 2.0)
