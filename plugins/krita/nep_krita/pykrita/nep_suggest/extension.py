"""The NEP extension: Accept and Dismiss as Krita actions, so they get keyboard shortcuts.

They appear under Tools > Scripts and in Settings > Configure Krita > Keyboard Shortcuts (search
"NEP"), where the defaults below can be changed. Both defaults are free in Krita's default
shortcut scheme (Krita 5.1 to 6.0), and neither is a key the desktop takes: Ctrl+Alt+Backspace,
Dismiss's first default, ends the X server where ``terminate:ctrl_alt_bksp`` is set.
"""

from krita import Extension
from . import app as app_module
from .qt import QKeySequence

ACTIONS = (
    ("nep_suggest_accept", "NEP: Accept suggestion", "Ctrl+Alt+Return", "accept"),
    ("nep_suggest_dismiss", "NEP: Dismiss suggestion", "Ctrl+Alt+X", "dismiss"),
)


class NepExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)

    def setup(self):
        app_module.get().start()

    def createActions(self, window):  # noqa: N802 (Krita's name)
        for name, text, shortcut, method in ACTIONS:
            action = window.createAction(name, text, "tools/scripts")
            if not action.shortcut():
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(getattr(app_module.get(), method))
