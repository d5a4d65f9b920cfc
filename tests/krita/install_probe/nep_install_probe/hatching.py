"""The hatching phase: forty short strokes in quick succession, as a painter hatches a shadow.

One stroke every HATCH_EVERY_MS, each a diagonal line a few widget pixels below the last, while
the plugin records them and asks the server after each. Reported: the plugin's error and status,
the session's log, the time the plugin spent on Qt's main thread (where Krita paints) in each of
its ticks and each pointer event while hatching, what its lookups in Krita's window cost, and what
Accept's painting of one more hatch line costs, through the view and by merging a layer down.
"""

import statistics
import time

from krita import Krita

from .draw import PAINT_DONE_MS, VIEW_READY_MS, after_the_ghost, drag_with_the_mouse, later, open_document, plugin, visible_canvas

STROKES = 40
HATCH_EVERY_MS = 200
SETTLE_MS = 3000  # the plugin's ticks go on after the hatching (the main-thread figures count them)


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
            return {"count": len(ordered), "p50_ms": statistics.median(ordered), "max_ms": ordered[-1]} if ordered else None

        return {name: stats(values) for name, values in self.times.items()}


def start(report):
    seen = {"document": open_document("nep-hatching")[0]}
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
        after_the_ghost(PAINT_DONE_MS + SETTLE_MS, finish, report, seen)


def lookups(qwindow, repeats=10):
    """What the plugin looks up in Krita's window, as it does now and as it did before (through the
    whole window): for the canvas widgets (each tick) and the active tool (each stroke's press), the
    median milliseconds of each way and what it found."""
    from nep_suggest.canvas_events import CANVAS_CLASSES, active_tool, canvas_widgets
    from nep_suggest.qt import QToolButton, QWidget

    def canvases_before():
        return [widget for widget in qwindow.findChildren(QWidget) if widget.metaObject().className() in CANVAS_CLASSES]

    def tool_before():
        return next((button.objectName() for button in qwindow.findChildren(QToolButton) if button.isCheckable()
                     and button.isChecked() and "/" in button.objectName()), None)

    def timed(lookup):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            found = lookup()
            times.append((time.perf_counter() - started) * 1000.0)
        return {"median_ms": statistics.median(times), "found": found}

    canvases = {"now": timed(lambda: len(canvas_widgets(qwindow)[0])), "before": timed(lambda: len(canvases_before()))}
    tool = {"now": timed(lambda: active_tool(qwindow)), "before": timed(tool_before)}
    return {"canvases": canvases, "active_tool": tool}


def accept_costs(document, repeats=7):
    """Median milliseconds of Accept's painter for one hatch line (until Krita has painted it): through
    the view (Krita's fill, or Node.paintPath where Krita has it) and by merging a layer down."""
    from nep_suggest import painter
    from nep_suggest.strokes import Stroke

    line = Stroke(points=tuple((100.0 + 8 * step, 200.0 - 4 * step, 0.5 + 0.05 * step, 20.0 * step) for step in range(11)), size=10.0)
    canvas = (document.width(), document.height())
    layer, times, how = document.activeNode(), {"view": [], "merge": []}, None
    for way in ("view", "merge"):  # the merges last: each makes a new layer, which Krita 5.2 makes current only later
        for _ in range(repeats):
            started = time.perf_counter()
            if way == "view":
                _, how, _ = painter.paint_stroke(document, layer, line, canvas)
            else:
                _, _, layer = painter.merge_stroke(document, layer, painter.rasterize(line.points, line.color, line.size, canvas))
            document.waitForDone()
            times[way].append((time.perf_counter() - started) * 1000.0)
    median = {way: statistics.median(values) for way, values in times.items()}
    return {"view": {"how": how, "p50_ms": median["view"]}, "merge": {"p50_ms": median["merge"]}, "repeats": repeats}


def finish(seen, report):
    clock = seen.pop("clock")
    clock.stop()
    app = plugin()
    # the plugin's status after the hatching, before accept_costs paints and merges layers (a merge replaces the active
    # layer, which the plugin logs as a state and asks again for: then it is rightly waiting)
    seen.update(status=app.runtime.status, ghost_shown=app.runtime.ghost.shown)
    seen["accept"] = accept_costs(seen.pop("document"))
    seen.update(krita_version=Krita.instance().version(), plugin_error=app.error, main_thread=clock.summary(),
                log=app.runtime.log_path(), zoom=Krita.instance().activeWindow().activeView().canvas().zoomLevel(),
                lookups=lookups(Krita.instance().activeWindow().qwindow()))
    report(seen)
