"""The draw phase: paint one L-shaped mouse stroke on Krita's real canvas and report the pixels and the log.

The document gets a transparent paint layer, so the pixels Krita painted are those with alpha; the
stroke is sent to the visible canvas widget in widget pixels, around its centre, where the document
is shown at Krita's fit-to-view zoom.
"""

import sys
import traceback

from krita import Krita
from PyQt5.QtCore import QEvent, QPointF, Qt, QTimer
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtWidgets import QApplication, QWidget

WIDTH, HEIGHT = 400, 300
BRUSH_SIZE = 4.0
CANVAS_CLASSES = ("KisOpenGLCanvas2", "KisQPainterCanvas")
VIEW_READY_MS = 1500  # the new view's canvas is laid out and the NEP plugin's tick has hooked it
PAINT_DONE_MS = 1500  # Krita paints a stroke asynchronously


def later(milliseconds, function, report, *args):
    """Call ``function(*args, report)`` after a while; an exception is reported, not lost in Qt's event loop."""

    def call():
        try:
            function(*args, report)
        except Exception:
            report({"error": traceback.format_exc()})

    QTimer.singleShot(milliseconds, call)


def start(report):
    """Open the document in a view, then draw, then ``report(result)``."""
    app = Krita.instance()
    document = app.createDocument(WIDTH, HEIGHT, "nep-draw", "RGBA", "U8", "", 72.0)
    layer = document.createNode("ink", "paintlayer")
    document.rootNode().addChildNode(layer, None)
    document.setActiveNode(layer)
    view = app.activeWindow().addView(document)
    view.setBrushSize(BRUSH_SIZE)
    later(VIEW_READY_MS, draw, report, document, layer)


def send(widget, kind, x, y, button, buttons):
    QApplication.sendEvent(widget, QMouseEvent(kind, QPointF(x, y), button, buttons, Qt.NoModifier))


def draw(document, layer, report):
    window = Krita.instance().activeWindow().qwindow()
    canvas = next(widget for widget in window.findChildren(QWidget)
                  if widget.metaObject().className() in CANVAS_CLASSES and widget.isVisible())
    cx, cy = canvas.width() / 2, canvas.height() / 2
    path = [(cx - 120 + 8 * step, cy - 60) for step in range(31)] + [(cx + 120, cy - 60 + 8 * step) for step in range(1, 16)]
    send(canvas, QEvent.MouseButtonPress, *path[0], Qt.LeftButton, Qt.LeftButton)
    for x, y in path[1:]:
        send(canvas, QEvent.MouseMove, x, y, Qt.NoButton, Qt.LeftButton)
        QApplication.processEvents()
    send(canvas, QEvent.MouseButtonRelease, *path[-1], Qt.LeftButton, Qt.NoButton)
    later(PAINT_DONE_MS, finish, report, document, layer, canvas)


def finish(document, layer, canvas, report):
    document.waitForDone()
    data = bytes(layer.pixelData(0, 0, WIDTH, HEIGHT))
    painted = [[x, y] for y in range(HEIGHT) for x in range(WIDTH) if data[(y * WIDTH + x) * 4 + 3] > 0]
    from nep_suggest import app as plugin_app  # the plugin Krita loaded, not a second copy

    plugin = plugin_app.get()
    document.setModified(False)  # close without a "save changes?" question
    report({"canvas_class": canvas.metaObject().className(), "painted": painted, "log": plugin.runtime.log_path(),
            "hooked_canvases": len(plugin.filters), "plugin_error": plugin.error,
            "forbidden_modules": sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "nep_core", "nep_krita"))})
