"""The hatching phase: forty short strokes in quick succession, as a painter hatches a shadow.

One stroke every HATCH_EVERY_MS, each a diagonal line a few widget pixels below the last, while
the plugin records them and asks the server after each. Reported: the plugin's error and status,
the session's log, the time the plugin spent on Qt's main thread (where Krita paints) in each of
its ticks and each pointer event while hatching, and what its canvas lookup costs.
"""

import time

from krita import Krita

from .draw import PAINT_DONE_MS, VIEW_READY_MS, drag_with_the_mouse, later, plugin, visible_canvas
from .documents import open_document

STROKES = 40
HATCH_EVERY_MS = 200
ANSWER_WAIT_MS = 3000


class PluginClock:
    """Milliseconds the plugin spends on Qt's main thread: each tick (following the view, then the
    runtime's tick) and each pointer event, timed by wrapping what ``PluginApp`` looks up at each call."""

    def __init__(self, app):
        self.app, self.runtime = app, app.runtime
        self.times = {"follow_view": [], "runtime_tick": [], "pointer_event": []}
        app._follow_view = self.timed(app._follow_view, self.times["follow_view"])
        self.runtime.tick = self.timed(self.runtime.tick, self.times["runtime_tick"])
        self.runtime.on_sample = self.timed(self.runtime.on_sample, self.times["pointer_event"])

    @staticmethod
    def timed(function, into):
        def call(*args):
            started = time.perf_counter()
            try:
                return function(*args)
            finally:
                into.append((time.perf_counter() - started) * 1000.0)

        return call

    def stop(self):
        for owner, name in ((self.app, "_follow_view"), (self.runtime, "tick"), (self.runtime, "on_sample")):
            delattr(owner, name)  # the class's own method again

    def summary(self):
        def stats(values):
            ordered = sorted(values)
            return {"count": len(ordered), "p50_ms": ordered[len(ordered) // 2], "max_ms": ordered[-1]} if ordered else None

        return {name: stats(values) for name, values in self.times.items()}


def start(report):
    seen = {"document": open_document("nep-hatching")}
    later(VIEW_READY_MS, hatch, report, seen, 0)


def hatch(seen, index, report):
    if index == 0:
        seen["clock"] = PluginClock(plugin())
    canvas = visible_canvas()
    x, y = canvas.width() / 2 - 100, canvas.height() / 2 - 100 + 5 * index
    drag_with_the_mouse(canvas, [(x + 4 * step, y - 2 * step) for step in range(11)])
    if index + 1 < STROKES:
        later(HATCH_EVERY_MS, hatch, report, seen, index + 1)
    else:
        later(PAINT_DONE_MS + ANSWER_WAIT_MS, finish, report, seen)


def canvas_lookups(qwindow, repeats=10):
    """The plugin's canvas lookup (under the document area) against a search of the whole window, as
    the plugin searched before: median milliseconds of each, and the canvases each found."""
    from nep_suggest.canvas_events import CANVAS_CLASSES, canvas_widgets
    from PyQt5.QtWidgets import QWidget

    def whole_window():
        return [widget for widget in qwindow.findChildren(QWidget) if widget.metaObject().className() in CANVAS_CLASSES]

    figures = {}
    for name, lookup in (("document_area", lambda: canvas_widgets(qwindow)), ("whole_window", whole_window)):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            found = lookup()
            times.append((time.perf_counter() - started) * 1000.0)
        figures[name] = {"median_ms": sorted(times)[repeats // 2], "canvases": len(found)}
    return figures


def finish(seen, report):
    clock = seen.pop("clock")
    clock.stop()
    seen.pop("document")
    app = plugin()
    seen.update(plugin_error=app.error, status=app.runtime.status, ghost_shown=app.runtime.ghost.shown, main_thread=clock.summary(),
                log=app.runtime.log_path(), zoom=Krita.instance().activeWindow().activeView().canvas().zoomLevel(),
                canvas_lookup=canvas_lookups(Krita.instance().activeWindow().qwindow()))
    report(seen)
