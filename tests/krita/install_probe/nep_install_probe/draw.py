"""The draw phase: paint an L-shaped mouse stroke on Krita's real canvas, then accept NEP's suggestion.

The document gets a transparent paint layer, so the pixels Krita painted are those with alpha; the
stroke is sent to the visible canvas widget in widget pixels, around its centre, where the document
is shown at Krita's fit-to-view zoom, or at NEP_PROBE_ZOOM and scrolled by NEP_PROBE_SCROLL pixels,
once the plugin shows its ghost for the new document;
with NEP_PROBE_TABLET the L is drawn again with a pen, 60 widget pixels lower (tablet events,
pressure rising from 0.3 to 0.9), then the painter drags with the move tool 60 pixels above the L,
and picks the brush again to draw a line 60 pixels above the L's top. The NEP plugin that Krita loaded then asks the server set in its
settings; once its ghost shows, the view zooms out, scrolls, and rotates and turns back, and after a
pause Krita's action *NEP: Accept suggestion* (what its shortcut triggers) paints the suggestion,
and Krita's Undo (Ctrl+Z) is pressed twice. Reported: the layer's pixels after the stroke, after the
Accept and after each Undo, and the ghost overlay's pixels after each change of view.
"""

import os
import sys
import traceback

from krita import Krita
from nep_suggest.qt import (QAbstractScrollArea, QApplication, QEvent, QImage, QMouseEvent, QObject, QPoint, QPointF, QRegion, Qt,
                            QtWidgets, QTimer, QToolButton, QWidget, pen_tablet_event)

WIDTH, HEIGHT = 400, 300
BRUSH_SIZE = 4.0
CANVAS_CLASSES = ("KisOpenGLCanvas2", "KisQPainterCanvas")
VIEW_READY_MS = 1500  # the new view's canvas is laid out and the NEP plugin's tick has hooked it
PAINT_DONE_MS = 1500  # Krita paints a stroke asynchronously
SCROLL_DONE_MS = 500
SCROLL_WHILE_SHOWN = 40  # widget pixels right and down, after the zoom
ROTATION = 30.0  # degrees, after the scroll
PAUSE_MS = 6000  # before Accept: longer than `nep serve` keeps an idle connection open (5 s)
ZOOM_STEP, ZOOM_DONE_MS = 0.8, 1000  # out: the line stays inside the widget
PEN_OFFSET = 60
ANSWER_WAIT_MS = 30000
POLL_MS = 100


def later(milliseconds, function, report, *args):
    """Call ``function(*args, report)`` after a while; an exception is reported, not lost in Qt's event loop."""

    def call():
        try:
            function(*args, report)
        except Exception:
            report({"error": traceback.format_exc()})

    QTimer.singleShot(milliseconds, call)


def open_document(name):
    """A WIDTH x HEIGHT document with a transparent paint layer ``ink`` (active), in a new view; (document, layer, view)."""
    app = Krita.instance()
    document = app.createDocument(WIDTH, HEIGHT, name, "RGBA", "U8", "", 72.0)
    layer = document.createNode("ink", "paintlayer")
    document.rootNode().addChildNode(layer, None)
    document.setActiveNode(layer)
    return document, layer, app.activeWindow().addView(document)


def l_path(canvas, shift=0):
    """An L around the canvas widget's centre (``shift`` widget pixels lower), in widget pixels: 31 points right, 15 down."""
    cx, cy = canvas.width() / 2, canvas.height() / 2 + shift
    return [(cx - 120 + 8 * step, cy - 60) for step in range(31)] + [(cx + 120, cy - 60 + 8 * step) for step in range(1, 16)]


def start(report):
    """Open the document in a view, then draw, then ``report(result)``."""
    document, layer, view = open_document("nep-draw")
    view.setBrushSize(BRUSH_SIZE)
    if os.environ.get("NEP_PROBE_ZOOM"):
        view.canvas().setZoomLevel(float(os.environ["NEP_PROBE_ZOOM"]))
    after_the_ghost(VIEW_READY_MS, scroll, report, document, layer)  # the painter sees the new document's suggestion first


def after_the_ghost(milliseconds, function, report, *args, leaving=None):
    """After ``milliseconds``, call ``function(*args, report)`` as soon as the plugin shows its ghost (in a session other
    than ``leaving``), or the server answered with an error, or after ANSWER_WAIT_MS: a wait for the server's answer as
    long as a busy machine needs, and no longer. (A request that timed out is "unreachable" until the next answer.)"""
    later(milliseconds, when_the_ghost_shows, report, function, args, leaving, ANSWER_WAIT_MS // POLL_MS)


def when_the_ghost_shows(function, args, leaving, polls_left, report):
    runtime = plugin().runtime
    shown = runtime.ghost.shown and runtime.session_id != leaving
    if not shown and runtime.status != "error" and polls_left > 0:
        later(POLL_MS, when_the_ghost_shows, report, function, args, leaving, polls_left - 1)
        return
    function(*args, report)


def scroll(document, layer, report):
    """Scroll the canvas by NEP_PROBE_SCROLL widget pixels right and down (if set), then draw."""
    by = int(os.environ.get("NEP_PROBE_SCROLL", "0"))
    if by:
        scroll_by(by)
    later(SCROLL_DONE_MS if by else 0, draw, report, document, layer)


def scroll_by(pixels):
    """Move the visible canvas's scroll bars by ``pixels``; returns how far each moved."""
    area = visible_canvas().parentWidget()
    while not isinstance(area, QAbstractScrollArea):
        area = area.parentWidget()
    moved = []
    for bar in (area.horizontalScrollBar(), area.verticalScrollBar()):
        before = bar.value()
        bar.setValue(before + pixels)
        moved.append(bar.value() - before)
    return moved


def visible_canvas():
    window = Krita.instance().activeWindow().qwindow()
    return next(widget for widget in window.findChildren(QWidget)
                if widget.metaObject().className() in CANVAS_CLASSES and widget.isVisible())


def send(widget, kind, x, y, button, buttons):
    QApplication.sendEvent(widget, QMouseEvent(kind, QPointF(x, y), QPointF(x, y), button, buttons, Qt.KeyboardModifier.NoModifier))


def send_tablet(widget, kind, x, y, pressure, button, buttons):
    QApplication.sendEvent(widget, pen_tablet_event(kind, QPointF(x, y), pressure, button, buttons))


def draw(document, layer, report):
    canvas = visible_canvas()
    path = l_path(canvas)
    drag_with_the_mouse(canvas, path)
    then = pen_stroke if os.environ.get("NEP_PROBE_TABLET") else finish
    later(PAINT_DONE_MS, then, report, document, layer, canvas, path)


def pen_stroke(document, layer, canvas, path, report):
    """The same L with a pen, PEN_OFFSET widget pixels lower, pressing harder along the way."""
    painted = painted_pixels(document, layer)  # Krita paints synthetic tablet events only in part: keep the mouse's L
    pen = [(x, y + PEN_OFFSET) for x, y in path]
    pressures = [0.3 + 0.6 * index / (len(pen) - 1) for index in range(len(pen))]
    send_tablet(canvas, QEvent.Type.TabletPress, *pen[0], pressures[0], Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    for (x, y), pressure in zip(pen[1:], pressures[1:]):
        send_tablet(canvas, QEvent.Type.TabletMove, x, y, pressure, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
        QApplication.processEvents()
    send_tablet(canvas, QEvent.Type.TabletRelease, *pen[-1], pressures[-1], Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)
    later(PAINT_DONE_MS, move_tool_drag, report, document, layer, canvas, path, painted)


def move_tool_drag(document, layer, canvas, path, painted, report):
    """A drag with the move tool, PEN_OFFSET widget pixels above the L: not a stroke to record."""
    toolbox_button("KritaTransform/KisToolMove").click()
    drag_with_the_mouse(canvas, [(x, y - PEN_OFFSET) for x, y in path[::3]])
    later(PAINT_DONE_MS, brush_again, report, document, layer, canvas, path, painted)


def brush_again(document, layer, canvas, path, painted, report):
    """The brush tool again, and a line along the L's top, PEN_OFFSET widget pixels above it."""
    toolbox_button("KritaShape/KisToolBrush").click()
    drag_with_the_mouse(canvas, [(x, y - PEN_OFFSET) for x, y in path[:16]])
    later(PAINT_DONE_MS, finish, report, document, layer, canvas, path, painted)


def drag_with_the_mouse(canvas, points):
    send(canvas, QEvent.Type.MouseButtonPress, *points[0], Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    for x, y in points[1:]:
        send(canvas, QEvent.Type.MouseMove, x, y, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
        QApplication.processEvents()
    send(canvas, QEvent.Type.MouseButtonRelease, *points[-1], Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)


def toolbox_button(tool):
    """The toolbox's button for ``tool`` (its object name is the tool's id), as the painter clicks it."""
    window = Krita.instance().activeWindow().qwindow()
    return next(button for button in window.findChildren(QToolButton) if button.objectName() == tool)


def painted_pixels(document, layer):
    document.waitForDone()
    data = bytes(layer.pixelData(0, 0, WIDTH, HEIGHT))
    return [[x, y] for y in range(HEIGHT) for x in range(WIDTH) if data[(y * WIDTH + x) * 4 + 3] > 0]


def plugin():
    from nep_suggest import app as plugin_app  # the plugin Krita loaded, not a second copy

    return plugin_app.get()


def finish(document, layer, canvas, path, *painted_and_report):
    *painted, report = painted_and_report
    seen = {"canvas_class": canvas.metaObject().className(), "painted": painted[0] if painted else painted_pixels(document, layer),
            "mouse_path": [path[0], path[30], path[-1]], "krita_version": Krita.instance().version(),
            "zoom": Krita.instance().activeWindow().activeView().canvas().zoomLevel()}  # the L's start, corner and end in widget pixels
    after_the_ghost(0, look_at_the_ghost, report, document, layer, seen)


def look_at_the_ghost(document, layer, seen, report):
    runtime = plugin().runtime
    docker = next((docker for docker in Krita.instance().dockers() if docker.windowTitle() == "NEP Suggest"), None)
    seen.update(status=runtime.status, message=runtime.message, ghost_shown=runtime.ghost.shown,
                ghost_pixels=overlay_pixels(runtime.ghost), docker_text=docker.suggestion.text() if docker is not None else None,
                layers=[node.name() for node in document.rootNode().childNodes()])
    overlay = next(overlay for overlay in runtime.ghost.overlays if overlay.isVisible())
    if seen["ghost_pixels"]:
        image = rendered_image(overlay)
        middle = (min(x for x, _ in seen["ghost_pixels"]) + max(x for x, _ in seen["ghost_pixels"])) // 2
        seen["ghost_thickness"] = thickness([image.pixel(middle, y) >> 24 for y in range(image.height())])  # widget pixels
    counter = PaintCounter(overlay)
    canvas = Krita.instance().activeWindow().activeView().canvas()
    seen["zoom_before"] = canvas.zoomLevel()
    canvas.setZoomLevel(canvas.zoomLevel() * ZOOM_STEP)  # the painter zooms out while the ghost shows
    later(ZOOM_DONE_MS, after_zoom, report, document, layer, seen, counter)


class PaintCounter(QObject):
    """Counts the paint events a widget gets."""

    def __init__(self, widget):
        super().__init__(widget)
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event):  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def after_zoom(document, layer, seen, counter, report):
    seen.update(ghost_repaints_after_zoom=counter.paints, ghost_pixels_after_zoom=overlay_pixels(plugin().runtime.ghost),
                zoom_after=Krita.instance().activeWindow().activeView().canvas().zoomLevel())
    counter.paints = 0
    seen["scrolled_while_shown"] = scroll_by(SCROLL_WHILE_SHOWN)  # the painter scrolls while the ghost shows
    later(SCROLL_DONE_MS, after_scroll, report, document, layer, seen, counter)


def after_scroll(document, layer, seen, counter, report):
    seen.update(ghost_repaints_after_scroll=counter.paints, ghost_pixels_after_scroll=overlay_pixels(plugin().runtime.ghost))
    Krita.instance().activeWindow().activeView().canvas().setRotation(ROTATION)  # then rotates the canvas
    later(ZOOM_DONE_MS, after_rotation, report, document, layer, seen)


def after_rotation(document, layer, seen, report):
    canvas = Krita.instance().activeWindow().activeView().canvas()
    seen.update(rotation=canvas.rotation(), ghost_pixels_rotated=overlay_pixels(plugin().runtime.ghost))
    canvas.setRotation(0.0)  # and back
    later(ZOOM_DONE_MS, after_rotating_back, report, document, layer, seen)


def after_rotating_back(document, layer, seen, report):
    seen["ghost_pixels_rotated_back"] = overlay_pixels(plugin().runtime.ghost)
    later(PAUSE_MS, accept, report, document, layer, seen)  # the painter looks for a while, then accepts


def undo_history():
    """The entries of Krita's Undo History docker (its first is "<empty>")."""
    docker = next(docker for docker in Krita.instance().dockers() if docker.windowTitle() == "Undo History")
    model = docker.findChild(QtWidgets.QListView).model()  # Krita's KisUndoView
    return [model.data(model.index(row, 0)) for row in range(model.rowCount())]


def accept(document, layer, seen, report):
    seen["undo_history_before_accept"] = undo_history()
    Krita.instance().action("nep_suggest_accept").trigger()
    after_the_ghost(PAINT_DONE_MS, after_accept, report, document, layer, seen)  # the next suggestion, which Ctrl+Z passes over


def overlay_pixels(ghost):
    """The widget pixels the ghost's overlay on the visible canvas paints."""
    return rendered_pixels(next(overlay for overlay in ghost.overlays if overlay.isVisible()))


def rendered_image(overlay):
    """What ``overlay`` paints, on transparency."""
    image = QImage(overlay.width(), overlay.height(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    overlay.render(image, QPoint(), QRegion(), QWidget.RenderFlag.DrawChildren)
    return image


def rendered_pixels(overlay):
    """The widget pixels ``overlay`` paints."""
    image = rendered_image(overlay)
    return [[x, y] for y in range(image.height()) for x in range(image.width()) if image.pixel(x, y) >> 24]


def thickness(alphas):
    """How many of a column's pixels a line covers: those at least half as opaque as its most opaque one."""
    return sum(1 for alpha in alphas if alpha and alpha >= max(alphas) / 2)


def after_accept(document, layer, seen, report):
    app = plugin()
    merged = document.nodeByName(layer.name())  # where Accept merges a layer down, a new node
    seen.update(painted_after_accept=painted_pixels(document, merged), outcome=app.runtime.outcome,
                layers_after_accept=[node.name() for node in document.rootNode().childNodes()], undo_history_after_accept=undo_history())
    before = set(map(tuple, seen["painted"]))
    new = [(x, y) for x, y in seen["painted_after_accept"] if (x, y) not in before]
    if new:  # the accepted stroke's column in its middle, in document pixels
        middle, data = (min(x for x, _ in new) + max(x for x, _ in new)) // 2, bytes(merged.pixelData(0, 0, WIDTH, HEIGHT))
        rows = sorted({y for x, y in new if x == middle})
        seen["accepted_thickness"] = thickness([data[(y * WIDTH + middle) * 4 + 3] for y in rows])
    Krita.instance().action("edit_undo").trigger()  # Ctrl+Z
    after_the_ghost(PAINT_DONE_MS, after_undo, report, document, layer, seen, 1)


def after_undo(document, layer, seen, times, report):
    seen[f"painted_after_undo_{times}"] = painted_pixels(document, document.nodeByName(layer.name()))
    seen[f"layers_after_undo_{times}"] = [node.name() for node in document.rootNode().childNodes()]
    if times < 2:
        Krita.instance().action("edit_undo").trigger()
        later(PAINT_DONE_MS, after_undo, report, document, layer, seen, times + 1)
        return
    Krita.instance().action("edit_redo").trigger()  # Ctrl+Shift+Z: the painter's stroke is back
    later(PAINT_DONE_MS, after_redo, report, document, layer, seen)


def after_redo(document, layer, seen, report):
    seen["painted_after_redo"] = painted_pixels(document, document.nodeByName(layer.name()))
    app = plugin()
    seen.update(log=app.runtime.log_path(), session=app.runtime.session_id, hooked_canvases=len(app.filters), plugin_error=app.error,
                forbidden_modules=sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "nep_core", "nep_krita")))
    report(seen)
