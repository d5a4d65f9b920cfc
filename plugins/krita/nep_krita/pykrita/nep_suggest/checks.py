"""What Accept checks before it touches the document: the suggestion must be one NEP can run here.

A ``stroke`` needs at least two finite points inside the canvas, a pressure in 0..1, a ``#rrggbb``
colour and a size above 0 and at most ``strokes.MAX_BRUSH_SIZE`` (``strokes.Stroke.from_action`` says which field is wrong). A discrete
action must be a kind of the krita action space with the arguments that kind takes. Anything else
is refused with a one-line reason, which the docker shows and sends as feedback.
"""

import math
from types import SimpleNamespace

from . import strokes

DISCRETE_KINDS = ("layer.new", "layer.switch", "brush", "color", "size", "opacity", "eraser", "undo")
"""The discrete kinds of ``nep_krita/action_space.py``."""
KNOWN_KINDS = (strokes.STROKE_KIND, *DISCRETE_KINDS)
MAX_POINTS = 2000
"""The most points a suggested stroke may have: NEP writes a stroke in at most 63 tokens, and a hostile
server's 450,000-point stroke would freeze Krita while its ghost is drawn on every repaint."""
MAX_NAME = 200
"""The longest layer or brush name a suggestion may carry (a label is word-wrapped in the docker)."""


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_action(action, canvas):
    """``(stroke or None, "")`` when Accept may run ``action``, else ``(None, reason)``.

    ``canvas`` is ``(width, height)`` of the document; a ``Stroke`` comes back for stroke actions.
    """
    if not isinstance(action, dict) or not isinstance(action.get("kind"), str):
        return None, "the suggestion is not an action"
    kind, args = action["kind"], action.get("args", {})
    if not isinstance(args, dict):
        return None, f"{kind}: args must be an object"
    if kind not in KNOWN_KINDS:
        return None, f"unknown action kind {kind[:60]!r}"
    if kind == strokes.STROKE_KIND:
        points = args.get("points")
        if isinstance(points, (list, tuple)) and len(points) > MAX_POINTS:
            return None, f"stroke: {len(points)} points, more than a suggestion has ({MAX_POINTS})"
        try:
            stroke = strokes.Stroke.from_action(SimpleNamespace(args=args))
        except ValueError as error:
            return None, f"stroke: {error}"
        if not stroke.on_canvas(*canvas):
            return None, f"stroke: a point lies off the {canvas[0]}x{canvas[1]} canvas"
        if len(set(stroke.xy)) < 2:
            return None, "stroke: all its points are the same (nothing to paint)"
        return stroke, ""
    problem = _discrete_problem(kind, args)
    return (None, f"{kind}: {problem}") if problem else (None, "")


def _discrete_problem(kind, args):
    if kind == "layer.switch":
        index = args.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            return "args.index must be a layer position (0 is the bottom layer)"
    elif kind == "brush":
        if not isinstance(args.get("brush"), str) or not args["brush"].strip() or len(args["brush"]) > MAX_NAME:
            return "args.brush must be a preset name"
    elif kind == "color":
        color = args.get("color")
        if not isinstance(color, str) or len(color) != 7 or color[0] != "#" or any(c not in "0123456789abcdefABCDEF" for c in color[1:]):
            return "args.color must be #rrggbb"
    elif kind == "size":
        if not strokes.is_brush_size(args.get("size")):
            return f"args.size must be a number above 0 and at most {strokes.MAX_BRUSH_SIZE:g} pixels"
    elif kind == "opacity":
        if not _number(args.get("opacity")) or not 0 <= args["opacity"] <= 1:
            return "args.opacity must be between 0 and 1"
    elif kind == "eraser":
        if not isinstance(args.get("on"), bool):
            return "args.on must be true or false"
    elif kind == "layer.new" and "name" in args and (not isinstance(args["name"], str) or len(args["name"]) > MAX_NAME):
        return f"args.name must be a string of at most {MAX_NAME} characters"
    return ""


def label(action):
    """A short readable description of an action."""
    kind, args = action.get("kind", "?"), action.get("args") or {}
    if kind == strokes.STROKE_KIND:
        points = args.get("points")
        return f"stroke ({len(points)} points)" if isinstance(points, list) else "stroke"
    if kind == "layer.switch":
        return f"switch to layer {args.get('name') or args.get('index')}"
    shown = ", ".join(f"{key}={value}" for key, value in sorted(args.items()))[:MAX_NAME]
    return f"{kind} ({shown})" if shown else kind
