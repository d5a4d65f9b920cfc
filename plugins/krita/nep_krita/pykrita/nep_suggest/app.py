"""The glue to a running Krita: one ``PluginApp`` follows the active view, feeds the runtime and ticks it.

Every ``runtime.TICK_MS`` it looks at Krita's active window and view: a document that becomes
active starts a session, or goes on with the one it had (``Runtime.start``); with no document active
(the painter closed the last one) a suggestion still shown is passed over (``Runtime.leave``); new canvas widgets get
the event filter and the ghost's overlay, and the runtime collects answers and asks for the next
suggestion. Errors are caught and shown in the docker (``swallowed_errors``: those of the Qt
callbacks, counted); painting is never interrupted, and no exception reaches Krita.

Only strokes made with a freehand painting tool are recorded (``PAINTING_TOOLS``; the active tool
is the checked button of the toolbox, whose object name is the tool's id); when no toolbox button
can be found, every stroke is. Canvas gestures (a drag with Space, Shift, Ctrl... held) never reach
the runtime (``canvas_events``). Krita's Undo action (Ctrl+Z) is logged as an ``undo`` action, unless it
takes back a stroke that was not recorded (``Runtime.on_undo``); its Redo logs the step it brings back again
(``Runtime.on_redo``). The
ghost is drawn only over the canvas of the session's view, in the active window.
"""

import functools
import time
import traceback

from . import settings as settings_module
from .qt import QObject, QTimer
from .canvas_events import CanvasEventFilter, active_tool, canvas_widgets, document_mapping, view_mapping
from .runtime import TICK_MS, Runtime
from .workspace import Workspace

UNDO_HOOKED = "nep_suggest_hooked"
PAINTING_TOOLS = frozenset({"KritaShape/KisToolBrush", "KritaShape/KisToolDyna", "KritaShape/KisToolMultiBrush"})


class PluginApp(QObject):
    def __init__(self, krita, parent=None):
        super().__init__(parent)
        self.krita = krita
        self.settings = settings_module.load(krita.readSetting)
        self.runtime = Runtime(self.settings, time.monotonic, app_name=f"Krita {krita.version()}")
        self.filters = {}
        self.recording_stroke = False
        self.document_key = None  # the active document's root node id
        self.window_canvases = []  # the canvas widgets of the active window
        self.active_canvas = None  # the active view's canvas widget (None: not known)
        self.error = ""
        self.errors_shown = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)

    def start(self):
        self.timer.start(TICK_MS)

    def save_settings(self, settings):
        settings_module.save(settings, self.krita.writeSetting)
        vars(self.settings).update(vars(settings))
        self.runtime.refresh()

    def tick(self):
        try:
            self._follow_view()
            self.runtime.tick()
            if self.swallowed_errors() != self.errors_shown:
                self.runtime.notify()  # a listener that fails again adds to the count: shown from here, not again
                self.errors_shown = self.swallowed_errors()
        except Exception:
            self._caught()

    def _caught(self):
        self.error = traceback.format_exc().strip().splitlines()[-1]
        self.runtime.message = f"internal error: {self.error}"

    def swallowed_errors(self):
        """Exceptions the plugin's Qt callbacks caught (the canvas filters, the ghost's overlays, the listeners)."""
        return sum(event_filter.errors for event_filter in self.filters.values()) + self.runtime.ghost.errors + self.runtime.listener_errors

    def _follow_view(self):
        window = self.krita.activeWindow()
        view = window.activeView() if window is not None else None
        document = view.document() if view is not None else None
        if document is None:  # the last document closed: its suggestion is passed over, not left to Accept
            self.document_key = None
            self.runtime.leave()
            return
        canvases, self.active_canvas = canvas_widgets(window.qwindow())
        self.window_canvases = canvases
        key = document.rootNode().uniqueId().toString()
        if self.document_key != key:
            self.document_key = key
            self.runtime.start(Workspace(document, view), key)
        else:
            self.runtime.workspace.view = view
        for widget in canvases:
            key = id(widget)
            if key not in self.filters:
                event_filter = CanvasEventFilter(view_mapping(self.current_view, widget), self.on_sample, self.on_canvas_focus,
                                                 parent=widget, on_unmapped=self.on_unmapped_press)
                self.runtime.ghost.attach(widget, document_mapping(functools.partial(self.view_shown_in, widget), widget))
                widget.destroyed.connect(lambda *_args, key=key: self.filters.pop(key, None))
                self.filters[key] = event_filter
            # Krita's input manager puts its own filter first again when a canvas gets the focus (switching
            # views), and it takes the pointer events it handles: put the recorder's first, every tick and
            # right after a canvas got the focus (on_canvas_focus)
            widget.removeEventFilter(self.filters[key])
            widget.installEventFilter(self.filters[key])

        # Krita hands out a new Python wrapper of its Undo and Redo actions each time: mark the action itself, or every
        # tick would connect once more and one Ctrl+Z would be logged many times
        for name, slot in (("edit_undo", self.on_undo), ("edit_redo", self.on_redo)):
            action = self.krita.action(name)
            if action is not None and not action.property(UNDO_HOOKED):
                action.triggered.connect(slot)
                action.setProperty(UNDO_HOOKED, True)

    def on_canvas_focus(self):
        """A click on another view's canvas: Krita's canvas switcher eats that click (it paints nothing) and
        puts its filters ahead of the recorder's. Follow the view as soon as the click is handled, so the
        next stroke is recorded, in the right session, however soon it comes."""
        QTimer.singleShot(0, self.tick)

    def current_view(self):
        workspace = self.runtime.workspace
        return workspace.view if workspace is not None else None

    def view_shown_in(self, widget):
        """The view of the session when ``widget`` is its canvas, else None: the ghost is drawn on a canvas of the
        active window (whose active view is the session's; another window shows other views), and with views side
        by side (Krita's sub-window mode) on the active view's canvas only."""
        if not any(widget is canvas for canvas in self.window_canvases):
            return None
        return self.current_view() if self.active_canvas is None or widget is self.active_canvas else None

    def painting_tool_active(self):
        """Whether the active tool is a freehand painting tool (``PAINTING_TOOLS``; True when no toolbox is found)."""
        window = self.krita.activeWindow()
        tool = active_tool(window.qwindow()) if window is not None else None
        return tool is None or tool in PAINTING_TOOLS

    def on_sample(self, phase, x, y, pressure, ms):
        if phase == "press":
            self.recording_stroke = self.painting_tool_active()
        if self.recording_stroke:
            self.runtime.on_sample(phase, x, y, pressure, ms)

    def on_unmapped_press(self):
        """A press the canvas filter could not map (Krita 5.1's rotated or mirrored canvas): a stroke Krita paints unrecorded."""
        if self.painting_tool_active():
            self.runtime.unmapped_press()

    def on_undo(self, *_args):
        try:
            self.runtime.on_undo()
        except Exception:
            self._caught()

    def on_redo(self, *_args):
        try:
            self.runtime.on_redo()
        except Exception:
            self._caught()

    def accept(self, *_args):
        """Krita's action and the docker's button: ``runtime.accept``, never raising into Krita."""
        try:
            return self.runtime.accept()
        except Exception:
            self._caught()
            return False, self.runtime.message

    def dismiss(self, *_args):
        try:
            return self.runtime.dismiss()
        except Exception:
            self._caught()
            return False, self.runtime.message


APP = None


def get(krita=None):
    """The one PluginApp of this Krita (created on first use)."""
    global APP
    if APP is None:
        from krita import Krita

        APP = PluginApp(krita or Krita.instance())
    return APP
