"""What Accept checks before it touches the document: the suggestion must be one NEP can run here.

A ``stroke`` needs at least two finite points inside the canvas (and within ``MAX_CANVAS`` pixels of its top
left), a pressure in 0..1, a ``#rrggbb`` colour and a size above 0 and at most ``strokes.MAX_BRUSH_SIZE``
(``strokes.Stroke.from_action`` says which field is wrong). A discrete action must be a kind of the krita
action space with the arguments that kind takes. Anything else is refused with a one-line reason, which
the docker shows and sends as feedback.

The runtime checks a suggestion when the server's answer arrives, as Accept does, and drops one that
fails (``refused``, with a ``summary`` of it, never a hostile stroke's points): so what it shows, logs
and sends back holds only the plain values the action space allows (``known_part`` then keeps just
its kind and the arguments that kind takes), and a label is at most ``MAX_LABEL`` characters.

Accept merges a layer down where Krita's own painting cannot be used (``painter.paint_stroke``);
``merge_problem`` says where that must not be done.
"""

import math
import re
from types import SimpleNamespace

from . import strokes

MAX_POINTS = 64
"""The most points a suggested stroke may have. ``nep serve`` sends every suggestion as the krita action
space writes it (``nep_krita/action_space.py``): a stroke is at most ``MAX_STROKE_TOKENS`` (63) tokens,
six for its start and first pressure, then two (``dx dy``) per further point, so at most 29 points (a moved
copy has its source's). 64 leaves room; a hostile server's 120,000-point stroke made Krita's ghost and log
stall (292 ms, and a 3.2 MB log line on the painter's next stroke)."""
MAX_NAME = 200
"""The longest layer or brush name a suggestion may carry (a label is word-wrapped in the docker)."""
MAX_LABEL = 120
"""The longest label the docker shows for a suggestion."""
MAX_LAYERS = 16
"""Layer positions the action space can write (``nep_krita/action_space.py``: 0..15)."""
MAX_CANVAS = 8192
"""The pixels a side, from the canvas's top left, that the action space writes strokes on (``nep_krita/action_space.py``'s
``MAX_CANVAS``): on a larger canvas ``nep serve`` drops a stroke beyond them, and Accept refuses one."""
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
        if not stroke.on_canvas(MAX_CANVAS, MAX_CANVAS):
            return None, f"stroke: a point lies beyond the {MAX_CANVAS} pixels a side NEP writes (the canvas is {canvas[0]}x{canvas[1]})"
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


def summary(action):
    """What the log and the server are told of a suggestion refused when it arrived: its kind and the arguments
    of that kind that are plain, short values (a string of at most ``MAX_NAME`` characters, a finite number, a
    boolean); never a stroke's points, nor anything nested."""
    kind = action.get("kind") if isinstance(action, dict) else None
    if not isinstance(kind, str):
        return {"kind": "?"}
    args = action.get("args")
    if kind not in ARGS or not isinstance(args, dict):
        return {"kind": kind[:MAX_NAME]}
    plain = {key: args[key] for key in ARGS[kind] if key in args and _plain(args[key])}
    return {"kind": kind, "args": plain}


def _plain(value):
    return isinstance(value, bool) or _number(value) or (isinstance(value, str) and len(value) <= MAX_NAME)


MERGE_SAFE_WITH_VIEWS = (5, 3)
"""The first Krita whose Merge Down did not crash with the document open in a second view: 5.1.5 crashed
(SIGSEGV in ``KisBaseNode::setVisible``, when the layer was hidden after the second view was closed and the
layer painted in; Krita's own *Merge Down* too). Not seen on 5.3 and 6.0, which paint through
``Node.paintPath`` in one view and merge only in two."""


def krita_version(text):
    """``(major, minor)`` of Krita's version text (``"5.1.5"``, ``"5.3.4.1"``, ``"6.0.0-beta1"``); None if unreadable."""
    match = re.match(r"\s*(\d+)\.(\d+)", str(text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def merge_relevant(node):
    """What of ``node`` a merge down would lose, for ``checks.merge_problem`` (each read only where the Krita has it)."""
    def read(name, default, convert=lambda value: value):
        method = getattr(node, name, None)
        try:
            return convert(method()) if method is not None else default
        except Exception:  # an older libkis, or a node going away: take the safe side where it matters
            return default

    return {
        "opacity": read("opacity", 255), "blending": read("blendingMode", "normal"),
        "alpha_locked": read("alphaLocked", False), "inherit_alpha": read("inheritAlpha", False),
        "masks": read("childNodes", True, lambda children: any(child.type() != "selectionmask" for child in children)),
        "layer_style": read("layerStyleToAsl", False, bool),
        "hidden_channels": read("channels", False, lambda channels: any(not channel.visible() for channel in channels)),
        "animated": read("animated", False, bool),
    }


def merge_problem(version, views, layer):
    """Why Accept must not merge a layer down into a layer (one line), or "" where it may.

    ``version``: Krita's version text; ``views``: how many views show the document; ``layer``: the layer's
    ``opacity`` (0..255), ``blending`` (Krita's blending mode id), ``alpha_locked``, ``inherit_alpha``, and
    whether it has ``masks`` (other than selection masks), a ``layer_style``, ``hidden_channels``, or is
    ``animated``. Merging down replaces the layer with a new one made from its projection at 100 % opacity,
    Normal, alpha unlocked, not inheriting alpha (Krita 5.1.5: a 50 % Multiply layer came back 100 % Normal),
    and in two views it crashes Krita before 5.3.
    """
    parsed = krita_version(version)
    if views > 1 and (parsed is None or parsed < MERGE_SAFE_WITH_VIEWS):
        return (f"the document is open in {views} views, where Accept merges a layer down, and Krita {version} crashes after that "
                "(its own Merge Down too): close the other views to accept")
    lost = []
    opacity = layer.get("opacity", 255)
    if opacity != 255:
        lost.append(f"opacity ({round(opacity * 100 / 255)}%)")
    blending = layer.get("blending", "normal")
    if blending != "normal":
        lost.append(f"blending mode ({blending})")
    if layer.get("alpha_locked"):
        lost.append("alpha lock")
    if layer.get("inherit_alpha"):
        lost.append("inherit alpha")
    if layer.get("masks"):  # merged from the layer's projection: an effect mask is baked into the pixels
        lost.append("masks")
    if layer.get("layer_style"):
        lost.append("layer style")
    if layer.get("hidden_channels") and not layer.get("inherit_alpha"):  # inherit alpha is a hidden alpha channel itself
        lost.append("hidden channels")
    if layer.get("animated"):  # merged frame by frame: the stroke would land on every keyframe
        lost.append("animation")
    if lost:
        listed = lost[0] if len(lost) == 1 else ", ".join(lost[:-1]) + " and " + lost[-1]
        return f"here Accept merges a layer down, which would lose the layer's {listed}"
    return ""


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
    """A short readable description of an action (at most ``MAX_LABEL`` characters): "stroke (9 points)", "new layer
    'Shading'", "switch to layer 2 'ink'", "undo", "eraser on", "brush b) Basic-5", "colour #ff0000", "size 12 px",
    "opacity 80%"; ``erasing``: the eraser is on, so a stroke erases."""
    kind, args = action.get("kind", "?"), action.get("args") or {}
    name = f" {args['name']!r}" if isinstance(args.get("name"), str) and args["name"] else ""
    if kind == strokes.STROKE_KIND:
        points = args.get("points")
        text = f"stroke ({len(points)} points)" if isinstance(points, list) else "stroke"
        text = f"erase along a {text}" if erasing else text
    elif kind == "layer.new":
        text = f"new layer{name}"
    elif kind == "layer.switch":
        text = f"switch to layer {args.get('index')}{name}"
    elif kind == "eraser" and isinstance(args.get("on"), bool):
        text = f"eraser {'on' if args['on'] else 'off'}"
    elif kind == "brush" and "brush" in args:
        text = f"brush {args['brush']}"
    elif kind == "color" and "color" in args:
        text = f"colour {args['color']}"
    elif kind == "size" and _number(args.get("size")):
        text = f"size {args['size']:g} px"
    elif kind == "opacity" and _number(args.get("opacity")):
        text = f"opacity {args['opacity'] * 100:.0f}%"
    else:
        shown = ", ".join(f"{key}={value}" for key, value in sorted(args.items()))
        text = f"{kind} ({shown})" if shown else str(kind)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"
