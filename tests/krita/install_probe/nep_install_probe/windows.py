"""The windows phase: a second Krita window, with another document, opened and then closed.

Document A is open in the first window; a second window (Window > New Window) opens document B;
then the first window is active again and NEP shows its ghost for A. Reported: what each of the
ghost's overlays draws (in which window), and the dockers listening to the plugin. Then the second
window is closed, Krita deletes its docker, and NEP's Accept is triggered: whether the plugin told
its listeners without an error, what Accept did, and the plugin's error.
"""

import traceback

from krita import Krita

from .draw import PAINT_DONE_MS, VIEW_READY_MS, after_the_ghost, later, open_document, plugin, rendered_pixels

WINDOW_READY_MS = 2000


def start(report):
    seen = {"first": Krita.instance().activeWindow()}
    seen["a"] = open_document("nep-window-a")[0]
    later(VIEW_READY_MS, open_second_window, report, seen)


def open_second_window(seen, report):
    app = Krita.instance()
    second = app.openWindow()
    second.qwindow().show()
    document = app.createDocument(400, 300, "nep-window-b", "RGBA", "U8", "", 72.0)
    second.addView(document)
    second.activate()
    seen.update(second=second, b=document)
    later(WINDOW_READY_MS, back_to_the_first, report, seen)


def back_to_the_first(seen, report):
    seen["b_session"] = plugin().runtime.session_id
    seen["first"].activate()
    seen["first"].qwindow().activateWindow()
    after_the_ghost(WINDOW_READY_MS, look_at_the_overlays, report, seen, leaving=seen["b_session"])


def look_at_the_overlays(seen, report):
    runtime = plugin().runtime
    second = seen["second"].qwindow()
    seen["session_document"] = runtime.workspace.document.name()
    seen["ghost_shown"] = runtime.ghost.shown
    seen["overlays"] = [{"in_second_window": overlay.window() is second, "visible": overlay.isVisible(), "pixels": len(rendered_pixels(overlay))}
                        for overlay in runtime.ghost.overlays]
    seen["listening"] = len(runtime.listeners)
    seen["b"].setModified(False)
    seen["second"].qwindow().close()  # Krita deletes the window, its view and its docker
    later(WINDOW_READY_MS, accept_after_closing, report, seen)


def accept_after_closing(seen, report):
    runtime = plugin().runtime
    seen["listening_after_close"] = len(runtime.listeners)
    try:
        runtime.notify()  # what Accept, Dismiss and every answer do
        seen["notified"] = "ok"
    except Exception:
        seen["notified"] = traceback.format_exc().strip().splitlines()[-1]
    seen["suggestion_before_accept"] = runtime.suggestion is not None
    if seen["notified"] == "ok":  # else Krita's error dialog would wait for a click
        Krita.instance().action("nep_suggest_accept").trigger()
    later(PAINT_DONE_MS, finish, report, seen)


def finish(seen, report):
    app = plugin()
    for name in ("first", "second", "a", "b"):
        seen.pop(name)
    docker = next((docker for docker in Krita.instance().dockers() if docker.windowTitle() == "NEP Suggest"), None)
    seen.update(outcome=app.runtime.outcome, plugin_error=app.error, swallowed_errors=app.swallowed_errors(),
                docker_outcome=docker.outcome.text() if docker is not None else None, krita_version=Krita.instance().version())
    report(seen)
