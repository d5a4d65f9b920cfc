"""What Accept checks before it touches the document: the suggestion must be one NEP can run here.

A ``stroke`` needs at least two finite points inside the canvas, a pressure in 0..1, a ``#rrggbb``
colour and a size above 0 and at most ``strokes.MAX_BRUSH_SIZE`` (``strokes.Stroke.from_action`` says which field is wrong). A discrete
action must be a kind of the krita action space with the arguments that kind takes. Anything else
is refused with a one-line reason, which the docker shows and sends as feedback.

What the server sends is kept to what the action space defines (``known_part``) before it is shown,
logged or sent back, and a label is at most ``MAX_LABEL`` characters.
"""

import math
from types import SimpleNamespace

from . import strokes

MAX_POINTS = 2000
"""The most points a suggested stroke may have: NEP writes a stroke in at most 63 tokens, and a hostile
server's 450,000-point stroke would freeze Krita while its ghost is drawn on every repaint."""
MAX_NAME = 200
"""The longest layer or brush name a suggestion may carry (a label is word-wrapped in the docker)."""
MAX_LABEL = 120
"""The longest label the docker shows for a suggestion."""
MAX_LAYERS = 16
"""Layer positions the action space can write (``nep_krita/action_space.py``: 0..15)."""
ARGS = {strokes.STROKE_KIND: ("points", "brush", "color", "size", "opacity"), "layer.new": ("name",), "layer.switch": ("index", "name"),
        "brush": ("brush",), "color": ("color",), "size": ("size",), "opacity": ("opacity",), "eraser": ("on",), "undo": ()}
"""The arguments each kind takes (``nep_krita/strokes.py`` and ``nep_krita/action_space.py``)."""


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
    if kind not in ARGS:
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


def known_part(action):
    """``action`` with only the fields a session log's action has here (``kind``, ``args``) and the arguments its
    kind takes: whatever else a server sends is never shown, logged or sent back."""
    kind, args = action["kind"], action.get("args")
    if kind not in ARGS or not isinstance(args, dict):
        return {"kind": kind[:MAX_NAME]}  # an unknown kind is refused on Accept
    return {"kind": kind, "args": {key: args[key] for key in ARGS[kind] if key in args}}


def _discrete_problem(kind, args):
    if kind == "layer.switch":
        index = args.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_LAYERS:
            return f"args.index must be a layer position from 0 (the bottom layer) to {MAX_LAYERS - 1}"
        return _layer_name_problem(args)
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
    elif kind == "layer.new":
        return _layer_name_problem(args)
    return ""


def _layer_name_problem(args):
    if "name" in args and (not isinstance(args["name"], str) or len(args["name"]) > MAX_NAME):
        return f"args.name must be a string of at most {MAX_NAME} characters"
    return ""


def label(action, erasing=False):
    """A short readable description of an action (at most ``MAX_LABEL`` characters); ``erasing``: the eraser is on,
    so a stroke erases."""
    kind, args = action.get("kind", "?"), action.get("args") or {}
    if kind == strokes.STROKE_KIND:
        points = args.get("points")
        text = f"stroke ({len(points)} points)" if isinstance(points, list) else "stroke"
        text = f"erase along a {text}" if erasing else text
    elif kind == "layer.switch":
        text = f"switch to layer {args.get('name') or args.get('index')}"
    else:
        shown = ", ".join(f"{key}={value}" for key, value in sorted(args.items()))
        text = f"{kind} ({shown})" if shown else str(kind)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"
