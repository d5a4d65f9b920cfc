"""The documents phase: a painter with two documents open, who closes the one they are painting in.

Document A is opened and painted in (an L, as in draw.py); document B is opened in a second view,
which becomes the active one, and painted in; then B, the active document, is closed with its ghost
showing, so A's view is the active one again, and A is painted in once more, 40 widget pixels higher
than before. Reported after each step:
the plugin's session id, its error, whether the ghost shows, and at the end the session logs.
"""

from krita import Krita

from .draw import PAINT_DONE_MS, VIEW_READY_MS, drag_with_the_mouse, l_path, later, open_document, plugin, visible_canvas

ANSWER_WAIT_MS = 3000


def paint_an_l(shift=0):
    canvas = visible_canvas()
    drag_with_the_mouse(canvas, l_path(canvas, shift))


def look(seen, step):
    app = plugin()
    view = Krita.instance().activeWindow().activeView()
    seen[step] = {"session": app.runtime.session_id, "error": app.error, "ghost_shown": app.runtime.ghost.shown,
                  "active_document": view.document().name() if view is not None and view.document() is not None else None}


def start(report):
    seen = {"a": open_document("nep-a")[0]}
    later(VIEW_READY_MS, paint_in_a, report, seen)


def paint_in_a(seen, report):
    paint_an_l()
    later(PAINT_DONE_MS + ANSWER_WAIT_MS, open_b, report, seen)


def open_b(seen, report):
    look(seen, "painted_a")
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
    later(PAINT_DONE_MS + ANSWER_WAIT_MS, finish, report, seen)


def finish(seen, report):
    look(seen, "painted_a_again")
    seen.pop("a")
    app = plugin()
    seen.update(logs=app.settings.logs(), session=app.runtime.session_id,
                zoom=Krita.instance().activeWindow().activeView().canvas().zoomLevel())
    report(seen)
