"""The documents phase: a painter with several documents open, who closes the one they are painting in.

Document A is opened and painted in (an L, as in draw.py); document B is opened in a second view,
which becomes the active one, and painted in; then B, the active document, is closed with its ghost
showing, so A's view is the active one again, and A is painted in once more, 40 widget pixels higher
than before. Then document C is opened and the painter puts the views side by side (Krita's
sub-window mode, tiled): C's ghost shows on C's canvas only. Then the painter clicks in A's canvas,
which gives it the focus (Krita's canvas switcher eats that click: it paints nothing), and paints
an L there sooner than the plugin's tick: the L is A's, where Krita painted it. Reported after each
step: the plugin's session id, its error, whether the ghost shows, and at the end the session logs;
and whether Accept would paint with Node.paintPath, with A in one view and then in two.
"""

from krita import Krita
from nep_suggest.qt import QApplication, QMdiArea, Qt

from .draw import (PAINT_DONE_MS, VIEW_READY_MS, drag_with_the_mouse, l_path, later, open_document, painted_pixels, plugin,
                   rendered_pixels, visible_canvas)

ANSWER_WAIT_MS = 3000
CLICK_TO_STROKE_MS = 40  # sooner than the plugin's tick (runtime.TICK_MS, 250)


def paint_an_l(shift=0):
    canvas = visible_canvas()
    drag_with_the_mouse(canvas, l_path(canvas, shift))


def look(seen, step):
    app = plugin()
    view = Krita.instance().activeWindow().activeView()
    seen[step] = {"session": app.runtime.session_id, "error": app.error, "ghost_shown": app.runtime.ghost.shown,
                  "active_document": view.document().name() if view is not None and view.document() is not None else None}


def document_area():
    return Krita.instance().activeWindow().qwindow().findChild(QMdiArea)


def start(report):
    seen = {"a": open_document("nep-a")[:2]}
    later(VIEW_READY_MS, paint_in_a, report, seen)


def paint_in_a(seen, report):
    paint_an_l()
    later(PAINT_DONE_MS + ANSWER_WAIT_MS, open_b, report, seen)


def open_b(seen, report):
    from nep_suggest.painter import can_paint_path

    look(seen, "painted_a")
    document, layer = seen["a"]
    seen["paints_path"] = {"has_paint_path": hasattr(layer, "paintPath"), "one_view": can_paint_path(document, layer)}
    seen["b"] = open_document("nep-b")[0]
    later(VIEW_READY_MS, paint_in_b, report, seen)


def paint_in_b(seen, report):
    look(seen, "opened_b")
    paint_an_l(shift=40)
    later(PAINT_DONE_MS + ANSWER_WAIT_MS, close_b, report, seen)


def close_b(seen, report):
    look(seen, "painted_b")
    document = seen.pop("b")
    document.setModified(False)  # close without a "save changes?" question
    document.close()  # the active document, its ghost showing
    later(VIEW_READY_MS, paint_in_a_again, report, seen)


def paint_in_a_again(seen, report):
    look(seen, "closed_b")
    paint_an_l(shift=-40)
    later(PAINT_DONE_MS + ANSWER_WAIT_MS, open_c_beside_a, report, seen)


def open_c_beside_a(seen, report):
    look(seen, "painted_a_again")
    seen["zoom"] = Krita.instance().activeWindow().activeView().canvas().zoomLevel()
    seen["c"] = open_document("nep-c")[0]
    area = document_area()
    area.setViewMode(QMdiArea.ViewMode.SubWindowView)
    area.tileSubWindows()
    area.setActiveSubWindow(area.subWindowList()[1])  # tiling may activate A: C, opened last, is the active view
    later(VIEW_READY_MS + ANSWER_WAIT_MS, paint_in_a_beside_c, report, seen)


def paint_in_a_beside_c(seen, report):
    from nep_suggest.canvas_events import canvases_under  # the plugin Krita loaded

    area = document_area()
    window_a, window_c = area.subWindowList()  # in the order they were opened
    canvas_a, canvas_c = (canvases_under(window.widget())[0] for window in (window_a, window_c))
    overlays = {overlay.parentWidget(): overlay for overlay in plugin().runtime.ghost.overlays}
    look(seen, "tiled")
    seen["tiled"].update(ghost_pixels_on_a=len(rendered_pixels(overlays[canvas_a])),
                         ghost_pixels_on_c=len(rendered_pixels(overlays[canvas_c])))
    before = painted_pixels(*seen["a"])
    # A click on A as Qt hands one on: the focus first (Krita's canvas switcher then puts its filters first and eats
    # the click), then the press, a drag 100 widget pixels below where the L's foot will be, and the release
    plugin().timer.stop()  # no tick until the L is painted: only the focus may put the recorder's filter first again
    canvas_a.setFocus(Qt.FocusReason.MouseFocusReason)
    seen["clicked_a"] = {"focus_on_a": QApplication.focusWidget() is canvas_a}
    drag_with_the_mouse(canvas_a, [(x, y + 220) for x, y in l_path(canvas_a)[:8]])
    later(CLICK_TO_STROKE_MS, paint_beside_c, report, seen, canvas_a, before)


def paint_beside_c(seen, canvas_a, before, report):
    drag_with_the_mouse(canvas_a, l_path(canvas_a))
    plugin().start()
    later(PAINT_DONE_MS + ANSWER_WAIT_MS, finish, report, seen, before)


def finish(seen, before, report):
    from nep_suggest.painter import can_paint_path

    look(seen, "painted_a_beside_c")
    document, layer = seen["a"]
    Krita.instance().activeWindow().addView(document)  # Window > New View: A in two views, the new one active
    seen["paints_path"]["two_views"] = can_paint_path(document, layer)
    known = set(map(tuple, before))
    seen["painted_a_beside_c"]["painted"] = [pixel for pixel in painted_pixels(*seen.pop("a")) if tuple(pixel) not in known]
    seen.pop("c")
    app = plugin()
    seen.update(logs=app.settings.logs(), session=app.runtime.session_id)
    report(seen)
