"""A Qt event filter on Krita's canvas widget: tablet and mouse press / move / release as stroke samples.

The filter never consumes an event; it reads the position, maps it from widget to document pixels
with ``to_document(QPointF) -> (x, y) or None`` and hands samples to ``on_sample(phase, x, y,
pressure, ms)`` (phase ``press``, ``move``, ``release``). Tablet events give pressure; the mouse
gives 1.0. Mouse events Qt synthesizes from a tablet, and mouse events while a tablet stroke is
down, are ignored, so a pen stroke is recorded once. Only the left button (or the pen tip) paints,
and only with no key held: with Space (pan), Shift (brush size), Ctrl (colour picker), Alt or Meta
held, Krita's canvas input turns a drag into a gesture that paints nothing, so the filter hands on
nothing of it (Space is no modifier: the filter follows its key events). When the canvas gets the
keyboard focus the filter calls ``on_focus()``: Krita's canvas switcher has just put its own filters
ahead of this one. A press it cannot map to the document calls ``on_unmapped()``: Krita paints a stroke
that is not recorded. An exception in the filter is counted (``errors``), never raised to Krita.

Mapping (``view_mapping``, and its inverse ``document_mapping`` for the ghost):

- Krita 5.2 and newer: ``View.flakeToCanvasTransform()`` (flake to widget) and
  ``View.flakeToImageTransform()`` (flake to image pixels) give the exact mapping;
- Krita 5.1 has neither; the mapping is estimated from the canvas scroll area's scroll bars and
  ``Canvas.zoomLevel() * 72 / Document.resolution()`` (widget pixels per image pixel). With the
  canvas rotated or mirrored the estimate would be wrong, so nothing is recorded then (None).
"""

import time

from .qt import (QAbstractScrollArea, QDockWidget, QEvent, QMdiArea, QObject, QPointF, Qt, QToolButton, QTransform, QWidget,
                 event_position, synthesized_mouse_event)

TABLET = {QEvent.Type.TabletPress: "press", QEvent.Type.TabletMove: "move", QEvent.Type.TabletRelease: "release"}
MOUSE = {QEvent.Type.MouseButtonPress: "press", QEvent.Type.MouseMove: "move", QEvent.Type.MouseButtonRelease: "release"}
CANVAS_CLASSES = ("KisOpenGLCanvas2", "KisQPainterCanvas")
GESTURE_MODIFIERS = (Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.AltModifier,
                     Qt.KeyboardModifier.MetaModifier)
"""Keys that make a drag on Krita's canvas a gesture (brush size, colour picker, pan, zoom, rotate), not a stroke."""
SPACE_EVENTS = {QEvent.Type.KeyPress: True, QEvent.Type.ShortcutOverride: True, QEvent.Type.KeyRelease: False}


def now_ms():
    return time.monotonic() * 1000.0


class CanvasEventFilter(QObject):
    """Install with ``widget.installEventFilter(filter)``."""

    def __init__(self, to_document, on_sample, on_focus=None, parent=None, on_unmapped=None):
        super().__init__(parent)
        self.to_document = to_document
        self.on_sample = on_sample
        self.on_focus = on_focus
        self.on_unmapped = on_unmapped
        self.tablet_down = False
        self.mouse_down = False
        self.space_down = False
        self.errors = 0

    def eventFilter(self, watched, event):  # noqa: N802 (Qt's name)
        try:
            self._handle(event)
        except Exception:  # never break painting; the docker shows the count
            self.errors += 1
        return False

    def _handle(self, event):
        kind = event.type()
        if kind == QEvent.Type.FocusIn:
            if self.on_focus is not None:
                self.on_focus()
        elif kind == QEvent.Type.FocusOut:
            self.space_down = False  # its release goes to another widget
        elif kind in SPACE_EVENTS:
            if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
                self.space_down = SPACE_EVENTS[kind]
        elif kind in TABLET:
            phase = TABLET[kind]
            if phase == "press":
                if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton) or self._gesture(event):
                    return
                self.tablet_down = True
            elif not self.tablet_down:
                return
            elif phase == "release":
                self.tablet_down = False
            self._sample(phase, event_position(event), event.pressure())
        elif kind in MOUSE:
            if self.tablet_down or synthesized_mouse_event(event):
                return
            phase = MOUSE[kind]
            if phase == "press":
                if event.button() != Qt.MouseButton.LeftButton or self._gesture(event):
                    return
                self.mouse_down = True
            elif not self.mouse_down:
                return
            elif phase == "release":
                if event.button() != Qt.MouseButton.LeftButton:
                    return
                self.mouse_down = False
            self._sample(phase, event_position(event), 1.0)

    def _gesture(self, press):
        """Whether a press starts one of Krita's canvas gestures (a key held), not a stroke."""
        modifiers = press.modifiers()
        return self.space_down or any(modifiers & modifier for modifier in GESTURE_MODIFIERS)

    def _sample(self, phase, position, pressure):
        point = self.to_document(QPointF(position))
        if point is None:
            if phase == "press":
                self.tablet_down = self.mouse_down = False
                if self.on_unmapped is not None:
                    self.on_unmapped()
            return
        self.on_sample(phase, point[0], point[1], float(pressure), now_ms())


def scroll_area_of(widget):
    parent = widget.parentWidget() if widget is not None else None
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def widget_to_document_transform(view, canvas_widget):
    """A QTransform from ``canvas_widget`` pixels to ``view``'s document pixels, or None (see the module's notes)."""
    document = view.document() if view is not None else None
    if document is None:  # no view, or a closed one: Krita 5.2 crashes mapping through a closed view
        return None
    if hasattr(view, "flakeToCanvasTransform") and hasattr(view, "flakeToImageTransform"):
        widget_to_flake, invertible = view.flakeToCanvasTransform().inverted()
        return widget_to_flake * view.flakeToImageTransform() if invertible else None
    canvas = view.canvas()
    if canvas is None or unmapped_reason(view):
        return None
    scale = canvas.zoomLevel() * 72.0 / max(1e-6, float(document.resolution()))
    if scale <= 0:
        return None
    area = scroll_area_of(canvas_widget)
    dx = area.horizontalScrollBar().value() if area is not None else 0
    dy = area.verticalScrollBar().value() if area is not None else 0
    return QTransform(1.0 / scale, 0.0, 0.0, 1.0 / scale, dx / scale, dy / scale)  # document = (widget + scroll) / scale


UNMAPPED = "Krita 5.1 does not tell where a rotated or mirrored canvas shows the document"


def unmapped_reason(view):
    """Why no stroke on ``view``'s canvas can be recorded or previewed (``UNMAPPED``: Krita 5.1 with the canvas rotated
    or mirrored), or ""."""
    if view is None or view.document() is None or hasattr(view, "flakeToCanvasTransform"):
        return ""
    canvas = view.canvas()
    return UNMAPPED if canvas is not None and (canvas.rotation() % 360 or canvas.mirror()) else ""


def view_mapping(current_view, canvas_widget):
    """``to_document(QPointF) -> (x, y) or None`` for a canvas widget; ``current_view()`` is the Krita view painted in now."""

    def to_document(point):
        transform = widget_to_document_transform(current_view(), canvas_widget)
        if transform is None:
            return None
        image = transform.map(QPointF(point))
        return image.x(), image.y()

    return to_document


def document_mapping(current_view, canvas_widget):
    """``to_widget() -> QTransform or None``: document to ``canvas_widget`` pixels now, the inverse of ``view_mapping``."""

    def to_widget():
        transform = widget_to_document_transform(current_view(), canvas_widget)
        inverse, invertible = transform.inverted() if transform is not None else (None, False)
        return inverse if invertible else None

    return to_widget


TOOLBOX = "ToolBox"
"""The object name of Krita's toolbox docker."""


def canvas_widgets(qwindow):
    """The canvas widgets of a Krita main window (one per open view), and the current view's one when
    views are side by side (Krita's sub-window mode), else None: in tabs only the current view's canvas
    shows, and the document area's current sub-window can lag behind Krita's active view there (found
    in a virtual display).

    Looked for under the views of the window's document area only: wrapping each of the window's
    thousands of widgets in Python took about 40 ms of Krita's main thread (measured in the
    real-window test), every tick. A window without a document area is searched whole.
    """
    area = qwindow.findChild(QMdiArea)
    if area is None:
        return canvases_under(qwindow), None
    current = area.currentSubWindow() if area.viewMode() == QMdiArea.ViewMode.SubWindowView else None
    canvases, current_canvas = [], None
    for window in area.subWindowList():
        found = canvases_under(window.widget()) if window.widget() is not None else []
        canvases += found
        if found and window is current:
            current_canvas = found[0]
    return canvases, current_canvas


def canvases_under(widget):
    return [child for child in widget.findChildren(QWidget) if child.metaObject().className() in CANVAS_CLASSES]


def active_tool(qwindow):
    """The id of the checked toolbox button (``KritaShape/KisToolBrush``...), or None if none is found.

    Looked for in the toolbox docker (``ToolBox``) when there is one: all of the window's tool
    buttons took about 30 ms of Krita's main thread, at each stroke's press.
    """
    toolbox = qwindow.findChild(QDockWidget, TOOLBOX)
    for button in (toolbox or qwindow).findChildren(QToolButton):
        name = button.objectName()
        if button.isCheckable() and button.isChecked() and ("/" in name or name.startswith(("Kis", "Krita", "Ko"))):
            return name
    return None
