"""Painting a stroke into a layer, as one undoable step where Krita allows it.

Three ways, the first that applies:

- ``Node.paintPath`` (Krita 5.3 and 6; 5.3.4 and 6.0.4 checked) paints a ``QPainterPath`` with the
  current brush preset, size and colour, at even pressure.
- *Edit > Fill with Foreground Color* through a selection of the stroke's shape (every Krita; 5.1.5
  and 5.2.9 checked): the stroke is rasterized with ``QPainter`` (round caps, width = brush size
  times pressure, antialiased), its coverage becomes the document's selection (intersected with the
  painter's own, which is put back afterwards: ``Document.setSelection`` is not an undo step), and
  Krita's fill action paints it in the current colour.
- Elsewhere the stroke is rasterized into a temporary layer above the target through
  ``setPixelData`` and merged down (``Node.mergeDown``): two undo steps, *Add Layer* and *Merge
  Down*. The temporary layer takes the target's colour space (an 8-bit RGBA layer in an image of
  another depth), and with Krita's eraser on it is merged with the *Erase* blending mode, so it
  erases as the brush would. Merging down replaces the layer with one at 100 % opacity, Normal
  blending, alpha unlocked and not inheriting alpha, and with the document in a second view Krita
  before 5.3 crashes soon after (5.1.5: its own *Merge Down* too): where either would happen, Accept
  is refused with the reason instead (``checks.merge_problem``), and the layer is left as it is.

``Node.paintPath`` gives a script's path no pressure: it paints at pressure 1 (the brush's full size,
and full opacity where the preset varies it). So where Krita has it, the other ways paint at pressure
1 too, and the ghost shows that (``as_accept_paints``): on one Krita, Accept paints the width the
ghost shows whichever way it takes.

The first two paint (or erase, in Krita's eraser mode) into *the active window's active view's*
current layer, whatever node they are called on, and with no window (kritarunner) ``paintPath``
crashes Krita, so they are used only where that view shows our document with ``node`` current
(``view_paints_into``). ``QImage.Format_ARGB32`` is stored as B, G, R, A bytes on little-endian
machines: exactly the BGRA layout of an 8-bit RGBA layer, and every fourth byte is the coverage a
selection takes.
"""

import math
import sys
from dataclasses import replace

from .checks import merge_problem, merge_relevant
from .qt import QColor, QImage, QPainter, QPainterPath, QPen, QPointF, Qt, image_bytes

TEMPORARY_LAYER = "NEP stroke"
MARGIN = 2


def stroke_path(points):
    """The stroke's centre line as a QPainterPath (document pixels)."""
    path = QPainterPath(QPointF(points[0][0], points[0][1]))
    for point in points[1:]:
        path.lineTo(QPointF(point[0], point[1]))
    return path


def stroke_bounds(points, size, canvas):
    """``(x, y, w, h)``: the pixels the stroke can touch, clipped to the canvas; None if empty."""
    reach = size / 2.0 + MARGIN
    x0 = max(0, int(math.floor(min(p[0] for p in points) - reach)))
    y0 = max(0, int(math.floor(min(p[1] for p in points) - reach)))
    x1 = min(canvas[0], int(math.ceil(max(p[0] for p in points) + reach)))
    y1 = min(canvas[1], int(math.ceil(max(p[1] for p in points) + reach)))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def rasterize(points, color, size, canvas, alpha=1.0):
    """``((x, y, w, h), BGRA bytes)`` of the stroke painted on transparency, or None if it misses the canvas."""
    bounds = stroke_bounds(points, size, canvas)
    if bounds is None:
        return None
    x0, y0, w, h = bounds
    image = QImage(w, h, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.translate(-x0, -y0)
    pen_color = QColor(color)
    pen_color.setAlphaF(max(0.0, min(1.0, alpha)))
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)  # overlapping segments do not darken
    for a, b in zip(points, points[1:]):
        pressure = (a[2] + b[2]) / 2.0
        pen = QPen(pen_color, max(1.0, size * pressure), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))
    painter.end()
    data = image_bytes(image)
    if sys.byteorder != "little":  # ARGB32 is A, R, G, B in memory on big-endian machines
        data = b"".join(data[i:i + 4][::-1] for i in range(0, len(data), 4))
    return bounds, data


def view_paints_into(document, node):
    """Whether Krita's painting calls (``Node.paintPath``, the fill action) would paint into ``node``:
    the active view shows ``document``, no other view does, and ``node`` is current there.

    ``Document.activeNode()`` is the current layer of the document's first view, so with a second
    view of the same document (Window > New View) it may not be the active view's, and libkis tells
    no view's own current layer: there, Accept merges a layer down.
    """
    from krita import Krita  # only inside Krita

    krita = Krita.instance()
    window = krita.activeWindow()
    view = window.activeView() if window is not None else None
    shown = view.document() if view is not None else None
    if shown is None or shown.rootNode().uniqueId() != document.rootNode().uniqueId():
        return False
    current = shown.activeNode()
    return views_showing(document) == 1 and current is not None and current.uniqueId() == node.uniqueId()


def views_showing(document):
    """How many of Krita's views show ``document`` (none in kritarunner, which opens no window)."""
    from krita import Krita  # only inside Krita

    key = document.rootNode().uniqueId()
    return sum(1 for view in Krita.instance().views() if view.document() is not None and view.document().rootNode().uniqueId() == key)


PAINTED_UNRECORDED = frozenset({"transparencymask", "filtermask", "selectionmask", "colorizemask", "filterlayer", "filllayer"})
"""Node types Krita's brush paints on (into their mask's or selection's pixels: an undo step of Krita's) that are no paint
layer the session log can hold a stroke of."""


def paints_unrecorded(node):
    """Whether Krita's brush paints on ``node`` though ``why_no_paint`` refuses to record it (a mask, a filter or fill layer)."""
    return node is not None and node.type() in PAINTED_UNRECORDED and why_not_paintable(node) is None


def why_no_paint(node):
    """Why Krita's brush paints nothing on ``node``, the active layer: none, not a paint layer (a vector, filter or group
    layer, a mask), hidden or locked, or in a hidden or locked group; None if it paints there. Accept refuses a stroke
    there, and the recorder records none."""
    if node is None or node.type() != "paintlayer":
        return "the active layer is not a paint layer"
    return why_not_paintable(node)


def why_not_paintable(node):
    """Why Krita's brush would not paint into ``node`` (hidden or locked, or in a hidden or locked group); None if it would."""
    kind = "layer"
    while node is not None and node.parentNode() is not None:  # up to the image's root, which is neither
        if node.locked():
            return "the active layer is in a locked group" if kind == "group" else "the active layer is locked"
        if not node.visible():
            return "the active layer is in a hidden group" if kind == "group" else "the active layer is hidden"
        node, kind = node.parentNode(), "group"
    return None


def as_accept_paints(stroke):
    """``stroke`` (``Stroke`` of strokes.py) at the pressure Accept paints it with: 1 where Krita has ``Node.paintPath``
    (5.3 and 6), its own pressures elsewhere (5.1 and 5.2)."""
    from krita import Node  # only inside Krita

    if not hasattr(Node, "paintPath"):
        return stroke
    return replace(stroke, points=tuple((x, y, 1.0, t) for x, y, _pressure, t in stroke.points))


def paint_stroke(document, node, stroke, canvas, erasing=False):
    """Paint ``stroke`` (``Stroke`` of strokes.py, as ``as_accept_paints`` gives it) into ``node``; ``erasing``:
    Krita's eraser mode is on (Krita's own painting then erases by itself).

    ``(True, how, layer)``, where ``how`` is "paintPath", "fill" or "merge" and ``layer`` the painted
    layer (a merge replaces ``node``), or ``(False, why, node)``.
    """
    through_view = view_paints_into(document, node)
    if through_view and hasattr(node, "paintPath"):
        node.paintPath(stroke_path(stroke.points), "ForegroundColor", "None")  # Krita's names, case and all
        document.waitForDone()
        return True, "paintPath", node
    raster = rasterize(stroke.points, stroke.color, stroke.size, canvas, alpha=stroke.opacity)
    if raster is None:
        return False, "the stroke misses the canvas", node
    if through_view and not any(child.type() == "selectionmask" for child in node.childNodes()):  # a local selection would be filled instead
        return fill_stroke(document, node, raster)
    return merge_stroke(document, node, raster, erasing)


def fill_stroke(document, node, raster):
    """The stroke's coverage as the selection, filled with the foreground colour by Krita's own action: one undo step."""
    from krita import Krita, Selection  # only inside Krita

    (x, y, w, h), data = raster
    kept = document.selection()  # put back as it is, the same object: earlier selection edits undo on it
    shape = Selection()
    shape.setPixelData(bytes(data[3::4]), x, y, w, h)
    if kept is not None:
        shape.intersect(kept)  # as a brush, only inside the painter's selection
    if shape.width() == 0 or shape.height() == 0:
        return False, "the stroke is transparent" if kept is None else "the stroke lies outside the selection", node
    document.setSelection(shape)
    try:
        placed = document.selection()
        # with no selection Krita's fill paints the whole layer: fill only what was checked to be the stroke
        if placed is None or placed.x() < x or placed.y() < y or placed.x() + placed.width() > x + w or placed.y() + placed.height() > y + h:
            return False, "cannot select the stroke's shape", node
        Krita.instance().action("fill_selection_foreground_color").trigger()
        document.waitForDone()
    finally:
        document.setSelection(kept)
    return True, "fill", node


def merge_stroke(document, node, raster, erasing=False):
    """The stroke painted into a temporary layer above ``node`` (in its colour space) and merged down, erasing with
    ``erasing``: two undo steps. Refused, the document untouched, where merging down would change the layer's own
    properties or crash Krita (``checks.merge_problem``)."""
    from krita import Krita  # only inside Krita

    if node.colorModel() != "RGBA" or node.colorDepth() != "U8":
        return False, f"the layer is {node.colorModel()}/{node.colorDepth()}; where Accept merges a layer down, suggestions are painted on 8-bit RGBA layers only", node
    why = merge_problem(Krita.instance().version(), views_showing(document), merge_relevant(node))
    if why:
        return False, why, node
    (x, y, w, h), data = raster
    parent = node.parentNode()
    temporary = document.createNode(TEMPORARY_LAYER, "paintlayer")
    if parent is None or temporary is None or not parent.addChildNode(temporary, node):
        return False, "cannot add a temporary layer above the active one", node
    space = (node.colorModel(), node.colorDepth(), node.colorProfile())  # the image's may differ
    if (temporary.colorModel(), temporary.colorDepth(), temporary.colorProfile()) != space and not temporary.setColorSpace(*space):
        temporary.remove()
        return False, f"cannot make a temporary layer in the layer's colour space ({node.colorModel()}/{node.colorDepth()})", node
    if erasing:
        temporary.setBlendingMode("erase")
    temporary.setPixelData(data, x, y, w, h)  # which says nothing before Krita 5.3: read the pixels back
    if bytes(temporary.pixelData(x, y, w, h)) != data:
        temporary.remove()
        return False, "Krita did not take the stroke's pixels into the temporary layer", node
    position = _index(parent, node)
    temporary.mergeDown()  # Krita 5.1 returns None here even when the merge worked: look at the stack instead
    document.waitForDone()
    children = parent.childNodes()
    if any(child.uniqueId() == temporary.uniqueId() for child in children) or position is None or position >= len(children):
        temporary.remove()
        return False, "merging the stroke into the layer failed", node
    return True, "merge", children[position]


def _index(parent, node):
    return next((index for index, child in enumerate(parent.childNodes()) if child.uniqueId() == node.uniqueId()), None)
