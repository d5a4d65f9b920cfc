"""``nep eval --domain krita --render DIR``: one PNG per evaluated example whose real next action is a stroke.

The context is the canvas as the painter saw it, in grey: an ``undo`` takes back the newest stroke or
new layer not yet undone (Krita's undo steps; brush, colour, size, opacity, eraser and layer switches
are not), and a stroke painted with the eraser on erases what its layer holds under it. Every layer is
shown (the history has no way to hide one). On it, the **predicted** stroke in red and the **actual**
next stroke in green, each with its brush size; where they cover the same pixels, in ``BOTH_COLOR``,
so neither hides the other. A legend on a band above the canvas names the colours, an exact match,
and the verifier's Chamfer distance and IoU when the prediction was a stroke. The canvas is scaled so
its long side is at most ``MAX_SIDE`` pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from nep_core.evaluation.pictures import label_font
from nep_krita.action_space import current_settings
from nep_krita.raster import draw_stroke, raster_scale
from nep_krita.strokes import STROKE_KIND, Stroke

MAX_SIDE = 768
BACKGROUND = (255, 255, 255)
LEGEND_BACKGROUND = (236, 236, 236)
CONTEXT_COLOR = (170, 170, 170)
PREDICTED_COLOR = (214, 39, 40)
ACTUAL_COLOR = (44, 160, 44)
BOTH_COLOR = (31, 90, 200)
TEXT_COLOR = (0, 0, 0)
LEGEND_ROW = 14
LEGEND_FONT = 11


def _stroke_or_none(action) -> Stroke | None:
    if action is None or action.kind != STROKE_KIND:
        return None
    try:
        return Stroke.from_action(action)
    except ValueError:
        return None


def canvas_strokes(context) -> list[tuple[Stroke, int, bool]]:
    """The strokes the canvas holds at the end of ``context``, oldest first, as ``(stroke, layer, erases)``:
    the undo steps ``current_settings`` has left (an ``undo`` took back the newest stroke or new layer)."""
    strokes = []
    for step in current_settings(context)["undo_steps"]:
        stroke = _stroke_or_none(step.action) if step.action.kind == STROKE_KIND else None
        if stroke is not None:
            strokes.append((stroke, step.layer, step.eraser))
    return strokes


def _context_mask(context, size: tuple[int, int], scale: float) -> np.ndarray:
    """Where the canvas holds paint: each layer painted and erased in turn, the layers then stacked."""
    layers: dict[int, Image.Image] = {}
    for stroke, layer, erases in canvas_strokes(context):
        mask = layers.setdefault(layer, Image.new("L", size, 0))
        draw_stroke(ImageDraw.Draw(mask), stroke, scale, fill=0 if erases else 255, min_width=1.0)
    painted = np.zeros((size[1], size[0]), dtype=bool)
    for mask in layers.values():
        painted |= np.asarray(mask) > 0
    return painted


def _stroke_mask(stroke: Stroke | None, size: tuple[int, int], scale: float) -> np.ndarray:
    mask = Image.new("L", size, 0)
    if stroke is not None:
        draw_stroke(ImageDraw.Draw(mask), stroke, scale, fill=255, min_width=2.0)
    return np.asarray(mask) > 0


def render_example(context, predicted, actual, verdict=None) -> Image.Image:
    """The picture of one example: the canvas of the context, the predicted and the actual next stroke, a legend above."""
    guess, truth = _stroke_or_none(predicted), _stroke_or_none(actual)
    settings = current_settings(context)
    canvas = settings["canvas"]
    if canvas is None:
        shown = [stroke for stroke, _, _ in canvas_strokes(context)] + [stroke for stroke in (guess, truth) if stroke]
        everything = [point for stroke in shown for point in stroke.xy] or [(1.0, 1.0)]
        canvas = (max(x for x, _ in everything) + 16, max(y for _, y in everything) + 16)
    scale = raster_scale(*canvas, limit=MAX_SIDE)
    size = (max(1, round(canvas[0] * scale)), max(1, round(canvas[1] * scale)))
    pixels = np.full((size[1], size[0], 3), BACKGROUND, dtype=np.uint8)
    pixels[_context_mask(context, size, scale)] = CONTEXT_COLOR
    guessed, true = _stroke_mask(guess, size, scale), _stroke_mask(truth, size, scale)
    pixels[guessed & ~true] = PREDICTED_COLOR
    pixels[true & ~guessed] = ACTUAL_COLOR
    pixels[guessed & true] = BOTH_COLOR
    erasing = " (eraser on: erases)" if settings["eraser"] else ""
    lines = [(f"predicted{erasing}", PREDICTED_COLOR), (f"actual{erasing}", ACTUAL_COLOR)]
    if guess is None:
        lines[0] = (f"predicted: {'no edit' if predicted is None or predicted.is_no_edit else predicted.kind}", PREDICTED_COLOR)
    else:
        lines.append(("exact match: predicted = actual" if predicted == actual else "both (where they overlap)", BOTH_COLOR))
    lines.append(("context: the canvas, undos and erasing applied", CONTEXT_COLOR))
    if verdict is not None and "chamfer_px" in verdict.details:
        lines.append((f"chamfer {verdict.details['chamfer_px']:.1f} px, IoU {verdict.details['iou']:.2f}", None))
    return _with_legend(Image.fromarray(pixels), lines)


def _with_legend(canvas: Image.Image, lines: list[tuple[str, tuple | None]]) -> Image.Image:
    """``canvas`` under a band holding ``lines`` (a colour swatch, when given, then the text), never over the strokes."""
    font = label_font(LEGEND_FONT)
    band = 4 + LEGEND_ROW * len(lines)
    width = max(canvas.width, 8 + max(round(font.getlength(text)) + 18 for text, _ in lines))
    image = Image.new("RGB", (width, band + canvas.height), LEGEND_BACKGROUND)
    image.paste(canvas, (0, band))
    draw = ImageDraw.Draw(image)
    for row, (text, color) in enumerate(lines):
        top = 3 + row * LEGEND_ROW
        if color is not None:
            draw.rectangle((4, top + 1, 14, top + 11), fill=color)
        draw.text((18, top), text, fill=TEXT_COLOR, font=font)
    return image


def render_outcomes(outcomes: Sequence, folder: Path, limit: int) -> list[Path]:
    """PNGs of up to ``limit`` outcomes whose reference is a stroke, named ``NNNN-SESSION-TRIGGER.png``."""
    from nep_core.evaluation.pictures import write_pictures

    def draw(outcome):
        if outcome.reference.kind != STROKE_KIND:
            return None
        return render_example(outcome.example.context, outcome.best, outcome.reference, outcome.verdicts.get("canvas"))

    return write_pictures(outcomes, folder, limit, draw)
