"""The gestures phase: Krita's canvas gestures while the plugin shows a suggestion, then a stroke.

With the brush tool and NEP's ghost showing, the painter pans (Space held, drag), picks a colour (Ctrl
held, drag) and resizes the brush (Shift held, drag) on Krita's real canvas, then paints a line.
Reported after each: how many pixels Krita painted, how many strokes the plugin recorded, whether
the suggestion shown before is still shown with its ghost, the brush size and colour; at the end the
session log and the plugin's error.
"""

from krita import Krita
from nep_suggest.qt import QApplication, QEvent, QMouseEvent, QPointF, Qt, QtGui

from .draw import BRUSH_SIZE, PAINT_DONE_MS, VIEW_READY_MS, after_the_ghost, drag_with_the_mouse, later, open_document, painted_pixels, plugin, visible_canvas

GESTURES = (("space", Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier), ("ctrl", Qt.Key.Key_Control, Qt.KeyboardModifier.ControlModifier),
            ("shift", Qt.Key.Key_Shift, Qt.KeyboardModifier.ShiftModifier))
"""Pan, colour picker, brush size (last: it changes the brush, which the plugin records as a size change)."""


def start(report):
    document, layer, view = open_document("nep-gestures")
    view.setBrushSize(BRUSH_SIZE)
    seen = {"document": document, "layer": layer, "view": view, "after": {}}
    after_the_ghost(VIEW_READY_MS, gesture, report, seen, 0)


def a_line(canvas, shift):
    """A horizontal line across the canvas widget's middle, ``shift`` widget pixels lower."""
    x, y = canvas.width() / 2 - 100, canvas.height() / 2 + shift
    return [(x + 5 * step, y) for step in range(41)]


def recorded_strokes():
    return sum(1 for event in plugin().runtime.events if isinstance(event.get("action"), dict) and event["action"].get("kind") == "stroke")


def now(seen):
    """What a gesture may change: the painted pixels, the recorded strokes, the suggestion shown, the brush."""
    view = seen["view"]
    return {"painted": len(painted_pixels(seen["document"], seen["layer"])), "strokes": recorded_strokes(),
            "suggestion": plugin().runtime.suggestion, "size": view.brushSize(), "color": view.foregroundColor().colorForCanvas(None).name()}


def key(canvas, kind, code, modifiers):
    QApplication.sendEvent(canvas, QtGui.QKeyEvent(kind, code, modifiers, " " if code == Qt.Key.Key_Space else ""))


def drag_holding(canvas, points, modifiers):
    """A mouse drag with ``modifiers`` held, as Qt reports it."""
    def send(kind, x, y, button, buttons):
        QApplication.sendEvent(canvas, QMouseEvent(kind, QPointF(x, y), QPointF(x, y), button, buttons, modifiers))

    send(QEvent.Type.MouseButtonPress, *points[0], Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    for x, y in points[1:]:
        send(QEvent.Type.MouseMove, x, y, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
        QApplication.processEvents()
    send(QEvent.Type.MouseButtonRelease, *points[-1], Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)


def gesture(seen, index, report):
    name, code, modifiers = GESTURES[index]
    canvas = visible_canvas()
    before = now(seen)
    key(canvas, QEvent.Type.KeyPress, code, modifiers)
    drag_holding(canvas, a_line(canvas, 20 * index - 40), modifiers)
    key(canvas, QEvent.Type.KeyRelease, code, Qt.KeyboardModifier.NoModifier)
    later(PAINT_DONE_MS, after_gesture, report, seen, index, before)


def after_gesture(seen, index, before, report):
    after = now(seen)
    seen["after"][GESTURES[index][0]] = {
        "painted": after["painted"] - before["painted"], "recorded": after["strokes"] - before["strokes"],
        "suggestion_kept": before["suggestion"] is not None and after["suggestion"] is before["suggestion"],
        "ghost": plugin().runtime.ghost.shown, "size": [before["size"], after["size"]], "color": [before["color"], after["color"]]}
    seen["view"].setBrushSize(BRUSH_SIZE)  # as before the brush-size gesture
    if index + 1 < len(GESTURES):
        after_the_ghost(PAINT_DONE_MS, gesture, report, seen, index + 1)
    else:
        after_the_ghost(PAINT_DONE_MS, paint_a_line, report, seen)


def paint_a_line(seen, report):
    before = now(seen)
    canvas = visible_canvas()
    drag_with_the_mouse(canvas, a_line(canvas, 40))
    later(PAINT_DONE_MS, finish, report, seen, before)


def finish(seen, before, report):
    after = now(seen)
    seen["after"]["stroke"] = {"painted": after["painted"] - before["painted"], "recorded": after["strokes"] - before["strokes"],
                               "suggestion_kept": after["suggestion"] is before["suggestion"]}
    app = plugin()
    for name in ("document", "layer", "view"):
        seen.pop(name)
    seen.update(log=app.runtime.log_path(), session=app.runtime.session_id, plugin_error=app.error, krita_version=Krita.instance().version(),
                swallowed_errors=app.swallowed_errors())
    report(seen)
