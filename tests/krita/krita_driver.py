"""Runs inside real Krita (``kritarunner -s krita_driver -f main``) and writes what it saw to a JSON file.

tests/krita/test_krita_plugin.py builds the plugin zip, extracts it, and runs this script with the
extracted folder on PYTHONPATH. kritarunner exits 0 even when a script raises, so every scenario's
outcome, or its traceback, goes to ``$NEP_DRIVER_RESULT``. Krita opens no window here (``openWindow``
crashes offscreen), so there is no ``View``: the workspace gets the brush as a dict, and a plain
QWidget stands in for the canvas widget the event filter watches.
"""

import json
import math
import os
import sys
import time
import traceback


def layer_bytes(node, width, height):
    return bytes(node.pixelData(0, 0, width, height))


def pixel(data, width, x, y):
    offset = (y * width + x) * 4
    b, g, r, a = data[offset:offset + 4]
    return [r, g, b, a]


def new_document(name, width=200, height=150):
    from krita import Krita

    document = Krita.instance().createDocument(width, height, name, "RGBA", "U8", "", 72.0)
    layer = document.createNode("Ink", "paintlayer")
    document.rootNode().addChildNode(layer, None)
    document.waitForDone()
    return document


def new_runtime(document, log_folder, server="", enabled=False, brush=None, min_confidence=0.0, min_stroke_probability=0.0):
    from nep_suggest.runtime import Runtime
    from nep_suggest.settings import Settings
    from nep_suggest.workspace import Workspace

    if min_confidence is None:  # the plugin's default setting
        min_confidence = Settings().min_confidence
    settings = Settings(server_url=server or "http://127.0.0.1:9", enabled=enabled, record=True, min_confidence=min_confidence,
                        log_folder=log_folder, min_stroke_probability=min_stroke_probability)
    runtime = Runtime(settings, time.monotonic, app_name="Krita test")
    runtime.start(Workspace(document, None, brush or {"brush": "b) Basic-5 Size", "color": "#ff0000", "size": 6.0, "opacity": 1.0}))
    return runtime


def suggestion(kind, **args):
    return {"action": {"kind": kind, "args": args}, "probability": 0.9, "confidence": 0.9, "shown_at": 0.0}


def scenario_load(home):
    import nep_suggest
    from krita import Krita

    from nep_suggest.docker import NepDocker, SettingsDialog

    docker = NepDocker()
    dialog = SettingsDialog(docker.app.settings, docker)
    docker_seen = {"title": docker.windowTitle(), "suggestion": docker.suggestion.text(), "status": docker.status.text(),
                   "accept_enabled": docker.accept_button.isEnabled(), "dismiss_enabled": docker.dismiss_button.isEnabled(),
                   "enabled_checked": docker.enabled.isChecked(), "settings_dialog_url": dialog.url.text(),
                   "settings_dialog_round_trip": dialog.result_settings() == docker.app.settings, "unsure_floor_text": dialog.unsure.text()}
    docker.app.timer.stop()
    return {
        "docker": docker_seen,
        "registered": list(nep_suggest.REGISTERED),
        "extensions": [type(extension).__name__ for extension in Krita.instance().extensions()],
        "forbidden_modules": sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "nep_core", "nep_krita")),
        "module_file": nep_suggest.__file__,
        "krita_version": Krita.instance().version(),
    }


def overlay_image(overlay):
    """What the ghost's overlay paints, on transparency."""
    from nep_suggest.qt import QImage, QPoint, QRegion, Qt, QWidget

    image = QImage(overlay.width(), overlay.height(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    overlay.render(image, QPoint(), QRegion(), QWidget.RenderFlag.DrawChildren)
    return image


def overlay_pixel(image, x, y):
    from nep_suggest.qt import QColor

    colour = QColor.fromRgba(image.pixel(x, y))
    return [colour.red(), colour.green(), colour.blue(), colour.alpha()]


def scenario_accept(home):
    from krita import Node
    from nep_suggest import painter
    from nep_suggest.qt import Qt, QTransform, QWidget

    width, height = 200, 150
    document = new_document("accept", width, height)
    runtime = new_runtime(document, os.path.join(home, "logs-accept"))
    out = {"view_paints": painter.view_paints_into(document, runtime.workspace.active_node())}

    # The ghost: drawn on an overlay of the canvas widget, here a stand-in showing the document at 200 %,
    # scrolled so that document (-5, -2.5) is at its corner; the document is not touched. Removed on Dismiss.
    canvas = QWidget()
    canvas.resize(2 * width + 10, 2 * height + 5)
    overlay = runtime.ghost.attach(canvas, lambda: QTransform(2.0, 0.0, 0.0, 2.0, 10.0, 5.0))
    line = suggestion("stroke", points=[[20, 30, 1.0, 0], [180, 30, 1.0, 8]], color="#00ff00", size=6.0, opacity=1.0, brush="")
    before = layer_bytes(runtime.workspace.active_node(), width, height)
    runtime.suggestion = None
    runtime._set_suggestion(dict(line))
    out["ghost_stroke"] = runtime.ghost.stroke is not None
    out["layers_with_ghost"] = [node.name() for node in document.topLevelNodes()]
    drawn = overlay_image(overlay)
    out["ghost_pixel"] = overlay_pixel(drawn, 210, 65)  # document (100, 30), the middle of the line
    out["ghost_edge"] = [overlay_pixel(drawn, 210, 65 + offset)[3] for offset in (4, 10)]  # 12 widget px wide
    out["ghost_beyond_the_ends"] = [overlay_pixel(drawn, x, 65)[3] for x in (40, 380)]
    out["overlay_lets_events_through"] = overlay.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    out["dismiss"] = runtime.dismiss()
    out["ghost_after_dismiss"] = overlay_pixel(overlay_image(overlay), 210, 65)
    out["layers_after_dismiss"] = [node.name() for node in document.topLevelNodes()]
    out["unchanged_after_dismiss"] = layer_bytes(runtime.workspace.active_node(), width, height) == before

    # Refused suggestions paint nothing.
    refused = {
        "off_canvas": suggestion("stroke", points=[[-40, 30, 1.0, 0], [100, 30, 1.0, 8]], color="#000000", size=4.0, opacity=1.0),
        "malformed": suggestion("stroke", points=[["a", 1], [2, 3]], color="#000000", size=4.0, opacity=1.0),
        "single_point": suggestion("stroke", points=[[10, 10, 1.0, 0]], color="#000000", size=4.0, opacity=1.0),
        "same_points": suggestion("stroke", points=[[10, 10, 1.0, 0], [10, 10, 1.0, 8]], color="#000000", size=4.0, opacity=1.0),
        "unknown_kind": suggestion("explode"),
        "bad_color": suggestion("color", color="red"),
        "no_such_layer": suggestion("layer.switch", index=9),
    }
    out["refused"] = {}
    for name, item in refused.items():
        runtime.suggestion = item
        out["refused"][name] = list(runtime.accept())
    # A stroke where Krita's brush would not paint is refused too: a locked or hidden layer, or one in a locked group.
    ink = runtime.workspace.active_node()
    out["refused_unpaintable"] = {}
    for name, change in (("locked", ink.setLocked), ("hidden", lambda on: ink.setVisible(not on))):
        change(True)
        runtime._set_suggestion(dict(line))
        out["refused_unpaintable"][name] = list(runtime.accept())
        change(False)
    group, inside = document.createGroupLayer("Locked group"), document.createNode("In a group", "paintlayer")
    document.rootNode().addChildNode(group, None)
    group.addChildNode(inside, None)
    group.setLocked(True)
    out["refused_unpaintable"]["in_locked_group"] = painter.why_not_paintable(inside)
    out["paintable_after_unlocking"] = painter.why_not_paintable(ink)
    group.remove()
    out["unchanged_after_refusals"] = layer_bytes(runtime.workspace.active_node(), width, height) == before
    out["layers_after_refusals"] = [node.name() for node in document.topLevelNodes()]

    # Accept paints the stroke with the current brush (red, 6 px), as one step, into the active layer.
    runtime._set_suggestion(dict(line))
    out["accept"] = list(runtime.accept())
    document.waitForDone()
    active = runtime.workspace.active_node()
    after = layer_bytes(active, width, height)
    out["active_after_accept"] = active.name()
    out["layers_after_accept"] = [node.name() for node in document.topLevelNodes()]
    out["on_path"] = [pixel(after, width, x, 30) for x in (20, 60, 100, 140, 180)]
    out["off_path"] = [pixel(after, width, x, y) for x, y in ((100, 20), (100, 40), (10, 30), (190, 30), (100, 100))]
    out["painted_pixels"] = sum(1 for i in range(3, len(after), 4) if after[i])

    # A light stroke (pressure 0.5): the ghost shows it as wide as Accept then paints it
    light = suggestion("stroke", points=[[20, 100, 0.5, 0], [180, 100, 0.5, 8]], color="#00ff00", size=6.0, opacity=1.0, brush="")
    runtime._set_suggestion(dict(light))
    column = [overlay_pixel(overlay_image(overlay), 210, y)[3] for y in range(2 * 100 + 5 - 20, 2 * 100 + 5 + 20)]  # document x 100
    out["light_ghost_rows"] = sum(1 for alpha in column if alpha > max(column) / 2)  # widget pixels across the line
    out["light_accept"] = list(runtime.accept())
    document.waitForDone()
    light_painted = layer_bytes(runtime.workspace.active_node(), width, height)
    out["light_painted_rows"] = sum(1 for y in range(85, 115) if pixel(light_painted, width, 100, y)[3] > 127)
    out["has_paint_path"] = hasattr(Node, "paintPath")

    # Discrete actions run through the workspace.
    runtime.suggestion = suggestion("layer.new", name="Shading")
    out["layer_new"] = list(runtime.accept())
    out["active_after_layer_new"] = runtime.workspace.active_node().name()
    runtime.suggestion = suggestion("layer.switch", index=0)
    out["layer_switch"] = list(runtime.accept())
    out["active_after_layer_switch"] = runtime.workspace.active_node().name()
    out["log"] = runtime.log_path()
    runtime.close()
    return out


def send_tablet(widget, phase, x, y, pressure):
    from nep_suggest.qt import QApplication, QEvent, QPointF, Qt, pen_tablet_event

    kind = {"press": QEvent.Type.TabletPress, "move": QEvent.Type.TabletMove, "release": QEvent.Type.TabletRelease}[phase]
    button = Qt.MouseButton.LeftButton if phase != "move" else Qt.MouseButton.NoButton
    buttons = Qt.MouseButton.LeftButton if phase != "release" else Qt.MouseButton.NoButton
    QApplication.sendEvent(widget, pen_tablet_event(kind, QPointF(x, y), pressure, button, buttons))


def send_mouse(widget, phase, x, y, button=None, from_pen=False):
    """A mouse event; ``from_pen``: one Qt made from a pen's event (Krita's canvas gets both)."""
    from nep_suggest.qt import QApplication, QEvent, QMouseEvent, QPointF, Qt, pen_mouse_event

    button = button or Qt.MouseButton.LeftButton
    kind = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove, "release": QEvent.Type.MouseButtonRelease}[phase]
    pressed = button if phase != "move" else Qt.MouseButton.NoButton
    held = button if phase != "release" else Qt.MouseButton.NoButton
    if from_pen:
        event = pen_mouse_event(kind, QPointF(x, y), pressed, held)
    else:
        event = QMouseEvent(kind, QPointF(x, y), QPointF(x, y), pressed, held, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def scenario_record(home):
    from nep_suggest.canvas_events import CanvasEventFilter
    from nep_suggest.qt import Qt, QWidget

    document = new_document("record", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-record"))
    canvas = QWidget()
    canvas.resize(400, 300)
    # The view shows the document at 200 % zoom, scrolled so that document (10, 5) is at the widget's corner.
    event_filter = CanvasEventFilter(lambda point: (point.x() / 2 + 10, point.y() / 2 + 5), runtime.on_sample)
    canvas.installEventFilter(event_filter)

    send_tablet(canvas, "press", 40, 40, 0.2)  # a pen stroke, pressure rising: (30, 25) to (130, 75)
    for step in range(1, 10):
        send_tablet(canvas, "move", 40 + step * 20, 40 + step * 10, 0.2 + step * 0.08)
    send_tablet(canvas, "release", 240, 140, 1.0)
    send_mouse(canvas, "press", 240, 20, from_pen=True)  # the mouse events Qt made of a pen's: not a second stroke
    send_mouse(canvas, "move", 300, 40, from_pen=True)
    send_mouse(canvas, "release", 360, 60, from_pen=True)

    runtime.workspace.brush["color"] = "#0000ff"  # the painter picks blue
    send_mouse(canvas, "press", 20, 200)  # a mouse stroke with a bend: (20, 105) (70, 105) (70, 130)
    for x in range(30, 121, 10):
        send_mouse(canvas, "move", x, 200)
    for y in range(210, 251, 10):
        send_mouse(canvas, "move", 120, y)
    send_mouse(canvas, "release", 120, 250)

    send_mouse(canvas, "press", 300, 100)  # a click: a single point, skipped
    send_mouse(canvas, "release", 300, 100)
    send_mouse(canvas, "press", 300, 100, Qt.MouseButton.RightButton)  # the right button does not paint
    send_mouse(canvas, "move", 350, 120)
    send_mouse(canvas, "release", 350, 120, Qt.MouseButton.RightButton)

    send_tablet(canvas, "press", 100, 20, 0.5)  # NaN pressure in the middle is taken as 1.0
    send_tablet(canvas, "move", 150, 20, float("nan"))
    send_tablet(canvas, "release", 200, 20, 0.5)

    off = CanvasEventFilter(lambda point: (point.x() + 1000, point.y()), runtime.on_sample)  # wholly off the canvas
    canvas.removeEventFilter(event_filter)
    canvas.installEventFilter(off)
    send_tablet(canvas, "press", 10, 10, 0.5)
    send_tablet(canvas, "move", 50, 10, 0.5)
    send_tablet(canvas, "release", 90, 10, 0.5)
    canvas.removeEventFilter(off)

    out = {"log": runtime.log_path(), "skipped": dict(runtime.skipped), "fixes": dict(runtime.builder.fixes),
           "filter_errors": event_filter.errors + off.errors}
    runtime.close()
    return out


def hatch_and_wait_for_an_answer(runtime):
    """Record eight hatch lines (parallel diagonals 16 px apart) and tick until the server has answered."""
    from nep_suggest.qt import QApplication

    for index in range(8):
        x = 40 + 16 * index
        runtime.record_stroke([[x, 40.0, 0.6, 0.0], [x + 32, 72.0, 0.7, 40.0], [x + 64, 104.0, 0.6, 80.0]])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runtime.tick()
        QApplication.processEvents()
        if runtime.status in ("ok", "error", "unreachable") and runtime.asked_generation == runtime.generation:
            break
        time.sleep(0.05)


def docker_text(runtime):
    """What the docker's suggestion line says about ``runtime``'s last answer."""
    from nep_suggest.docker import NepDocker

    docker = NepDocker()
    docker.app.timer.stop()
    docker.app.runtime = runtime
    docker.refresh()
    return docker.suggestion.text()


def scenario_server(home):
    from nep_suggest.qt import QApplication

    server = os.environ["NEP_DRIVER_SERVER"]
    document = new_document("server", 256, 256)
    default_confidence = os.environ.get("NEP_DRIVER_DEFAULT_CONFIDENCE") == "1"
    runtime = new_runtime(document, os.path.join(home, "logs-server"), server=server, enabled=True,
                          brush={"brush": "b) Basic-5 Size", "color": "#000000", "size": 4.0, "opacity": 1.0},
                          min_confidence=None if default_confidence else 0.0,
                          min_stroke_probability=float(os.environ.get("NEP_DRIVER_MIN_STROKE_PROBABILITY", "0")))
    hatch_and_wait_for_an_answer(runtime)
    out = {"answers": []}
    out["status"], out["message"] = runtime.status, runtime.message
    out["hidden"] = runtime.hidden
    out["docker_text"] = docker_text(runtime)
    out["min_confidence"] = runtime.settings.min_confidence
    out["suggestion"] = runtime.suggestion
    out["ghost"] = runtime.ghost.stroke is not None
    if runtime.suggestion is not None:
        out["accept"] = list(runtime.accept())
    else:
        runtime.suggestion = suggestion("stroke", points=[[300, 10, 1.0, 0], [310, 10, 1.0, 8]], color="#000000", size=4.0, opacity=1.0)
        out["accept"] = list(runtime.accept())  # off this 256 px canvas: refused, and the server hears it
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and runtime.feedback_sent < 1 and not runtime.outcome.startswith("Feedback not sent"):
        runtime.tick()
        QApplication.processEvents()
        time.sleep(0.05)
    out["feedback_sent"], out["outcome"], out["session"] = runtime.feedback_sent, runtime.outcome, runtime.session_id

    latencies = []  # the plugin's own client, one keep-alive connection: suggest round trips in ms
    from nep_suggest.runtime import HISTORY_EVENTS, SUGGESTIONS_ASKED

    payload = {"session": runtime.session_id, "history": runtime.events[-HISTORY_EVENTS:], "state": runtime.workspace.state(), "top_k": SUGGESTIONS_ASKED}
    for index in range(int(os.environ.get("NEP_DRIVER_LATENCY_REQUESTS", "0"))):
        started = time.perf_counter()
        runtime.client.submit({"kind": "suggest", "generation": ("latency", index), "payload": payload})
        while not runtime.client.results():
            time.sleep(0.0002)
        latencies.append((time.perf_counter() - started) * 1000)
    out["latency_ms"] = sorted(latencies)

    unreachable = new_runtime(new_document("unreachable"), os.path.join(home, "logs-unreachable"), server=os.environ["NEP_DRIVER_CLOSED"], enabled=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and unreachable.status not in ("unreachable", "error"):
        unreachable.tick()
        time.sleep(0.05)
    out["unreachable"] = {"status": unreachable.status, "message": unreachable.message}
    unreachable.close()
    runtime.close()
    return out


SCENARIOS = {"load": scenario_load, "accept": scenario_accept, "record": scenario_record, "server": scenario_server}


def main(*_args):
    result_path = os.environ["NEP_DRIVER_RESULT"]
    home = os.environ["NEP_DRIVER_HOME"]
    results = {}
    for name in os.environ.get("NEP_DRIVER_SCENARIOS", "load").split(","):
        try:
            results[name] = SCENARIOS[name](home)
        except Exception:
            results[name] = {"error": traceback.format_exc()}
    with open(result_path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1, default=lambda value: None if isinstance(value, float) and math.isnan(value) else str(value))
    os.replace(result_path + ".tmp", result_path)
