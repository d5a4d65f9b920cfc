"""Qt as the running Krita has it: PyQt5 in Krita 5, PyQt6 in Krita 6.

Every module of the plugin takes Qt from here and names enum values with their enum
(``Qt.MouseButton.LeftButton``), which both bindings accept. PyQt5 is tried first: Krita 6 refuses
to import it, while Krita 5 might find a PyQt6 installed beside it, whose Qt 6 must not load into
Krita 5's Qt 5. The calls Qt 6 renamed or dropped are wrapped below.
"""

try:
    from PyQt5 import QtCore, QtGui, QtWidgets
except ImportError:  # Krita 6: "This version of Krita is not compatible with PyQt5!"
    from PyQt6 import QtCore, QtGui, QtWidgets

QT_MAJOR = int(QtCore.QT_VERSION_STR.split(".")[0])

QEvent, QObject, QPoint, QPointF, Qt, QTimer = (QtCore.QEvent, QtCore.QObject, QtCore.QPoint, QtCore.QPointF, QtCore.Qt,
                                                QtCore.QTimer)
QBrush, QColor, QImage, QKeySequence, QMouseEvent, QPainter, QPainterPath, QPen, QRegion, QTabletEvent, QTransform = (
    QtGui.QBrush, QtGui.QColor, QtGui.QImage, QtGui.QKeySequence, QtGui.QMouseEvent, QtGui.QPainter, QtGui.QPainterPath,
    QtGui.QPen, QtGui.QRegion, QtGui.QTabletEvent, QtGui.QTransform)
(QAbstractScrollArea, QApplication, QCheckBox, QDialog, QDialogButtonBox, QDockWidget, QDoubleSpinBox, QFormLayout,
 QHBoxLayout, QLabel, QLineEdit, QMdiArea, QPushButton, QToolButton, QVBoxLayout, QWidget) = (
    QtWidgets.QAbstractScrollArea, QtWidgets.QApplication, QtWidgets.QCheckBox, QtWidgets.QDialog,
    QtWidgets.QDialogButtonBox, QtWidgets.QDockWidget, QtWidgets.QDoubleSpinBox, QtWidgets.QFormLayout,
    QtWidgets.QHBoxLayout, QtWidgets.QLabel, QtWidgets.QLineEdit, QtWidgets.QMdiArea, QtWidgets.QPushButton,
    QtWidgets.QToolButton, QtWidgets.QVBoxLayout, QtWidgets.QWidget)


def event_position(event):
    """Where a mouse or tablet event happened, in the receiving widget's pixels (a QPointF)."""
    if QT_MAJOR >= 6:
        return event.position()
    return event.posF() if isinstance(event, QTabletEvent) else event.localPos()


SYNTHESIZING_DEVICES = ((QtGui.QInputDevice.DeviceType.Stylus, QtGui.QInputDevice.DeviceType.Airbrush,
                         QtGui.QInputDevice.DeviceType.Puck, QtGui.QInputDevice.DeviceType.TouchScreen)
                        if QT_MAJOR >= 6 else ())


def synthesized_mouse_event(event):
    """Whether Qt made this mouse event from a tablet's or a touch screen's."""
    if QT_MAJOR >= 6:  # Qt 6 hands a synthesized mouse event the device it came from
        device = event.pointingDevice()
        return device is not None and device.type() in SYNTHESIZING_DEVICES
    return event.source() != Qt.MouseEventSource.MouseEventNotSynthesized


def image_bytes(image):
    """A QImage's pixels, as bytes in memory order."""
    return bytes(image.constBits().asarray(image.sizeInBytes()))


_PEN = []  # Qt 6's events point at their device: keep it alive


def _pen():
    if not _PEN:
        _PEN.append(QtGui.QPointingDevice(
            "NEP pen", 1, QtGui.QInputDevice.DeviceType.Stylus, QtGui.QPointingDevice.PointerType.Pen,
            QtGui.QInputDevice.Capability.Position | QtGui.QInputDevice.Capability.Pressure, 1, 3))
    return _PEN[0]


def pen_mouse_event(kind, position, button, buttons):
    """The QMouseEvent Qt makes from a pen's event that no widget took (the tests send these)."""
    if QT_MAJOR >= 6:
        return QMouseEvent(kind, position, position, position, button, buttons, Qt.KeyboardModifier.NoModifier, _pen())
    return QMouseEvent(kind, position, position, position, button, buttons, Qt.KeyboardModifier.NoModifier,
                       Qt.MouseEventSource.MouseEventSynthesizedBySystem)


def pen_tablet_event(kind, position, pressure, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    """A QTabletEvent of a pen tip at ``position`` (widget pixels), as a tablet sends it (the tests send these)."""
    if QT_MAJOR >= 6:
        return QTabletEvent(kind, _pen(), position, position, pressure, 0.0, 0.0, 0.0, 0.0, 0.0, modifiers, button, buttons)
    return QTabletEvent(kind, position, position, QTabletEvent.TabletDevice.Stylus, QTabletEvent.PointerType.Pen, pressure,
                        0, 0, 0.0, 0.0, 0, modifiers, 1, button, buttons)
