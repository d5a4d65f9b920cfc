"""The ``canvas`` verifier: is the predicted stroke paintable here, and how close is it to the real next stroke.

Valid (a stroke): well-formed points, at least two distinct points and some length, every point on
the context's canvas, and the current brush and colour (or ones the session has used). Valid (another
action): the action space writes it, a switched-to layer exists, an undo has a stroke or new layer left to take back.

Reward (stroke against stroke): ``0.5 * iou + 0.25 * exp(-chamfer / NEAR_PX) + 0.25 * exp(-chamfer / far)``
from the raster IoU (Pillow, each stroke with its brush size) and the symmetric Chamfer distance in
pixels, both in ``details`` (``iou``, ``chamfer_px``) so ``nep eval`` averages them; ``far`` is a
quarter of the canvas diagonal. Any other pair: 1 for an exact match after quantizing, else 0.
"""

from __future__ import annotations

import math

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.session import Context, per_context
from nep_core.verifier import Verdict, Verifier
from nep_krita.action_space import BRUSH_KEYS, KritaActionSpace, current_settings
from nep_krita.raster import chamfer_distance, raster_iou
from nep_krita.strokes import STROKE_KIND, Stroke

NEAR_PX = 16.0
"""Pixels: the scale of a near miss (a hatch line one spacing off scores e^-1 ≈ 0.37 of this part)."""
FAR_SHARE = 0.25
"""The scale of a far miss, as a share of the canvas diagonal: a doodle's next part is often a few
hundred pixels from any guess, and this part still tells a guess 150 px off from one 400 px off."""


def stroke_reward(chamfer: float, iou: float, diagonal: float) -> float:
    """The shape match of two strokes ``chamfer`` px apart with raster ``iou``, on a canvas of ``diagonal`` px."""
    far_px = max(FAR_SHARE * diagonal, NEAR_PX)
    return 0.5 * iou + 0.25 * math.exp(-chamfer / NEAR_PX) + 0.25 * math.exp(-chamfer / far_px)


class CanvasVerifier(Verifier):
    name = "canvas"
    description = "the stroke is on the canvas, non-degenerate, with an allowed brush and colour; reward = shape match (raster IoU, Chamfer)"

    def __init__(self, action_space: KritaActionSpace):
        self.action_space = action_space

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        settings = current_settings(context)
        width, height = settings["canvas"] or (float("inf"), float("inf"))
        if predicted.kind != STROKE_KIND:
            return self._verify_discrete(context, settings, predicted, reference)
        try:
            stroke = Stroke.from_action(predicted)
        except ValueError as error:
            return Verdict(False, 0.0, {"error": str(error)})
        problem = stroke_problem(stroke, width, height)
        if problem is None and not self._allowed_paint(context, settings, stroke):
            problem = f"brush '{stroke.brush}' / colour {stroke.color} is not one this session has set"
        if problem is not None:
            return Verdict(False, 0.0, {"error": problem})
        if reference is None or reference.kind != STROKE_KIND:
            return Verdict(True, 0.0)
        try:
            actual = Stroke.from_action(reference)
        except ValueError:
            return Verdict(True, 0.0)
        if not math.isfinite(width):
            xs = [x for x, _ in stroke.xy + actual.xy]
            ys = [y for _, y in stroke.xy + actual.xy]
            width, height = max(xs) + 1.0, max(ys) + 1.0
        chamfer = chamfer_distance(stroke, actual)
        iou = raster_iou(stroke, actual, width, height)
        return Verdict(True, stroke_reward(chamfer, iou, math.hypot(width, height)), {"chamfer_px": chamfer, "iou": iou})

    def _allowed_paint(self, context: Context, settings: dict, stroke: Stroke) -> bool:
        brushes, colors = _paints_used(context)
        brush_ok = not stroke.brush or stroke.brush == settings["brush"] or stroke.brush in brushes
        return brush_ok and (stroke.color == str(settings["color"]).lower() or stroke.color in colors)

    def _verify_discrete(self, context: Context, settings: dict, predicted: Action, reference: Action | None) -> Verdict:
        try:
            canonical = self.action_space.validate(predicted)
        except InvalidAction as error:
            return Verdict(False, 0.0, {"error": str(error)})
        if predicted.kind == "layer.switch" and canonical.args["index"] >= settings["layers"]:
            return Verdict(False, 0.0, {"error": f"layer {canonical.args['index']} does not exist ({settings['layers']} layers)"})
        if predicted.kind == "undo" and not settings["undo_steps"]:
            return Verdict(False, 0.0, {"error": "nothing to undo (no stroke or new layer left to take back)"})
        if reference is None:
            return Verdict(True, 0.0)
        try:
            return Verdict(True, float(canonical == self.action_space.validate(reference)))
        except InvalidAction:
            return Verdict(True, 0.0)


def stroke_problem(stroke: Stroke, width: float, height: float) -> str | None:
    """Why ``stroke`` cannot be painted on a ``width`` x ``height`` canvas, or None."""
    if len(set(stroke.xy)) < 2 or stroke.length() <= 0.0:
        return "the stroke is degenerate (fewer than two distinct points)"
    if not stroke.on_canvas(width, height):
        x0, y0, x1, y1 = stroke.bounds()
        return f"the stroke leaves the {width:g}x{height:g} canvas (spans {x0:g},{y0:g} to {x1:g},{y1:g})"
    return None


@per_context
def _paints_used(context: Context) -> tuple[frozenset[str], frozenset[str]]:
    """The brushes and colours (lower-case) the session's states, strokes and settings actions have used."""
    brushes, colors = set(), set()
    for event in context.history:
        sources = [event.state or {}]
        if event.action is not None and event.action.kind in (STROKE_KIND, *BRUSH_KEYS):
            sources.append(event.action.args)
        for source in sources:
            if isinstance(source.get("brush"), str):
                brushes.add(source["brush"])
            if isinstance(source.get("color"), str):
                colors.add(source["color"].lower())
    return frozenset(brushes), frozenset(colors)
