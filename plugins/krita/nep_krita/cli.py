"""``nep krita plugin``: build the NEP Krita plugin as a zip for *Import Python Plugin from File...*.

The zip holds ``nep_suggest.desktop`` and the ``nep_suggest/`` package at its root, plus
``nep_krita/strokes.py`` itself as ``nep_suggest/strokes.py``: the plugin checks and records
strokes with the very code the action space and the verifier use. The modules of
``nep_core/appkit/`` (server client, session log, feedback), shared with the Blender add-on, go in
``nep_suggest/`` the same way. The zip is reproducible: same sources, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nep_core import appkit
from nep_core.appzip import write_zip
from nep_core.output_folders import make_output_folder
from nep_core.cli.subapp import tools_app
from nep_core.errors import NepError

PACKAGE = Path(__file__).resolve().parent
PLUGIN_SOURCE = PACKAGE / "pykrita"
PLUGIN_NAME = "nep_suggest"
SHARED_MODULES = (PACKAGE / "strokes.py", *appkit.FILES)
PLUGIN_VERSION = "0.1.0"
FORBIDDEN_IMPORTS = ("torch", "nep_core", "nep_krita")
QT_BINDINGS = ("PyQt5", "PyQt6")  # imported by the plugin's qt.py only: Krita 5 has PyQt5, Krita 6 PyQt6

app = tools_app("krita", "Krita tools: build the NEP plugin that records strokes and previews suggestions in Krita.")


@app.callback()
def krita_tools() -> None:
    """Krita tools: build the NEP plugin that records strokes and previews suggestions in Krita."""


def plugin_files(source: Path = PLUGIN_SOURCE) -> list[tuple[str, Path]]:
    """(name in the zip, file): the .desktop file, the package's files and the shared modules."""
    desktop = source / f"{PLUGIN_NAME}.desktop"
    package = source / PLUGIN_NAME
    if not desktop.is_file() or not (package / "__init__.py").is_file():
        raise NepError(f"{source}: no {PLUGIN_NAME}.desktop or {PLUGIN_NAME}/__init__.py; is the plugin source complete?")
    files = [(desktop.name, desktop)]
    files += [(f"{PLUGIN_NAME}/{path.name}", path) for path in sorted(package.iterdir())
              if path.is_file() and path.suffix in (".py", ".html", ".md")]
    for path in SHARED_MODULES:
        if (package / path.name).exists():
            raise NepError(f"{package / path.name}: the plugin ships {path} itself; remove the copy")
        files.append((f"{PLUGIN_NAME}/{path.name}", path))
    for name, path in files:
        if path.suffix == ".py":
            shared = path in SHARED_MODULES  # a shared module may import nep_core lazily, in code the plugin never calls
            for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if shared and line[:1].isspace():
                    continue
                words = line.split()
                if len(words) < 2 or words[0] not in ("import", "from"):
                    continue
                top = words[1].split(".")[0]
                if top in FORBIDDEN_IMPORTS:
                    raise NepError(f"{path}:{line_number}: the Krita plugin must not import {words[1]} (Krita has only its own Python and PyQt)")
                if top in QT_BINDINGS and name != f"{PLUGIN_NAME}/qt.py":
                    raise NepError(f"{path}:{line_number}: import Qt from {PLUGIN_NAME}.qt, not {top} (Krita 5 has only PyQt5, Krita 6 only PyQt6)")
    return files


def build_plugin(out: Path, source: Path = PLUGIN_SOURCE) -> Path:
    """Write ``<out>/nep_suggest-krita-<version>.zip`` and return its path."""
    files = plugin_files(source)
    out.mkdir(parents=True, exist_ok=True)
    return write_zip(out / f"{PLUGIN_NAME}-krita-{PLUGIN_VERSION}.zip", files)  # -krita: beside the Blender add-on's zip in one folder


@app.command("plugin")
def plugin_command(
    out: Path = typer.Option(Path("."), "--out", "-o", help="Folder to write the zip to (created if missing)."),
) -> None:
    """Build the NEP Krita plugin (Krita 5.1 or newer) as an installable zip.

    Example: nep krita plugin --out dist

    Install it in Krita with Tools > Scripts > Import Python Plugin from File..., restart Krita, make sure
    NEP Suggest is ticked in Settings > Configure Krita > Python Plugin Manager, then show the docker with
    Settings > Dockers > NEP Suggest.
    """
    make_output_folder(out, "--out")
    path = build_plugin(out)
    typer.echo(f"wrote {path}")
    typer.echo("install in Krita 5.1+: Tools > Scripts > Import Python Plugin from File..., then restart Krita")
    typer.echo("enable it in Settings > Configure Krita > Python Plugin Manager (NEP Suggest), show Settings > Dockers > NEP Suggest")
    typer.echo("then: nep serve --domain krita --model repeat-last   (shows a stroke at once, with no training: it suggests your last stroke again)")
    typer.echo("for real use train a model (about 3 minutes): nep train --domain krita, then: nep serve --domain krita --model runs/krita")
