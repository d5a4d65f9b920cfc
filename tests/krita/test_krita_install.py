"""The plugin zip installed into real Krita the way a painter installs it, loaded by Krita, recording in its window.

Full Krita (not kritarunner, which loads no plugins and has no window) runs in a virtual X display
(Debian's `xvfb`) with a fresh resource folder, three times: Krita's own *Import Python Plugin from
File* code imports the zip that `nep krita plugin` built and enables it; after a restart Krita's
plugin manager loads NEP Suggest from that folder into the window; and a stroke painted with the
mouse on Krita's real canvas is recorded by the plugin where Krita painted it. A small probe plugin
(tests/krita/install_probe) acts inside Krita and writes what it saw to a JSON file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nep_core.sessionlog import read_session
from nep_krita.cli import app

PROBE = Path(__file__).parent / "install_probe"
KRITA = shutil.which("krita")
XVFB_RUN = shutil.which("xvfb-run")
pytestmark = pytest.mark.skipif(
    KRITA is None or XVFB_RUN is None,
    reason="Krita and a virtual X display are not installed (Debian: apt-get install krita xvfb)",
)


def start_krita(home: Path, phase: str, **env: str) -> dict:
    """Start Krita in a virtual display with ``home`` as its user folders; the probe's result for ``phase``."""
    result = home / f"{phase}.json"
    environment = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
                   "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                   "NEP_HOME": str(home / "nep"), "NEP_PROBE_PHASE": phase, "NEP_PROBE_RESULT": str(result), **env}
    # Krita embeds the system Python and finds its prefix through the first python3 on PATH (see test_krita_plugin.py)
    environment["PATH"] = os.pathsep.join([str(Path(KRITA).parent), environment.get("PATH", "")])
    for name in ("PYTHONHOME", "VIRTUAL_ENV", "PYTHONPATH", "QT_QPA_PLATFORM"):  # Krita's GUI insists on X11 (xcb)
        environment.pop(name, None)
    completed = subprocess.run([XVFB_RUN, "-a", KRITA, "--nosplash"], env=environment, capture_output=True, text=True,
                               timeout=180)
    assert result.exists(), f"the probe wrote no result: rc={completed.returncode} output={(completed.stdout + completed.stderr)[-3000:]!r}"
    seen = json.loads(result.read_text())
    assert "error" not in seen, seen["error"]
    return seen


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict, dict]:
    folder = tmp_path_factory.mktemp("krita-install")
    built = CliRunner().invoke(app, ["plugin", "--out", str(folder / "dist")])
    assert built.exit_code == 0, built.output
    zip_path = next((folder / "dist").glob("nep_suggest-krita-*.zip"))
    home = folder / "home"
    pykrita = home / "data" / "krita" / "pykrita"  # Krita's resource folder on Linux: ~/.local/share/krita
    shutil.copytree(PROBE, pykrita)
    (home / "config").mkdir(parents=True)
    (home / "config" / "kritarc").write_text("[python]\nenable_nep_install_probe=true\n")
    imported = start_krita(home, "import", NEP_PROBE_ZIP=str(zip_path))
    loaded = start_krita(home, "loaded")
    return home, imported, loaded


@pytest.fixture(scope="module")
def drawn(installed) -> dict:
    return start_krita(installed[0], "draw")


def test_krita_imports_the_zip_into_its_resource_folder_and_enables_it(installed):
    home, imported, _ = installed
    assert imported["imported"] == ["nep_suggest"]  # Krita's importer finds the package in the zip
    resources = Path(imported["resources"])
    assert resources == home / "data" / "krita"
    assert (resources / "pykrita" / "nep_suggest.desktop").is_file()
    assert (resources / "pykrita" / "nep_suggest" / "__init__.py").is_file()
    assert "enable_nep_suggest=true" in (home / "config" / "kritarc").read_text()  # saved when Krita closed


def test_after_a_restart_krita_loads_the_plugin_its_docker_and_shortcuts(installed):
    home, _, loaded = installed
    assert Path(loaded["module_file"]) == home / "data" / "krita" / "pykrita" / "nep_suggest" / "__init__.py"
    assert "NepExtension" in loaded["extensions"]
    assert "NEP Suggest" in loaded["dockers"]  # a dock of the real main window (Settings > Dockers)
    assert loaded["shortcuts"] == ["Ctrl+Alt+Return", "Ctrl+Alt+Backspace"]
    assert loaded["forbidden_modules"] == []  # the plugin runs on Krita's own Python: no torch, no nep_core


def test_a_stroke_painted_on_kritas_canvas_is_recorded_where_krita_painted_it(drawn):
    assert drawn["hooked_canvases"] >= 1 and drawn["plugin_error"] == "" and drawn["forbidden_modules"] == []
    painted = drawn["painted"]
    assert len(painted) > 300, f"Krita painted {len(painted)} pixels"  # the mouse stroke really painted the layer
    session = read_session(drawn["log"])
    assert session.domain == "krita" and session.meta["source"] == "krita-plugin"
    assert session.events[0].state["canvas"] == {"width": 400, "height": 300}
    actions = [event.action for event in session.events if event.action is not None]
    assert [action.kind for action in actions] == ["stroke"]  # and nothing when Krita closed the view (it reports size 0)
    strokes = actions
    stroke = strokes[0].args
    assert stroke["size"] == 4.0  # the brush of the view, as Krita reports it
    points = [(x, y) for x, y, *_ in stroke["points"]]
    assert len(points) >= 3  # an L: its corner survives simplification

    def distance_to_paint(x: float, y: float) -> float:
        return min(math.hypot(x - px, y - py) for px, py in painted)

    # Document coordinates come from the view's zoom and scroll (Krita 5.1: an estimate; 5.2+: exact):
    # every recorded point lies on the line Krita painted, and the stroke spans what Krita painted.
    assert max(distance_to_paint(x, y) for x, y in points) <= 3.0, points
    xs, ys = [x for x, _ in points], [y for _, y in points]
    painted_xs, painted_ys = [x for x, _ in painted], [y for _, y in painted]
    for recorded, actual in ((min(xs), min(painted_xs)), (max(xs), max(painted_xs)), (min(ys), min(painted_ys)), (max(ys), max(painted_ys))):
        assert abs(recorded - actual) <= 5.0, (points, min(painted_xs), max(painted_xs), min(painted_ys), max(painted_ys))
