"""The code plugin's hooks: registered through the `nep` entry-point group like any third-party plugin."""

from __future__ import annotations

import importlib.util

import nep_core


@nep_core.hookimpl
def register_domains(register):
    from nep_code.domain import build_domain

    register(build_domain())


@nep_core.hookimpl
def register_commands(cli):
    if importlib.util.find_spec("nep_code.cli") is None:
        return
    from nep_code.cli import app

    cli.add_typer(app, name="code")
