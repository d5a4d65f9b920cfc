"""What the painter does, as NEP session-log actions: strokes from pointer samples, and brush changes.

Plain Python without Krita or Qt: the canvas event filter (``canvas_events``) feeds samples in, and
the runtime passes the brush state it reads from Krita's view. The payloads are those of
``nep_krita/strokes.py`` and the discrete kinds of ``nep_krita/action_space.py``.

- ``StrokeBuilder`` turns press / move / release samples (document pixels, pressure, milliseconds)
  into the points of one stroke. Samples with a non-finite coordinate are dropped, a non-finite
  pressure becomes 1.0 (what a mouse gives), a pressure outside 0..1 is clamped; each fix is counted.
- ``stroke_action`` clamps the points to the canvas, removes repeated points, simplifies them with
  Ramer–Douglas–Peucker (``SIMPLIFY_PX``) and adds the brush. A stroke with fewer than two distinct
  points (a click), or wholly off the canvas, is skipped with a reason.
- ``BrushWatcher`` compares successive looks at the brush state and layer stack and returns the
  ``brush``, ``size``, ``opacity``, ``color``, ``eraser``, ``layer.new`` and ``layer.switch``
  actions that explain the difference, telling layers apart by their unique ids (two may have one
  name). An active layer that changed because the layer before was removed (deleted, or a new layer
  undone), or that moved in the stack, is no switch, and nor is a layer picked above the 16th
  (``MAX_LAYERS``: a ``layer.switch`` names positions 0..15): the watcher says ``restacked``, and the
  runtime logs a ``state`` event, which names the active layer.
"""

import math

from . import strokes
from .checks import MAX_LAYERS

SIMPLIFY_PX = 0.5
"""Ramer–Douglas–Peucker tolerance of recorded strokes (pixels): light, the action space simplifies more."""
PRESSURE_STEP = 1.0 / 14
"""A point where the pressure has moved this much (half a level of the action space) is always kept."""
MAX_POINTS = 4096
"""Samples kept per stroke; a longer stroke is thinned by taking every other sample."""
DAB = "a stroke needs two distinct points (a single dab is not recorded)"
"""Why a click is not recorded (Krita paints a dab for it all the same)."""


def _finite(*values):
    return all(isinstance(value, (int, float)) and math.isfinite(value) for value in values)


class StrokeBuilder:
    """The samples of the stroke being painted."""

    def __init__(self):
        self.points = None
        self.started_ms = 0.0
        self.fixes = {"non-finite point": 0, "non-finite pressure": 0, "pressure out of range": 0}

    @property
    def active(self):
        return self.points is not None

    def press(self, x, y, pressure, ms):
        self.points = []
        self.started_ms = ms
        self.move(x, y, pressure, ms)

    def move(self, x, y, pressure, ms):
        if self.points is None:
            return
        if not _finite(x, y, ms):
            self.fixes["non-finite point"] += 1
            return
        if not _finite(pressure):
            self.fixes["non-finite pressure"] += 1
            pressure = 1.0
        elif not 0.0 <= pressure <= 1.0:
            self.fixes["pressure out of range"] += 1
            pressure = min(1.0, max(0.0, pressure))
        if len(self.points) >= MAX_POINTS:
            self.points = self.points[::2]
        self.points.append((float(x), float(y), float(pressure), max(0.0, float(ms) - self.started_ms)))

    def release(self, x, y, pressure, ms):
        """The stroke's samples, or None when no stroke was being painted."""
        if self.points is None:
            return None
        self.move(x, y, pressure, ms)
        points, self.points = self.points, None
        return points

    def cancel(self):
        self.points = None


def stroke_action(points, brush, canvas, epsilon=SIMPLIFY_PX):
    """``(action, "")`` for a finished stroke, or ``(None, why it is skipped)``.

    ``brush``: ``{"brush", "color", "size", "opacity"}``; ``canvas``: ``(width, height)``.
    """
    width, height = canvas
    inside = [point for point in points if 0.0 <= point[0] <= width and 0.0 <= point[1] <= height]
    if not inside:
        return None, "the stroke lies off the canvas"
    clamped = [(min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height)), p, t) for x, y, p, t in points]
    distinct = [clamped[0]]
    for point in clamped[1:]:
        if (point[0], point[1]) != (distinct[-1][0], distinct[-1][1]):
            distinct.append(point)
    if len(distinct) < 2:
        return None, DAB
    kept = simplify_with_pressure(distinct, epsilon)
    args = {
        "points": [[round(x, 2), round(y, 2), round(p, 3), round(t, 1)] for x, y, p, t in kept],
        "brush": brush.get("brush") or "",
        "color": brush.get("color") or "#000000",
        "size": float(brush.get("size") or 10.0),
        "opacity": float(brush.get("opacity") if brush.get("opacity") is not None else 1.0),
    }
    return {"kind": strokes.STROKE_KIND, "args": args}, ""


def simplify_with_pressure(points, epsilon=SIMPLIFY_PX):
    """Ramer–Douglas–Peucker on the path, keeping every point where the pressure starts or ends a change of
    ``PRESSURE_STEP`` or more (so pressure read back by linear interpolation stays close)."""
    cuts = [0]
    for index in range(1, len(points) - 1):
        pressure = points[index][2]
        if abs(pressure - points[cuts[-1]][2]) >= PRESSURE_STEP or abs(pressure - points[index + 1][2]) >= PRESSURE_STEP:
            cuts.append(index)
    cuts.append(len(points) - 1)
    kept = [points[0]]
    for start, end in zip(cuts, cuts[1:]):
        kept += strokes.simplify(points[start:end + 1], epsilon)[1:]
    return kept


class BrushWatcher:
    """Brush, colour and layer changes between two looks, as actions.

    A look is ``{"brush", "color", "size", "opacity", "eraser", "layers", "layer", "layer_ids"}``: ``layers``
    the names of the layer stack from the bottom, ``layer`` the index of the active one, ``layer_ids`` the
    layers' unique ids (the names stand in where a look has none). A brush value or
    layer of None is unknown, not a change: the last known one stands (a view Krita closed has no
    brush; just after a merge Krita may not say yet which layer is active).
    """

    BRUSH_KEYS = ("brush", "size", "opacity", "color", "eraser")

    def __init__(self):
        self.last = None
        self.restacked = False  # the active layer changed, or moved, in a way no action says (set by look)

    def reset(self, look=None):
        self.last = self._known(look) if look is not None else None
        self.restacked = False

    def look(self, look):
        if self.last is None:
            self.last = dict(look)
            return []
        before, self.last = self.last, self._known(look)
        actions = []
        for key in self.BRUSH_KEYS:
            value = look.get(key)
            if value is None or value == before.get(key):
                continue
            if key == "size":
                actions.append({"kind": "size", "args": {"size": round(float(value), 2)}})
            elif key == "opacity":
                actions.append({"kind": "opacity", "args": {"opacity": round(float(value), 3)}})
            elif key == "eraser":
                actions.append({"kind": "eraser", "args": {"on": bool(value)}})
            else:
                actions.append({"kind": key, "args": {key: value}})
        layers, old_layers = look.get("layers") or [], before.get("layers") or []
        ids, old_ids = look.get("layer_ids") or layers, before.get("layer_ids") or old_layers
        index, old_index = look.get("layer"), before.get("layer")
        active, old_active = _name(ids, index), _name(old_ids, old_index)
        if len(layers) > len(old_layers) and index is not None and ids[index] not in old_ids:  # by id: names repeat
            actions.append({"kind": "layer.new", "args": {"name": layers[index]}})
        elif index is None or (active, index) == (old_active, old_index):
            pass
        elif (old_active is None or (active != old_active and old_active in ids)) and index < MAX_LAYERS:  # the painter picked another layer
            actions.append({"kind": "layer.switch", "args": {"index": index, "name": layers[index]}})
        else:  # the layer before was removed (deleted, a new layer undone), the active one moved, or one no switch can name
            self.restacked = True
        return actions

    def _known(self, look):
        """``look`` with its unknown (None) brush values and layer taken from the last look."""
        last = self.last or {}
        return {**look, **{key: last.get(key) for key in (*self.BRUSH_KEYS, "layer") if look.get(key) is None}}


def _name(layers, index):
    return layers[index] if index is not None and 0 <= index < len(layers) else None
