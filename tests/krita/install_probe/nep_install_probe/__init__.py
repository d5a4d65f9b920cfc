"""A Krita plugin the install test puts beside NEP's: it acts once Krita's window exists, then closes it.

NEP_PROBE_PHASE says what to do: ``import`` imports NEP_PROBE_ZIP as Tools > Scripts > Import Python
Plugin from File... does (Krita's own plugin_importer, then ``enable_<name>`` in the [python]
settings); ``loaded`` reports what Krita's plugin manager loaded at start, and which of Krita's own
actions share a shortcut with NEP's; ``draw`` paints a stroke on the real canvas (draw.py);
``documents``, ``hatching``, ``gestures`` and ``windows`` are in the modules of those names. The
result goes to NEP_PROBE_RESULT as JSON.
"""

import json
import os
import sys
import traceback

from krita import Extension, Krita

try:  # the NEP plugin may not be installed yet (the import phase), so not its nep_suggest.qt
    from PyQt5.QtCore import QTimer
except ImportError:  # Krita 6
    from PyQt6.QtCore import QTimer

SETTLE_MS = 1000  # let the window finish building its dockers before looking at them
ACTING = []


def import_plugin(app):
    from plugin_importer.plugin_importer import PluginImporter  # Krita's importer, shipped in its pykrita folder

    never_overwrite = lambda plugin: False  # noqa: E731 (a fresh resource folder has nothing to overwrite)
    imported = PluginImporter(os.environ["NEP_PROBE_ZIP"], app.getAppDataLocation(), never_overwrite).import_all()
    for plugin in imported:  # what the importer's extension does after the user says yes to "enable it?"
        app.writeSetting("python", "enable_%s" % plugin["name"], "true")
    return {"imported": [plugin["name"] for plugin in imported], "resources": app.getAppDataLocation()}


def loaded_plugin(app):
    module = sys.modules.get("nep_suggest")
    accept = app.action("nep_suggest_accept")
    dismiss = app.action("nep_suggest_dismiss")
    return {
        "module_file": getattr(module, "__file__", None),
        "resources": app.getAppDataLocation(),
        "extensions": [type(extension).__name__ for extension in app.extensions()],
        "dockers": [docker.windowTitle() for docker in app.dockers()],
        "shortcuts": [action.shortcut().toString() if action else None for action in (accept, dismiss)],
        "shortcut_clashes": sorted(other.objectName() for other in app.actions() for action in (accept, dismiss)
                                   if action and other.objectName() != action.objectName() and not other.shortcut().isEmpty()
                                   and other.shortcut() == action.shortcut()),
        "forbidden_modules": sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "nep_core", "nep_krita")),
    }


def report_and_close(result):
    with open(os.environ["NEP_PROBE_RESULT"], "w") as handle:
        json.dump(result, handle)
    window = Krita.instance().activeWindow()

    def close():
        # at the last moment: painting that Krita finishes later marks a document modified again, and a
        # "save changes?" question would keep Krita open
        for document in Krita.instance().documents():
            document.setModified(False)
        window.qwindow().close()  # quit as a user does, so settings are saved

    QTimer.singleShot(500, close)


def act():
    app = Krita.instance()
    phase = os.environ.get("NEP_PROBE_PHASE")
    try:
        if phase in ("draw", "documents", "hatching", "gestures", "windows"):
            from . import documents, draw, gestures, hatching, windows

            {"draw": draw, "documents": documents, "hatching": hatching, "gestures": gestures, "windows": windows}[phase].start(report_and_close)
        else:
            report_and_close((import_plugin if phase == "import" else loaded_plugin)(app))
    except Exception:
        report_and_close({"error": traceback.format_exc()})


class InstallProbe(Extension):
    def setup(self):
        pass

    def createActions(self, window):  # noqa: N802 (Krita's name)
        if not ACTING:  # once: Krita calls this again for each window the probe opens
            ACTING.append(window)
            QTimer.singleShot(SETTLE_MS, act)


Krita.instance().addExtension(InstallProbe(Krita.instance()))
