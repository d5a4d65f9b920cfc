"""The ghost: the suggested stroke drawn over Krita's canvas, on an overlay that never touches the document.

Each canvas widget the plugin follows gets a transparent ``GhostOverlay`` child (it lets every mouse
and tablet event through). The overlay draws the stroke in its colour at ``GHOST_ALPHA``, mapped
from document to widget pixels by the view's current zoom and scroll, and repaints when the canvas
does. No layer is added, so the ghost is never in the undo history, the layer stack or a saved file,
and never the active layer.
"""

import math

from .qt import QColor, QEvent, QPainter, QPen, QPointF, Qt, QWidget

GHOST_ALPHA = 0.45


class Ghost:
    """The stroke previewed now (or None) and the overlays that draw it."""

    def __init__(self):
        self.stroke = None
        self.overlays = []

    @property
    def shown(self):
        return self.stroke is not None and any(overlay.isVisible() for overlay in self.overlays)

    def attach(self, canvas_widget, to_widget):
        """Draw on ``canvas_widget``; ``to_widget()`` is the QTransform from document to its pixels now (None: unknown)."""
        overlay = GhostOverlay(canvas_widget, to_widget, self)
        self.overlays.append(overlay)
        canvas_widget.destroyed.connect(lambda *_args: self._forget(overlay))
        return overlay

    def show(self, stroke):
        """Preview ``stroke`` (``Stroke`` of strokes.py, in document pixels)."""
        self.stroke = stroke
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
        if event.type() == QEvent.Type.Resize:
            self.setGeometry(watched.rect())
        elif event.type() == QEvent.Type.Paint and self.ghost.stroke is not None:
            self.update()  # zoom and scroll repaint the canvas: follow them
        return False

    def paintEvent(self, _event):  # noqa: N802 (Qt's name)
        stroke = self.ghost.stroke
        if stroke is None:
            return
        transform = self.to_widget()
        if transform is None:
            return
        mapped = [transform.map(QPointF(x, y)) for x, y, *_rest in stroke.points]
        scale = math.sqrt(abs(transform.determinant()))  # widget px per document px
        colour = QColor(stroke.color)
        colour.setAlphaF(GHOST_ALPHA)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)  # overlapping segments do not darken
        for (a, b), point_a, point_b in zip(zip(stroke.points, stroke.points[1:]), mapped, mapped[1:]):
            width = max(1.0, stroke.size * (a[2] + b[2]) / 2.0 * scale)
            painter.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
            painter.drawLine(point_a, point_b)
        painter.end()
