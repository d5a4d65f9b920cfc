"""The video plugin's hooks: registered through the `nep` entry-point group like any third-party plugin."""

from __future__ import annotations

import nep_core


@nep_core.hookimpl
def register_domains(register):
    from nep_video.domain import build_domain

    register(build_domain())


@nep_core.hookimpl
def register_commands(cli):
    from nep_video.cli import app

    cli.add_typer(app, name="video")
