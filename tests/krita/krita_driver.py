"""Runs inside real Krita (``kritarunner -s krita_driver -f main``) and writes what it saw to a JSON file.

tests/krita/test_krita_plugin.py builds the plugin zip, extracts it, and runs this script with the
extracted folder on PYTHONPATH. kritarunner exits 0 even when a script raises, so every scenario's
outcome, or its traceback, goes to ``$NEP_DRIVER_RESULT``. Krita opens no window here (``openWindow``
crashes offscreen), so there is no ``View``: the workspace gets the brush as a dict, and a plain
QWidget stands in for the canvas widget the event filter watches. Where a scenario needs a server
to answer exactly so (a hostile one, say), a ``FakeClient`` stands in for the plugin's client.
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


def new_runtime(document, log_folder, server="", enabled=False, brush=None, min_confidence=0.0, min_stroke_probability=0.0, record=True):
    from nep_suggest.runtime import Runtime
    from nep_suggest.settings import Settings
    from nep_suggest.workspace import Workspace

    if min_confidence is None:  # the plugin's default setting
        min_confidence = Settings().min_confidence
    settings = Settings(server_url=server or "http://127.0.0.1:9", enabled=enabled, record=record, min_confidence=min_confidence,
                        log_folder=log_folder, min_stroke_probability=min_stroke_probability)
    runtime = Runtime(settings, time.monotonic, app_name="Krita test")
    runtime.start(Workspace(document, None, brush or {"brush": "b) Basic-5 Size", "color": "#ff0000", "size": 6.0, "opacity": 1.0}))
    return runtime


def app_runtime(document, log_folder, **settings):
    """The plugin's PluginApp, its timer stopped (the scenario ticks by hand), with a new runtime on ``document``."""
    from nep_suggest import app as app_module

    app = app_module.get()
    app.timer.stop()
    app.runtime = new_runtime(document, log_folder, **settings)
    return app, app.runtime


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
                   "enabled_checked": docker.enabled.isChecked(), "enabled_text": docker.enabled.text(), "dialog_enabled_text": dialog.enabled.text(),
                   "settings_dialog_url": dialog.url.text(),
                   "settings_dialog_round_trip": dialog.result_settings() == docker.app.settings, "unsure_floor_text": dialog.unsure.text()}
    docker.app.timer.stop()
    return {
        "docker": docker_seen,
        "registered": list(nep_suggest.REGISTERED),
        "extensions": [type(extension).__name__ for extension in Krita.instance().extensions()],
        "forbidden_modules": sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "nep_core", "nep_krita")),
        "module_file": nep_suggest.__file__,
        "krita_version": Krita.instance().version(),
        "presets": sorted(Krita.instance().resources("preset")),
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


def send_tablet(widget, phase, x, y, pressure, modifiers=None):
    from nep_suggest.qt import QApplication, QEvent, QPointF, Qt, pen_tablet_event

    kind = {"press": QEvent.Type.TabletPress, "move": QEvent.Type.TabletMove, "release": QEvent.Type.TabletRelease}[phase]
    button = Qt.MouseButton.LeftButton if phase != "move" else Qt.MouseButton.NoButton
    buttons = Qt.MouseButton.LeftButton if phase != "release" else Qt.MouseButton.NoButton
    QApplication.sendEvent(widget, pen_tablet_event(kind, QPointF(x, y), pressure, button, buttons, modifiers or Qt.KeyboardModifier.NoModifier))


def send_mouse(widget, phase, x, y, button=None, from_pen=False, modifiers=None):
    """A mouse event; ``from_pen``: one Qt made from a pen's event (Krita's canvas gets both)."""
    from nep_suggest.qt import QApplication, QEvent, QMouseEvent, QPointF, Qt, pen_mouse_event

    button = button or Qt.MouseButton.LeftButton
    kind = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove, "release": QEvent.Type.MouseButtonRelease}[phase]
    pressed = button if phase != "move" else Qt.MouseButton.NoButton
    held = button if phase != "release" else Qt.MouseButton.NoButton
    if from_pen:
        event = pen_mouse_event(kind, QPointF(x, y), pressed, held)
    else:
        event = QMouseEvent(kind, QPointF(x, y), QPointF(x, y), pressed, held, modifiers or Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def send_key(widget, kind, key, auto_repeat=False):
    """A key press or release (``kind``: a QEvent.Type) of ``key`` (a Qt.Key)."""
    from nep_suggest.qt import QApplication, Qt, QtGui

    QApplication.sendEvent(widget, QtGui.QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, " ", auto_repeat))


def drag(widget, points, button=None, modifiers=None):
    """A mouse drag through ``points`` (widget pixels)."""
    send_mouse(widget, "press", *points[0], button, modifiers=modifiers)
    for x, y in points[1:]:
        send_mouse(widget, "move", x, y, button, modifiers=modifiers)
    send_mouse(widget, "release", *points[-1], button, modifiers=modifiers)


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
    for index in range(8):
        x = 40 + 16 * index
        runtime.record_stroke([[x, 40.0, 0.6, 0.0], [x + 32, 72.0, 0.7, 40.0], [x + 64, 104.0, 0.6, 80.0]])
    tick_until_answered(runtime, 60)


def tick_until_answered(runtime, seconds):
    """Tick the runtime until the server has answered (or failed) for its newest history, at most ``seconds``."""
    from nep_suggest.qt import QApplication

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runtime.tick()
        QApplication.processEvents()
        if runtime.status in ("ok", "error", "unreachable") and runtime.asked_generation == runtime.generation:
            break
        time.sleep(0.05)


def docker_on(runtime, listening=True):
    """A docker showing ``runtime`` (its own timer stopped); ``listening``: it refreshes on the runtime's changes."""
    from nep_suggest.docker import NepDocker

    docker = NepDocker()
    docker.app.timer.stop()
    docker.app.runtime = runtime
    if listening:
        runtime.listeners.append(docker.refresh)
    return docker


def docker_text(runtime):
    """What the docker's suggestion line says about ``runtime``'s last answer."""
    docker = docker_on(runtime, listening=False)
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

    payload = {"domain": "krita", "session": runtime.session_id, "history": runtime.events[-HISTORY_EVENTS:], "state": runtime.workspace.state(), "top_k": SUGGESTIONS_ASKED}
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


class FakeClient:
    """Stands in for the plugin's client to ``nep serve``: answers each suggestion request with the next of
    ``answers`` (a /v1/suggest body), and keeps every job submitted."""

    def __init__(self, settings):
        self.url, self.token = settings.server_url, settings.token
        self.answers, self.submitted, self.finished = [], [], []

    def submit(self, job):
        from nep_suggest.client import Result

        self.submitted.append(job)
        if job["kind"] == "suggest" and self.answers:
            self.finished.append(Result(job, True, body=self.answers.pop(0)))

    def results(self):
        finished, self.finished = self.finished, []
        return finished

    def feedback(self):
        return [job["payload"] for job in self.submitted if job["kind"] == "feedback"]

    def close(self):
        pass


def with_fake_client(runtime):
    runtime.client = FakeClient(runtime.settings)
    return runtime.client


def server_suggests(runtime, action, label="from the server"):
    """``action`` as the server's answer to the runtime's next request; the suggestion the runtime then shows."""
    runtime.client.answers.append({"suggestions": [{"action": action, "probability": 0.9, "confidence": 0.9, "label": label}],
                                   "request_id": "r1"})
    runtime.refresh()
    runtime.tick()  # asks
    runtime.tick()  # takes the answer
    return runtime.suggestion


def log_records(runtime):
    with open(runtime.log_path(), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def kinds_in_log(runtime):
    """The session log's events: "state", an action's kind, or "feedback:OUTCOME"."""
    kinds = []
    for record in log_records(runtime)[1:]:
        if "state" in record:
            kinds.append("state")
        elif "action" in record:
            kinds.append(record["action"]["kind"])
        elif "feedback" in record:
            kinds.append("feedback:" + record["feedback"].get("outcome", ""))
    return kinds


LINE = {"kind": "stroke", "args": {"points": [[20, 30, 1.0, 0], [180, 30, 1.0, 8]], "color": "#00ff00", "size": 6.0, "opacity": 1.0, "brush": ""}}


def scenario_gestures(home):
    """Canvas gestures (a drag with Space, Shift, Ctrl or Alt held, or with the middle or right button) while a
    suggestion shows; then a click; then a stroke."""
    from nep_suggest.canvas_events import CanvasEventFilter
    from nep_suggest.qt import QEvent, QTransform, Qt, QWidget

    document = new_document("gestures", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-gestures"), enabled=True)
    with_fake_client(runtime)
    canvas = QWidget()
    canvas.resize(200, 150)
    runtime.ghost.attach(canvas, lambda: QTransform())
    event_filter = CanvasEventFilter(lambda point: (point.x(), point.y()), runtime.on_sample)
    canvas.installEventFilter(event_filter)
    shown = server_suggests(runtime, LINE)
    line = [(40 + 10 * step, 100) for step in range(8)]
    out = {"after": {}}

    def look(name):
        out["after"][name] = {"suggestion_kept": runtime.suggestion is shown, "ghost": runtime.ghost.stroke is not None,
                              "strokes": kinds_in_log(runtime).count("stroke")}

    send_key(canvas, QEvent.Type.KeyPress, Qt.Key.Key_Space)  # pan
    send_key(canvas, QEvent.Type.KeyRelease, Qt.Key.Key_Space, auto_repeat=True)  # held down, the key repeats
    send_key(canvas, QEvent.Type.KeyPress, Qt.Key.Key_Space, auto_repeat=True)
    drag(canvas, line)
    send_key(canvas, QEvent.Type.KeyRelease, Qt.Key.Key_Space)
    look("space")
    for name, modifier in (("shift", Qt.KeyboardModifier.ShiftModifier), ("ctrl", Qt.KeyboardModifier.ControlModifier),
                           ("alt", Qt.KeyboardModifier.AltModifier)):
        drag(canvas, line, modifiers=modifier)
        look(name)
    send_tablet(canvas, "press", 40, 100, 0.5, Qt.KeyboardModifier.ControlModifier)  # a pen's colour pick
    send_tablet(canvas, "move", 80, 100, 0.5, Qt.KeyboardModifier.ControlModifier)
    send_tablet(canvas, "release", 120, 100, 0.5, Qt.KeyboardModifier.ControlModifier)
    look("pen_ctrl")
    for name, button in (("middle", Qt.MouseButton.MiddleButton), ("right", Qt.MouseButton.RightButton)):
        drag(canvas, line, button)
        look(name)
    shown = server_suggests(runtime, LINE)  # the same, asked again: a click's own test
    send_mouse(canvas, "press", 60, 60)  # a click: the ghost hides while the button is down...
    out["ghost_while_pressed"] = runtime.ghost.stroke is not None
    send_mouse(canvas, "release", 60, 60)  # ...and shows again, since it was no stroke
    look("click")
    drag(canvas, line)  # a stroke: the painter went on without the suggestion
    look("stroke")
    out.update(log=kinds_in_log(runtime), filter_errors=event_filter.errors)
    runtime.close()
    return out


def scenario_hostile(home):
    """What a server sends is kept to what the action space defines, bounded, and shown as plain text."""
    from nep_suggest.qt import Qt

    document = new_document("hostile", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-hostile"), enabled=True)
    with_fake_client(runtime)
    docker = docker_on(runtime)
    out = {"plain_text": [label.textFormat() == Qt.TextFormat.PlainText for label in (docker.suggestion, docker.status, docker.outcome)]}
    junk = dict(LINE, evil={"x": "y" * 1000}, target="elsewhere", args=dict(LINE["args"], extra=["z"] * 100))
    shown = server_suggests(runtime, junk)
    out["stroke_shown"] = {"keys": sorted(shown["action"]), "args": sorted(shown["action"]["args"]), "label": shown["label"]}
    out["stroke_accept"] = list(runtime.accept())
    server_suggests(runtime, {"kind": "size", "args": {"size": 5.0, "payload": "q" * 5000}})
    out["size_accept"] = list(runtime.accept())
    server_suggests(runtime, {"kind": "layer.new", "args": {"name": "<img src=/tmp/nep-no-such.png><b>bold</b>"}})
    out["tag_text"] = docker.suggestion.text()
    runtime.dismiss()
    # refused when they arrive, never shown: [shown, outcome, what Accept then says]
    for name, action in (("long_name", {"kind": "layer.switch", "args": {"index": 0, "name": "n" * 100000}}),
                         ("index_16", {"kind": "layer.switch", "args": {"index": 16}}),
                         ("unknown", {"kind": "explode" * 1000, "args": {"x": 1}})):
        shown = server_suggests(runtime, action)
        out[name] = [shown is not None, runtime.outcome, docker.suggestion.text(), list(runtime.accept())]
    with open(runtime.log_path(), encoding="utf-8") as handle:
        text = handle.read()
    out["in_log"] = {word: word in text for word in ('"evil"', '"extra"', '"payload"', '"target"')}
    sent = [json.dumps(job["payload"]) for job in runtime.client.submitted]
    out["in_requests"] = {word: any(word in payload for payload in sent) for word in out["in_log"]}
    out["asked_domains"] = sorted({json.loads(payload).get("domain") for payload, job in zip(sent, runtime.client.submitted) if job["kind"] == "suggest"})
    out["accepted"] = [record["action"] for record in log_records(runtime) if "action" in record]
    runtime.close()
    return out


def scenario_documents(home):
    """A suggestion still shown when another document becomes active: ignored, in the session left, and the docker told."""
    from nep_suggest.workspace import Workspace

    first, second = new_document("first", 200, 150), new_document("second", 300, 200)
    runtime = new_runtime(first, os.path.join(home, "logs-documents"), enabled=True)
    with_fake_client(runtime)
    server_suggests(runtime, LINE)
    calls = []
    runtime.listeners.append(lambda: calls.append(runtime.suggestion))
    first_session, first_log = runtime.session_id, runtime.log_path()
    runtime.start(Workspace(second, None, {"brush": "b) Basic-5 Size", "color": "#ff0000", "size": 6.0, "opacity": 1.0}))
    with open(first_log, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    out = {"first_log": [record["feedback"]["outcome"] for record in records if "feedback" in record],
           "sent": [[payload["session"] == first_session, payload.get("outcome")] for payload in runtime.client.feedback()],
           "listener_calls": calls, "ghost_after": runtime.ghost.stroke is not None}
    runtime.close()
    return out


def scenario_record_off(home):
    """Record off: no log and no feedback to the server; turned on again: the log starts with a state event."""
    document = new_document("record-off", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-record-off"), enabled=True, record=False)
    client = with_fake_client(runtime)
    runtime.record_stroke([[10.0, 10.0, 1.0, 0.0], [50.0, 10.0, 1.0, 8.0]])
    server_suggests(runtime, LINE)
    runtime.dismiss()
    server_suggests(runtime, LINE)
    runtime.record_stroke([[10.0, 20.0, 1.0, 0.0], [50.0, 20.0, 1.0, 8.0]])  # passes the suggestion over
    out = {"log_while_off": os.path.exists(runtime.log_path()), "feedback_while_off": len(client.feedback()),
           "suggest_history_while_off": len(client.submitted[-1]["payload"]["history"])}
    runtime.settings.record = True
    runtime.record_stroke([[10.0, 30.0, 1.0, 0.0], [50.0, 30.0, 1.0, 8.0]])
    server_suggests(runtime, LINE)
    runtime.dismiss()
    out.update(log_after_on=kinds_in_log(runtime), state_after_on=log_records(runtime)[1].get("state"),
               feedback_after_on=[[payload.get("outcome"), [event.get("action", {}).get("kind") for event in payload["history"]]]
                                  for payload in client.feedback()])
    runtime.close()
    return out


def delete_now(widget):
    """Delete ``widget``'s Qt object, as Krita does a closed window's docker."""
    from nep_suggest.qt import QApplication, QEvent

    widget.deleteLater()
    QApplication.sendPostedEvents(None, int(getattr(QEvent.Type.DeferredDelete, "value", QEvent.Type.DeferredDelete)))


def scenario_listeners(home):
    """A docker deleted with its window stops listening, and no listener's exception reaches Krita."""
    from nep_suggest import app as app_module
    from nep_suggest.docker import NepDocker

    document = new_document("listeners", 200, 150)
    app = app_module.get()
    app.runtime = runtime = new_runtime(document, os.path.join(home, "logs-listeners"))
    first, second = NepDocker(), NepDocker()  # the dockers of two windows
    app.timer.stop()
    out = {"listening": len(runtime.listeners)}
    delete_now(second)  # its window closed
    out["listening_after_delete"] = len(runtime.listeners)
    gone = NepDocker()
    app.timer.stop()
    try:
        gone.destroyed.disconnect()  # a deleted docker still listening, as every one did before it unregistered
    except TypeError:  # nothing connected
        pass
    delete_now(gone)

    def broken():
        raise ValueError("a listener's bug")

    runtime.listeners.append(broken)
    runtime.suggestion = suggestion("size", size=7.0)
    out["accept"] = list(app.accept())
    out.update(listeners_after_accept=len(runtime.listeners), listener_errors=runtime.listener_errors, app_error=app.error)
    app.tick()  # the plugin's timer: the docker shows the count
    out["docker_status"] = first.status.text()
    runtime.close()
    return out


def scenario_layers(home):
    """A new layer suggested while the active layer is inside a group goes into that group, above it."""
    document = new_document("layers", 200, 150)
    group = document.createGroupLayer("Group")
    document.rootNode().addChildNode(group, None)
    inner = document.createNode("Inner", "paintlayer")
    group.addChildNode(inner, None)
    document.waitForDone()
    runtime = new_runtime(document, os.path.join(home, "logs-layers"))
    runtime.workspace.active_node = lambda: inner  # Krita's active layer in a view (kritarunner has none)
    runtime.suggestion = suggestion("layer.new", name="Fresh")
    out = {"accept": list(runtime.accept())}
    document.waitForDone()
    out["tree"] = [[node.name() for node in document.topLevelNodes()], [node.name() for node in group.childNodes()]]
    runtime.close()
    return out


def scenario_colour(home):
    """Accept merging a stroke down into an 8-bit RGBA layer of a 16-bit float image."""
    from krita import Krita

    document = Krita.instance().createDocument(200, 150, "mixed", "RGBA", "F16", "", 72.0)
    layer = document.createNode("Ink", "paintlayer")
    document.rootNode().addChildNode(layer, None)
    converted = layer.setColorSpace("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
    document.waitForDone()
    runtime = new_runtime(document, os.path.join(home, "logs-colour"))
    layer = runtime.workspace.active_node()
    out = {"image": [document.colorModel(), document.colorDepth()], "layer": [converted, layer.name(), layer.colorModel(), layer.colorDepth()]}
    runtime.suggestion = suggestion("stroke", **LINE["args"])
    out["accept"] = list(runtime.accept())
    document.waitForDone()
    painted = runtime.workspace.active_node()
    data = bytes(painted.pixelData(0, 0, 200, 150))
    out["painted"] = [painted.name(), painted.colorModel(), painted.colorDepth(), sum(1 for i in range(3, len(data), 4) if data[i])]
    runtime.close()
    return out


def scenario_eraser(home):
    """With Krita's eraser on, the ghost and the docker say so, and Accept erases."""
    from nep_suggest.qt import QColor, QTransform, QWidget

    document = new_document("eraser", 200, 150)
    document.nodeByName("Ink").setPixelData(bytes([0, 0, 255, 255]) * (200 * 150), 0, 0, 200, 150)  # red (BGRA)
    document.waitForDone()
    runtime = new_runtime(document, os.path.join(home, "logs-eraser"), enabled=True,
                          brush={"brush": "b) Basic-5 Size", "color": "#ff0000", "size": 6.0, "opacity": 1.0, "eraser": True})
    with_fake_client(runtime)
    canvas = QWidget()
    canvas.resize(200, 150)
    overlay = runtime.ghost.attach(canvas, lambda: QTransform())
    shown = server_suggests(runtime, LINE)
    image = overlay_image(overlay)
    colours = {QColor.fromRgba(image.pixel(x, y)).name() for x in range(20, 181) for y in range(27, 34) if image.pixel(x, y) >> 24}
    out = {"label": shown["label"], "ghost_colours": sorted(colours), "accept": list(runtime.accept())}
    document.waitForDone()
    data = bytes(runtime.workspace.active_node().pixelData(0, 0, 200, 150))
    out.update(alpha_on_line=[data[(30 * 200 + x) * 4 + 3] for x in (20, 100, 180)], alpha_off_line=data[(60 * 200 + 100) * 4 + 3])
    runtime.close()
    return out


def scenario_errors(home):
    """An exception in the ghost's painting is counted and shown, never raised into Krita."""
    from nep_suggest.qt import QWidget

    document = new_document("errors", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-errors"))
    canvas = QWidget()
    canvas.resize(200, 150)

    def broken_mapping():
        raise ValueError("a mapping's bug")

    overlay = runtime.ghost.attach(canvas, broken_mapping)
    runtime._set_suggestion(suggestion("stroke", **LINE["args"]))
    overlay_image(overlay)
    docker = docker_on(runtime, listening=False)
    docker.refresh()
    out = {"ghost_errors": runtime.ghost.errors, "docker_status": docker.status.text()}
    runtime.close()
    return out


def scenario_long(home):
    """A painter's long strokes with a real ``nep serve``: every request stays under its size limit."""
    from nep_suggest.client import fit

    document = new_document("long", 1000, 1000)
    runtime = new_runtime(document, os.path.join(home, "logs-long"), server=os.environ["NEP_DRIVER_SERVER"], enabled=True)
    runtime.tick()  # makes the client
    sizes, submit = [], runtime.client.submit

    def measured_submit(job):
        sizes.append(len(json.dumps(fit(job)["payload"])))  # what the plugin's client sends
        submit(job)

    runtime.client.submit = measured_submit
    for index in range(63):  # each 1,000 samples, the pressure changing at every one: none is simplified away
        runtime.record_stroke([[100.0 + 0.8 * step, 100.0 + 12 * index + 4 * math.sin(step / 9.0), 0.2 if step % 2 else 0.9, 5.0 * step]
                               for step in range(1000)])
    tick_until_answered(runtime, 120)
    out = {"status": runtime.status, "message": runtime.message, "event_bytes": sum(len(json.dumps(event)) for event in runtime.events),
           "dismiss": list(runtime.dismiss())}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and runtime.feedback_sent < 1 and not runtime.outcome.startswith("Feedback not sent"):
        runtime.tick()
        time.sleep(0.05)
    out.update(feedback_sent=runtime.feedback_sent, outcome=runtime.outcome, request_bytes=sizes, session=runtime.session_id,
               logged_strokes=kinds_in_log(runtime).count("stroke"))
    runtime.close()
    return out


def nested(depth, leaf="b) Basic-5 Size"):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def scenario_merge_props(home):
    """Accept where it merges a layer down (kritarunner: always) into a layer whose own properties merging down resets:
    refused, the layer untouched."""
    document = new_document("merge-props", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-merge-props"))
    ink = runtime.workspace.active_node()
    before = layer_bytes(ink, 200, 150)
    out = {}
    for name, change, undo in (("opacity_multiply", lambda: (ink.setOpacity(128), ink.setBlendingMode("multiply")),
                                lambda: (ink.setOpacity(255), ink.setBlendingMode("normal"))),
                               ("alpha_locked", lambda: ink.setAlphaLocked(True), lambda: ink.setAlphaLocked(False)),
                               ("inherit_alpha", lambda: ink.setInheritAlpha(True), lambda: ink.setInheritAlpha(False))):
        change()
        document.waitForDone()
        runtime._set_suggestion(suggestion("stroke", **LINE["args"]))
        out[name] = {"accept": list(runtime.accept()), "layer": [ink.name(), ink.opacity(), ink.blendingMode(), ink.alphaLocked(), ink.inheritAlpha()],
                     "layers": [node.name() for node in document.topLevelNodes()],
                     "unchanged": layer_bytes(runtime.workspace.active_node(), 200, 150) == before}
        undo()
        document.waitForDone()
    runtime._set_suggestion(suggestion("stroke", **LINE["args"]))
    out["normal"] = list(runtime.accept())
    out["undo_steps_after_normal"] = list(runtime.undo_steps)  # Merge Down's undo brings the stroke's layer back: no undo of it
    runtime.close()
    return out


def scenario_deep(home):
    """Malformed suggestions: nested 900 deep (dropped with the answer), or holding a list where the action space has a
    string (refused when it arrives); and a record the log cannot hold never stops the recording."""

    document = new_document("deep", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-deep"), enabled=True)
    client = with_fake_client(runtime)
    docker = docker_on(runtime)
    out = {}
    deep = dict(LINE, args=dict(LINE["args"], brush=nested(900)))
    out["deep_shown"] = server_suggests(runtime, deep) is not None
    runtime.record_stroke([[10.0, 10.0, 1.0, 0.0], [50.0, 10.0, 1.0, 8.0]])
    shallow = dict(LINE, args=dict(LINE["args"], brush=nested(3)))
    out["shallow_shown"] = server_suggests(runtime, shallow) is not None
    out["outcome"], out["docker_outcome"] = runtime.outcome, docker.outcome.text()
    runtime.record_stroke([[10.0, 20.0, 1.0, 0.0], [50.0, 20.0, 1.0, 8.0]])
    # a suggestion no check saw (set directly), which the log cannot hold: the painter's stroke is still recorded
    runtime.suggestion = suggestion("brush", brush="\udc80")  # a lone surrogate: no UTF-8 (nesting too deep for JSON is not, in every Python)
    runtime.record_stroke([[10.0, 30.0, 1.0, 0.0], [50.0, 30.0, 1.0, 8.0]])
    out["log_problem_after_bad_record"] = runtime.log_problem()
    out["docker_log_line"] = docker.log_problem.text() if hasattr(docker, "log_problem") else None
    out["suggestion_after_stroke"] = runtime.suggestion
    runtime.record_stroke([[10.0, 40.0, 1.0, 0.0], [50.0, 40.0, 1.0, 8.0]])
    out["log_problem_after_next"] = runtime.log_problem()
    out["events"] = [event.get("action", {}).get("kind", "state") for event in runtime.events]
    out["log"] = kinds_in_log(runtime)
    out["refused"] = [record["feedback"] for record in log_records(runtime) if "feedback" in record and record["feedback"]["outcome"] == "refused"]
    out["sent"] = [[payload.get("outcome"), payload.get("suggestion") if payload.get("outcome") == "refused" else None]
                   for payload in client.feedback()]  # (the ignored one holds the unwritable suggestion)
    runtime.close()
    return out


def scenario_huge(home):
    """A 120,000-point stroke from the server: refused when it arrives, never shown, and logged as a summary. (Through
    the plugin's own client, an answer that long is not even decoded: ``runtime.MAX_ANSWER_BYTES``.)"""
    from nep_suggest import checks
    from nep_suggest import runtime as runtime_module

    document = new_document("huge", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-huge"), enabled=True)
    runtime._configure()
    largest = [[4095.99999, 4095.99999, 0.99999, 123456.789] for _ in range(checks.MAX_POINTS)]
    largest_answer = {"suggestions": [{"action": {"kind": "stroke", "args": dict(LINE["args"], points=largest, brush="b" * 200)},
                                       "probability": 0.123456789, "confidence": 0.123456789, "label": "l" * 200}],
                      "request_id": "r" * 64, "best_is_no_edit": False}
    out = {"client_limit": runtime.client.max_answer_bytes, "largest_answer_bytes": len(json.dumps(largest_answer)),
           "limit": runtime_module.MAX_ANSWER_BYTES}
    runtime.client.close(wait=0)
    client = with_fake_client(runtime)
    points = [[20.0 + (index % 160), 30.0 + (index % 7), 1.0, float(index)] for index in range(120000)]
    started = time.perf_counter()
    shown = server_suggests(runtime, {"kind": "stroke", "args": dict(LINE["args"], points=points)})
    out.update(answer_ms=(time.perf_counter() - started) * 1000, shown=shown is not None, ghost=runtime.ghost.stroke is not None,
               outcome=runtime.outcome, max_points=checks.MAX_POINTS)
    started = time.perf_counter()
    runtime.record_stroke([[10.0, 10.0, 1.0, 0.0], [50.0, 10.0, 1.0, 8.0]])
    out["stroke_ms"] = (time.perf_counter() - started) * 1000
    with open(runtime.log_path(), encoding="utf-8") as handle:
        out["longest_line"] = max(len(line) for line in handle)
    out["log"] = kinds_in_log(runtime)
    out["refused"] = [record["feedback"] for record in log_records(runtime) if "feedback" in record]
    out["sent"] = [[payload.get("outcome"), payload.get("suggestion"), payload.get("reason")] for payload in client.feedback()]
    # a stroke as NEP writes them at most (29 points) is shown
    most = [[20.0 + 5 * index, 30.0 + (index % 2) * 4, 1.0, 8.0 * index] for index in range(29)]
    out["longest_nep_stroke_shown"] = server_suggests(runtime, {"kind": "stroke", "args": dict(LINE["args"], points=most)}) is not None
    runtime.close()
    return out


def scenario_log_error(home):
    """A log folder that cannot be written: reported, and the report stays (a server's answer does not hide it) until the
    Log folder setting changes; the new folder's file starts with a state event. Changing the folder mid-session too."""

    document = new_document("log-error", 200, 150)
    blocker = os.path.join(home, "not-a-folder")
    with open(blocker, "w", encoding="utf-8") as handle:
        handle.write("a file where the log folder should be\n")
    runtime = new_runtime(document, os.path.join(blocker, "logs"), enabled=True)
    with_fake_client(runtime)
    docker = docker_on(runtime)

    def texts():
        docker.refresh()
        return "\n".join(label.text() for label in (docker.suggestion, docker.outcome, docker.status, getattr(docker, "log_problem", docker.status)))

    runtime.record_stroke([[10.0, 10.0, 1.0, 0.0], [50.0, 10.0, 1.0, 8.0]])
    out = {"after_stroke": texts()}
    server_suggests(runtime, LINE)
    out["after_answer"] = texts()
    out["status_after_answer"] = runtime.status
    runtime.dismiss()
    out["after_dismiss"] = texts()
    good = os.path.join(home, "logs-log-error")
    runtime.settings.log_folder = good
    out["after_folder_change"] = texts()
    runtime.record_stroke([[10.0, 20.0, 1.0, 0.0], [50.0, 20.0, 1.0, 8.0]])
    out["new_folder_log"] = kinds_in_log(runtime)
    out["new_folder_state"] = log_records(runtime)[1].get("state")
    out["events"] = len(runtime.events)
    # the Log folder changed mid-session, from a folder that works: the new file starts with a state event too
    runtime.settings.log_folder = os.path.join(home, "logs-log-error-2")
    runtime.record_stroke([[10.0, 30.0, 1.0, 0.0], [50.0, 30.0, 1.0, 8.0]])
    out["second_folder_log"] = kinds_in_log(runtime)
    out["second_folder_state"] = log_records(runtime)[1].get("state")
    runtime.close()
    return out


def scenario_closed(home):
    """The last document closed while a suggestion shows (kritarunner has no window: no active document): the suggestion
    is passed over, ignored, and Accept has nothing to paint."""
    document = new_document("closed", 200, 150)
    app, runtime = app_runtime(document, os.path.join(home, "logs-closed"), enabled=True)
    client = with_fake_client(runtime)
    out = {"shown": server_suggests(runtime, LINE) is not None}
    log = runtime.log_path()
    app.tick()  # the plugin's timer: no window, so no active document
    out.update(suggestion=runtime.suggestion, ghost=runtime.ghost.stroke is not None, accept=list(app.accept()), app_error=app.error,
               sent=[payload.get("outcome") for payload in client.feedback()])
    with open(log, encoding="utf-8") as handle:
        out["log"] = [json.loads(line).get("feedback", {}).get("outcome") for line in handle][1:]
    runtime.close()
    return out


def scenario_layer_settle(home):
    """An accepted layer.new while Krita still shows the layer before as active (Krita 5.1.5 switches about a second
    later): no layer.switch is logged for it, and a stroke accepted meanwhile is painted into the new layer; a layer
    that is still not active after LAYER_SETTLE_SECONDS is the switch it looks like."""
    from nep_suggest import workspace as workspace_module

    document = new_document("layer-settle", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-layer-settle"))
    workspace = runtime.workspace
    ink = workspace.shown_node()
    workspace.shown_node = lambda: ink  # Krita has not made the new layer active yet
    runtime.suggestion = suggestion("layer.new", name="Fresh")
    out = {"accept": list(runtime.accept())}
    runtime.look_at_brush()  # the plugin's ticks, Krita still showing Ink as active
    runtime.look_at_brush()
    runtime.suggestion = suggestion("stroke", **LINE["args"])  # a second Accept within the second
    out["stroke_accept"] = list(runtime.accept())
    document.waitForDone()
    runtime.look_at_brush()
    out["while_settling"] = kinds_in_log(runtime)
    out["painted"] = {layer.name(): sum(1 for alpha in layer_bytes(layer, 200, 150)[3::4] if alpha) for layer in workspace.layers()}
    del workspace.shown_node  # Krita now shows the new layer as active
    runtime.look_at_brush()
    runtime.record_stroke([[10.0, 10.0, 1.0, 0.0], [50.0, 10.0, 1.0, 8.0]])
    out["after"] = kinds_in_log(runtime)
    out["active"] = workspace.active_node().name()
    # a second one that Krita never makes active: after LAYER_SETTLE_SECONDS the layer shown is what the log says
    now = time.monotonic
    layer = workspace.shown_node()
    workspace.shown_node = lambda: layer
    runtime.suggestion = suggestion("layer.new", name="Never")
    out["second_accept"] = list(runtime.accept())
    runtime.look_at_brush()
    workspace.clock = lambda: now() + workspace_module.LAYER_SETTLE_SECONDS + 1
    runtime.look_at_brush()
    out["after_deadline"] = [record["action"] for record in log_records(runtime) if "action" in record][-2:]
    # an accepted layer.new, then, within the settling time, an accepted switch back to the layer Krita still shows
    workspace.clock = now
    runtime.suggestion = suggestion("layer.new", name="Back")
    runtime.accept()
    index = [node.uniqueId() for node in workspace.layers()].index(layer.uniqueId())
    runtime.suggestion = suggestion("layer.switch", index=index)
    out["switch_back"] = [list(runtime.accept()), workspace.active_node().name(), layer.name()]
    runtime.close()
    return out


def scenario_causes(home):
    """Why the server was not reached: not running, too slow, or shutting down (HTTP 503), each said so."""
    from nep_suggest.client import BUSY, NOT_RUNNING, SLOW, Result

    document = new_document("causes", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-causes"), enabled=True)
    client = with_fake_client(runtime)
    docker = docker_on(runtime, listening=False)
    out = {}
    for cause, error in ((NOT_RUNNING, "connection refused"), (SLOW, "the server's answer took longer than 2 s"),
                         (BUSY, "HTTP 503: Service Unavailable")):
        runtime.refresh()
        runtime.tick()
        client.finished.append(Result(client.submitted[-1], False, error=error, reachable=False, cause=cause))
        runtime.tick()
        docker.refresh()
        out[cause] = {"status": runtime.status, "message": runtime.message, "docker": docker.status.text()}
    runtime.close()
    return out


def scenario_hidden(home):
    """What the docker says when a setting hides the answer: which setting."""
    document = new_document("hidden", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-hidden"), enabled=True, min_confidence=0.5)
    with_fake_client(runtime)
    runtime.client.answers.append({"suggestions": [{"action": LINE, "probability": 0.2, "confidence": 0.3}], "request_id": "r"})
    runtime.refresh()
    runtime.tick()
    runtime.tick()
    out = {"by_confidence": docker_text(runtime)}
    runtime.settings.min_confidence, runtime.settings.min_stroke_probability = 0.1, 0.5
    runtime.client.answers.append({"suggestions": [{"action": LINE, "probability": 0.2, "confidence": 0.3}], "request_id": "r"})
    runtime.refresh()
    runtime.tick()
    runtime.tick()
    out["by_probability"] = docker_text(runtime)
    runtime.close()
    return out


def scenario_refused_layers(home):
    """Strokes on layers Krita paints nothing on (locked, hidden, filter, vector, group): not recorded, and the suggestion
    stays; on a paint layer again, a stroke is recorded and passes it over."""
    document = new_document("refused-layers", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-refused-layers"), enabled=True)
    with_fake_client(runtime)
    workspace = runtime.workspace
    ink = workspace.active_node()
    out = {"after": {}}
    others = {kind: document.createNode(kind, kind) for kind in ("filterlayer", "vectorlayer", "grouplayer")}
    for node in others.values():
        document.rootNode().addChildNode(node, None)
    document.waitForDone()
    cases = [("locked", lambda on: ink.setLocked(on), ink), ("hidden", lambda on: ink.setVisible(not on), ink)]
    cases += [(kind, lambda on: None, node) for kind, node in others.items()]
    for index, (name, change, node) in enumerate(cases):
        change(True)
        workspace.set_active(node)
        runtime.look_at_brush()  # the painter picked that layer
        shown = server_suggests(runtime, LINE)
        before = kinds_in_log(runtime)
        runtime.record_stroke([[10.0, 10.0 + 10 * index, 1.0, 0.0], [50.0, 10.0 + 10 * index, 1.0, 8.0]])
        out["after"][name] = {"type": node.type(), "logged": kinds_in_log(runtime)[len(before):], "kept": runtime.suggestion is shown,
                              "ghost": runtime.ghost.stroke is not None, "undo_steps": list(runtime.undo_steps)}
        change(False)
    workspace.set_active(ink)
    runtime.look_at_brush()
    shown = server_suggests(runtime, LINE)
    runtime.record_stroke([[10.0, 90.0, 1.0, 0.0], [50.0, 90.0, 1.0, 8.0]])
    out.update(kept_after_paint=runtime.suggestion is shown, undo_steps_after_paint=list(runtime.undo_steps))
    runtime.record_stroke([[300.0, 300.0, 1.0, 0.0], [350.0, 300.0, 1.0, 8.0]])  # wholly off the canvas: Krita keeps it
    out.update(skipped=dict(runtime.skipped), log=kinds_in_log(runtime), undo_steps_end=list(runtime.undo_steps))
    runtime.close()
    return out


def scenario_canvas(home):
    """The canvas cropped, then enlarged, while a suggestion shows: each logged as a state event with the new canvas; a
    stroke that no longer fits is withdrawn (refused), one that still fits stays."""
    document = new_document("canvas", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-canvas"), enabled=True)
    with_fake_client(runtime)
    out = {"shown": server_suggests(runtime, LINE) is not None}  # (20, 30) to (180, 30)
    document.crop(0, 0, 150, 100)
    document.waitForDone()
    runtime.tick()
    out.update(canvas_after_crop=list(runtime.workspace.canvas()), after_crop=runtime.suggestion is not None,
               ghost_after_crop=runtime.ghost.stroke is not None, outcome_after_crop=runtime.outcome)
    small = {"kind": "stroke", "args": dict(LINE["args"], points=[[20, 30, 1.0, 0], [60, 30, 1.0, 8]])}
    kept = server_suggests(runtime, small)
    document.resizeImage(0, 0, 300, 200)
    document.waitForDone()
    runtime.tick()
    out.update(after_enlarge=runtime.suggestion is kept and kept is not None, ghost_after_enlarge=runtime.ghost.stroke is not None)
    runtime.record_stroke([[200.0, 150.0, 1.0, 0.0], [280.0, 190.0, 1.0, 8.0]])  # only on the enlarged canvas
    out.update(log=kinds_in_log(runtime), log_path=runtime.log_path(),
               states=[record["state"] for record in log_records(runtime) if "state" in record],
               refused=[record["feedback"].get("reason") for record in log_records(runtime)
                        if record.get("feedback", {}).get("outcome") == "refused"])
    runtime.close()
    return out


class MirroredView:
    """A Krita 5.1 view (no ``flakeToCanvasTransform``) of ``document`` whose canvas is mirrored."""

    def __init__(self, document, mirrored=True):
        self.shown, self.mirrored = document, mirrored

    def document(self):
        return self.shown

    def canvas(self):
        view = self

        class Canvas:
            def rotation(self):
                return 0.0

            def mirror(self):
                return view.mirrored

        return Canvas()


def scenario_unmapped(home):
    """Krita 5.1 with the canvas mirrored, where the plugin can neither map a stroke nor draw the ghost: a stroke suggestion
    is not offered for Accept, and the undo of a stroke that could not be recorded is not logged."""
    from nep_suggest import canvas_events
    from nep_suggest.canvas_events import CanvasEventFilter
    from nep_suggest.qt import QWidget

    document = new_document("unmapped", 200, 150)
    reason = getattr(canvas_events, "unmapped_reason", None)
    out = {"reasons": [reason(MirroredView(document)), reason(MirroredView(document, mirrored=False))] if reason else None}
    app, runtime = app_runtime(document, os.path.join(home, "logs-unmapped"), enabled=True)
    with_fake_client(runtime)
    docker = docker_on(runtime)
    mirrored = MirroredView(document)
    runtime.workspace.unmapped_reason = lambda: reason(mirrored) if reason else ""  # the session's view (kritarunner has none)
    shown = server_suggests(runtime, LINE)
    docker.refresh()
    out.update(docker_text=docker.suggestion.text(), accept_enabled=docker.accept_button.isEnabled(), accept=list(app.accept()),
               kept=runtime.suggestion is shown)
    mirrored.mirrored = False  # the painter turns the mirror off: the ghost and Accept are back
    runtime.tick()
    out.update(accept_enabled_unmirrored=docker.accept_button.isEnabled(), docker_text_unmirrored=docker.suggestion.text())
    mirrored.mirrored = True
    runtime.dismiss()
    canvas = QWidget()
    canvas.resize(200, 150)
    runtime.record_stroke([[10.0, 10.0, 1.0, 0.0], [50.0, 10.0, 1.0, 8.0]])  # recorded before the canvas was mirrored
    try:
        event_filter = CanvasEventFilter(lambda point: None, app.on_sample, on_unmapped=app.on_unmapped_press)
    except (TypeError, AttributeError):  # a plugin that does not follow unmapped presses
        event_filter = CanvasEventFilter(lambda point: None, app.on_sample)
    canvas.installEventFilter(event_filter)
    drag(canvas, [(40 + 10 * step, 100) for step in range(8)])  # Krita paints it; the plugin cannot place it
    runtime.suggestion = suggestion("undo")
    out["accept_undo"] = list(app.accept())
    app.on_undo()  # Ctrl+Z: takes back the unrecorded stroke
    out["log_after_first_undo"] = kinds_in_log(runtime)
    app.on_undo()  # Ctrl+Z: takes back the recorded one
    out.update(log=kinds_in_log(runtime), skipped=dict(runtime.skipped), filter_errors=event_filter.errors, app_error=app.error)
    runtime.close()
    return out


def scenario_layer_changes(home):
    """Active layer changes the painter did not make by switching: the active layer deleted, a new layer undone, a layer
    below deleted. None is a layer.switch; a picked layer is."""

    document = new_document("layer-changes", 200, 150)
    app, runtime = app_runtime(document, os.path.join(home, "logs-layer-changes"))
    workspace = runtime.workspace
    out = {}

    def removed(name):
        workspace.find(document.nodeByName(name).uniqueId()).remove()
        document.waitForDone()
        runtime.look_at_brush()

    runtime.suggestion = suggestion("layer.new", name="Shading")
    runtime.accept()
    runtime.look_at_brush()
    mark = len(kinds_in_log(runtime))
    removed("Shading")  # the painter deletes the active layer
    out["deleted_active"] = kinds_in_log(runtime)[mark:]
    out["state_layer"] = log_records(runtime)[-1].get("state", {}).get("layer")
    runtime.suggestion = suggestion("layer.new", name="Second")
    runtime.accept()
    runtime.look_at_brush()
    mark = len(kinds_in_log(runtime))
    app.on_undo()  # Ctrl+Z of the new layer: Krita removes it
    removed("Second")
    out["undone_new_layer"] = kinds_in_log(runtime)[mark:]
    mark = len(kinds_in_log(runtime))
    removed("Background")  # below the active layer: Ink is active still, one place lower
    out["deleted_below"] = kinds_in_log(runtime)[mark:]
    extra = document.createNode("Extra", "paintlayer")
    document.rootNode().addChildNode(extra, None)
    document.waitForDone()
    runtime.look_at_brush()
    mark = len(kinds_in_log(runtime))
    workspace.set_active(workspace.find(document.nodeByName("Ink").uniqueId()))  # the painter picks another layer
    runtime.look_at_brush()
    out["picked"] = [record["action"] for record in log_records(runtime)[mark + 1:] if "action" in record]
    runtime.close()
    return out


def scenario_redo(home):
    """Krita's Redo brings back the step the last undo took: the log gets that step again, so it reads as the canvas is.
    It was not logged: the log held an undo of a stroke back in the picture."""
    from nep_suggest.workspace import Workspace

    document = new_document("redo", 200, 150)
    app, runtime = app_runtime(document, os.path.join(home, "logs-redo"))
    workspace = runtime.workspace
    out = {}
    second = dict(LINE["args"], points=[[20, 80, 1.0, 0], [180, 80, 1.0, 8]])

    def accepted(kind, **args):
        runtime._set_suggestion(suggestion(kind, **args))
        return runtime.accept()[0]

    def painted(args):  # a stroke the painter made, as the recorder records it: one undo step (an accepted one may be two)
        runtime.record_user_action({"kind": "stroke", "args": dict(args, brush="b) Basic-5 Size", color="#ff0000", size=6.0)})

    def actions_since(mark):  # mark: a len(kinds_in_log(runtime))
        return [record["action"] for record in log_records(runtime)[1 + mark:] if "action" in record]

    painted(LINE["args"])
    painted(second)
    strokes = actions_since(0)
    mark = len(kinds_in_log(runtime))
    app.on_undo()
    app.on_redo()  # the second stroke is back
    out["undo_redo"] = actions_since(mark)
    out["strokes"] = strokes
    mark = len(kinds_in_log(runtime))
    app.on_undo()
    app.on_undo()
    workspace.brush["size"] = 40.0  # a brush change between the undo and the Redo: Krita paints with 40 from now on
    app.on_redo()
    out["redo_other_brush"] = kinds_in_log(runtime)[mark:]
    out["state_after_redo"] = log_records(runtime)[-1].get("state", {}).get("size")
    out["redo_again"] = actions_since(mark)[-1] if kinds_in_log(runtime)[-1] == "state" else None
    mark = len(kinds_in_log(runtime))
    app.on_undo()
    painted(second)  # a new step: Krita has nothing left to redo
    app.on_redo()
    out["redo_after_new_step"] = kinds_in_log(runtime)[mark:]
    mark = len(kinds_in_log(runtime))
    runtime.skip_stroke("a dab", painted=True)  # a stroke Krita painted and the log has not
    app.on_undo()
    app.on_redo()
    out["unrecorded"] = {"log": kinds_in_log(runtime)[mark:], "undo_steps": list(runtime.undo_steps)}
    out["new_layer"] = accepted("layer.new", name="Shading")
    painted(second)
    runtime.look_at_brush()
    mark = len(kinds_in_log(runtime))
    app.on_undo()  # the stroke
    app.on_undo()  # the new layer: Krita removes it
    workspace.find(document.nodeByName("Shading").uniqueId()).remove()
    document.waitForDone()
    runtime.look_at_brush()
    app.on_redo()  # the new layer is back, active: the watcher logs it
    shading = document.createNode("Shading", "paintlayer")
    document.rootNode().addChildNode(shading, workspace.active_node())
    document.waitForDone()
    workspace.set_active(shading)
    runtime.look_at_brush()
    app.on_redo()  # and the stroke on it: the layer's Redo left it to bring back
    out["layer_redo"] = actions_since(mark)
    painted(LINE["args"])  # on Shading
    mark = len(kinds_in_log(runtime))
    app.on_undo()
    workspace.set_active(workspace.find(document.nodeByName("Ink").uniqueId()))  # the painter picks another layer
    runtime.look_at_brush()
    app.on_redo()  # Krita paints the stroke back on Shading; the log would place it on Ink
    app.on_undo()  # and takes it back again: no undo of a stroke the log has not
    out["other_layer"] = {"log": kinds_in_log(runtime)[mark:], "undo_steps": list(runtime.undo_steps)}
    runtime.close()
    runtime.start(Workspace(new_document("redo-fresh", 200, 150), None, {"brush": "b) Basic-5 Size", "color": "#ff0000", "size": 6.0,
                                                                          "opacity": 1.0}), "fresh")
    mark = len(kinds_in_log(runtime))
    app.on_undo()  # a step from before the session: logged as an undo, as before
    app.on_redo()  # which brings back a step the log never had: not logged
    out["not_followed"] = kinds_in_log(runtime)[mark:]
    out["app_error"] = app.error
    runtime.close()
    return out


def scenario_dropped(home):
    """An answer whose one suggestion the server dropped (it failed the server's checks): the docker says so."""
    document = new_document("dropped", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-dropped"), enabled=True)
    with_fake_client(runtime)
    runtime.client.answers.append({"suggestions": [], "best_is_no_edit": True, "dropped": 1, "request_id": "r"})
    runtime.refresh()
    runtime.tick()
    runtime.tick()
    out = {"docker_text": docker_text(runtime)}
    runtime.client.answers.append({"suggestions": [], "best_is_no_edit": True, "dropped": 0, "request_id": "r"})
    runtime.refresh()
    runtime.tick()
    runtime.tick()
    out["none_dropped"] = docker_text(runtime)
    runtime.close()
    return out


def scenario_big_canvas(home):
    """A canvas wider than the 8192 pixels the action space writes: strokes beyond them are recorded as painted, and a
    suggested stroke beyond them is refused when it arrives and on Accept (it was shown, and Accept painted it)."""
    document = new_document("big-canvas", 9000, 600)
    runtime = new_runtime(document, os.path.join(home, "logs-big-canvas"), enabled=True)
    with_fake_client(runtime)
    for index in range(3):
        runtime.record_stroke([[8500.0, 20.0 + 30 * index, 1.0, 0.0], [8900.0, 200.0 + 30 * index, 1.0, 40.0]])
    beyond = {"kind": "stroke", "args": dict(LINE["args"], points=[[8500, 80, 1.0, 0], [8900, 260, 1.0, 8]])}
    out = {"shown_beyond": server_suggests(runtime, beyond) is not None, "outcome": runtime.outcome}
    runtime.suggestion = suggestion("stroke", **beyond["args"])  # one no check saw: Accept checks it again
    out["accept_beyond"] = list(runtime.accept())
    within = {"kind": "stroke", "args": dict(LINE["args"], points=[[8000, 80, 1.0, 0], [8190, 80, 1.0, 8]])}
    out["shown_within"] = server_suggests(runtime, within) is not None
    out.update(log=kinds_in_log(runtime), log_path=runtime.log_path())
    runtime.close()
    return out


def brief(record):
    """A log record in a few words: "state LAYER", an action's kind (a layer.switch's with its index)."""
    if "state" in record:
        return f"state {record['state'].get('layer')}"
    action = record.get("action") or {}
    index = f" {action['args'].get('index')}" if action.get("kind") == "layer.switch" else ""
    return f"{action.get('kind')}{index}"


def scenario_many_layers(home):
    """More top-level layers than a layer.switch names (16): picking one above them is logged as a state event naming it
    (it logged nothing, and the next stroke was credited to the layer before); picking one below is a switch again."""
    document = new_document("many-layers", 200, 150)
    for index in range(18):
        node = document.createNode(f"L{index}", "paintlayer")
        document.rootNode().addChildNode(node, None)
    document.waitForDone()
    app, runtime = app_runtime(document, os.path.join(home, "logs-many-layers"))
    workspace = runtime.workspace
    out = {"layers": len(workspace.layers())}
    picked = []
    for index in (18, 3, 17, 19):
        mark = len(kinds_in_log(runtime))
        workspace.set_active(workspace.layers()[index])
        workspace._settling = None
        runtime.look_at_brush()
        runtime.record_stroke([[10.0, 20.0 + index, 1.0, 0.0], [60.0, 20.0 + index, 1.0, 8.0]])
        picked.append([brief(record) for record in log_records(runtime)[1 + mark:]])
    out["picked"] = picked
    runtime.close()
    return out


def scenario_same_names(home):
    """Two new layers of one name (an accepted layer.new is "Paint Layer"): Ctrl+Z of the second, then Ctrl+Shift+Z, is an
    undo, a state, and the layer.new again (it was a layer.switch to a layer that does not exist, and the next new layer
    was taken for the redone one)."""
    document = new_document("same-names", 200, 150)
    app, runtime = app_runtime(document, os.path.join(home, "logs-same-names"))
    workspace = runtime.workspace

    def accepted(kind, **args):
        runtime._set_suggestion(suggestion(kind, **args))
        return runtime.accept()[0]

    out = {"accepted": [accepted("layer.new"), accepted("layer.new")]}
    runtime.look_at_brush()
    out["names"] = [node.name() for node in workspace.layers()]
    mark = len(kinds_in_log(runtime))
    app.on_undo()  # Ctrl+Z: Krita removes the second new layer, the one below is active
    workspace.layers()[-1].remove()
    document.waitForDone()
    workspace.set_active(workspace.layers()[-1])
    workspace._settling = None
    runtime.look_at_brush()
    app.on_redo()  # Ctrl+Shift+Z: Krita brings it back, active
    node = document.createNode("Paint Layer", "paintlayer")
    document.rootNode().addChildNode(node, workspace.active_node())
    document.waitForDone()
    workspace.set_active(node)
    workspace._settling = None
    runtime.look_at_brush()
    out["redoing_layer"] = runtime.redoing_layer
    out["after"] = [record.get("action") or "state" for record in log_records(runtime)[1 + mark:]]
    out["steps"] = len(runtime.done)
    node = document.createNode("Paint Layer", "paintlayer")  # the painter adds one more: a new step, not a redone one
    document.rootNode().addChildNode(node, workspace.active_node())
    document.waitForDone()
    workspace.set_active(node)
    workspace._settling = None
    runtime.look_at_brush()
    out["steps_after_a_new_layer"] = len(runtime.done)
    out["last"] = log_records(runtime)[-1].get("action")
    runtime.close()
    return out


def scenario_merge_undo(home):
    """A suggested undo just after an Accept that merged a layer down (kritarunner: always): refused, saying why (it said
    the last step was a stroke that was not recorded)."""
    document = new_document("merge-undo", 200, 150)
    app, runtime = app_runtime(document, os.path.join(home, "logs-merge-undo"))
    runtime.record_stroke([[10.0, 10.0, 1.0, 0.0], [100.0, 10.0, 1.0, 8.0]])
    runtime._set_suggestion(suggestion("stroke", **LINE["args"]))
    out = {"accept": list(runtime.accept())}
    runtime._set_suggestion(suggestion("undo"))
    out["accept_undo"] = list(runtime.accept())
    app.on_undo()  # Ctrl+Z: Merge Down's undo, which brings the temporary layer back: not logged
    out["log_after_first_undo"] = kinds_in_log(runtime)
    app.on_undo()  # Ctrl+Z: the accepted stroke
    app.on_redo()
    app.on_redo()
    out.update(log=kinds_in_log(runtime), app_error=app.error)
    runtime.close()
    return out


def scenario_brush_change(home):
    """An accepted brush change logs the size the preset brings (Krita 5.1.5: 40 to 10 with c) Pencil-2), as a painter's
    does; a brush suggestion naming a preset this Krita lacks is refused when it arrives, never shown."""
    document = new_document("brush-change", 200, 150)
    runtime = new_runtime(document, os.path.join(home, "logs-brush-change"), enabled=True,
                          brush={"brush": "b) Basic-5 Size", "color": "#ff0000", "size": 40.0, "opacity": 1.0})
    with_fake_client(runtime)
    workspace = runtime.workspace
    apply = workspace.apply

    def as_krita_does(action):  # a view's activateResource: the preset brings its own size (kritarunner has no view)
        ok, why = apply(action)
        if ok and action["kind"] == "brush":
            workspace.brush["size"] = 10.0
        return ok, why

    workspace.apply = as_krita_does
    out = {"shown": server_suggests(runtime, {"kind": "brush", "args": {"brush": "c) Pencil-2"}}) is not None}
    mark = len(kinds_in_log(runtime))
    out["accept"] = list(runtime.accept())
    runtime.look_at_brush()
    out["logged"] = [record.get("action") for record in log_records(runtime)[1 + mark:]]
    out["missing_shown"] = server_suggests(runtime, {"kind": "brush", "args": {"brush": "i) Textured Charcoal"}}) is not None
    out["missing_outcome"] = runtime.outcome
    runtime.close()
    return out


def scenario_start_port(home):
    """A server URL on another port than nep serve's default: the command the docker gives to start it says so."""
    from nep_suggest.client import NOT_RUNNING, Result

    document = new_document("start-port", 200, 150)
    out = {}
    for url in ("http://127.0.0.1:18599", "http://127.0.0.1:8765"):
        runtime = new_runtime(document, os.path.join(home, "logs-start-port"), server=url, enabled=True)
        client = with_fake_client(runtime)
        runtime.tick()
        client.finished.append(Result(client.submitted[-1], False, error="connection refused", reachable=False, cause=NOT_RUNNING))
        runtime.tick()
        out[url] = {"status": runtime.status, "message": runtime.message}
        runtime.close()
    return out


FIX_SCENARIOS = {"big_canvas": scenario_big_canvas, "many_layers": scenario_many_layers, "same_names": scenario_same_names,
                 "merge_undo": scenario_merge_undo, "brush_change": scenario_brush_change, "start_port": scenario_start_port}


PAINTER_SCENARIOS = {"refused_layers": scenario_refused_layers, "canvas": scenario_canvas, "unmapped": scenario_unmapped,
                     "layer_changes": scenario_layer_changes, "dropped": scenario_dropped, "redo": scenario_redo}
REVIEW_SCENARIOS = {"merge_props": scenario_merge_props, "deep": scenario_deep, "huge": scenario_huge, "log_error": scenario_log_error,
                    "closed": scenario_closed, "layer_settle": scenario_layer_settle, "causes": scenario_causes, "hidden": scenario_hidden}
SCENARIOS = {"load": scenario_load, "accept": scenario_accept, "record": scenario_record, "server": scenario_server,
             "gestures": scenario_gestures, "hostile": scenario_hostile, "documents": scenario_documents, "record_off": scenario_record_off,
             "listeners": scenario_listeners, "layers": scenario_layers, "colour": scenario_colour, "eraser": scenario_eraser,
             "errors": scenario_errors, "long": scenario_long, **REVIEW_SCENARIOS, **PAINTER_SCENARIOS, **FIX_SCENARIOS}


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
