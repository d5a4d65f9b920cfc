"""The krita plugin's hooks: registered through the `nep` entry-point group like any third-party plugin."""

from __future__ import annotations

import importlib.util

import nep_core


@nep_core.hookimpl
def register_domains(register):
    from nep_krita.domain import build_domain

    register(build_domain())


@nep_core.hookimpl
def register_commands(cli):
    if importlib.util.find_spec("nep_krita.cli") is None:
        return
    from nep_krita.cli import app

    cli.add_typer(app, name="krita")
