"""The ghost: the suggested stroke drawn over Krita's canvas, on an overlay that never touches the document.

Each canvas widget the plugin follows gets a transparent ``GhostOverlay`` child (it lets every mouse
and tablet event through). The overlay draws the stroke in its colour at ``GHOST_ALPHA``, mapped
from document to widget pixels by the view's current zoom and scroll, and repaints when the canvas
does; a canvas that does not show the session's document draws nothing (its ``to_widget()`` is None).
With Krita's eraser mode on, Accept erases: the ghost is then a light band hatched in dark grey
(``ERASER_BAND``, ``ERASER_HATCH``), never the foreground colour. No layer is added, so the ghost is
never in the undo history, the layer stack or a saved file, and never the active layer. An
exception in the overlay's Qt callbacks is counted (``Ghost.errors``), never raised to Krita.
"""

import math

from .qt import QBrush, QColor, QEvent, QPainter, QPen, QPointF, Qt, QWidget

GHOST_ALPHA = 0.45
ERASER_BAND = QColor(255, 255, 255, 150)
ERASER_HATCH = QColor(64, 64, 64, 220)


class Ghost:
    """The stroke previewed now (or None) and the overlays that draw it."""

    def __init__(self):
        self.stroke = None
        self.erasing = False
        self.overlays = []
        self.errors = 0

    @property
    def shown(self):
        return self.stroke is not None and any(overlay.isVisible() for overlay in self.overlays)

    def attach(self, canvas_widget, to_widget):
        """Draw on ``canvas_widget``; ``to_widget()`` is the QTransform from document to its pixels now (None: unknown)."""
        overlay = GhostOverlay(canvas_widget, to_widget, self)
        self.overlays.append(overlay)
        canvas_widget.destroyed.connect(lambda *_args: self._forget(overlay))
        return overlay

    def show(self, stroke, erasing=False):
        """Preview ``stroke`` (``Stroke`` of strokes.py, in document pixels); ``erasing``: as what Accept erases."""
        self.stroke, self.erasing = stroke, erasing
        self.refresh()

    def clear(self):
        self.stroke = None
        self.refresh()

    def refresh(self):
        for overlay in self.overlays:
            overlay.update()

    def _forget(self, overlay):
        if overlay in self.overlays:
            self.overlays.remove(overlay)


class GhostOverlay(QWidget):
    def __init__(self, canvas_widget, to_widget, ghost):
        super().__init__(canvas_widget)
        self.to_widget = to_widget
        self.ghost = ghost
        self.setObjectName("nep_suggest_ghost")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground, True)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setGeometry(canvas_widget.rect())
        canvas_widget.installEventFilter(self)
        self.show()

    def eventFilter(self, watched, event):  # noqa: N802 (Qt's name)
        try:
            if event.type() == QEvent.Type.Resize:
                self.setGeometry(watched.rect())
            elif event.type() == QEvent.Type.Paint and self.ghost.stroke is not None:
                self.update()  # zoom and scroll repaint the canvas: follow them
        except Exception:  # never break Krita's canvas
            self.ghost.errors += 1
        return False

    def paintEvent(self, _event):  # noqa: N802 (Qt's name)
        try:
            self._paint()
        except Exception:
            self.ghost.errors += 1

    def _paint(self):
        stroke = self.ghost.stroke
        transform = self.to_widget() if stroke is not None else None
        if transform is None:
            return
        mapped = [transform.map(QPointF(x, y)) for x, y, *_rest in stroke.points]
        scale = math.sqrt(abs(transform.determinant()))  # widget px per document px
        colour = QColor(stroke.color)
        colour.setAlphaF(GHOST_ALPHA)
        # the band replaces what it covers (overlapping segments do not darken); the eraser's hatch goes over it
        passes = [(QBrush(ERASER_BAND if self.ghost.erasing else colour), QPainter.CompositionMode.CompositionMode_Source)]
        if self.ghost.erasing:
            passes.append((QBrush(ERASER_HATCH, Qt.BrushStyle.BDiagPattern), QPainter.CompositionMode.CompositionMode_SourceOver))
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            for brush, mode in passes:
                painter.setCompositionMode(mode)
                for (a, b), point_a, point_b in zip(zip(stroke.points, stroke.points[1:]), mapped, mapped[1:]):
                    width = max(1.0, stroke.size * (a[2] + b[2]) / 2.0 * scale)
                    painter.setPen(QPen(brush, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
                    painter.drawLine(point_a, point_b)
        finally:
            painter.end()
