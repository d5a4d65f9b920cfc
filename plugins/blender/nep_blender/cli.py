"""``nep blender addon``: build the NEP Blender add-on, a Blender 4.2+ extension, as an installable zip.

The zip holds ``blender_manifest.toml`` at its root, the add-on's modules from
``nep_blender/addon/``, and ``nep_blender/bpy_calls.py`` itself: the add-on checks and runs
suggested operator calls with the very code the verifier and the generator use. It also ships the
modules of ``nep_core/appkit/`` (server client, session log, feedback), which the Krita plugin
shares. The zip is reproducible: same sources, same bytes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import typer

from nep_core import appkit
from nep_core.appzip import write_zip
from nep_core.output_folders import make_output_folder
from nep_core.cli.subapp import tools_app
from nep_core.errors import NepError

PACKAGE = Path(__file__).resolve().parent
ADDON_SOURCE = PACKAGE / "addon"
SHARED_MODULES = (PACKAGE / "bpy_calls.py", *appkit.FILES)
MANIFEST = "blender_manifest.toml"
MANIFEST_KEYS = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type", "blender_version_min", "license")

app = tools_app("blender", "Blender tools: build the NEP add-on that shows suggestions in Blender.")


def read_manifest(source: Path = ADDON_SOURCE) -> dict:
    """The add-on's manifest; a NepError names a missing field."""
    try:
        with open(source / MANIFEST, "rb") as handle:
            manifest = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise NepError(f"{source / MANIFEST}: cannot read the add-on manifest ({error})") from None
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise NepError(f"{source / MANIFEST}: missing {', '.join(missing)}")
    return manifest


def addon_files(source: Path = ADDON_SOURCE) -> list[tuple[str, Path]]:
    """(name in the zip, file) for the manifest, the add-on's modules and the shared modules."""
    files = [(MANIFEST, source / MANIFEST)]
    files += [(path.name, path) for path in sorted(source.glob("*.py"))]
    for path in SHARED_MODULES:
        if (source / path.name).exists():
            raise NepError(f"{source / path.name}: the add-on ships {path} itself; remove the copy")
        files.append((path.name, path))
    return files


def build_addon(out: Path, source: Path = ADDON_SOURCE) -> Path:
    """Write ``<out>/<id>-<version>.zip`` and return its path."""
    manifest = read_manifest(source)
    out.mkdir(parents=True, exist_ok=True)
    return write_zip(out / f"{manifest['id']}-{manifest['version']}.zip", addon_files(source))


@app.command("addon")
def addon_command(
    out: Path = typer.Option(Path("."), "--out", "-o", help="Folder to write the zip to (created if missing)."),
) -> None:
    """Build the NEP Blender add-on (Blender 4.2 or newer) as an installable extension zip.

    Example: nep blender addon --out dist

    Install it in Blender with Edit > Preferences > Get Extensions > (the menu at the top right) Install from Disk..., or from a terminal:

    blender --command extension install-file -r user_default -e dist/nep_suggest-0.1.0.zip

    Then start a server (nep serve --domain blender --model ngram --data scripts:nep-examples, which listens within seconds,
    or a trained model) and open the 3D View's sidebar (N), tab NEP.
    """
    make_output_folder(out, "--out")
    path = build_addon(out)
    typer.echo(f"wrote {path}")
    typer.echo("install in Blender 4.2+: Edit > Preferences > Get Extensions > (menu at the top right) Install from Disk...")
    typer.echo(f"or from a terminal: blender --command extension install-file -r user_default -e {path}")
    typer.echo("then: nep serve --domain blender --model ngram --data scripts:nep-examples   (ready in seconds; or --model runs/blender),"
               " and press N in the 3D View, tab NEP")
