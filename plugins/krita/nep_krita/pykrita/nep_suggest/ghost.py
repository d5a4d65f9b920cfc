"""The ghost: the suggested stroke previewed on a temporary layer above the active one.

The layer is named ``GHOST_LAYER``, painted with the stroke's colour at ``GHOST_ALPHA`` and
removed again on Accept, Dismiss, a new stroke or a new suggestion. It is not part of the
document's undo history (Krita's Python API adds layers outside it), the recorder never counts it
as a layer, and it never stays the active layer.
"""

from . import painter
from .workspace import GHOST_LAYER

GHOST_ALPHA = 0.45


class Ghost:
    def __init__(self):
        self.node = self.document = self.above = None

    def show(self, document, above, stroke, canvas):
        """Preview ``stroke`` above the layer ``above``; False when it cannot be shown."""
        self.clear()
        raster = painter.rasterize(stroke.points, stroke.color, stroke.size, canvas, alpha=GHOST_ALPHA)
        parent = above.parentNode() if above is not None else None
        if raster is None or parent is None:
            return False
        node = document.createNode(GHOST_LAYER, "paintlayer")
        if node is None or not parent.addChildNode(node, above):
            return False
        (x, y, w, h), data = raster
        node.setPixelData(data, x, y, w, h)
        node.setLocked(True)
        self.node, self.document, self.above = node, document, above
        self.keep_inactive()
        document.refreshProjection()
        return True

    def keep_inactive(self):
        """Give the painter's layer back if the ghost's became the active one (call on every tick).

        A Krita window makes a new layer active, at once or a moment later; left so, the painter's
        next stroke would go to the locked ghost layer and paint nothing.
        """
        if self.node is None:
            return
        active = self.document.activeNode()
        if active is not None and active.uniqueId() == self.node.uniqueId():
            self.document.setActiveNode(self.above)

    def clear(self):
        if self.node is not None:
            try:
                self.node.remove()
                self.document.refreshProjection()
            except RuntimeError:  # the document was closed
                pass
        self.node = self.document = self.above = None
