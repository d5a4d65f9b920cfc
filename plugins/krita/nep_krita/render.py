"""``nep eval --domain krita --render DIR``: one PNG per evaluated example whose real next action is a stroke.

Colours: the context strokes in grey, the **predicted** stroke in red, the **actual** next stroke in
green (a legend in the top left says so, with the verifier's Chamfer distance and IoU when the
prediction was a stroke). The canvas is scaled so its long side is at most ``MAX_SIDE`` pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

from nep_core.evaluation.pictures import label_font
from nep_krita.action_space import current_settings
from nep_krita.raster import draw_stroke, raster_scale
from nep_krita.strokes import STROKE_KIND, Stroke

MAX_SIDE = 768
BACKGROUND = (255, 255, 255)
CONTEXT_COLOR = (170, 170, 170)
PREDICTED_COLOR = (214, 39, 40)
ACTUAL_COLOR = (44, 160, 44)
TEXT_COLOR = (0, 0, 0)


def _stroke_or_none(action) -> Stroke | None:
    if action is None or action.kind != STROKE_KIND:
        return None
    try:
        return Stroke.from_action(action)
    except ValueError:
        return None


def render_example(context, predicted, actual, verdict=None) -> Image.Image:
    """The picture of one example: context strokes, the predicted and the actual next stroke."""
    strokes = [stroke for stroke in (_stroke_or_none(event.action) for event in context.history) if stroke is not None]
    guess, truth = _stroke_or_none(predicted), _stroke_or_none(actual)
    canvas = current_settings(context)["canvas"]
    if canvas is None:
        everything = [point for stroke in [*strokes, *(s for s in (guess, truth) if s)] for point in stroke.xy] or [(1.0, 1.0)]
        canvas = (max(x for x, _ in everything) + 16, max(y for _, y in everything) + 16)
    scale = raster_scale(*canvas, limit=MAX_SIDE)
    image = Image.new("RGB", (max(1, round(canvas[0] * scale)), max(1, round(canvas[1] * scale))), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for stroke in strokes:
        draw_stroke(draw, stroke, scale, fill=CONTEXT_COLOR, min_width=1.0)
    if truth is not None:
        draw_stroke(draw, truth, scale, fill=ACTUAL_COLOR, min_width=2.0)
    if guess is not None:
        draw_stroke(draw, guess, scale, fill=PREDICTED_COLOR, min_width=2.0)
    lines = [("predicted", PREDICTED_COLOR), ("actual", ACTUAL_COLOR), ("context", CONTEXT_COLOR)]
    if guess is None:
        lines[0] = (f"predicted: {'no edit' if predicted is None or predicted.is_no_edit else predicted.kind}", PREDICTED_COLOR)
    if verdict is not None and "chamfer_px" in verdict.details:
        lines.append((f"chamfer {verdict.details['chamfer_px']:.1f} px, IoU {verdict.details['iou']:.2f}", TEXT_COLOR))
    for row, (text, color) in enumerate(lines):
        draw.rectangle((4, 4 + row * 14, 14, 14 + row * 14), fill=color)
        draw.text((18, 2 + row * 14), text, fill=TEXT_COLOR, font=label_font(11))
    return image


def render_outcomes(outcomes: Sequence, folder: Path, limit: int) -> list[Path]:
    """PNGs of up to ``limit`` outcomes whose reference is a stroke, named ``NNNN-SESSION-TRIGGER.png``."""
    from nep_core.evaluation.pictures import write_pictures

    def draw(outcome):
        if outcome.reference.kind != STROKE_KIND:
            return None
        return render_example(outcome.example.context, outcome.best, outcome.reference, outcome.verdicts.get("canvas"))

    return write_pictures(outcomes, folder, limit, draw)
