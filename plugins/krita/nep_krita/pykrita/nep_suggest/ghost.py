"""The ghost: the suggested stroke previewed on a temporary layer above the active one.

The layer is named ``GHOST_LAYER``, painted with the stroke's colour at ``GHOST_ALPHA`` and
removed again on Accept, Dismiss, a new stroke or a new suggestion. It is not part of the
document's undo history (Krita's Python API adds layers outside it), and the recorder never
counts it as a layer.
"""

from . import painter
from .workspace import GHOST_LAYER

GHOST_ALPHA = 0.45


class Ghost:
    def __init__(self):
        self.node = None
        self.document = None

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
        document.refreshProjection()
        self.node, self.document = node, document
        return True

    def clear(self):
        if self.node is not None:
            try:
                self.node.remove()
                self.document.refreshProjection()
            except RuntimeError:  # the document was closed
                pass
        self.node = self.document = None
