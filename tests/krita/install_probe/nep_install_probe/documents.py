"""The documents phase: a painter with several documents open, who closes the one they are painting in.

Document A is opened and painted in (an L, as in draw.py); document B is opened in a second view,
which becomes the active one, and painted in; then B, the active document, is closed with its ghost
showing, so A's view is the active one again, and A is painted in once more, 40 widget pixels higher
than before. Then document C is opened and the painter puts the views side by side (Krita's
sub-window mode, tiled): C's ghost shows on C's canvas only. Then the painter clicks in A's canvas,
which gives it the focus (Krita's canvas switcher eats that click: it paints nothing), and paints
an L there sooner than the plugin's tick: the L is A's, where Krita painted it. Then the painter
selects A's right half and inverts the selection, the plugin's painter paints a line across A, and
Ctrl+Z is pressed twice. Reported after each step: the plugin's session id, its error, whether the
ghost shows, and at the end the session logs; the line's pixels, and the selection before it, after
it and after each Ctrl+Z; and
whether Accept would paint through the view (Node.paintPath, Krita's fill), with A in one view and
then in two, and what Accept's painting does with A in two views (refused before Krita 5.3).
"""

from krita import Krita, Selection
from nep_suggest.qt import QApplication, QMdiArea, Qt

from .draw import (HEIGHT, PAINT_DONE_MS, VIEW_READY_MS, WIDTH, after_the_ghost, drag_with_the_mouse, l_path, later, open_document, painted_pixels, plugin,
                   rendered_pixels, visible_canvas)

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
    after_the_ghost(PAINT_DONE_MS, open_b, report, seen)


def open_b(seen, report):
    from nep_suggest.painter import view_paints_into

    look(seen, "painted_a")
    seen["view_paints"] = {"one_view": view_paints_into(*seen["a"])}
    seen["b"] = open_document("nep-b")[0]
    later(VIEW_READY_MS, paint_in_b, report, seen)


def paint_in_b(seen, report):
    look(seen, "opened_b")
    paint_an_l(shift=40)
    after_the_ghost(PAINT_DONE_MS, close_b, report, seen)


def close_b(seen, report):
    look(seen, "painted_b")
    document = seen.pop("b")
    document.setModified(False)  # close without a "save changes?" question
    document.close()  # the active document, its ghost showing
    later(VIEW_READY_MS, paint_in_a_again, report, seen)


def paint_in_a_again(seen, report):
    look(seen, "closed_b")
    paint_an_l(shift=-40)
    after_the_ghost(PAINT_DONE_MS, open_c_beside_a, report, seen)


def open_c_beside_a(seen, report):
    look(seen, "painted_a_again")
    seen["zoom"] = Krita.instance().activeWindow().activeView().canvas().zoomLevel()
    seen["c"] = open_document("nep-c")[0]
    area = document_area()
    area.setViewMode(QMdiArea.ViewMode.SubWindowView)
    area.tileSubWindows()
    area.setActiveSubWindow(area.subWindowList()[1])  # tiling may activate A: C, opened last, is the active view
    after_the_ghost(VIEW_READY_MS, paint_in_a_beside_c, report, seen, leaving=seen["painted_a_again"]["session"])  # C's ghost


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
    after_the_ghost(PAINT_DONE_MS, finish, report, seen, before)


def finish(seen, before, report):
    look(seen, "painted_a_beside_c")
    known = set(map(tuple, before))
    seen["painted_a_beside_c"]["painted"] = [pixel for pixel in painted_pixels(*seen["a"]) if tuple(pixel) not in known]
    later(0, paint_in_a_selection, report, seen)


def bounds_of(selection):
    """``[x, y, w, h]`` of the pixels ``selection`` selects (its own bounds can be the whole image once inverted)."""
    if selection is None:
        return None
    data = bytes(selection.pixelData(0, 0, WIDTH, HEIGHT))
    xs = [index % WIDTH for index in range(len(data)) if data[index] > 127]
    ys = [index // WIDTH for index in range(len(data)) if data[index] > 127]
    return [min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1] if xs else []


def paint_in_a_selection(seen, report):
    """Select A's right half, then invert the selection (Select > Invert, an undo step that edits the selection)."""
    document, _ = seen["a"]
    selected = Selection()
    selected.select(WIDTH // 2, 0, WIDTH - WIDTH // 2, HEIGHT, 255)
    document.setSelection(selected)
    later(PAINT_DONE_MS, invert_in_a, report, seen)  # Krita 6 enables Invert only once it has seen the new selection


def invert_in_a(seen, report):
    invert = Krita.instance().action("invert_selection")
    seen["invert_enabled"] = invert.isEnabled()
    invert.trigger()
    later(PAINT_DONE_MS, paint_line_in_a, report, seen)


def paint_line_in_a(seen, report):
    """A line across A, 30 pixels above its foot, through the plugin's painter, with A's left half selected; then Ctrl+Z."""
    from nep_suggest import painter
    from nep_suggest.strokes import Stroke

    document, layer = seen["a"]
    before = painted_pixels(document, layer)
    size = Krita.instance().activeWindow().activeView().brushSize()  # paintPath paints with the brush's, as Accept asks
    line = Stroke(points=((20.0, HEIGHT - 30.0, 1.0, 0.0), (WIDTH - 20.0, HEIGHT - 30.0, 1.0, 8.0)), color="#000000", size=size)
    selection_before = bounds_of(document.selection())
    done = painter.paint_stroke(document, layer, line, (WIDTH, HEIGHT))
    known = set(map(tuple, before))
    seen["selected_line"] = {"done": [done[0], done[1]], "painted": [p for p in painted_pixels(document, layer) if tuple(p) not in known],
                             "selection_before": selection_before, "selection_after": bounds_of(document.selection()),
                             "layers": [node.name() for node in document.rootNode().childNodes()],
                             "krita_version": Krita.instance().version(), "size": size}
    Krita.instance().action("edit_undo").trigger()  # Ctrl+Z
    later(PAINT_DONE_MS, after_undo_in_a, report, seen, before)


def after_undo_in_a(seen, before, report):
    """After the first Ctrl+Z; a second one takes back the inversion, on the painter's own selection."""
    document, layer = seen["a"]
    seen["selected_line"].update(undone=painted_pixels(document, layer) == before, selection_after_undo_1=bounds_of(document.selection()))
    Krita.instance().action("edit_undo").trigger()
    later(PAINT_DONE_MS, after_second_undo_in_a, report, seen)


def after_second_undo_in_a(seen, report):
    from nep_suggest.painter import view_paints_into

    document, layer = seen.pop("a")
    seen["selected_line"]["selection_after_undo_2"] = bounds_of(document.selection())
    document.setSelection(None)
    Krita.instance().activeWindow().addView(document)  # Window > New View: A in two views, the new one active
    seen["view_paints"]["two_views"] = view_paints_into(document, layer)
    # Accept there merges a layer down, after which Krita 5.1.5 crashed (its own Merge Down too): refused before 5.3
    from nep_suggest.painter import paint_stroke
    from nep_suggest.strokes import Stroke

    before = painted_pixels(document, layer)
    line = Stroke(((20.0, 40.0, 1.0, 0.0), (180.0, 40.0, 1.0, 8.0)), "", "#000000", 6.0, 1.0)
    done, how, _painted = paint_stroke(document, layer, line, (document.width(), document.height()))
    document.waitForDone()
    seen["two_views_accept"] = {"done": [done, how], "unchanged": painted_pixels(document, layer) == before,
                                "layers": [node.name() for node in document.topLevelNodes()], "krita_version": Krita.instance().version()}
    seen.pop("c")
    app = plugin()
    seen.update(logs=app.settings.logs(), session=app.runtime.session_id)
    report(seen)
