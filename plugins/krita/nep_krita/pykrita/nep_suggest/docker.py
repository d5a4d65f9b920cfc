"""The NEP docker: what NEP suggests next, Accept / Dismiss, status, and the settings dialog.

Krita makes one docker per window and deletes it with its window: each docker listens to the
runtime until it is destroyed. Its labels show server and user text as plain text, never as
Qt's rich text (a server's ``<img src=...>`` would load a file).
"""

from krita import DockWidget

from . import app as app_module
from .qt import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                 QPushButton, Qt, QVBoxLayout, QWidget)
from .runtime import suggestion_label
from .settings import Settings

TITLE = "NEP Suggest"
ASK_TEXT = "Ask for suggestions"
"""The docker's checkbox and the Settings dialog's: one setting, one name (docs/domains/krita.md's too)."""
STATUS_TEXT = {"ok": "Connected", "waiting": "Asking...", "off": "Off", "unreachable": "Server unreachable", "slow": "Server too slow",
               "busy": "Server busy or shutting down", "error": "Error"}


class NepDocker(DockWidget):
    def __init__(self):
        super().__init__()
        self.setWindowTitle(TITLE)
        self.app = app_module.get()
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.enabled = QCheckBox(ASK_TEXT, body)
        self.enabled.setChecked(self.app.settings.enabled)
        self.enabled.toggled.connect(self._toggle)
        self.suggestion = plain_label("No suggestion yet.", body)
        buttons = QHBoxLayout()
        self.accept_button = QPushButton("Accept", body)
        self.accept_button.setToolTip("Paint the previewed stroke with the current brush (Tools > Scripts > NEP: Accept suggestion)")
        self.dismiss_button = QPushButton("Dismiss", body)
        self.accept_button.clicked.connect(self.app.accept)
        self.dismiss_button.clicked.connect(self.app.dismiss)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.dismiss_button)
        self.status = plain_label("", body)
        self.log_problem = plain_label("", body)  # why the session log is not written: apart from the server's status
        self.outcome = plain_label("", body)
        settings_button = QPushButton("Settings...", body)
        settings_button.clicked.connect(self._settings)
        layout.addWidget(self.enabled)
        layout.addWidget(self.suggestion)
        layout.addLayout(buttons)
        layout.addWidget(self.outcome)
        layout.addWidget(self.status)
        layout.addWidget(self.log_problem)
        layout.addWidget(settings_button)
        layout.addStretch(1)
        self.setWidget(body)
        listeners = self.app.runtime.listeners
        listeners.append(self.refresh)
        self.destroyed.connect(lambda *_args, refresh=self.refresh: listeners.remove(refresh) if refresh in listeners else None)
        self.app.start()
        self.refresh()

    def canvasChanged(self, canvas):  # noqa: N802 (Krita's name)
        pass

    def _toggle(self, on):
        settings = Settings(**vars(self.app.settings))
        settings.enabled = bool(on)
        self.app.save_settings(settings)

    def refresh(self):
        runtime = self.app.runtime
        shown = runtime.suggestion
        unplaced = runtime.placement_problem()
        if shown is None:
            self.suggestion.setText(f"No suggestion{hidden_text(runtime)}.")
        else:
            self.suggestion.setText(f"Next: {suggestion_label(shown)}  ({shown['confidence']:.0%})"
                                    + (f"\nNot shown and not accepted here: {unplaced}." if unplaced else ""))
        self.accept_button.setEnabled(shown is not None and not unplaced)
        self.dismiss_button.setEnabled(shown is not None)
        self.outcome.setText(runtime.outcome)
        status = STATUS_TEXT.get(runtime.status, runtime.status)
        skipped, errors = sum(runtime.skipped.values()), self.app.swallowed_errors()
        extra = (f" · {skipped} strokes not recorded" if skipped else "") + (f" · {errors} plugin errors ignored" if errors else "")
        self.status.setText(f"{status}{extra}" + (f"\n{runtime.message}" if runtime.message else ""))
        problem = runtime.log_problem()
        self.log_problem.setText(problem)
        self.log_problem.setVisible(bool(problem))

    def _settings(self):
        dialog = SettingsDialog(self.app.settings, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.app.save_settings(dialog.result_settings())
            self.enabled.setChecked(self.app.settings.enabled)


def hidden_text(runtime):
    """`` (1 hidden by "Minimum confidence")``: how many suggestions of the last answer each setting hid, and how many the
    server dropped (they failed its checks: ``dropped`` in docs/serving.md), or ""."""
    parts = [f"{runtime.hidden_by[key]} hidden by \"{name}\"" for key, name in (("confidence", "Minimum confidence"),
                                                                                ("probability", "Hide strokes less likely than"))
             if runtime.hidden_by.get(key)]
    if runtime.dropped:
        parts.append(f"{runtime.dropped} dropped by the server: it failed the server's checks")
    return f" ({'; '.join(parts)})" if parts else ""


def plain_label(text, parent):
    """A word-wrapped QLabel that shows its text as it is (Qt would take text that looks like HTML as rich text)."""
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class SettingsDialog(QDialog):
    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("NEP Suggest settings")
        form = QFormLayout(self)
        self.url = QLineEdit(settings.server_url, self)
        self.token = QLineEdit(settings.token, self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.enabled = QCheckBox(ASK_TEXT, self)
        self.enabled.setChecked(settings.enabled)
        self.record = QCheckBox("Record strokes to the session log", self)
        self.record.setChecked(settings.record)
        self.confidence = QDoubleSpinBox(self)
        self.confidence.setRange(0.0, 1.0)
        self.confidence.setSingleStep(0.05)
        self.confidence.setValue(settings.min_confidence)
        self.unsure = QDoubleSpinBox(self)
        self.unsure.setDecimals(4)
        self.unsure.setRange(0.0, 1.0)
        self.unsure.setSingleStep(0.001)
        self.unsure.setValue(settings.min_stroke_probability)
        self.unsure.setSpecialValueText("off")
        self.unsure.setToolTip("Hide a suggestion whose own probability is below this. "
                               "About 0.003 hides most guesses while you doodle freely and few hatch lines.")
        self.logs = QLineEdit(settings.log_folder, self)
        self.logs.setPlaceholderText(settings.logs())
        form.addRow("Server URL", self.url)
        form.addRow("Token", self.token)
        form.addRow(self.enabled)
        form.addRow(self.record)
        form.addRow("Minimum confidence", self.confidence)
        form.addRow("Hide strokes less likely than", self.unsure)
        form.addRow("Log folder", self.logs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def result_settings(self):
        return Settings(self.url.text().strip(), self.token.text().strip(), self.enabled.isChecked(), self.record.isChecked(),
                        float(self.confidence.value()), self.logs.text().strip(), float(self.unsure.value()))
